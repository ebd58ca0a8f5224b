//! LOG010: DataLoader workers killed by a bus error because shared memory is too small.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A PyTorch DataLoader worker killed by SIGBUS: `ERROR: Unexpected bus error encountered
    /// in worker. This might be caused by insufficient shared memory (shm).` and `DataLoader
    /// worker (pid N) is killed by signal: Bus error.`
    /// ## Why it matters
    /// Workers hand every batch to the main process through `/dev/shm`. Docker gives a
    /// container 64 MiB of it by default and Kubernetes the same unless a memory-backed volume
    /// is mounted; a few image batches fill that, and the worker dies with a bus error — often
    /// hours into a run, when a larger batch or more workers meet the limit.
    /// ## Example
    /// ```text
    /// ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm).
    /// ```
    /// ## Fix
    /// `df -h /dev/shm` inside the container; run Docker with `--shm-size=16g` (or
    /// `--ipc=host`); in Kubernetes mount an `emptyDir: {medium: Memory, sizeLimit: 16Gi}` at
    /// `/dev/shm`; or lower `num_workers` and `prefetch_factor`.
    pub static DATALOADER_SHM = { code: "LOG010", name: "dataloader-shm", severity: Error, summary: "A DataLoader worker died of a bus error: shared memory is too small" };
}

static WORKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"DataLoader worker \(pid(?:\(s\))? ([\d, ]+)\) is killed by signal: Bus error")
        .expect("valid regex")
});

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    let (anchor, pid) = if let Some(c) = WORKER.captures(line) {
        (
            c.get(0).map_or(0, |m| m.start()),
            Some(c[1].trim().to_owned()),
        )
    } else if let Some(p) = line.find("Unexpected bus error encountered in worker") {
        (p, None)
    } else if let Some(p) = line.find("out of shared memory") {
        if !line.contains("orker") {
            return;
        }
        (p, None)
    } else {
        return;
    };
    let who = pid.as_ref().map_or_else(
        || "a DataLoader worker".to_owned(),
        |p| format!("DataLoader worker (pid {p})"),
    );
    let mut hit = Hit::new(
        &DATALOADER_SHM,
        anchor,
        format!("{who} died of SIGBUS: /dev/shm is too small for the batches workers hand to the main process (Docker and Kubernetes default to 64 MiB)"),
        "df -h /dev/shm; Docker: --shm-size=16g or --ipc=host; Kubernetes: mount emptyDir {medium: Memory, sizeLimit: 16Gi} at /dev/shm; or lower num_workers / prefetch_factor",
    )
    .role(Role::Cause("shared-memory bus error"))
    .key("dataloader-shm");
    if let Some(p) = pid {
        hit = hit.data("worker_pid", p);
    }
    out.push(hit);
}
