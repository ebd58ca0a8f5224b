//! K8S002 gpu-not-guaranteed: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::{Manifest, Value, bytes, cores};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container requesting `nvidia.com/gpu` whose memory or CPU request differs from its
    /// limit, or that sets no CPU at all: the pod's QoS class is `Burstable`, not `Guaranteed`.
    /// ## Why it matters
    /// Under node memory pressure the kubelet evicts Burstable pods first. A GPU pod holds the
    /// most expensive resource on the node; losing it to eviction loses the GPU's work too.
    /// ## Example
    /// ```yaml
    /// limits:   {nvidia.com/gpu: 1, memory: 16Gi}
    /// requests: {nvidia.com/gpu: 1, memory: 8Gi}
    /// ```
    /// This rule is off by default (a general QoS check, not an ML one): select it with
    /// `--select K8S002`.
    /// ## Fix
    /// Set requests equal to limits for both memory and CPU on every container of the pod.
    pub static GPU_NOT_GUARANTEED = { code: "K8S002", name: "gpu-not-guaranteed", severity: Warning, summary: "A GPU pod is not in the Guaranteed QoS class", status: Preview };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        if c.gpus().is_none() {
            continue;
        }
        let mem = (c.resources.limit("memory"), c.resources.request("memory"));
        let cpu = (c.resources.limit("cpu"), c.resources.request("cpu"));
        let differ =
            |p: (Option<&Value>, Option<&Value>), quantity: fn(&str) -> Option<f64>| match p {
                (Some(limit), Some(request)) => quantity(&limit.text) != quantity(&request.text),
                (Some(_), None) => false, // the request defaults to the limit
                _ => true,
            };
        if differ(mem, bytes) || differ(cpu, cores) {
            let why = if cpu.0.is_none() && cpu.1.is_none() {
                "no CPU request or limit"
            } else {
                "requests differ from limits"
            };
            out.push(
                on(&GPU_NOT_GUARANTEED, m, w, Some(c), c.resources.line.unwrap_or(c.line), format!("GPU {}: {why}, so the pod is Burstable and evicted before Guaranteed pods", who(w, c)))
                    .with_help("resources:\n  requests: {cpu: \"8\", memory: 64Gi, nvidia.com/gpu: 1}\n  limits:   {cpu: \"8\", memory: 64Gi, nvidia.com/gpu: 1}"),
            );
        }
    }
}
