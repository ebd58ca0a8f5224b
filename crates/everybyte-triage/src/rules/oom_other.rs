//! Accelerator out-of-memory errors told by other allocators than PyTorch's caching one: XLA
//! (JAX), TensorFlow's BFC allocator, and PyTorch's `cudaMallocAsync` backend. They are the
//! CUDA OOM rules' findings (LOG001, LOG019) with the numbers each message gives.

use std::sync::LazyLock;

use everybyte_core::bytesize::{Bytes, parse_bytes};
use regex::Regex;

use super::cuda_oom::{CUDA_OOM_CAPACITY, CUDA_OOM_FREE_BUT_FAILED};
use crate::hit::{Hit, Role};

static XLA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"RESOURCE_EXHAUSTED: Out of memory while trying to allocate (\d+) bytes")
        .expect("valid regex")
});
static TF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"OOM when allocating tensor (?:with shape\s*\[([^\]]*)\]\s*)?(?:and type (\w+) )?on (\S+?)(?: by allocator (\S+))?(?:$|\s)")
        .expect("valid regex")
});
/// PyTorch's `cudaMallocAsync` backend: `Allocation on device 0 would exceed allowed memory.
/// (out of memory)`, then its numbers on this line or the next ones.
static ASYNC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Allocation on device (\d+) would exceed allowed memory").expect("valid regex")
});
const SIZE: &str = r"([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes)";
static REQUESTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"Requested\s*:\s*{SIZE}")).expect("valid regex"));
static FREE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"Free \(according to CUDA\)\s*:\s*{SIZE}")).expect("valid regex")
});
static LIMIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?:PyTorch|Device) limit[^:]*:\s*{SIZE}")).expect("valid regex")
});

const CAUSE: &str = "CUDA out-of-memory error";

/// The bytes of one element of a TensorFlow dtype.
fn dtype_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "double" | "int64" | "uint64" | "complex64" => 8,
        "float" | "int32" | "uint32" => 4,
        "half" | "bfloat16" | "int16" | "uint16" => 2,
        "int8" | "uint8" | "bool" => 1,
        "complex128" => 16,
        _ => return None,
    })
}

/// A finding for an out-of-memory error of XLA, TensorFlow or `cudaMallocAsync` on `line`.
pub fn detect(line: &str) -> Option<Hit> {
    if let Some(c) = XLA.captures(line) {
        let bytes: u64 = c[1].parse().ok()?;
        return Some(
            Hit::new(
                &CUDA_OOM_CAPACITY,
                c.get(0).map_or(0, |m| m.start()),
                format!("XLA (JAX) could not allocate {} on the accelerator: the step's buffers do not fit what the device has left", Bytes(bytes)),
                "JAX preallocates 75% of the GPU: when something else shares it, XLA_PYTHON_CLIENT_MEM_FRACTION or XLA_PYTHON_CLIENT_PREALLOCATE=false; otherwise lower the batch, rematerialise (jax.checkpoint) or shard the model; the BufferAssignment stats after this line list the largest buffers",
            )
            .role(Role::Cause(CAUSE))
            .key("xla-oom")
            .data("requested_bytes", bytes),
        );
    }
    if let Some(c) = TF.captures(line) {
        let shape = c.get(1).map(|m| m.as_str().trim());
        let dtype = c.get(2).map(|m| m.as_str());
        let device = &c[3];
        let elements = shape.and_then(|s| {
            s.split(',')
                .map(|d| d.trim().parse::<u64>().ok())
                .try_fold(1u64, |n, d| n.checked_mul(d?))
        });
        let bytes = elements
            .zip(dtype.and_then(dtype_bytes))
            .and_then(|(n, b)| n.checked_mul(b));
        let what = match (shape, dtype) {
            (Some(s), Some(t)) => format!("a [{s}] {t} tensor"),
            _ => "a tensor".to_owned(),
        };
        let size = bytes.map_or(String::new(), |b| format!(" ({})", Bytes(b)));
        let mut hit = Hit::new(
            &CUDA_OOM_CAPACITY,
            c.get(0).map_or(0, |m| m.start()),
            format!("TensorFlow could not allocate {what}{size} on {device}: the device's memory is used up"),
            "lower the batch size or the input resolution; when the GPU is shared, tf.config.experimental.set_memory_growth(gpu, True) (TensorFlow takes all of it otherwise); RunOptions(report_tensor_allocations_upon_oom=True) lists what holds the memory",
        )
        .role(Role::Cause(CAUSE))
        .key(format!("tf-oom-{device}"))
        .data("device", device);
        if let Some(b) = bytes {
            hit = hit.data("requested_bytes", b);
        }
        return Some(hit);
    }
    let c = ASYNC.captures(line)?;
    let mut hit = Hit::new(
        &CUDA_OOM_CAPACITY,
        c.get(0).map_or(0, |m| m.start()),
        format!(
            "PyTorch's cudaMallocAsync backend could not allocate on device {}",
            &c[1]
        ),
        "",
    )
    .role(Role::Cause(CAUSE))
    .key(format!("async-oom-{}", &c[1]))
    .data("gpu", c[1].parse::<u64>().unwrap_or(0));
    if !async_numbers(&mut hit, line) {
        hit = hit.follow(async_numbers, 6);
    }
    async_verdict(&mut hit);
    Some(hit)
}

/// Reads `Requested`, `Free (according to CUDA)` and the limit from a line of the
/// `cudaMallocAsync` message into the hit; whether the numbers are complete.
fn async_numbers(hit: &mut Hit, line: &str) -> bool {
    for (key, re) in [
        ("requested_bytes", &*REQUESTED),
        ("free_bytes", &*FREE),
        ("limit_bytes", &*LIMIT),
    ] {
        if let Some(b) = re.captures(line).and_then(|c| parse_bytes(&c[1]))
            && !hit.data.iter().any(|(k, _)| *k == key)
        {
            hit.data.push((key, b.into()));
        }
    }
    async_verdict(hit);
    ["requested_bytes", "free_bytes"]
        .iter()
        .all(|k| hit.data.iter().any(|(d, _)| d == k))
}

/// Rewrites the hit from the numbers read so far: with as much free as requested, the limit
/// refused it (LOG019); otherwise the card is full (LOG001).
fn async_verdict(hit: &mut Hit) {
    let get = |k: &str| {
        hit.data
            .iter()
            .find(|(d, _)| *d == k)
            .and_then(|(_, v)| v.as_u64())
    };
    let (Some(req), Some(free)) = (get("requested_bytes"), get("free_bytes")) else {
        "PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync is in use: the lines after this one give the requested size, the free memory and the limit".clone_into(&mut hit.help);
        return;
    };
    let limit = get("limit_bytes").map_or(String::new(), |l| format!(" (limit {})", Bytes(l)));
    let head = hit.message.split(':').next().unwrap_or_default().to_owned();
    let (rule, why, help) = if free >= req {
        (
            &CUDA_OOM_FREE_BUT_FAILED,
            " — the process's own limit refused it",
            "the limit comes from torch.cuda.set_per_process_memory_fraction (or the application's own setting, ComfyUI's --reserve-vram and the like): raise it, or free what this process holds (torch.cuda.memory_summary())",
        )
    } else {
        (
            &CUDA_OOM_CAPACITY,
            "",
            "lower the batch or the sequence length, or free what the process holds (torch.cuda.memory_summary()); nvidia-smi shows what else uses the card",
        )
    };
    hit.rule = rule;
    hit.message = format!(
        "{head}: {} requested with {} free on the card{why}{limit}",
        Bytes(req),
        Bytes(free)
    );
    help.clone_into(&mut hit.help);
}
