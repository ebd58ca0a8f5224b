//! REPRO003: deterministic algorithms requested without `CUBLAS_WORKSPACE_CONFIG`.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `torch.use_deterministic_algorithms(True)` (or accelerate's `set_seed(...,
    /// deterministic=True)`, which calls it) in running code while neither the program nor
    /// the launchers that run it set `CUBLAS_WORKSPACE_CONFIG`: the program's modules are
    /// checked for `os.environ["CUBLAS_WORKSPACE_CONFIG"] = ...`, `os.environ.setdefault(...)`
    /// and `os.putenv(...)`; shell and Slurm scripts, Makefiles, Dockerfile `ENV`, Kubernetes
    /// and Compose `env`, and `.env` files for the variable; Hugging Face's full determinism
    /// and Lightning's `Trainer(deterministic=True)` set it themselves. Where the project pins torch
    /// 2.10 or later (requirements, lock files, `pyproject.toml`, the base image), nothing is
    /// reported: those releases dropped the requirement. Without a pin the finding says it
    /// assumed an earlier release.
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

/// The first torch release that no longer requires the variable (pytorch/pytorch#161749).
pub const LIFTED_IN: (u32, u32) = (2, 10);

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    // accelerate's `set_seed(..., deterministic=True)` calls it without setting the variable.
    let Some(c) = ctx.live(|c| {
        c.callee == "torch.use_deterministic_algorithms"
            && c.args.first().is_some_and(|a| a == "True")
            || c.callee.starts_with("accelerate.")
                && c.name() == "set_seed"
                && c.keyword("deterministic") == Some("True")
    }) else {
        return;
    };
    if ctx.env_source("CUBLAS_WORKSPACE_CONFIG").is_some() {
        return;
    }
    let version = match ctx.torch {
        Some(pin) if pin.min >= LIFTED_IN => return,
        Some(pin) => format!("{} at {}", pin.text, pin.at()),
        None => "no torch pin found; assuming a release before 2.10".to_owned(),
    };
    out.push(
        Finding::new(
            &CUBLAS_WORKSPACE_UNSET,
            ctx.at(c.file, c.line, c.column),
            format!("{}(...) asks for deterministic algorithms without CUBLAS_WORKSPACE_CONFIG in the program or its launchers: on CUDA 10.2 and later PyTorch before 2.10 raises RuntimeError at the first cuBLAS call on the GPU ({version})", c.written),
        )
        .with_help("export CUBLAS_WORKSPACE_CONFIG=:4096:8 before launch, or os.environ[\"CUBLAS_WORKSPACE_CONFIG\"] = \":4096:8\" before CUDA initialises"),
    );
}
