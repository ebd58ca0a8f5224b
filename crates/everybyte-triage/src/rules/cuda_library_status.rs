//! LOG013: cuBLAS and cuDNN status errors.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Errors returned by NVIDIA's math libraries: `CUBLAS_STATUS_*` and `CUDNN_STATUS_*`
    /// (execution failed, allocation failed, not initialized, not supported, internal error,
    /// bad parameter, mapping error), each translated into what usually causes it.
    /// ## Why it matters
    /// These codes hide more common failures: `*_ALLOC_FAILED` and `CUBLAS_STATUS_NOT_INITIALIZED`
    /// are usually out-of-memory, `EXECUTION_FAILED` and `MAPPING_ERROR` usually an earlier
    /// asynchronous kernel error, `NOT_SUPPORTED` a shape, dtype or memory layout the library
    /// cannot run. Treating them as library bugs wastes hours.
    /// ## Example
    /// ```text
    /// RuntimeError: CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasSgemm( handle, opa, opb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc)`
    /// ```
    /// ## Fix
    /// Rerun with `CUDA_LAUNCH_BLOCKING=1` to see the first failing call; for allocation
    /// failures treat it as an OOM (smaller batch); for `NOT_SUPPORTED` make inputs contiguous
    /// (`.contiguous()`) and check dtypes; to confirm a cuDNN problem, retry with
    /// `torch.backends.cudnn.enabled = False`.
    pub static CUDA_LIBRARY_STATUS = { code: "LOG013", name: "cuda-library-status", severity: Error, summary: "cuBLAS or cuDNN returned an error status" };
}

static STATUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b((CUBLAS|CUDNN)_STATUS_[A-Z_]+)\b(?:.*?when calling `?(\w+))?")
        .expect("valid regex")
});

fn meaning(status: &str) -> (&'static str, &'static str) {
    let s = status.split_once("_STATUS_").map_or(status, |(_, s)| s);
    match s {
        "ALLOC_FAILED" => (
            "the library could not allocate its workspace: out of GPU memory under another name",
            "treat it as a CUDA OOM: lower the batch size; torch.cuda.memory_summary() shows what holds the memory",
        ),
        "NOT_INITIALIZED" => (
            "the library could not create its handle: usually out of GPU memory at start-up, or a driver/CUDA mismatch",
            "check free memory (nvidia-smi) and that the driver supports this CUDA version",
        ),
        "EXECUTION_FAILED" => (
            "a library kernel failed: often an earlier asynchronous error (an illegal access) surfacing here",
            "rerun with CUDA_LAUNCH_BLOCKING=1 to find the first failing call; check inputs for NaN/inf and out-of-range indices",
        ),
        "NOT_SUPPORTED" => (
            "the library cannot run this configuration: a non-contiguous input, an unsupported dtype, or a too-large batch for the chosen algorithm",
            "call .contiguous() on inputs, check dtypes, try a smaller batch, or retry with torch.backends.cudnn.enabled = False to confirm",
        ),
        "INTERNAL_ERROR" => (
            "an internal library error: most often out of memory or a cuDNN/driver mismatch",
            "retry with a smaller batch; compare torch.backends.cudnn.version() with the driver; torch.backends.cudnn.enabled = False confirms it is cuDNN",
        ),
        "BAD_PARAM" | "INVALID_VALUE" => (
            "the library rejected its arguments: shapes, strides or dtypes it does not accept",
            "print the shapes and dtypes of the failing op's inputs; CUDA_LAUNCH_BLOCKING=1 points at it",
        ),
        "MAPPING_ERROR" => (
            "the library could not access GPU memory: usually an earlier illegal memory access",
            "rerun with CUDA_LAUNCH_BLOCKING=1 and compute-sanitizer",
        ),
        "ARCH_MISMATCH" => (
            "the library has no code for this GPU's architecture",
            "install a build that supports this GPU (see LOG017)",
        ),
        _ => (
            "the library reported a failure",
            "rerun with CUDA_LAUNCH_BLOCKING=1 to find the first failing call",
        ),
    }
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    let Some(c) = STATUS.captures(line) else {
        return;
    };
    let status = &c[1];
    if status.ends_with("_SUCCESS") {
        return;
    }
    let (what, help) = meaning(status);
    let call = c
        .get(3)
        .map(|m| format!(" in {}", m.as_str()))
        .unwrap_or_default();
    out.push(
        Hit::new(
            &CUDA_LIBRARY_STATUS,
            c.get(1).map_or(0, |m| m.start()),
            format!("{status}{call}: {what}"),
            help,
        )
        .role(Role::Cause("cuBLAS/cuDNN failure"))
        .key(format!("status-{status}"))
        .data("status", status),
    );
}
