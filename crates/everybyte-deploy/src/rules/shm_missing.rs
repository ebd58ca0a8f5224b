//! K8S008 shm-missing: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::tensor_parallel::TP_FLAGS;
use super::{on, who};
use crate::k8s::{Backing, Container, Manifest, Operator, Pod, Role, Workload, bytes};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container that runs several cooperating processes on one node — two or more GPUs, a
    /// launcher started with more than one process per node (`torchrun`, `deepspeed`,
    /// `accelerate`), DataLoader workers (`--num_workers N`), or an inference server with tensor
    /// parallelism above 1 — with no memory-backed volume (`emptyDir`, `medium: Memory`) at
    /// `/dev/shm` and no host IPC namespace. KubeRay mounts a memory-backed `/dev/shm` in every
    /// Ray pod itself, so Ray pods are not reported. When the loader is known — the command
    /// gives `--num_workers` and a batch size, and `deploy lint --sample-bytes` the size of one
    /// sample — a `/dev/shm` whose `sizeLimit` is below the batches in flight (ranks × workers ×
    /// `prefetch_factor` × batch × sample bytes) × the headroom is reported too.
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
    pub static SHM_MISSING = { code: "K8S008", name: "shm-missing", severity: Error, summary: "A multi-process GPU container keeps the 64 MiB default /dev/shm, or one its loader overflows" };
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

/// Batches the loader of container `c` keeps in flight, bytes, when its command and the lint's
/// `--sample-bytes` say enough: ranks × workers × prefetch_factor × batch × sample.
fn in_flight(m: &Manifest, c: &Container) -> Option<(u64, String)> {
    let sample = m.expect.sample_bytes?;
    let num = |flags: &[&str]| c.flag(flags).and_then(|v| v.parse::<u64>().ok());
    let workers = num(&[
        "--num_workers",
        "--num-workers",
        "--dataloader_num_workers",
        "--dataloader-num-workers",
    ])
    .filter(|n| *n >= 1)?;
    let batch = num(&[
        "--batch_size",
        "--batch-size",
        "--per_device_train_batch_size",
        "--per-device-train-batch-size",
        "--train_batch_size",
    ])?;
    let prefetch = num(&[
        "--prefetch_factor",
        "--prefetch-factor",
        "--dataloader_prefetch_factor",
        "--dataloader-prefetch-factor",
    ])
    .unwrap_or(2);
    let ranks = num(&["--nproc_per_node", "--nproc-per-node", "--num_processes"])
        .or_else(|| c.gpu_count())
        .unwrap_or(1)
        .max(1);
    let bytes = ranks
        .saturating_mul(workers)
        .saturating_mul(prefetch)
        .saturating_mul(batch)
        .saturating_mul(sample);
    Some((
        bytes,
        format!(
            "{ranks} × {workers} workers × prefetch_factor {prefetch} × batch {batch} × {} per sample",
            everybyte_core::bytesize::Bytes(sample)
        ),
    ))
}

/// A memory-backed `/dev/shm` with a `sizeLimit` below the loader's batches in flight.
fn too_small(m: &Manifest, w: &Workload, p: &Pod, c: &Container, out: &mut Vec<Finding>) {
    let Some((_, volume)) = p.volume_at(c, "/dev/shm") else {
        return;
    };
    let Backing::EmptyDir {
        memory: true,
        size_limit: Some(limit),
    } = &volume.backing
    else {
        return;
    };
    let (Some(size), Some((need, how))) = (bytes(&limit.text), in_flight(m, c)) else {
        return;
    };
    let want = need as f64 * m.expect.headroom;
    if size < want {
        let shm = everybyte_mem::host::host_budget(&everybyte_mem::host::HostInput {
            weights: 0,
            checkpoint: everybyte_mem::host::Checkpoint::Safetensors,
            loading: everybyte_mem::host::Loading::Direct,
            processes: 1,
            workers: 1,
            prefetch_factor: 1,
            batch_bytes: need,
            pin_memory: false,
            cpu_training: 0,
        })
        .shm;
        out.push(
            on(&SHM_MISSING, m, w, Some(c), limit.line, format!(
                "/dev/shm of {} holds {} but its DataLoader keeps {} in flight ({how}) × {:.1}: workers die with Bus error when it fills",
                who(w, c),
                limit.text,
                everybyte_core::bytesize::Bytes(need),
                m.expect.headroom,
            ))
            .with_help(format!(
                "emptyDir: {{medium: Memory, sizeLimit: {}Gi}}   # and count it in the memory limit",
                shm >> 30
            )),
        );
    }
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
        if p.shm(c) {
            too_small(m, w, p, c, out);
        } else {
            out.push(
                on(&SHM_MISSING, m, w, Some(c), c.line, format!("{} runs {why} ({}) with the default 64 MiB /dev/shm: DataLoader workers and NCCL die with Bus error past it", who(w, c), c.why))
                    .with_help("volumes:\n- name: dshm\n  emptyDir: {medium: Memory, sizeLimit: 16Gi}\n# and in the container:\nvolumeMounts:\n- {name: dshm, mountPath: /dev/shm}"),
            );
        }
    }
}
