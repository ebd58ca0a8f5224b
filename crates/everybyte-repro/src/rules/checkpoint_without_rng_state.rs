//! REPRO009: checkpoints that cannot resume the same run.

use everybyte_core::{Finding, Location};

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A training script that saves checkpoints with `torch.save` but never captures generator
    /// state anywhere: no `torch.get_rng_state`, `torch.cuda.get_rng_state_all`,
    /// `np.random.get_state` or `random.getstate` (Lightning and the Hugging Face `Trainer`
    /// save these themselves and are not reported).
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
    if ctx.training().is_none() {
        return;
    }
    let Some(save) = ctx.live(|c| c.callee == "torch.save") else {
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
            Location::line(ctx.path, save.line, save.column),
            "torch.save(...) writes a checkpoint without any random generator state: a resumed run replays or skips randomness and diverges",
        )
        .with_help("save torch.get_rng_state(), torch.cuda.get_rng_state_all(), np.random.get_state(), random.getstate() and the sampler epoch with it; restore them on resume"),
    );
}
