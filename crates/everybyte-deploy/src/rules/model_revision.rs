//! K8S020 model-revision-unpinned: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{hub_model, on, who};
use everybyte_core::url::{BRANCHES, moving_ref};

use crate::k8s::{Container, Manifest};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container that names a Hugging Face hub model (`--model org/name`, `vllm serve org/name`,
    /// `MODEL_ID=org/name`, `hf://org/name`) with no revision: no `--revision`, no `HF_REVISION`
    /// or `MODEL_REVISION`, no `@commit` in the id. Also any container, init containers
    /// included, that downloads hub files by URL at a branch head
    /// (`wget https://huggingface.co/ORG/NAME/resolve/main/model.ckpt`), in its command or its
    /// environment.
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
        if let Some((url, branch)) = hub_url_at_branch(c) {
            out.push(
                on(&MODEL_REVISION_UNPINNED, m, w, Some(c), c.argv_line.unwrap_or(c.line), format!("{} downloads {url} at the branch head `{branch}`: the next pod start may fetch other weights, with nothing in the manifest changed", who(w, c)))
                    .with_help("put the commit in the URL: https://huggingface.co/ORG/NAME/resolve/<commit sha>/FILE (the file's page on the hub shows it), and check the file's sha256 after the download"),
            );
        }
        if c.init {
            continue;
        }
        let Some((id, line)) = hub_model(c) else {
            continue;
        };
        // A branch (`--revision main`) moves as the default does.
        let fixed = |r: &str| !r.is_empty() && !BRANCHES.contains(&r);
        let pinned = id.contains('@')
            || id.strip_prefix("hf://").is_some_and(|r| r.contains(':'))
            || c.flag(&[
                "--revision",
                "--model-revision",
                "--model_revision",
                "--code-revision",
            ])
            .is_some_and(|r| fixed(&r))
            || [
                "HF_REVISION",
                "MODEL_REVISION",
                "REVISION",
                "HF_MODEL_REVISION",
            ]
            .iter()
            .any(|k| c.env_value(k).is_some_and(|v| fixed(&v.text)));
        if !pinned {
            out.push(
                on(&MODEL_REVISION_UNPINNED, m, w, Some(c), line, format!("{} loads {id} with no revision: the hub's main branch moves, and the next pod start may load other weights, tokenizer or code", who(w, c)))
                    .with_help(format!("args: [\"--model\", \"{id}\", \"--revision\", \"<commit sha>\"]   # huggingface-cli download {id} shows it")),
            );
        }
    }
}

/// The first Hugging Face hub URL at a branch head in the container's command or environment,
/// with the branch.
fn hub_url_at_branch(c: &Container) -> Option<(String, &'static str)> {
    let env = c
        .env
        .iter()
        .filter_map(|e| e.value.as_ref())
        .map(|v| v.text.as_str());
    c.argv
        .iter()
        .map(String::as_str)
        .chain(env)
        .find_map(|text| {
            text.match_indices("http").find_map(|(at, _)| {
                let url: String = text[at..]
                    .chars()
                    .take_while(|ch| {
                        !ch.is_whitespace() && !matches!(ch, '"' | '\'' | ';' | ')' | '`')
                    })
                    .collect();
                let hub = [
                    "https://huggingface.co/",
                    "http://huggingface.co/",
                    "https://hf.co/",
                ]
                .iter()
                .any(|h| url.starts_with(h));
                let branch = moving_ref(&url).filter(|_| hub)?;
                Some((url, branch))
            })
        })
}
