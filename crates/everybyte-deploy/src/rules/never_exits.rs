//! K8S017 never-exits: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container of a Job, CronJob, training job, JobSet, Volcano Job, RayJob or Argo workflow
    /// whose command keeps running after the work: `sleep infinity`, `tail -f /dev/null`,
    /// `sshd -D` (except on the workers of an MPI job, which the launcher's end stops by design).
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
    for (w, _, c) in m.containers() {
        if !w.completes() || c.init {
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
        // SSH workers of an MPI job are stopped by its launcher's end, by design (a Volcano
        // job only with a CompleteJob policy).
        let doc = m.docs.get(w.doc).map(|d| &d.node);
        let volcano = doc
            .and_then(|d| d.get("apiVersion"))
            .and_then(|a| a.str())
            .is_some_and(|a| a.starts_with("batch.volcano.sh"));
        let completes_job = doc.is_some_and(|d| d.has_scalar("CompleteJob"));
        let mpi = w.kind == "MPIJob"
            || m.docs
                .get(w.doc)
                .is_some_and(|d| d.node.at("spec.mlPolicy.mpi").is_some())
            || (w.pods.iter().flat_map(|p| &p.containers).any(|o| {
                let t = o.command_text();
                t.contains("mpirun") || t.contains("mpiexec")
            }) && (!volcano || completes_job));
        let forever = forever.filter(|k| !(mpi && k.starts_with("sshd")));
        if let Some(k) = forever {
            out.push(
                on(&NEVER_EXITS, m, w, Some(c), c.argv_line.unwrap_or(c.line), format!("{} runs `{}`, which never exits: the finished job keeps its pod{} running", who(w, c), k.trim(), if c.gpus().is_some() { " and its GPUs" } else { "" }))
                    .with_help("command: [\"bash\", \"-c\", \"exec torchrun train.py\"]   # the container ends with the work"),
            );
        }
    }
}
