//! K8S003 liveness-before-ready: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{hub_model, on, who};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A liveness probe with no startup probe whose failure window (initial delay + period ×
    /// failure threshold) is shorter than the measured cold start (`--profile`) or, without a
    /// measurement, shorter than 10 minutes on a container that loads a model (a GPU, an inference
    /// server, a hub model id or a model named in its environment).
    /// ## Why it matters
    /// The kubelet kills a container whose liveness probe fails. If the model is still loading (or
    /// still downloading) when the window closes, the container restarts, loads again, and is
    /// killed again: `CrashLoopBackOff`, each time pulling and loading gigabytes.
    /// ## Example
    /// ```yaml
    /// livenessProbe: {httpGet: {path: /health, port: 8080}, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3}
    /// ```
    /// ## Fix
    /// ```yaml
    /// startupProbe:            # liveness starts only once this succeeds
    ///   httpGet: {path: /health, port: 8080}
    ///   periodSeconds: 10
    ///   failureThreshold: 90   # 15 minutes: 1.5 × the measured cold start
    /// ```
    pub static LIVENESS_BEFORE_READY = { code: "K8S003", name: "liveness-before-ready", severity: Error, summary: "A liveness probe can kill the container before the model has loaded" };
}

/// Without a measurement, the load a model-serving container is given at least.
const UNMEASURED_LOAD: f64 = 600.0;

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
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
        let timing = format!(
            "initialDelaySeconds {:.0} + periodSeconds {:.0} × failureThreshold {:.0}",
            l.initial_delay, l.period, l.failure_threshold
        );
        match m.expect.cold_start {
            Some(cold) if window < cold => out.push(
                on(&LIVENESS_BEFORE_READY, m, w, Some(c), l.line, format!(
                    "liveness kills {} {window:.0} s after start ({timing}); the measured cold start is {cold:.1} s: it restarts forever{also}",
                    who(w, c)
                ))
                .with_help(format!("startupProbe:\n  periodSeconds: 10\n  failureThreshold: {}   # {:.0} s, 1.5 × the cold start", ((cold * 1.5) / 10.0).ceil() as u64, cold * 1.5)),
            ),
            None if window < UNMEASURED_LOAD && (c.accelerated() || hub_model(c).is_some()) => out.push(
                on(&LIVENESS_BEFORE_READY, m, w, Some(c), l.line, format!(
                    "liveness kills {} {window:.0} s after start unless it answers ({timing}), and there is no startupProbe: a model that loads (or downloads) longer restarts forever{also}",
                    who(w, c)
                ))
                .with_help("startupProbe:   # measure the cold start: everybyte profile --ready-url URL -- CMD\n  httpGet: {path: /health, port: 8000}\n  periodSeconds: 10\n  failureThreshold: 90   # 15 minutes"),
            ),
            _ => {}
        }
    }
}
