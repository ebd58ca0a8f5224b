//! K8S011 probe-timeout: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::on;
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Probe `timeoutSeconds` shorter than one inference at p99, as `everybyte bench --format
    /// json` measured it (given with `--bench FILE`). Without a measurement it says nothing.
    /// ## Why it matters
    /// Under load the health endpoint waits behind inferences for the same threads or the same
    /// GPU. A probe that gives up sooner than a slow request fails exactly when traffic peaks:
    /// liveness restarts a healthy pod (dropping every request in flight), readiness takes it
    /// out of the Service and pushes its load onto the others.
    /// ## Example
    /// ```yaml
    /// livenessProbe: {httpGet: {path: /health, port: 8080}, timeoutSeconds: 1}   # p99 is 1.8 s
    /// ```
    /// ## Fix
    /// Set `timeoutSeconds` above the p99 at peak load (measure it: `everybyte bench URL
    /// --model M --rate R --format json`), and answer health checks off the inference path.
    pub static PROBE_TIMEOUT = { code: "K8S011", name: "probe-timeout", severity: Warning, summary: "A probe times out sooner than an inference at p99" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    let Some((p99, src)) = &m.expect.p99_seconds else {
        return;
    };
    for (w, _, c) in m.containers() {
        for (kind, p) in [("liveness", &c.liveness), ("readiness", &c.readiness)] {
            let Some(p) = p else { continue };
            if p.timeout < *p99 {
                out.push(
                    on(&PROBE_TIMEOUT, m, w, Some(c), p.line, format!(
                        "{kind} probe of {} times out after {:.0} s, but an inference takes {p99:.2} s at p99 ({src}): under load the probe fails",
                        c.name, p.timeout
                    ))
                    .with_help(format!("{kind}Probe:\n  timeoutSeconds: {}", (p99 * 2.0).ceil().max(2.0) as u64)),
                );
            }
        }
    }
}
