//! REPRO014: TF32 matmuls and convolutions switched on for every run.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Running code that allows TF32 without a user's choice around it:
    /// `torch.backends.cuda.matmul.allow_tf32 = True`, `torch.backends.cudnn.allow_tf32 = True`,
    /// `torch.set_float32_matmul_precision("high")` or `("medium")`, or the newer
    /// `fp32_precision = "tf32"` settings. Under a condition on an option (`if args.tf32:`) it
    /// is a choice and is not reported, unless a command that runs the program (a launcher
    /// script, a README code block) passes that option; a Hugging Face program launched with
    /// `--tf32 True` is reported too.
    /// ## Why it matters
    /// TF32 rounds float32 inputs to a 10-bit mantissa on Ampere and later GPUs and not at all
    /// on older ones or on the CPU: the same seed and the same code give different losses on an
    /// A100 and a V100, and a result reproduced on another GPU generation drifts.
    /// ## Example
    /// ```python
    /// torch.backends.cuda.matmul.allow_tf32 = True
    /// torch.backends.cudnn.allow_tf32 = True
    /// ```
    /// ## Fix
    /// Make it an option that defaults off for runs that must reproduce (`--tf32`), record it
    /// with the results, or keep full float32 (`torch.set_float32_matmul_precision("highest")`).
    pub static TF32_ENABLED = { code: "REPRO014", name: "tensor-float-enabled", severity: Warning, summary: "TF32 is allowed unconditionally: results change between GPU generations" };
}

/// A condition that is a user's choice (an option), not a capability check.
pub fn user_choice(guard: Option<&str>) -> bool {
    guard.is_some_and(|g| {
        let g = g.to_ascii_lowercase();
        [
            "tf32",
            "args",
            "cfg",
            "config",
            "opt.",
            "flag",
            "precision",
            "fast",
        ]
        .iter()
        .any(|w| g.contains(w))
    })
}

/// The options a condition reads: `args.tf32` and `cfg.tensorcores` give `tf32`, `tensorcores`.
fn options(guard: &str) -> Vec<&str> {
    guard
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter_map(|w| w.split_once('.').map(|(_, f)| f))
        .filter(|f| !f.is_empty() && !f.contains('.'))
        .collect()
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if !ctx.uses_torch() || ctx.training().is_none() {
        return;
    }
    // An option the documented or launched command turns on is not a choice left off.
    let launched_on = |guard: Option<&str>| -> Option<String> {
        options(guard?).into_iter().find_map(|o| {
            ctx.launched_with(o)
                .map(|(run, flag)| format!(" (the command at {} passes {flag})", run.at()))
        })
    };
    // Hugging Face's TrainingArguments: `--tf32 True` on the command line.
    if let Some((run, flag)) = ctx.launched_with("tf32").filter(|_| {
        ctx.any(|c| c.name() == "HfArgumentParser" || c.name() == "TrainingArguments")
            .is_some()
    }) && let Some(c) = ctx.training()
    {
        out.push(
                Finding::new(
                    &TF32_ENABLED,
                    ctx.at(c.file, c.line, c.column),
                    format!("the command at {} passes {flag}: TF32 matmuls round float32 to a 10-bit mantissa on Ampere and later GPUs only, so results differ between GPU generations", run.at()),
                )
                .with_help("drop --tf32 from runs that must reproduce, or record it with the results"),
            );
        return;
    }
    let assign = ctx.script.live_assigns().find(|a| {
        let t = a.target.as_str();
        let v = a.value.trim();
        ((t.ends_with("allow_tf32") && t.starts_with("torch.backends") && v == "True")
            || (t.ends_with("fp32_precision") && v.contains("tf32")))
            && (!user_choice(a.guard.as_deref()) || launched_on(a.guard.as_deref()).is_some())
    });
    let call = ctx.live(|c| {
        c.callee == "torch.set_float32_matmul_precision"
            && c.args.first().is_some_and(|a| {
                a.contains("high") && !a.contains("highest") || a.contains("medium")
            })
            && (!user_choice(c.guard.as_deref()) || launched_on(c.guard.as_deref()).is_some())
    });
    let at = match (assign, call) {
        (Some(a), Some(c)) if (c.file, c.line) < (a.file, a.line) => Some((
            c.file,
            c.line,
            c.column,
            format!("{}({})", c.written, c.args.join(", ")),
            launched_on(c.guard.as_deref()),
        )),
        (Some(a), _) => Some((
            a.file,
            a.line,
            a.column,
            format!("{} = {}", a.target, a.value),
            launched_on(a.guard.as_deref()),
        )),
        (None, Some(c)) => Some((
            c.file,
            c.line,
            c.column,
            format!("{}({})", c.written, c.args.join(", ")),
            launched_on(c.guard.as_deref()),
        )),
        (None, None) => None,
    };
    if let Some((file, line, column, what, launched)) = at {
        let what = format!("{what}{}", launched.unwrap_or_default());
        out.push(
            Finding::new(
                &TF32_ENABLED,
                ctx.at(file, line, column),
                format!("{what} enables TF32 for every run: float32 matmuls round to a 10-bit mantissa on Ampere and later GPUs only, so results differ between GPU generations"),
            )
            .with_help("make TF32 an option that is off for runs that must reproduce, and record it with the results"),
        );
    }
}
