//! K8S024 tensor-parallel-mismatch: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::{Manifest, Operator, Value};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// An inference server's `--tensor-parallel-size` (`-tp`, `--tp`, `--tp-size`, `--num-shard`,
    /// `NUM_SHARD`) times its pipeline-parallel size against the GPUs it gets: `nvidia.com/gpu` of
    /// the container, times the group size of a LeaderWorkerSet or the Ray cluster's GPUs where the
    /// model spans pods.
    /// ## Why it matters
    /// With more shards than GPUs the server fails at start (`world size is greater than the
    /// number of GPUs`) and the pod restarts forever; with fewer, the GPUs the pod reserved stay
    /// idle while the model may not fit on the ones it uses.
    /// ## Example
    /// ```yaml
    /// args: ["--model", "meta-llama/Llama-3.1-70B-Instruct", "--tensor-parallel-size", "8"]
    /// resources: {limits: {nvidia.com/gpu: 4}}
    /// ```
    /// ## Fix
    /// ```yaml
    /// args: ["--tensor-parallel-size", "4"]   # equal to nvidia.com/gpu
    /// ```
    pub static TENSOR_PARALLEL_MISMATCH = { code: "K8S024", name: "tensor-parallel-mismatch", severity: Error, summary: "The tensor-parallel size differs from the GPUs the container gets" };
}

/// The flags that set tensor parallelism.
pub const TP_FLAGS: &[&str] = &[
    "--tensor-parallel-size",
    "--tensor_parallel_size",
    "-tp",
    "--tp",
    "--tp-size",
    "--tp_size",
    "--num-shard",
    "--num_shard",
];

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        if c.init {
            continue;
        }
        let num = |flags: &[&str]| c.flag(flags).and_then(|v| v.parse::<u64>().ok());
        let tp = num(TP_FLAGS).or_else(|| c.env_value("NUM_SHARD").and_then(Value::count));
        let (Some(tp), Some(gpus)) = (tp, c.gpu_count()) else {
            continue;
        };
        let pp = num(&[
            "--pipeline-parallel-size",
            "--pipeline_parallel_size",
            "-pp",
            "--pp",
            "--pp-size",
        ])
        .unwrap_or(1);
        let shards = tp.saturating_mul(pp);
        // The model spans pods: a LeaderWorkerSet group, a Ray cluster.
        let group = if w.kind == "LeaderWorkerSet" {
            m.docs
                .get(w.doc)
                .and_then(|d| d.node.at("spec.leaderWorkerTemplate.size"))
                .and_then(|s| s.str())
                .and_then(|s| s.parse::<u64>().ok())
        } else {
            None
        };
        if w.operator == Operator::KubeRay {
            continue;
        }
        let have = gpus.saturating_mul(group.unwrap_or(1));
        if shards != have && gpus > 0 {
            let over = if group.is_some() {
                format!("{gpus} GPUs × group size {}", group.unwrap_or(1))
            } else {
                format!("{gpus} GPU{}", if gpus == 1 { "" } else { "s" })
            };
            let pps = if pp > 1 {
                format!(" × pipeline parallel {pp}")
            } else {
                String::new()
            };
            out.push(
                on(&TENSOR_PARALLEL_MISMATCH, m, w, Some(c), c.argv_line.unwrap_or(c.line), format!("{} shards the model {tp}-way{pps} = {shards} GPUs, but gets {over} = {have}: {}", who(w, c), if shards > have { "the server fails at start and restarts forever" } else { "the other GPUs stay idle" }))
                    .with_help(format!("--tensor-parallel-size {}   # or nvidia.com/gpu: {}", have / pp.max(1), shards / group.unwrap_or(1).max(1))),
            );
        }
    }
}
