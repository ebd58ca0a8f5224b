//! K8S003 liveness-before-ready: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{hub_model, loads_model, model_size, on, who};
use crate::expect::Expectations;
use crate::k8s::{Container, Manifest};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A liveness probe with no startup probe whose failure window (initial delay + period ×
    /// failure threshold) is shorter than the measured cold start (`--profile`) or, without a
    /// measurement, shorter than the load the container can be expected to need: 30 s per GB of
    /// the project's model (in `audit`, or `--model`) or of a hub model whose size its name gives (`Llama-3.1-8B`: about 16 GB, 9 minutes) plus a
    /// minute, 10 minutes for an LLM server (vLLM, TGI, SGLang, NIM, …) otherwise, 2 minutes for
    /// any other GPU container.
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

/// The servers that load large language models: many GB before they answer.
const LLM_SERVERS: &[&str] = &[
    "vLLM",
    "TGI",
    "SGLang",
    "NVIDIA NIM",
    "JetStream",
    "LMDeploy",
    "llama.cpp server",
    "Ollama",
];

/// Without a measurement, the time the container needs before it answers, and why: 30 s per
/// GB of weights (a download at ~33 MB/s and the load) plus a minute where the model's size
/// is known from its name; 10 minutes for an LLM server otherwise; 2 minutes for any other
/// GPU container.
fn expected_load(c: &Container, exp: &Expectations) -> Option<(f64, String)> {
    let hub = hub_model(c);
    if let Some((b, src)) = exp.model_bytes.as_ref().filter(|_| loads_model(c)) {
        let gb = *b as f64 / 1e9;
        return Some((
            60.0 + 30.0 * gb,
            format!(
                "the model in {src} is {gb:.1} GB: budget 30 s per GB to load it, plus a minute"
            ),
        ));
    }
    if let Some((id, _)) = &hub
        && let Some(b) = model_size(id)
    {
        let gb = b / 1e9;
        return Some((
            60.0 + 30.0 * gb,
            format!(
                "{id} is about {gb:.0} GB: budget 30 s per GB to download and load it, plus a minute"
            ),
        ));
    }
    if let Some(s) = c
        .server()
        .filter(|s| LLM_SERVERS.contains(s))
        .or(hub.as_ref().map(|_| "a hub model"))
    {
        return Some((
            600.0,
            format!("{s} loads many GB before it answers: budget 10 minutes"),
        ));
    }
    c.accelerated()
        .then(|| (120.0, "a GPU model server: budget 2 minutes".to_owned()))
}

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
            None => {
                let Some((need, why)) = expected_load(c, &m.expect).filter(|(need, _)| window < *need) else {
                    continue;
                };
                out.push(
                on(&LIVENESS_BEFORE_READY, m, w, Some(c), l.line, format!(
                    "liveness kills {} {window:.0} s after start unless it answers ({timing}), and there is no startupProbe; {why} ({need:.0} s): a model that loads longer restarts forever{also}",
                    who(w, c)
                ))
                .with_help("startupProbe:   # measure the cold start: everybyte profile --ready-url URL -- CMD\n  httpGet: {path: /health, port: 8000}\n  periodSeconds: 10\n  failureThreshold: 90   # 15 minutes"),
            );
            }
            Some(_) => {}
        }
    }
}
