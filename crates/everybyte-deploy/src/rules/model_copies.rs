//! K8S009 model-copies: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A GPU serving container that starts several worker processes (`WORKERS`,
    /// `WEB_CONCURRENCY`, `--workers N`), each of which loads the model.
    /// ## Why it matters
    /// N workers hold N copies of the weights in host and GPU memory, for a GPU that runs one
    /// kernel at a time anyway: memory limits and GPU memory are exhausted for no throughput.
    /// ## Example
    /// ```yaml
    /// env: [{name: WORKERS, value: "4"}]
    /// resources: {limits: {nvidia.com/gpu: 1}}
    /// ```
    /// ## Fix
    /// One process per GPU holding one copy, batching requests (`everybyte serve`, Triton,
    /// vLLM); scale with replicas, one GPU each.
    pub static MODEL_COPIES = { code: "K8S009", name: "model-copies", severity: Warning, summary: "Several worker processes each load the model on one GPU" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        if c.gpus().is_none() || !c.serves() {
            continue;
        }
        if let Some((n, line)) = c.workers().filter(|(n, _)| *n > 1) {
            out.push(
                on(&MODEL_COPIES, m, w, Some(c), line, format!("{} starts {n} workers on one GPU: {n} copies of the model's weights", who(w, c)))
                    .with_help("one process per GPU with batching (everybyte serve, Triton, vLLM); scale with replicas"),
            );
        }
    }
}
