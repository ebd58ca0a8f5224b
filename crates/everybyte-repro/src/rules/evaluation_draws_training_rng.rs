//! REPRO011: evaluation that draws from the generators training uses.

use everybyte_core::{Finding, Location};

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// In a training script, a function whose name says it evaluates (`evaluate`, `validate`,
    /// `eval_epoch`, `test_step`…) and that draws from the global generators training also
    /// uses: `random.*`, `np.random.*`, `torch.rand` / `randn` / `randint` / `randperm` /
    /// `bernoulli` / `multinomial`, or a shuffled `DataLoader`.
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

const TORCH_DRAWS: &[&str] = &[
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

fn evaluates(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["eval", "valid", "test"].iter().any(|w| n.contains(w)) && !n.contains("train")
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.training().is_none() {
        return;
    }
    let s = ctx.script;
    // Functions that save and restore generator state around themselves are fine.
    for c in s.live_calls() {
        let Some(f) = c.function.as_deref().filter(|f| evaluates(f)) else {
            continue;
        };
        let global = ["random.", "numpy.random."].iter().any(|p| {
            c.callee
                .strip_prefix(p)
                .is_some_and(|rest| !rest.contains('.'))
        }) && !KEEPS.contains(&c.name());
        let torch = TORCH_DRAWS.contains(&c.callee.as_str()) && c.keyword("generator").is_none();
        let loader = c.name() == "DataLoader"
            && c.keyword("shuffle") == Some("True")
            && c.keyword("generator").is_none();
        let draws = global || torch || loader;
        let restores = s.calls.iter().any(|x| {
            x.function.as_deref() == Some(f)
                && matches!(
                    x.name(),
                    "set_rng_state" | "set_state" | "setstate" | "fork_rng"
                )
        });
        if draws && !restores {
            out.push(
                Finding::new(
                    &EVALUATION_DRAWS_TRAINING_RNG,
                    Location::line(ctx.path, c.line, c.column),
                    format!(
                        "{f}() draws from the training generators ({}): how often evaluation runs changes the training that follows",
                        c.written
                    ),
                )
                .with_help("give evaluation its own seeded generator (generator=torch.Generator().manual_seed(S), np.random.default_rng(S), shuffle=False), or wrap it in torch.random.fork_rng()"),
            );
            return;
        }
    }
}
