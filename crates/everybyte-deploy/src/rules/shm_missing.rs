//! K8S008 shm-missing: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::tensor_parallel::TP_FLAGS;
use super::{on, who};
use crate::k8s::{Container, Manifest, Operator, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container that runs several cooperating processes on one node — two or more GPUs, a
    /// launcher started with more than one process per node (`torchrun`, `deepspeed`,
    /// `accelerate`), DataLoader workers (`--num_workers N`), or an inference server with tensor
    /// parallelism above 1 — with no memory-backed volume (`emptyDir`, `medium: Memory`) at
    /// `/dev/shm` and no host IPC namespace. KubeRay mounts a memory-backed `/dev/shm` in every
    /// Ray pod itself, so Ray pods are not reported.
    /// ## Why it matters
    /// Containers get a 64 MiB `/dev/shm`. DataLoader workers pass batches through it and NCCL
    /// keeps its intra-node buffers there: past 64 MiB they die with `Bus error`, "DataLoader
    /// worker killed" or `NCCL error: unhandled system error` — hours into the job, at the first
    /// large batch, or at the first all-reduce.
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
    pub static SHM_MISSING = { code: "K8S008", name: "shm-missing", severity: Error, summary: "A multi-process GPU container keeps the 64 MiB default /dev/shm" };
}

/// Why container `c` runs several processes that share memory, where it does.
pub(super) fn processes(c: &Container) -> Option<String> {
    let num = |flags: &[&str]| c.flag(flags).and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = c.gpu_count().filter(|n| *n >= 2) {
        return Some(format!("{n} GPUs, one process each"));
    }
    if let Some(n) = num(&[
        "--nproc_per_node",
        "--nproc-per-node",
        "--num_gpus",
        "--num_processes",
    ])
    .filter(|n| *n >= 2)
    {
        return Some(format!("{n} processes per node"));
    }
    if let Some(n) = num(TP_FLAGS).filter(|n| *n >= 2) {
        return Some(format!("tensor parallelism {n}"));
    }
    if c.trains()
        && let Some(n) = num(&[
            "--num_workers",
            "--num-workers",
            "--dataloader_num_workers",
            "--dataloader-num-workers",
            "--workers",
        ])
        .filter(|n| *n >= 1)
    {
        return Some(format!("{n} DataLoader workers"));
    }
    None
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, p, c) in m.containers() {
        // A KServe model-format predictor's volumes come from its ServingRuntime.
        if c.init
            || c.shorthand
            || w.operator == Operator::KubeRay
            || !(c.trains() || c.serves() || c.role == Role::Batch)
        {
            continue;
        }
        let Some(why) = processes(c) else { continue };
        if !p.shm(c) {
            out.push(
                on(&SHM_MISSING, m, w, Some(c), c.line, format!("{} runs {why} ({}) with the default 64 MiB /dev/shm: DataLoader workers and NCCL die with Bus error past it", who(w, c), c.why))
                    .with_help("volumes:\n- name: dshm\n  emptyDir: {medium: Memory, sizeLimit: 16Gi}\n# and in the container:\nvolumeMounts:\n- {name: dshm, mountPath: /dev/shm}"),
            );
        }
    }
}
