//! K8S010 cpu-limit-throttles: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::{Manifest, cores};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A serving container with a CPU limit of one core or less.
    /// ## Why it matters
    /// CPU limits are enforced by CFS quota every 100 ms: a server that uses its quota early in
    /// the period is stopped for the rest of it. Tokenisation, JSON and batching threads then
    /// add up to 100 ms pauses to requests: a p99 far above the compute time.
    /// ## Example
    /// ```yaml
    /// limits: {cpu: 500m, memory: 4Gi}
    /// ```
    /// ## Fix
    /// Set a CPU request sized to the measured need and no CPU limit (or a limit well above
    /// the request); keep the memory limit.
    pub static CPU_LIMIT_THROTTLES = { code: "K8S010", name: "cpu-limit-throttles", severity: Warning, summary: "A CPU limit of a core or less throttles the inference server" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        if !c.serves() || c.init {
            continue;
        }
        if let Some(l) = c.resources.limit("cpu")
            && cores(&l.text).is_some_and(|v| v <= 1.0)
        {
            out.push(
                on(&CPU_LIMIT_THROTTLES, m, w, Some(c), l.line, format!("CPU limit {} on serving {} ({}): CFS throttling adds pauses of up to 100 ms to requests", l.text, who(w, c), c.why))
                    .with_help("resources:\n  requests: {cpu: \"4\"}   # the measured need\n  # no cpu under limits; keep the memory limit"),
            );
        }
    }
}
