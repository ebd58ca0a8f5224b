//! REPRO010: results without the hardware and software that produced them.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A torch training script that records nothing about where it ran: no
    /// `torch.cuda.get_device_name` / `get_device_properties`, `torch.version.cuda`,
    /// `torch.__version__`, `torch.utils.collect_env`, `platform`, or `nvidia-smi` anywhere in
    /// it. (Lightning and the Hugging Face `Trainer` log their versions and are not reported.)
    /// ## Why it matters
    /// Bit-for-bit results hold only on the same GPU model, driver, CUDA, cuDNN and library
    /// versions. When a result cannot be reproduced later, the first question is what it ran
    /// on, and nothing answers it.
    /// ## Example
    /// ```python
    /// torch.save(model.state_dict(), "model.pt")
    /// print(f"final loss {loss:.4f}")
    /// ```
    /// ## Fix
    /// Write an environment record next to the results: `everybyte env snapshot -o
    /// run/env.json` in the launcher, or log `torch.__version__`, `torch.version.cuda`,
    /// `torch.backends.cudnn.version()` and `torch.cuda.get_device_name()` at start-up.
    pub static HARDWARE_UNRECORDED = { code: "REPRO010", name: "hardware-unrecorded", severity: Info, summary: "The script records no GPU, driver or library versions with its results" };
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if !ctx.uses_torch() {
        return;
    }
    let Some(train) = ctx.training() else {
        return;
    };
    let s = ctx.script;
    if s.imports.contains("lightning")
        || s.imports.contains("pytorch_lightning")
        || s.imports.contains("platform")
        || ctx
            .any(|c| c.callee.starts_with("transformers.") && c.name().ends_with("Trainer"))
            .is_some()
    {
        return;
    }
    let records = ctx
        .any(|c| {
            matches!(
                c.name(),
                "get_device_name" | "get_device_properties" | "get_pretty_env_info"
            ) || c.callee.starts_with("torch.utils.collect_env")
        })
        .is_some()
        || s.calls
            .iter()
            .filter(|c| {
                // Printed, logged or written: a version compared to choose a code path records
                // nothing.
                let n = c.name().to_ascii_lowercase();
                [
                    "print", "log", "info", "write", "dump", "add_text", "update", "echo",
                ]
                .iter()
                .any(|w| n.contains(w))
            })
            .any(|c| {
                c.args
                    .iter()
                    .chain(c.keywords.iter().map(|(_, v)| v))
                    .any(|a| a.contains("torch.__version__") || a.contains("torch.version."))
            })
        || s.strings
            .iter()
            .any(|t| t.contains("nvidia-smi") || t.contains("env snapshot"));
    if records {
        return;
    }
    out.push(
        Finding::new(
            &HARDWARE_UNRECORDED,
            ctx.at(train.file, train.line, train.column),
            "nothing records the GPU model, driver, CUDA or library versions next to the results",
        )
        .with_help("run `everybyte env snapshot -o RUN_DIR/env.json` before training, or log torch.__version__, torch.version.cuda, torch.backends.cudnn.version() and torch.cuda.get_device_name()"),
    );
}
