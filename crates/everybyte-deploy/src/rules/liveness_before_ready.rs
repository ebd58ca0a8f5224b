//! K8S003 liveness-before-ready: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{at, loads_model};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A liveness probe with no startup probe whose failure window (initial delay + period ×
    /// failure threshold) is shorter than the measured cold start — or, without a profile, a
    /// liveness probe with no startup probe on a container that loads a model (a GPU, a model
    /// path in its environment), reporting when it will be killed.
    /// ## Why it matters
    /// The kubelet kills a container whose liveness probe fails. If the model is still loading
    /// when the window closes, the container restarts, loads again, and is killed again:
    /// `CrashLoopBackOff`, each time pulling and loading gigabytes.
    /// ## Example
    /// ```yaml
    /// livenessProbe: {httpGet: {path: /health, port: 8080}, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3}
    /// ```
    /// ## Fix
    /// Add a `startupProbe` whose window covers the measured cold start with margin
    /// (`failureThreshold × periodSeconds ≥ 1.5 × cold start`); liveness only starts after it
    /// succeeds. Point liveness at a cheap endpoint, not the readiness one.
    pub static LIVENESS_BEFORE_READY = { code: "K8S003", name: "liveness-before-ready", severity: Error, summary: "A liveness probe can kill the container before the model has loaded" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (_, c) in m.containers() {
        let (Some(l), None) = (&c.liveness, &c.startup) else {
            continue;
        };
        let window = l.window();
        let ready_path = l.path.as_deref().is_some_and(|p| p.contains("ready"));
        let also = if ready_path {
            "; it probes the readiness endpoint, which fails for as long as the model loads"
        } else {
            ""
        };
        match m.expect.cold_start {
            Some(cold) if window < cold => out.push(
                Finding::new(
                    &LIVENESS_BEFORE_READY,
                    at(&m.path, l.line),
                    format!(
                        "liveness kills container {} {window:.0} s after start (initialDelaySeconds {:.0} + periodSeconds {:.0} × failureThreshold {:.0}); the measured cold start is {cold:.1} s: it restarts forever{also}",
                        c.name, l.initial_delay, l.period, l.failure_threshold
                    ),
                )
                .with_help(format!("add a startupProbe with periodSeconds: 10 and failureThreshold: {} ({:.0} s, 1.5 × the cold start)", ((cold * 1.5) / 10.0).ceil() as u64, cold * 1.5)),
            ),
            None if loads_model(c) => out.push(
                Finding::new(
                    &LIVENESS_BEFORE_READY,
                    at(&m.path, l.line),
                    format!(
                        "liveness kills container {} {window:.0} s after start unless it answers, and there is no startupProbe: a model that loads longer restarts forever{also}",
                        c.name
                    ),
                )
                .with_help("measure the cold start (`everybyte profile --ready-url URL -- CMD`) and add a startupProbe covering 1.5 × it"),
            ),
            _ => {}
        }
    }
}
