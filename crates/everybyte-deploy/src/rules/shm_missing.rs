//! K8S008 shm-missing: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::at;
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A training container (`torchrun`, `torch.distributed`, `accelerate`, `deepspeed`, or a
    /// Job running a training command) with no memory-backed volume (`emptyDir`,
    /// `medium: Memory`) mounted at `/dev/shm`.
    /// ## Why it matters
    /// Containers get a 64 MiB `/dev/shm`. PyTorch DataLoader workers pass batches through
    /// shared memory; past 64 MiB they die with `Bus error` or "DataLoader worker killed"
    /// — hours into the job, at the first large batch.
    /// ## Example
    /// ```yaml
    /// command: ["torchrun", "--nproc_per_node=2", "train.py"]
    /// volumeMounts: [{name: data, mountPath: /data}]
    /// ```
    /// ## Fix
    /// ```yaml
    /// volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 16Gi}}]
    /// volumeMounts: [{name: dshm, mountPath: /dev/shm}]
    /// ```
    pub static SHM_MISSING = { code: "K8S008", name: "shm-missing", severity: Error, summary: "A training container keeps the 64 MiB default /dev/shm" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, c) in m.containers() {
        let trains =
            c.trains() || (matches!(w.kind.as_str(), "Job" | "CronJob") && c.gpus().is_some());
        if !trains {
            continue;
        }
        let shm = c
            .mounts
            .iter()
            .any(|(name, mount)| mount == "/dev/shm" && w.memory_volumes.contains(name));
        if !shm {
            out.push(
                Finding::new(&SHM_MISSING, at(&m.path, c.line), format!("training container {} has the default 64 MiB /dev/shm: DataLoader workers die with Bus error past it", c.name))
                    .with_help("volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 16Gi}}] and volumeMounts: [{name: dshm, mountPath: /dev/shm}]"),
            );
        }
    }
}
