//! REPRO001: a training script that never seeds a random generator it uses.

use everybyte_core::Finding;

use super::{Context, Generator};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A training entry point (code that runs `.backward()`, builds a `torch.optim` optimizer or
    /// a Lightning / Hugging Face trainer) whose running code never seeds one of the generators
    /// it uses: Python's `random` and NumPy's global generator when the script draws from them,
    /// and torch's CPU and CUDA generators whenever it trains with torch. Seeding counts in
    /// any module of the program, but only where it runs: a `set_seed()` helper that nothing
    /// calls seeds nothing, and the finding says so. Draws in dataset and transform code
    /// (`__getitem__`, `__call__`) run in DataLoader workers, which PyTorch seeds from torch's
    /// generator. `torch.manual_seed` seeds the CPU and every GPU; `seed_everything`,
    /// `transformers.set_seed`, `accelerate.utils.set_seed`, `timm.utils.random_seed`,
    /// `LightningCLI` and the Hugging Face `Trainer` (its `seed` argument) seed all.
    /// ## Why it matters
    /// Weight initialisation, dropout masks, shuffling and augmentation all draw from these
    /// generators. Unseeded, two runs of the same commit differ from the first step, and a
    /// regression cannot be told from noise.
    /// ## Example
    /// ```python
    /// import numpy as np, torch
    /// def set_seed(s):
    ///     torch.manual_seed(s); np.random.seed(s)   # defined, never called
    /// model = Net(); opt = torch.optim.AdamW(model.parameters())
    /// ```
    /// ## Fix
    /// Seed every generator once, at start-up, in code that runs:
    /// `random.seed(SEED); np.random.seed(SEED); torch.manual_seed(SEED)` (which also seeds
    /// every GPU), or `lightning.seed_everything(SEED)` / `transformers.set_seed(SEED)`.
    pub static UNSEEDED_RNG = { code: "REPRO001", name: "unseeded-rng", severity: Warning, summary: "A training script does not seed a random generator it uses" };
}

pub const NOT_DRAWS: &[&str] = &[
    "seed",
    "Random",
    "SystemRandom",
    "getstate",
    "setstate",
    "default_rng",
    "RandomState",
    "Generator",
    "get_state",
    "set_state",
    "PCG64",
    "SeedSequence",
];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(train) = ctx.training() else {
        return;
    };
    let s = ctx.script;
    // Draws in dataset and transform code (`__getitem__`, `__call__`) run in DataLoader
    // workers, which PyTorch seeds (`random`, NumPy and torch) from torch's generator: torch's
    // seed covers them.
    let worker_side = |c: &crate::model::Call| {
        c.function.as_deref().is_some_and(|f| {
            matches!(
                f.rsplit('.').next().unwrap_or(f),
                "__getitem__" | "__call__" | "__iter__" | "__next__" | "forward"
            )
        })
    };
    let draws = |prefix: &str| {
        ctx.live(|c| {
            c.callee
                .strip_prefix(prefix)
                .is_some_and(|rest| !rest.contains('.') && !NOT_DRAWS.contains(&rest))
                && !worker_side(c)
        })
        .is_some()
    };
    let mut needed = Vec::new();
    if s.imports.contains("random") && draws("random.") {
        needed.push(Generator::Random);
    }
    if s.imports.contains("numpy") && draws("numpy.random.") {
        needed.push(Generator::Numpy);
    }
    if ctx.uses_torch() {
        needed.extend([Generator::Torch, Generator::Cuda]);
    }
    let seeded = ctx.seeded();
    let missing: Vec<Generator> = needed.into_iter().filter(|g| !seeded.contains(g)).collect();
    if missing.is_empty() {
        return;
    }
    // Seeding that exists but never runs.
    let dead = super::seeded(s.calls.iter().filter(|c| !s.runs(c.function.as_ref())));
    let dead_fn = s
        .calls
        .iter()
        .find(|c| !s.runs(c.function.as_ref()) && !super::seeded(std::iter::once(*c)).is_empty())
        .and_then(|c| c.function.clone());
    let names: Vec<&str> = missing.iter().map(|g| g.name()).collect();
    let mut message = format!(
        "training (line {}) runs without seeding {}",
        train.line,
        names.join(", ")
    );
    if let Some(f) = dead_fn.filter(|_| missing.iter().any(|g| dead.contains(g))) {
        let line = s.functions.get(&f).map_or(0, |d| d.line);
        message.push_str(&format!(
            "; {f}() at line {line} would seed them, but nothing calls it"
        ));
    }
    let fixes: Vec<&str> = if missing.contains(&Generator::Torch) {
        missing
            .iter()
            .filter(|g| **g != Generator::Cuda)
            .map(|g| g.fix())
            .collect()
    } else {
        missing.iter().map(|g| g.fix()).collect()
    };
    out.push(
        Finding::new(
            &UNSEEDED_RNG,
            ctx.at(train.file, train.line, train.column),
            message,
        )
        .with_help(format!(
            "at start-up, in code that runs: {}",
            fixes.join("; ")
        )),
    );
}
