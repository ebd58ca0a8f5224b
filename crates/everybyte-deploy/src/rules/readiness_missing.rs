//! K8S004 readiness-missing: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::{Manifest, Operator};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A serving container without a readiness probe. A container serves when its image or command
    /// is a known inference server (vLLM, TGI, Triton, TorchServe, SGLang, NIM, Ray Serve, KServe
    /// runtimes, llama.cpp, Ollama, `everybyte serve`), when it is the container of a serving
    /// resource, or when it exposes a port in a Deployment, StatefulSet or Pod and loads a model (a
    /// GPU, a model in its environment, a `--model` flag, a volume an init container downloads
    /// weights into); the finding says
    /// which. Operators that add the probe themselves are known: KubeRay probes every Ray
    /// container, Knative (and KServe on it) adds one on the container's port.
    /// ## Why it matters
    /// Without readiness the Service sends traffic as soon as the process starts: requests hit a
    /// server that is still loading the model and fail, on every rollout and every restart.
    /// ## Example
    /// ```yaml
    /// ports: [{containerPort: 8000}]
    /// livenessProbe: {httpGet: {path: /health, port: 8000}}
    /// ```
    /// ## Fix
    /// ```yaml
    /// readinessProbe:
    ///   httpGet: {path: /health, port: 8000}   # answers only once the model is loaded
    ///   periodSeconds: 5
    /// ```
    pub static READINESS_MISSING = { code: "K8S004", name: "readiness-missing", severity: Warning, summary: "A serving container has no readiness probe" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, p, c) in m.containers() {
        // The workers of a multi-pod server (a LeaderWorkerSet's, a Ray cluster's) answer
        // no requests: the leader does.
        if p.part.contains("worker") && !c.ports {
            continue;
        }
        if !c.serves() || c.init || c.shorthand || c.readiness.is_some() {
            continue;
        }
        // KubeRay probes every Ray container itself; Knative (KServe serverless) adds a
        // readiness probe on the container's port.
        if matches!(
            w.operator,
            Operator::KubeRay | Operator::KServe | Operator::Knative
        ) {
            continue;
        }
        out.push(
            on(&READINESS_MISSING, m, w, Some(c), c.line, format!("serving {} ({}) has no readinessProbe: traffic arrives while the model is still loading", who(w, c), c.why))
                .with_help("readinessProbe:\n  httpGet: {path: /health, port: 8000}   # answers only once the model is loaded\n  periodSeconds: 5"),
        );
    }
}
