//! REPRO016: resumable checkpoints without the optimizer, scheduler or grad scaler state.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A `torch.save` of a resumable checkpoint — one that stores the epoch, step or iteration
    /// — whose contents (the dict literal, or what the program puts in the dict it saves, or
    /// what callers pass to the saving helper) leave out state the program has: the optimizer
    /// (`torch.optim`), the learning-rate scheduler (`lr_scheduler`, `get_*_schedule*`), or the
    /// AMP grad scaler (`GradScaler`).
    /// ## Why it matters
    /// A resumed run restarts what the checkpoint left out: Adam's moment estimates from zero
    /// (a loss spike, then a different trajectory), the schedule from its first step (warm-up
    /// again, the wrong learning rate for the rest of the run), the loss scale from its initial
    /// 65536 (skipped steps). The resumed run is not the run it continues.
    /// ## Example
    /// ```python
    /// torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch}, path)
    /// # scheduler = CosineAnnealingLR(opt, T_max) is not saved
    /// ```
    /// ## Fix
    /// Save `optimizer.state_dict()`, `scheduler.state_dict()` and `scaler.state_dict()` with the
    /// model and load them on resume (or use a framework's full checkpoint: Lightning, the HF
    /// `Trainer`, `accelerator.save_state`).
    pub static CHECKPOINT_INCOMPLETE = { code: "REPRO016", name: "checkpoint-incomplete", severity: Warning, summary: "A resumable checkpoint leaves out optimizer, scheduler or grad-scaler state" };
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.training().is_none() {
        return;
    }
    let s = ctx.script;
    let optimizer = ctx
        .live(|c| {
            c.callee.starts_with("torch.optim.")
                && !c.callee.contains("lr_scheduler")
                && c.name().chars().next().is_some_and(char::is_uppercase)
        })
        .is_some();
    let scheduler = ctx
        .live(|c| {
            c.callee.starts_with("torch.optim.lr_scheduler.")
                || (c.callee.starts_with("transformers.") || c.callee.starts_with("diffusers."))
                    && c.name().starts_with("get_")
                    && c.name().contains("schedule")
        })
        .is_some();
    let scaler = ctx.live(|c| c.name() == "GradScaler").is_some();
    let loads = ctx
        .live(|c| c.name() == "load_state_dict" || c.callee == "torch.load")
        .is_some();
    for save in s.live_calls().filter(|c| c.callee == "torch.save") {
        let text = ctx.value_text(save).to_ascii_lowercase();
        let path = save
            .args
            .get(1)
            .map(|p| p.to_ascii_lowercase())
            .unwrap_or_default();
        // It stores the position, or it is a periodic checkpoint the program can load back.
        let resumable = ["epoch", "step", "iter"].iter().any(|w| text.contains(w))
            || ["epoch", "step", "iter"].iter().any(|w| path.contains(w)) && loads;
        if !resumable {
            continue;
        }
        let mut missing = Vec::new();
        if optimizer
            && !text.contains("optim")
            && !text.contains("opt.")
            && !text.contains("\"opt\"")
            && !text.contains("'opt'")
        {
            missing.push("optimizer");
        }
        if scheduler && !text.contains("sched") {
            missing.push("LR scheduler");
        }
        if scaler && !text.contains("scaler") {
            missing.push("grad scaler");
        }
        if missing.is_empty() {
            continue;
        }
        out.push(
            Finding::new(
                &CHECKPOINT_INCOMPLETE,
                ctx.at(save.file, save.line, save.column),
                format!(
                    "this checkpoint stores the training position but not the {} state: a resumed run restarts {}",
                    missing.join(", "),
                    if missing.len() == 1 { "it" } else { "them" }
                ),
            )
            .with_help(format!(
                "save {} with the model, and load {} on resume",
                missing
                    .iter()
                    .map(|m| match *m {
                        "optimizer" => "optimizer.state_dict()",
                        "LR scheduler" => "scheduler.state_dict()",
                        _ => "scaler.state_dict()",
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                if missing.len() == 1 { "it" } else { "them" }
            )),
        );
        return;
    }
}
