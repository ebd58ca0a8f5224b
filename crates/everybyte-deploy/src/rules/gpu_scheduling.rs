//! K8S007 gpu-scheduling: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `nvidia.com/gpu` in a container's requests without the same amount in its limits.
    /// ## Why it matters
    /// Extended resources such as GPUs are allocated from limits and cannot be overcommitted: the
    /// API server refuses a pod whose GPU request has no equal limit, so the workload never starts,
    /// and an operator that creates the pods reports it only in its own events.
    /// ## Example
    /// ```yaml
    /// resources: {requests: {nvidia.com/gpu: 1}}
    /// ```
    /// ## Fix
    /// ```yaml
    /// resources: {limits: {nvidia.com/gpu: 1}}   # a request, where given, equals it
    /// ```
    pub static GPU_SCHEDULING = { code: "K8S007", name: "gpu-scheduling", severity: Warning, summary: "A GPU is requested without a limit" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        if let Some(req) = c.resources.request("nvidia.com/gpu")
            && c.resources.limit("nvidia.com/gpu").is_none()
        {
            out.push(
                on(&GPU_SCHEDULING, m, w, Some(c), req.line, format!("{} requests nvidia.com/gpu: {} without a limit: extended resources are allocated from limits, and the API server rejects a request without an equal limit", who(w, c), req.text))
                    .with_help(format!("resources:\n  limits: {{nvidia.com/gpu: {}}}", req.text)),
            );
        }
    }
}
