//! REPRO003: deterministic algorithms requested without `CUBLAS_WORKSPACE_CONFIG`.

use everybyte_core::{Finding, Location};

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `torch.use_deterministic_algorithms(True)` in running code while neither the script nor
    /// its launch sets `CUBLAS_WORKSPACE_CONFIG` (the script is checked for
    /// `os.environ["CUBLAS_WORKSPACE_CONFIG"] = ...`, `os.environ.setdefault(...)` and
    /// `os.putenv(...)`).
    /// ## Why it matters
    /// With CUDA 10.2 and later, cuBLAS is deterministic only with a fixed workspace; PyTorch
    /// therefore raises `RuntimeError: Deterministic behavior was enabled ... but this operation
    /// is not deterministic because it uses CuBLAS` at the first matrix multiply on the GPU —
    /// hours into a job if the first GPU matmul comes late, after data loading.
    /// ## Example
    /// ```python
    /// torch.use_deterministic_algorithms(True)
    /// ```
    /// ## Fix
    /// Export `CUBLAS_WORKSPACE_CONFIG=:4096:8` (or `:16:8`, less memory, slower) before
    /// launch, or set `os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"` at the top of the
    /// script, before anything initialises CUDA.
    pub static CUBLAS_WORKSPACE_UNSET = { code: "REPRO003", name: "cublas-workspace-unset", severity: Error, summary: "Deterministic algorithms without CUBLAS_WORKSPACE_CONFIG fail on the GPU" };
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(c) = ctx.live(|c| {
        c.callee == "torch.use_deterministic_algorithms"
            && c.args.first().is_some_and(|a| a == "True")
    }) else {
        return;
    };
    if ctx.sets_env("CUBLAS_WORKSPACE_CONFIG").is_some() {
        return;
    }
    out.push(
        Finding::new(
            &CUBLAS_WORKSPACE_UNSET,
            Location::line(ctx.path, c.line, c.column),
            "torch.use_deterministic_algorithms(True) without CUBLAS_WORKSPACE_CONFIG: on CUDA 10.2 and later PyTorch raises RuntimeError at the first cuBLAS call on the GPU",
        )
        .with_help("export CUBLAS_WORKSPACE_CONFIG=:4096:8 before launch, or os.environ[\"CUBLAS_WORKSPACE_CONFIG\"] = \":4096:8\" before CUDA initialises"),
    );
}
