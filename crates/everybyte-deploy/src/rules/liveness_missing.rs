//! K8S012 liveness-missing: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::{Manifest, Operator};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A serving container (an inference server by its image or command, the container of a
    /// serving resource, or a port in a Deployment, StatefulSet or Pod) with no liveness probe,
    /// where nothing adds one: KubeRay probes Ray containers itself, and the container of a KServe
    /// model-format predictor comes from its ServingRuntime (which is checked instead).
    /// ## Why it matters
    /// Inference engines wedge: a CUDA error leaves the process up and every request failing, a
    /// deadlocked scheduler stops answering. Readiness takes the pod out of the Service, but only
    /// liveness restarts it, so without it the replica stays dead until someone notices.
    /// ## Example
    /// ```yaml
    /// containers:
    /// - name: vllm
    ///   image: vllm/vllm-openai:v0.6.4
    ///   readinessProbe: {httpGet: {path: /health, port: 8000}}
    /// ```
    /// ## Fix
    /// ```yaml
    /// livenessProbe:
    ///   httpGet: {path: /health, port: 8000}
    ///   periodSeconds: 10
    ///   failureThreshold: 3
    /// startupProbe:            # so that liveness waits for the model to load
    ///   httpGet: {path: /health, port: 8000}
    ///   periodSeconds: 10
    ///   failureThreshold: 90
    /// ```
    pub static LIVENESS_MISSING = { code: "K8S012", name: "liveness-missing", severity: Warning, summary: "A serving container has no liveness probe" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, p, c) in m.containers() {
        // The workers of a multi-pod server (a LeaderWorkerSet's, a Ray cluster's) answer
        // no requests: the leader does.
        if p.part.contains("worker") && !c.ports {
            continue;
        }
        if !c.serves()
            || c.init
            || c.shorthand
            || c.liveness.is_some()
            || w.operator == Operator::KubeRay
        {
            continue;
        }
        out.push(
            on(&LIVENESS_MISSING, m, w, Some(c), c.line, format!("serving {} ({}) has no livenessProbe: a wedged engine is never restarted{}", who(w, c), c.why, if c.gpus().is_some() { " and keeps its GPU" } else { "" }))
                .with_help("livenessProbe:\n  httpGet: {path: /health, port: 8000}\n  periodSeconds: 10\nstartupProbe:   # liveness waits for the model to load\n  httpGet: {path: /health, port: 8000}\n  periodSeconds: 10\n  failureThreshold: 90"),
        );
    }
}
