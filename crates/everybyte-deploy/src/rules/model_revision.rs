//! K8S020 model-revision-unpinned: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{hub_model, on, who};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container that names a Hugging Face hub model (`--model org/name`, `vllm serve org/name`,
    /// `MODEL_ID=org/name`, `hf://org/name`) with no revision: no `--revision`, no `HF_REVISION`
    /// or `MODEL_REVISION`, no `@commit` in the id.
    /// ## Why it matters
    /// Without a revision the hub's `main` is loaded, and `main` moves: a new upload of weights, a
    /// changed tokenizer or chat template, or new remote code reaches production at the next pod
    /// start with no change to the manifest — and two replicas can serve two different models.
    /// ## Example
    /// ```yaml
    /// args: ["--model", "meta-llama/Llama-3.1-8B-Instruct"]
    /// ```
    /// ## Fix
    /// ```yaml
    /// args: ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--revision", "0e9e39f249a16976918f6564b8830bc894c89659"]
    /// ```
    pub static MODEL_REVISION_UNPINNED = { code: "K8S020", name: "model-revision-unpinned", severity: Warning, summary: "A hub model is loaded without a pinned revision" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for w in &m.workloads {
        let Some(ray) = w.ray.as_ref().filter(|r| !r.pinned) else {
            continue;
        };
        if let Some(model) = ray.models.first() {
            out.push(
                on(&MODEL_REVISION_UNPINNED, m, w, None, model.line, format!("{} serves {} with no revision: the hub's main branch moves, and the next worker start may load other weights, tokenizer or code", w.id(), model.text))
                    .with_help("# in the serve config, next to the model id:
revision: <commit sha>"),
            );
        }
    }
    for (w, _, c) in m.containers() {
        if c.init {
            continue;
        }
        let Some((id, line)) = hub_model(c) else {
            continue;
        };
        let pinned = id.contains('@')
            || id.strip_prefix("hf://").is_some_and(|r| r.contains(':'))
            || c.flag(&[
                "--revision",
                "--model-revision",
                "--model_revision",
                "--code-revision",
            ])
            .is_some()
            || [
                "HF_REVISION",
                "MODEL_REVISION",
                "REVISION",
                "HF_MODEL_REVISION",
            ]
            .iter()
            .any(|k| c.env_value(k).is_some());
        if !pinned {
            out.push(
                on(&MODEL_REVISION_UNPINNED, m, w, Some(c), line, format!("{} loads {id} with no revision: the hub's main branch moves, and the next pod start may load other weights, tokenizer or code", who(w, c)))
                    .with_help(format!("args: [\"--model\", \"{id}\", \"--revision\", \"<commit sha>\"]   # huggingface-cli download {id} shows it")),
            );
        }
    }
}
