//! LOG012: a CUDA kernel failed: a device-side assertion, an illegal or misaligned memory
//! access, a launch failure.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Errors raised by a CUDA kernel: `CUDA error: device-side assert triggered` and the
    /// assertion itself (``Loss.cu:250: nll_loss_forward…: block: [0,0,0], thread: [3,0,0]
    /// Assertion `t >= 0 && t < n_classes` failed.``), `an illegal memory access was
    /// encountered`, `misaligned address`, `unspecified launch failure` and `an illegal
    /// instruction was encountered`. Well-known assertions are translated (a label outside
    /// `[0, n_classes)`, a token id at or above the embedding's size).
    /// ## Why it matters
    /// CUDA reports errors asynchronously: the Python stack trace points at whatever call
    /// synchronised next, not at the kernel that failed. After such an error the CUDA context
    /// is unusable, so every later call fails too. Most of these are bad inputs (labels, token
    /// ids), not bugs in PyTorch.
    /// ## Example
    /// ```text
    /// RuntimeError: CUDA error: device-side assert triggered
    /// ```
    /// ## Fix
    /// Rerun with `CUDA_LAUNCH_BLOCKING=1` (and `TORCH_USE_CUDA_DSA=1` on builds that support
    /// it) so the stack points at the failing kernel, or run one batch on the CPU for a
    /// readable error. Check the labels' range and the tokenizer's vocabulary against the
    /// model; use `compute-sanitizer` for memory errors in custom kernels.
    pub static CUDA_KERNEL_FAULT = { code: "LOG012", name: "cuda-kernel-fault", severity: Error, summary: "A CUDA kernel failed (device-side assert, illegal memory access)" };
}

static ASSERTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:([\w./-]+\.cu):(\d+): (\w+): )?block: \[([\d,]+)\], thread: \[([\d,]+)\] Assertion [`'](.+?)['`] failed").expect("valid regex")
});

fn explain_assertion(expr: &str) -> Option<&'static str> {
    if expr.contains("n_classes") || expr.contains("cur_target") {
        Some(
            "a target label is outside [0, n_classes): check the labels' range and the model's number of outputs",
        )
    } else if expr.contains("srcIndex < srcSelectDimSize")
        || expr.contains("index out of bounds")
        || expr.contains("ind >= 0 && ind < ind_dim_size")
    {
        Some(
            "an index is out of range: typically a token id at or above the embedding's size (tokenizer and model disagree on the vocabulary)",
        )
    } else if expr.contains("input_val >= zero && input_val <= one") {
        Some(
            "binary cross-entropy got an input outside [0, 1]: apply sigmoid first or use BCEWithLogitsLoss",
        )
    } else {
        None
    }
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    const BLOCKING: &str = "rerun with CUDA_LAUNCH_BLOCKING=1 (and TORCH_USE_CUDA_DSA=1 where supported) so the stack trace points at the failing kernel, or run one batch on the CPU for a readable error";
    if let Some(c) = ASSERTION.captures(line) {
        let expr = &c[6];
        let site = match (c.get(1), c.get(2), c.get(3)) {
            (Some(f), Some(l), Some(k)) => format!(
                " in {} ({}:{})",
                k.as_str(),
                f.as_str().rsplit('/').next().unwrap_or(""),
                l.as_str()
            ),
            _ => String::new(),
        };
        let meaning =
            explain_assertion(expr).unwrap_or("a kernel's precondition on its inputs failed");
        out.push(
            Hit::new(
                &CUDA_KERNEL_FAULT,
                c.get(0).map_or(0, |m| m.start()),
                format!("CUDA kernel assertion `{expr}` failed{site}: {meaning}"),
                BLOCKING,
            )
            .role(Role::Cause("CUDA kernel failure"))
            .key("cuda-device-assert")
            .data("assertion", expr),
        );
        return;
    }
    let kinds: [(&str, &str, &str); 5] = [
        (
            "device-side assert triggered",
            "a device-side assertion failed in a kernel (the assertion line above, if printed, says which); the CUDA context is now unusable",
            "cuda-device-assert",
        ),
        (
            "illegal memory access",
            "a kernel read or wrote memory it does not own: a bad index in a custom op, a use-after-free across streams, or a library bug",
            "cuda-illegal-access",
        ),
        (
            "misaligned address",
            "a kernel accessed memory at an address not aligned for its type: often a view with an odd offset passed to a custom or fused kernel",
            "cuda-misaligned",
        ),
        (
            "unspecified launch failure",
            "a kernel crashed (the CUDA equivalent of a segfault); check dmesg for an Xid on the same GPU",
            "cuda-launch-failure",
        ),
        (
            // Not a CPU's `Illegal instruction` (LOG021), nor prose about instruction sets.
            "illegal instruction was encountered",
            "a kernel executed an illegal instruction: code built for another architecture, or a corrupt binary",
            "cuda-illegal-instruction",
        ),
    ];
    for (needle, meaning, key) in kinds {
        if let Some(p) = line.find(needle) {
            let help = if key == "cuda-illegal-access" || key == "cuda-misaligned" {
                format!(
                    "{BLOCKING}; compute-sanitizer --tool memcheck python train.py names the kernel and address"
                )
            } else {
                BLOCKING.to_owned()
            };
            out.push(
                Hit::new(
                    &CUDA_KERNEL_FAULT,
                    p,
                    format!("CUDA error: {meaning}"),
                    help,
                )
                .role(Role::Cause("CUDA kernel failure"))
                .key(key),
            );
            return;
        }
    }
}
