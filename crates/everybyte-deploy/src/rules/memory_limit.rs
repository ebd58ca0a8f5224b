//! K8S001 memory-limit: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;
use everybyte_core::bytesize::Bytes;

use super::{hub_model, loads_model, model_size, on, who};
use crate::k8s::{Container, Manifest, Operator, Workload, bytes};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container that uses a GPU or loads a model (an inference server, a hub model id, a
    /// server on weights an init container downloads) with no
    /// memory limit, or with a limit below the memory it needs times the headroom (1.2 by default):
    /// the peak `everybyte profile` measured (`--profile FILE`), or without a profile the host
    /// memory of loading the model the project holds (or, on a CPU-only server, the hub model it
    /// names) in every process that loads it (server workers from `WORKERS` or `--workers`, DDP
    /// ranks): the Python runtime of each, and the weights as their format loads — a pickle
    /// checkpoint twice per process (`torch.load`, then `load_state_dict`), safetensors once,
    /// mapped and shared by the processes (as `from_pretrained` loads it); other formats (ONNX,
    /// GGUF) once per process. `everybyte mem budget --host` gives the same figure item by item.
    /// KServe gives its predictors a default limit, so a missing one there is not reported.
    /// ## Why it matters
    /// The kernel kills a container at its limit with SIGKILL: exit code 137, `OOMKilled`, no
    /// Python traceback, and with a liveness probe a restart loop. Without a limit the pod can
    /// take the node's memory and get other pods evicted.
    /// ## Example
    /// ```yaml
    /// resources:
    ///   limits: {nvidia.com/gpu: 1, memory: "16Gi"}   # model 15.5 GiB, 4 workers
    /// ```
    /// ## Fix
    /// Measure (`everybyte profile -o profile.json -- CMD`), then set the limit (and the request)
    /// to the peak × 1.2; `everybyte deploy patch --profile profile.json deployment.yaml` writes it:
    /// ```yaml
    /// resources:
    ///   requests: {memory: 80Gi}
    ///   limits:   {memory: 80Gi, nvidia.com/gpu: 1}
    /// ```
    pub static MEMORY_LIMIT = { code: "K8S001", name: "memory-limit", severity: Error, summary: "A memory limit is missing or below the workload's measured or expected peak" };
}

/// The checkpoint format of a model file PyTorch loads; `None` for the others (ONNX, GGUF,
/// TensorRT engines), which another runtime reads.
fn torch_format(path: &str) -> Option<everybyte_mem::host::Checkpoint> {
    let torch = [
        ".safetensors",
        ".safetensors.index.json",
        ".bin",
        ".bin.index.json",
        ".pt",
        ".pth",
        ".ckpt",
    ];
    torch
        .iter()
        .any(|e| path.ends_with(e))
        .then(|| everybyte_mem::host::checkpoint_of(Some(std::path::Path::new(path))))
}

/// The processes of a training container that each load the model: the ranks a launcher
/// starts (`--nproc_per_node`, or one per GPU under `torchrun`, `accelerate` or `deepspeed`);
/// one process otherwise, however many GPUs it drives (`device_map="auto"`).
fn processes(c: &Container) -> u64 {
    let text = c.command_text();
    let launched = [
        "torchrun",
        "torch.distributed.run",
        "torch.distributed.launch",
        "accelerate launch",
        "deepspeed",
    ]
    .iter()
    .any(|l| text.contains(l));
    c.flag(&["--nproc_per_node", "--nproc-per-node", "--num_processes"])
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| c.gpu_count().filter(|_| launched))
        .unwrap_or(1)
        .max(1)
}

/// The host memory `processes` Python processes take to load `weights` bytes of `checkpoint`
/// the usual way (safetensors mapped by `from_pretrained`, a pickle through `torch.load` and
/// `load_state_dict`), with the container's DataLoader workers; and how the figure was made.
fn host_need(
    c: &Container,
    weights: u64,
    what: &str,
    checkpoint: everybyte_mem::host::Checkpoint,
    processes: u64,
) -> (u64, String) {
    use everybyte_mem::host::{Checkpoint, HostInput, Loading, host_budget};
    let workers = if c.trains() {
        c.flag(&[
            "--num_workers",
            "--num-workers",
            "--dataloader_num_workers",
            "--dataloader-num-workers",
        ])
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
    } else {
        0
    };
    let loading = if checkpoint == Checkpoint::Torch {
        Loading::StateDict
    } else {
        Loading::Direct
    };
    let input = HostInput {
        weights,
        checkpoint,
        loading,
        processes,
        workers,
        prefetch_factor: 2,
        batch_bytes: 0,
        pin_memory: false,
        cpu_training: 0,
    };
    let h = host_budget(&input);
    let copies = if checkpoint == Checkpoint::Torch {
        format!(
            "each holding two copies while torch.load and load_state_dict run ({} each)",
            Bytes(weights)
        )
    } else {
        let own = host_budget(&HostInput {
            checkpoint: Checkpoint::Torch,
            loading: Loading::Direct,
            ..input
        });
        if processes > 1 {
            format!(
                "one mapped copy shared by all, as from_pretrained loads safetensors; with load_file or torch.load each holds its own: {}",
                Bytes(own.peak)
            )
        } else {
            "one mapped copy, as from_pretrained loads safetensors".to_owned()
        }
    };
    let procs = if processes > 1 {
        format!("{processes} processes")
    } else {
        "a process".to_owned()
    };
    (
        h.peak,
        format!(
            "the host memory of {procs} loading {what}: the Python runtime and {copies}; `everybyte mem budget --host` itemises it"
        ),
    )
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        if !c.init {
            container(m, w, c, out);
        }
    }
}

fn container(m: &Manifest, w: &Workload, c: &Container, out: &mut Vec<Finding>) {
    let exp = &m.expect;
    let line = c.resources.line.unwrap_or(c.line);
    let Some(limit) = c.resources.limit("memory") else {
        let loads = c.accelerated()
            || (c.server().is_some() && loads_model(c))
            || (c.serves() && c.weights_from.is_some())
            || (c.trains() && hub_model(c).is_some());
        if loads && w.operator != Operator::KServe {
            let gpu = if c.gpu_count().is_some_and(|n| n > 0) {
                "GPU "
            } else if c.accelerated() {
                "TPU "
            } else {
                "model-serving "
            };
            out.push(
                on(&MEMORY_LIMIT, m, w, Some(c), line, format!("{gpu}{} has no memory limit: loading the weights can take the node's memory", who(w, c)))
                    .with_help("resources:   # measure: everybyte profile -o profile.json -- CMD; then peak × 1.2\n  requests: {memory: 64Gi}\n  limits: {memory: 64Gi}"),
            );
        }
        return;
    };
    let Some(limit_bytes) = bytes(&limit.text) else {
        return;
    };
    let copies = if c.serves() {
        c.workers().map_or(1, |(n, _)| n.max(1))
    } else {
        processes(c)
    };
    let hub = hub_model(c)
        .filter(|_| c.gpus().is_none())
        .and_then(|(id, _)| {
            model_size(&id).map(|b| {
                (
                    b as u64,
                    format!("the weights of {id}, estimated from its name"),
                    // Hub models ship safetensors.
                    Some(everybyte_mem::host::Checkpoint::Safetensors),
                )
            })
        });
    let need = exp
        .peak_bytes
        .as_ref()
        .map(|(b, src)| (*b, format!("the peak measured in {src}")))
        .or_else(|| {
            exp.model_bytes
                .as_ref()
                .filter(|_| loads_model(c))
                .map(|(b, src)| (*b, format!("the model in {src}"), torch_format(src)))
                .or(hub)
                .map(|(b, what, format)| match format {
                    Some(checkpoint) => host_need(c, b, &what, checkpoint, copies),
                    None if copies > 1 => (
                        b.saturating_mul(copies),
                        format!("{copies} copies of {what} ({} each)", Bytes(b)),
                    ),
                    None => (b, what),
                })
        });
    if let Some((need, what)) = need {
        let want = need as f64 * exp.headroom;
        if limit_bytes < want {
            out.push(
                on(
                    &MEMORY_LIMIT,
                    m,
                    w,
                    Some(c),
                    limit.line,
                    format!(
                        "memory limit {} of {} is below {} × {:.1} = {} ({what}): the container will be OOMKilled",
                        limit.text,
                        who(w, c),
                        Bytes(need),
                        exp.headroom,
                        Bytes(want as u64)
                    ),
                )
                .with_help(format!("resources:\n  requests: {{memory: {0}Mi}}\n  limits: {{memory: {0}Mi}}", (want / 1_048_576.0).ceil() as u64)),
            );
        }
    }
}
