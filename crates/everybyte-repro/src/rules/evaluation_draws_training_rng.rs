//! REPRO011: evaluation that draws from the generators training uses.

use everybyte_core::Finding;

use super::Context;
use crate::model::Call;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// In a training program, a function that evaluates or reports while training runs —
    /// by its name (`evaluate`, `validate`, `eval_epoch`, `test_step`, `estimate_loss`, a
    /// `*callback*`, an `on_*_end` hook) — that draws, itself or through the functions it
    /// calls (`estimate_loss()` → `get_batch()`), from the global generators training also
    /// uses: `random.*`, `np.random.*`, `torch.rand` / `randn` / `randint` / `randperm` /
    /// `bernoulli` / `multinomial`, a shuffled `DataLoader`, or `generate(do_sample=True)`.
    /// Functions that save and restore the generator state (`fork_rng`, `set_rng_state`) are
    /// fine.
    /// ## Why it matters
    /// Every draw in evaluation advances the generator training continues from. Evaluating
    /// every 500 steps instead of every 1000, or skipping evaluation on resume, then changes
    /// the dropout masks and the data order of the training that follows: two runs that differ
    /// only in how often they evaluate end with different weights.
    /// ## Example
    /// ```python
    /// def evaluate(model, data):
    ///     idx = torch.randperm(len(data))[:1000]   # a random validation subset
    /// ```
    /// ## Fix
    /// Give evaluation its own generator (`g = torch.Generator().manual_seed(EVAL_SEED)`,
    /// `np.random.default_rng(EVAL_SEED)`, `DataLoader(..., shuffle=False)`), or save the
    /// training generator states before evaluating and restore them after.
    pub static EVALUATION_DRAWS_TRAINING_RNG = { code: "REPRO011", name: "evaluation-draws-training-rng", severity: Warning, summary: "Evaluation draws from the training random generators" };
}

pub const TORCH_DRAWS: &[&str] = &[
    "torch.rand",
    "torch.randn",
    "torch.randint",
    "torch.randperm",
    "torch.bernoulli",
    "torch.multinomial",
    "torch.normal",
    "torch.rand_like",
    "torch.randn_like",
];
const KEEPS: &[&str] = &[
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
];

/// A function that evaluates, samples or reports during training, by its name (the module
/// qualifier aside).
fn evaluates(key: &str) -> bool {
    let n = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    (["eval", "valid", "test", "estimate", "callback"]
        .iter()
        .any(|w| n.contains(w))
        || n.starts_with("on_") && (n.contains("end") || n.contains("log")))
        && !n.contains("train")
        && !n.contains("sampler")
}

fn draws(c: &Call) -> bool {
    let global = ["random.", "numpy.random."].iter().any(|p| {
        c.callee
            .strip_prefix(p)
            .is_some_and(|rest| !rest.contains('.'))
    }) && !KEEPS.contains(&c.name());
    let torch = TORCH_DRAWS.contains(&c.callee.as_str()) && c.keyword("generator").is_none();
    let loader = c.name() == "DataLoader"
        && c.keyword("shuffle") == Some("True")
        && c.keyword("generator").is_none();
    let sampling = c.name() == "generate"
        && c.keyword("do_sample") == Some("True")
        && c.keyword("generator").is_none();
    global || torch || loader || sampling
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.training().is_none() {
        return;
    }
    let s = ctx.script;
    let restores = |f: &str| {
        s.calls.iter().any(|x| {
            x.function.as_deref() == Some(f)
                && matches!(
                    x.name(),
                    "set_rng_state" | "set_state" | "setstate" | "fork_rng"
                )
        })
    };
    // Evaluating functions that run, and what they call (`estimate_loss` -> `get_batch`).
    let mut evaluating: Vec<&str> = s
        .reachable
        .iter()
        .map(String::as_str)
        .filter(|f| evaluates(f) && !restores(f))
        .collect();
    evaluating.sort_unstable();
    for f in evaluating {
        let inside = s.called_from(f);
        let draw = s
            .calls
            .iter()
            .find(|c| c.function.as_ref().is_some_and(|g| inside.contains(g)) && draws(c));
        let Some(c) = draw else { continue };
        let short = f.rsplit('.').next().unwrap_or(f);
        let via = c
            .function
            .as_deref()
            .filter(|g| *g != f)
            .map(|g| format!(" through {}()", g.rsplit('.').next().unwrap_or(g)))
            .unwrap_or_default();
        out.push(
            Finding::new(
                &EVALUATION_DRAWS_TRAINING_RNG,
                ctx.at(c.file, c.line, c.column),
                format!(
                    "{short}() draws from the training generators{via} ({}): how often evaluation runs changes the training that follows",
                    c.written
                ),
            )
            .with_help("give evaluation its own seeded generator (generator=torch.Generator().manual_seed(S), np.random.default_rng(S), shuffle=False), or wrap it in torch.random.fork_rng()"),
        );
        return;
    }
}
