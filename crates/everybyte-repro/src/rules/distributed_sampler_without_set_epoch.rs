//! REPRO006: a `DistributedSampler` whose epoch is never set.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A `DistributedSampler` built in a script that never calls `.set_epoch(...)`.
    /// ## Why it matters
    /// The sampler shuffles with `seed + epoch`. Without `set_epoch` the epoch stays 0, so every
    /// epoch sees the same order on every rank — not what the single-GPU run did, and not what
    /// a resumed run does if it sets the epoch: the runs cannot be compared.
    /// ## Example
    /// ```python
    /// sampler = DistributedSampler(ds, shuffle=True)
    /// for epoch in range(epochs):
    ///     for batch in DataLoader(ds, sampler=sampler): ...
    /// ```
    /// ## Fix
    /// Call `sampler.set_epoch(epoch)` at the start of every epoch, before iterating the loader.
    pub static DISTRIBUTED_SAMPLER_WITHOUT_SET_EPOCH = { code: "REPRO006", name: "distributed-sampler-without-set-epoch", severity: Warning, summary: "A DistributedSampler never gets set_epoch: every epoch has the same order" };
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(c) = ctx.live(|c| c.name() == "DistributedSampler") else {
        return;
    };
    if ctx.any(|c| c.name() == "set_epoch").is_some() {
        return;
    }
    out.push(
        Finding::new(
            &DISTRIBUTED_SAMPLER_WITHOUT_SET_EPOCH,
            ctx.at(c.file, c.line, c.column),
            "DistributedSampler without set_epoch(): it shuffles with seed + epoch and the epoch stays 0, so every epoch repeats the same order",
        )
        .with_help("call sampler.set_epoch(epoch) at the start of each epoch"),
    );
}
