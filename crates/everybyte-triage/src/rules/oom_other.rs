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
static ALLOCATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"Currently allocated\s*:\s*{SIZE}")).expect("valid regex")
});
/// The card's total.
static DEVICE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"Device limit\s*:\s*{SIZE}")).expect("valid regex"));
/// The process's limit (`torch.cuda.set_per_process_memory_fraction`); its value may be on
/// the next line, after a lone `:`.
static LIMIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"PyTorch limit(?: \([^)]*\))?\s*:\s*{SIZE}")).expect("valid regex")
});
static CONTINUED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^\s*:\s*{SIZE}")).expect("valid regex"));

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
        // Host memory (`device:CPU:0`, `by allocator cpu`) is not the accelerator's.
        let allocator = c.get(4).map_or("", |m| m.as_str()).to_ascii_lowercase();
        if c[3].contains("CPU") || allocator.starts_with("cpu") || allocator.starts_with("mkl") {
            return None;
        }
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
    let gpu: u64 = c[1].parse().unwrap_or(0);
    let mut hit = Hit::new(
        &CUDA_OOM_CAPACITY,
        c.get(0).map_or(0, |m| m.start()),
        async_head(gpu),
        "",
    )
    .role(Role::Cause(CAUSE))
    .data("gpu", gpu);
    if !async_numbers(&mut hit, line) {
        hit = hit.follow(async_numbers, 7);
    }
    async_verdict(&mut hit);
    Some(hit)
}

fn async_head(gpu: u64) -> String {
    format!("PyTorch's cudaMallocAsync backend could not allocate on device {gpu}")
}

fn number(hit: &Hit, key: &str) -> Option<u64> {
    hit.data
        .iter()
        .find(|(d, _)| *d == key)
        .and_then(|(_, v)| v.as_u64())
}

/// Reads the numbers of the `cudaMallocAsync` message from one of its lines into the hit;
/// whether they are complete (the process's limit, the last of them, is read).
fn async_numbers(hit: &mut Hit, line: &str) -> bool {
    // The limit's value alone on the line after its name, the last line of the message.
    let awaiting = number(hit, "free_bytes").is_some();
    for (key, re) in [
        ("allocated_bytes", &*ALLOCATED),
        ("requested_bytes", &*REQUESTED),
        ("total_bytes", &*DEVICE),
        ("free_bytes", &*FREE),
        ("limit_bytes", &*LIMIT),
    ] {
        let value = re
            .captures(line)
            .and_then(|c| parse_bytes(&c[1]))
            .or_else(|| {
                (key == "limit_bytes" && awaiting)
                    .then(|| CONTINUED.captures(line).and_then(|c| parse_bytes(&c[1])))
                    .flatten()
            });
        if let Some(b) = value
            && number(hit, key).is_none()
        {
            hit.data.push((key, b.into()));
        }
    }
    async_verdict(hit);
    number(hit, "limit_bytes").is_some()
}

/// Rewrites the hit from the numbers read so far. With less free than requested the card is
/// full (LOG001); with enough free the allocation failed with the memory there (LOG019): over
/// the process's limit when the numbers say so.
fn async_verdict(hit: &mut Hit) {
    let gpu = number(hit, "gpu").unwrap_or(0);
    // What a traceback added to the message (`(raised in train.py:10, in <module>)`) stays.
    let suffix = hit
        .message
        .find(" (raised in ")
        .map_or(String::new(), |i| hit.message[i..].to_owned());
    let (Some(req), Some(free)) = (number(hit, "requested_bytes"), number(hit, "free_bytes"))
    else {
        "PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync is in use: the lines after this one give the requested size, the free memory and the limit".clone_into(&mut hit.help);
        return;
    };
    let limit = number(hit, "limit_bytes");
    let over_limit = limit
        .zip(number(hit, "allocated_bytes"))
        .is_some_and(|(l, a)| a.saturating_add(req) > l);
    let (rule, why, help) = if free < req {
        (
            &CUDA_OOM_CAPACITY,
            String::new(),
            "lower the batch or the sequence length, or free what the process holds (torch.cuda.memory_summary()); nvidia-smi shows what else uses the card",
        )
    } else if over_limit {
        (
            &CUDA_OOM_FREE_BUT_FAILED,
            format!(
                " — over the process's own limit of {}",
                Bytes(limit.unwrap_or(0))
            ),
            "the limit comes from torch.cuda.set_per_process_memory_fraction (or the application's own setting, ComfyUI's --reserve-vram and the like): raise it, or free what this process holds (torch.cuda.memory_summary())",
        )
    } else {
        (
            &CUDA_OOM_FREE_BUT_FAILED,
            " — the memory was there: a limit set for the process or the pool's fragmentation refused it".to_owned(),
            "torch.cuda.memory_summary() shows the pool; check for torch.cuda.set_per_process_memory_fraction or the application's own memory setting, and PYTORCH_CUDA_ALLOC_CONF (try the default backend)",
        )
    };
    hit.rule = rule;
    hit.key = Some(format!("async-oom-{gpu}-{}", rule.code));
    hit.message = format!(
        "{}: {} requested with {} free on the card{why}{suffix}",
        async_head(gpu),
        Bytes(req),
        Bytes(free)
    );
    help.clone_into(&mut hit.help);
}
