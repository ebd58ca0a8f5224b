//! LOG006: a Kubernetes container in a crash loop.

use crate::hit::{Hit, Role};
use crate::line::find_ci;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container that keeps dying and being restarted: `CrashLoopBackOff` in `kubectl get
    /// pods` or `describe` output, and the kubelet's `Back-off restarting failed container`
    /// event. When a failed probe or an OOM kill came shortly before, it is named as the
    /// likely cause.
    /// ## Why it matters
    /// Each restart waits longer (10 s doubling to 5 minutes) and, with `imagePullPolicy:
    /// Always` and a large image, pulls gigabytes again. A liveness probe shorter than the
    /// model's load time makes this loop permanent: the pod is killed before it can ever
    /// become ready.
    /// ## Example
    /// ```text
    /// Warning  BackOff  2m (x14 over 9m)  kubelet  Back-off restarting failed container server in pod server-7d9c
    /// ```
    /// ## Fix
    /// Read the previous container's log (`kubectl logs POD --previous`) and its last state
    /// (`kubectl describe pod POD`). If probes kill it during start-up, add a `startupProbe`
    /// whose `failureThreshold × periodSeconds` covers the measured cold start; if it was
    /// OOMKilled, raise the memory limit to the measured peak × 1.2.
    pub static CRASH_LOOP = { code: "LOG006", name: "crash-loop", severity: Error, summary: "A container is restarting in a crash loop" };
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    let anchor = find_ci(line, "crashloopbackoff").or_else(|| find_ci(line, "back-off restarting"));
    let Some(anchor) = anchor else { return };
    out.push(
        Hit::new(
            &CRASH_LOOP,
            anchor,
            "container is crash-looping: Kubernetes restarts it with a growing back-off (10 s doubling to 5 min)".to_owned(),
            "kubectl logs POD --previous shows why the last run died; kubectl describe pod POD shows its Last State and exit code",
        )
        .role(Role::Kill)
        .key("crash-loop"),
    );
}
