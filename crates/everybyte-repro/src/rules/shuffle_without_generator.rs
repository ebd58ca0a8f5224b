//! REPRO005: shuffling whose order no seed controls.

use everybyte_core::Finding;

use super::{Context, Generator};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `DataLoader(..., shuffle=True)` or `RandomSampler(...)` without a `generator=` argument
    /// in a script whose running code never seeds torch's global generator. (With a global
    /// seed, the loader's order derives from it and is reproducible; a `worker_init_fn` is not
    /// needed for that: PyTorch seeds `random`, `torch` and `numpy` in each worker from the
    /// loader's base seed.)
    /// ## Why it matters
    /// The sample order changes every run, so the loss curve, the batches that hit a bad sample
    /// and the final weights all change.
    /// ## Example
    /// ```python
    /// loader = DataLoader(train_set, batch_size=64, shuffle=True, num_workers=4)
    /// ```
    /// ## Fix
    /// Pass a seeded generator, `g = torch.Generator(); g.manual_seed(SEED)` then
    /// `DataLoader(..., shuffle=True, generator=g)`, or seed torch globally at start-up.
    pub static SHUFFLE_WITHOUT_GENERATOR = { code: "REPRO005", name: "shuffle-without-generator", severity: Warning, summary: "Data is shuffled in an order no seed controls" };
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.seeded().contains(&Generator::Torch) {
        return;
    }
    for c in ctx.script.live_calls() {
        let loader = c.name() == "DataLoader" && c.keyword("shuffle") == Some("True");
        let sampler = c.name() == "RandomSampler";
        if (loader || sampler) && c.keyword("generator").is_none() {
            out.push(
                Finding::new(
                    &SHUFFLE_WITHOUT_GENERATOR,
                    ctx.at(c.file, c.line, c.column),
                    format!(
                        "{}(...) shuffles with no generator= and torch is never seeded: the order differs every run",
                        c.written
                    ),
                )
                .with_help("g = torch.Generator(); g.manual_seed(SEED); pass generator=g (or torch.manual_seed(SEED) at start-up)"),
            );
        }
    }
}
