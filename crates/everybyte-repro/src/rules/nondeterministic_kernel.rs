//! REPRO015: kernels whose backward or choice is not deterministic, with no guard.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// In a training program: fused attention (`scaled_dot_product_attention`) without
    /// `torch.use_deterministic_algorithms(True)`; the `flash_attn` package's functions without
    /// `deterministic=True`; `torch.compile(mode="max-autotune…")` without deterministic
    /// algorithms; `nn.LSTM` / `nn.GRU` / `nn.RNN` in a program that uses CUDA while
    /// `CUBLAS_WORKSPACE_CONFIG` is set neither in the program nor by its launchers.
    /// ## Why it matters
    /// The memory-efficient and flash attention backward passes accumulate gradients with
    /// atomic adds, in an order that changes from run to run; autotuning picks kernels by
    /// timing them, which varies with load; cuDNN's RNN kernels are not deterministic without a
    /// fixed cuBLAS workspace. Seeds and `cudnn.deterministic` do not cover any of these.
    /// ## Example
    /// ```python
    /// y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    /// loss.backward()
    /// ```
    /// ## Fix
    /// `torch.use_deterministic_algorithms(True)` (PyTorch then picks deterministic attention
    /// and compile kernels, or raises naming the operation), `flash_attn_func(...,
    /// deterministic=True)`, and `CUBLAS_WORKSPACE_CONFIG=:4096:8` exported by the launcher for
    /// RNNs.
    pub static NONDETERMINISTIC_KERNEL = { code: "REPRO015", name: "nondeterministic-kernel", severity: Warning, summary: "A kernel with a non-deterministic backward or choice runs without a deterministic guard" };
}

fn strict(ctx: &Context<'_>) -> bool {
    super::cudnn_nondeterministic::deterministic_algorithms(ctx)
        || ctx
            .assigned("torch._inductor.config.deterministic", |v| v == "True")
            .is_some()
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if !ctx.uses_torch() || ctx.training().is_none() {
        return;
    }
    let strict = strict(ctx);
    let s = ctx.script;
    if !strict {
        if let Some(c) = ctx.live(|c| c.name() == "scaled_dot_product_attention") {
            out.push(
                Finding::new(
                    &NONDETERMINISTIC_KERNEL,
                    ctx.at(c.file, c.line, c.column),
                    format!("{}(...) in training without torch.use_deterministic_algorithms(True): the flash and memory-efficient attention backward passes sum gradients in a different order each run", c.written),
                )
                .with_help("torch.use_deterministic_algorithms(True) (with CUBLAS_WORKSPACE_CONFIG=:4096:8 before torch 2.10)"),
            );
        }
        if let Some(c) = ctx.live(|c| {
            c.callee == "torch.compile"
                && c.keyword("mode")
                    .is_some_and(|m| m.contains("max-autotune"))
        }) {
            out.push(
                Finding::new(
                    &NONDETERMINISTIC_KERNEL,
                    ctx.at(c.file, c.line, c.column),
                    format!("torch.compile(mode={}) picks kernels by timing them: the choice, and the numbers, can change between runs", c.keyword("mode").unwrap_or_default()),
                )
                .with_help("compile without max-autotune for runs that must reproduce, or torch.use_deterministic_algorithms(True)"),
            );
        }
    }
    if let Some(c) = ctx.live(|c| {
        c.name().starts_with("flash_attn")
            && c.name().ends_with("_func")
            && c.keyword("deterministic") != Some("True")
    }) {
        out.push(
            Finding::new(
                &NONDETERMINISTIC_KERNEL,
                ctx.at(c.file, c.line, c.column),
                format!("{}(...) without deterministic=True: its backward pass accumulates with atomic adds in a different order each run", c.written),
            )
            .with_help(format!("{}(..., deterministic=True)", c.written)),
        );
    }
    let cuda = s
        .calls
        .iter()
        .any(|c| c.name() == "cuda" || c.callee.starts_with("torch.cuda."))
        || s.strings.iter().any(|t| t.contains("cuda"));
    if cuda
        && ctx.env_source("CUBLAS_WORKSPACE_CONFIG").is_none()
        && let Some(c) = ctx.live(|c| {
            c.callee.starts_with("torch.nn.") && matches!(c.name(), "LSTM" | "GRU" | "RNN")
        })
    {
        out.push(
                Finding::new(
                    &NONDETERMINISTIC_KERNEL,
                    ctx.at(c.file, c.line, c.column),
                    format!("{}(...) on CUDA without CUBLAS_WORKSPACE_CONFIG: cuDNN's RNN kernels are not deterministic without a fixed cuBLAS workspace, whatever the seeds", c.written),
                )
                .with_help("export CUBLAS_WORKSPACE_CONFIG=:4096:8 (or :16:8) in the launcher, before Python starts"),
            );
    }
}
