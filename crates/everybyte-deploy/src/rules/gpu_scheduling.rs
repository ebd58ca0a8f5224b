//! K8S007 gpu-scheduling: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::at;
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `nvidia.com/gpu` requested without the same limit (extended resources must be set in
    /// limits), or a GPU pod with no `nodeSelector`, `affinity` or `tolerations`.
    /// ## Why it matters
    /// Without the limit the GPU is not allocated at all. Without node selection the pod waits
    /// `Pending` on tainted GPU nodes, or lands on whatever GPU model the scheduler finds, with
    /// another memory size and speed than the one the job was sized for.
    /// ## Example
    /// ```yaml
    /// resources: {limits: {nvidia.com/gpu: 1}}    # and no nodeSelector or tolerations
    /// ```
    /// ## Fix
    /// Put `nvidia.com/gpu` in limits; add `nodeSelector: {nvidia.com/gpu.product: …}` and a
    /// toleration for the GPU nodes' taint.
    pub static GPU_SCHEDULING = { code: "K8S007", name: "gpu-scheduling", severity: Warning, summary: "A GPU is requested without a limit or without node selection" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, c) in m.containers() {
        let Some(gpus) = c.gpus() else { continue };
        if c.resources.limit("nvidia.com/gpu").is_none() {
            out.push(Finding::new(&GPU_SCHEDULING, at(&m.path, gpus.line), format!("container {} requests nvidia.com/gpu without a limit: extended resources are allocated from limits", c.name)).with_help("set limits: {nvidia.com/gpu: N}"));
        } else if !w.scheduling {
            out.push(Finding::new(&GPU_SCHEDULING, at(&m.path, gpus.line), format!("{} {} requests a GPU with no nodeSelector, affinity or tolerations: it may wait Pending on tainted GPU nodes or land on another GPU model", w.kind, w.name)).with_help("nodeSelector: {nvidia.com/gpu.product: <the model sized for>} and a toleration for the GPU taint"));
        }
    }
}
