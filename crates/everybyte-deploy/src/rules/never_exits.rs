//! K8S017 never-exits: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container of a Job, CronJob, training job, JobSet, Volcano Job, RayJob or Argo workflow
    /// whose command keeps running after the work: `sleep infinity`, `tail -f /dev/null`,
    /// `sshd -D` (except on an MPIJob's workers, which the launcher's end stops by design).
    /// ## Why it matters
    /// A job completes when its containers exit. A helper that never exits keeps the pod — and its
    /// GPUs — running after the training finished, until someone deletes it by hand; the job never
    /// reports success, so nothing downstream starts.
    /// ## Example
    /// ```yaml
    /// command: ["bash", "-c", "torchrun train.py; sleep infinity"]
    /// ```
    /// ## Fix
    /// Let the command end with the work (`exec torchrun train.py`); for debugging, run a separate
    /// pod. For SSH-based launchers use an MPIJob, whose operator stops the workers.
    pub static NEVER_EXITS = { code: "K8S017", name: "never-exits", severity: Error, summary: "A job runs a process that never exits, so it never completes" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, p, c) in m.containers() {
        if !w.completes() || c.init || (w.kind == "MPIJob" && p.part == "Worker") {
            continue;
        }
        let cmd = c.command_text();
        let forever = [
            "sleep infinity",
            "sleep inf ",
            "tail -f /dev/null",
            "sshd -d",
            "sleep 365d",
            "sleep 99999",
        ]
        .iter()
        .find(|k| format!("{cmd} ").contains(*k));
        if let Some(k) = forever {
            out.push(
                on(&NEVER_EXITS, m, w, Some(c), c.argv_line.unwrap_or(c.line), format!("{} runs `{}`, which never exits: the finished job keeps its pod{} running", who(w, c), k.trim(), if c.gpus().is_some() { " and its GPUs" } else { "" }))
                    .with_help("command: [\"bash\", \"-c\", \"exec torchrun train.py\"]   # the container ends with the work"),
            );
        }
    }
}
