//! K8S004 readiness-missing: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::at;
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A serving container (it exposes ports) of a Deployment, StatefulSet or
    /// InferenceService without a readiness probe.
    /// ## Why it matters
    /// Without readiness the Service sends traffic as soon as the process starts: requests hit
    /// a server that is still loading the model and fail, on every rollout and every restart.
    /// ## Example
    /// ```yaml
    /// ports: [{containerPort: 8080}]
    /// livenessProbe: {httpGet: {path: /v2/health/live, port: 8080}}
    /// ```
    /// ## Fix
    /// `readinessProbe: {httpGet: {path: /v2/health/ready, port: 8080}, periodSeconds: 5}`,
    /// on an endpoint that answers only once the model is loaded and warmed up.
    pub static READINESS_MISSING = { code: "K8S004", name: "readiness-missing", severity: Warning, summary: "A serving container has no readiness probe" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, c) in m.containers() {
        // KServe gives an InferenceService its own probes.
        let serving_kind = matches!(w.kind.as_str(), "Deployment" | "StatefulSet");
        if serving_kind && c.ports && c.readiness.is_none() {
            out.push(
                Finding::new(&READINESS_MISSING, at(&m.path, c.line), format!("serving container {} has no readinessProbe: traffic arrives while the model is still loading", c.name))
                    .with_help("readinessProbe on an endpoint that answers only once the model is loaded and warmed up (e.g. /v2/health/ready)"),
            );
        }
    }
}
