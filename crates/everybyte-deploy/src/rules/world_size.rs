//! K8S016 world-size-mismatch: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A launcher's world size against what the manifest creates: `torchrun --nnodes N` against
    /// the pods of the job (replicas of every replica spec, a JobSet's replicated jobs × parallelism,
    /// a LeaderWorkerSet's group size), `--nproc_per_node P` against the GPUs of the container, and
    /// `mpirun -np N` against the workers × `slotsPerWorker` of an MPIJob.
    /// ## Why it matters
    /// Rendezvous waits for the world it was told: with more nodes declared than pods it hangs until
    /// its timeout (30 minutes by default), with fewer it refuses the extra ranks; with more
    /// processes than GPUs two ranks share a device (`NCCL error: duplicate GPU detected`), with
    /// fewer, GPUs the job pays for stay idle. And `torchrun` with no `--nnodes` in a workload
    /// of several pods (outside the training operator's jobs, which set `PET_NNODES`) runs one
    /// world per pod: the pods never meet, each trains alone.
    /// ## Example
    /// ```yaml
    /// pytorchReplicaSpecs:
    ///   Worker: {replicas: 3, template: …}   # 1 master + 3 workers
    /// # command: torchrun --nnodes=2 --nproc_per_node=8 train.py, with nvidia.com/gpu: 4
    /// ```
    /// ## Fix
    /// Derive the numbers from one place: `--nnodes=$(PET_NNODES)` (set by the training
    /// operator) or the replicas, and `--nproc_per_node` equal to `nvidia.com/gpu`.
    pub static WORLD_SIZE_MISMATCH = { code: "K8S016", name: "world-size-mismatch", severity: Error, summary: "The launcher's world size differs from the pods and GPUs the manifest creates" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        if c.init {
            continue;
        }
        let line = c.argv_line.unwrap_or(c.line);
        let num = |flags: &[&str]| c.flag(flags).and_then(|v| v.parse::<u64>().ok());
        let cmd = c.command_text();
        // Without --nnodes torchrun runs a world of one node in each pod: pods that never
        // meet. The training operator sets PET_NNODES, which torchrun reads, in its own jobs.
        // Volcano's pytorch plugin sets the world for the pods too.
        let plugin = m
            .docs
            .get(w.doc)
            .is_some_and(|d| d.node.at("spec.plugins.pytorch").is_some());
        let operator_sets = plugin
            || matches!(
                w.kind.as_str(),
                "PyTorchJob" | "TrainJob" | "TrainingRuntime" | "ClusterTrainingRuntime"
            )
            || c.env.iter().any(|e| e.name == "PET_NNODES");
        let launches = cmd.contains("torchrun")
            || cmd.contains("torch.distributed.run")
            || cmd.contains("torch.distributed.launch");
        if launches
            && c.flag(&["--nnodes"]).is_none()
            && !operator_sets
            && let Some(pods) = w.pod_count().filter(|n| *n > 1)
        {
            out.push(on(&WORLD_SIZE_MISMATCH, m, w, Some(c), line, format!("{} runs torchrun without --nnodes in {} pods of {}: each pod trains alone in a world of one node", who(w, c), pods, w.id()))
                .with_help(format!("torchrun --nnodes={pods} --node_rank=$(JOB_COMPLETION_INDEX) --rdzv-endpoint=<first pod>:29500 …")));
        }
        if cmd.contains("torchrun") || cmd.contains("torch.distributed") {
            if let (Some(n), Some(pods)) = (num(&["--nnodes", "--nnodes_"]), w.pod_count())
                && n != pods
                && pods > 0
            {
                out.push(on(&WORLD_SIZE_MISMATCH, m, w, Some(c), line, format!("{} runs torchrun --nnodes {n}, but {} creates {pods} pod{}: rendezvous {}", who(w, c), w.id(), if pods == 1 { "" } else { "s" }, if n > pods { "waits for nodes that never come and times out" } else { "refuses the extra ranks" }))
                    .with_help(format!("--nnodes={pods}   # or $(PET_NNODES), which the training operator sets")));
            }
            if let (Some(p), Some(g)) = (
                num(&["--nproc_per_node", "--nproc-per-node"]),
                c.gpu_count(),
            ) && p != g
                && g > 0
            {
                out.push(
                    on(
                        &WORLD_SIZE_MISMATCH,
                        m,
                        w,
                        Some(c),
                        line,
                        format!(
                            "{} starts {p} processes per node (--nproc_per_node) on {g} GPU{}: {}",
                            who(w, c),
                            if g == 1 { "" } else { "s" },
                            if p > g {
                                "ranks share a GPU (NCCL: duplicate GPU detected)"
                            } else {
                                "the other GPUs stay idle"
                            }
                        ),
                    )
                    .with_help(format!("--nproc_per_node={g}   # equal to nvidia.com/gpu")),
                );
            }
        }
        if w.kind == "MPIJob" && cmd.contains("mpirun") {
            let slots = m
                .docs
                .get(w.doc)
                .and_then(|d| d.node.at("spec.slotsPerWorker"))
                .and_then(|s| s.str())
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(1);
            let workers: Option<u64> = w
                .pods
                .iter()
                .filter(|p| p.part == "Worker")
                .try_fold(0u64, |n, p| p.replicas.map(|r| n.saturating_add(r)));
            if let (Some(np), Some(workers)) = (num(&["-np", "-n", "--np"]), workers)
                && workers > 0
                && np != workers.saturating_mul(slots)
            {
                out.push(on(&WORLD_SIZE_MISMATCH, m, w, Some(c), line, format!("{} runs mpirun -np {np}, but the job has {workers} worker{} × slotsPerWorker {slots} = {} slots", who(w, c), if workers == 1 { "" } else { "s" }, workers.saturating_mul(slots)))
                    .with_help(format!("-np {}   # workers × slotsPerWorker", workers.saturating_mul(slots))));
            }
        }
    }
}
