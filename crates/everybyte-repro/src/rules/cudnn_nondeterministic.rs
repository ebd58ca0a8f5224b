//! REPRO002: cuDNN and PyTorch left free to pick non-deterministic algorithms.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A torch training program that sets `torch.backends.cudnn.benchmark = True`, and, as a
    /// finding of its own, one that neither sets `torch.backends.cudnn.deterministic = True`
    /// nor calls `torch.use_deterministic_algorithms(True)` in any module it runs. Lightning's `Trainer(deterministic=True)` and
    /// Hugging Face's `full_determinism=True` / `enable_full_determinism()` count.
    /// ## Why it matters
    /// With benchmark mode cuDNN times several convolution algorithms on the first batch and
    /// keeps the fastest, which differs from run to run; several CUDA kernels (atomic adds in
    /// scatter, index_add, some backward passes) give different sums in different orders.
    /// Seeds alone do not make such a run repeat.
    /// ## Example
    /// ```python
    /// torch.manual_seed(0)
    /// torch.backends.cudnn.benchmark = True
    /// ```
    /// ## Fix
    /// `torch.backends.cudnn.benchmark = False`, `torch.backends.cudnn.deterministic = True`,
    /// and `torch.use_deterministic_algorithms(True)` (which raises on an operation that has no
    /// deterministic implementation, so you learn which one it is).
    pub static CUDNN_NONDETERMINISTIC = { code: "REPRO002", name: "cudnn-nondeterministic", severity: Warning, summary: "cuDNN or PyTorch may pick non-deterministic algorithms" };
}

/// Whether the running code asks for deterministic algorithms.
pub fn deterministic(ctx: &Context<'_>) -> bool {
    ctx.assigned("torch.backends.cudnn.deterministic", |v| v == "True")
        .is_some()
        || deterministic_algorithms(ctx)
}

/// Whether the running code turns on `torch.use_deterministic_algorithms(True)`, itself or
/// through a library: Hugging Face's full determinism, a `set_seed(..., deterministic=True)`,
/// Lightning's `Trainer(deterministic=True)`.
pub fn deterministic_algorithms(ctx: &Context<'_>) -> bool {
    ctx.live(|c| {
        (c.callee == "torch.use_deterministic_algorithms"
            && c.args.first().is_some_and(|a| a == "True"))
            || c.callee == "transformers.enable_full_determinism"
            || ((c.name().ends_with("Trainer") || c.name() == "set_seed")
                && c.keyword("deterministic") == Some("True"))
            || c.keyword("full_determinism") == Some("True")
    })
    .is_some()
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if !ctx.uses_torch() {
        return;
    }
    let Some(train) = ctx.training() else {
        return;
    };
    if let Some(a) = ctx.assigned("torch.backends.cudnn.benchmark", |v| v == "True") {
        out.push(
            Finding::new(
                &CUDNN_NONDETERMINISTIC,
                ctx.at(a.file, a.line, a.column),
                "torch.backends.cudnn.benchmark = True: cuDNN times algorithms on the first batch and keeps the fastest, which can differ between runs",
            )
            .with_help("torch.backends.cudnn.benchmark = False; torch.backends.cudnn.deterministic = True"),
        );
    }
    if !deterministic(ctx) {
        out.push(
            Finding::new(
                &CUDNN_NONDETERMINISTIC,
                ctx.at(train.file, train.line, train.column),
                "training runs without torch.backends.cudnn.deterministic = True or torch.use_deterministic_algorithms(True): cuDNN and atomic CUDA kernels may sum in a different order each run",
            )
            .with_help("torch.backends.cudnn.deterministic = True; torch.backends.cudnn.benchmark = False; torch.use_deterministic_algorithms(True)"),
        );
    }
}
