//! REPRO009: checkpoints that cannot resume the same run.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A training program that writes resumable checkpoints — a `torch.save` whose contents or
    /// path name the epoch, step, iteration or optimizer; Lightning's checkpointing
    /// (`ModelCheckpoint`, the `Trainer`'s default); timm's `CheckpointSaver` — but never
    /// captures generator state anywhere: no `torch.get_rng_state`,
    /// `torch.cuda.get_rng_state_all`, `np.random.get_state` or `random.getstate` (in a
    /// Lightning hook such as `on_save_checkpoint` too). The Hugging Face `Trainer` and
    /// `accelerator.save_state` save these themselves and are not reported. A `torch.save` of
    /// the final weights alone is an export, not a checkpoint.
    /// ## Why it matters
    /// A run resumed from such a checkpoint restarts every generator from the initial seed (or
    /// from nothing): it replays the dropout masks and shuffles of epoch 0, or skips data, and
    /// diverges from the run it claims to continue.
    /// ## Example
    /// ```python
    /// torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch}, path)
    /// ```
    /// ## Fix
    /// Save and restore `torch.get_rng_state()`, `torch.cuda.get_rng_state_all()`,
    /// `np.random.get_state()`, `random.getstate()` and the sampler's epoch and position with
    /// the model and optimizer.
    pub static CHECKPOINT_WITHOUT_RNG_STATE = { code: "REPRO009", name: "checkpoint-without-rng-state", severity: Warning, summary: "Checkpoints are saved without random generator state" };
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    // A program that draws nothing random while it trains has no generator state to lose.
    if ctx.training().is_none() || !ctx.draws_randomness() {
        return;
    }
    // A torch.save of a resumable state, or a library checkpointer that saves none of the
    // generator states (Lightning's checkpoints, timm's CheckpointSaver).
    let Some(save) = ctx.live(|c| {
        c.callee == "torch.save" && ctx.resumable_save(c)
            || c.callee.starts_with("timm.") && c.name() == "CheckpointSaver"
            || (c.callee.starts_with("lightning") || c.callee.starts_with("pytorch_lightning"))
                && (c.name() == "ModelCheckpoint"
                    || c.name() == "Trainer" && c.keyword("enable_checkpointing") != Some("False")
                    || c.name() == "LightningCLI")
    }) else {
        return;
    };
    let captures = ctx
        .any(|c| {
            matches!(
                c.name(),
                "get_rng_state" | "get_rng_state_all" | "get_state" | "getstate"
            )
        })
        .is_some();
    if captures {
        return;
    }
    out.push(
        Finding::new(
            &CHECKPOINT_WITHOUT_RNG_STATE,
            ctx.at(save.file, save.line, save.column),
            format!("{}(...) writes resumable checkpoints without any random generator state: a resumed run replays or skips randomness and diverges", save.written),
        )
        .with_help("save torch.get_rng_state(), torch.cuda.get_rng_state_all(), np.random.get_state(), random.getstate() and the sampler epoch with it; restore them on resume"),
    );
}
