//! REPRO013: seeding that the default run skips, or a seed drawn at random.

use everybyte_core::Finding;

use super::{Context, seeded};
use crate::model::Call;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Seeding that runs only when a flag is given: the seeding call sits under a condition on
    /// the seed (`if args.seed is not None:`, `if seed:`) while the seed option defaults to
    /// `None` (`add_argument("--seed", type=int)` or `default=None`, a config field
    /// `seed = None`). And a default seed drawn at random: `default=random.randint(...)`,
    /// `seed = int(time.time())`, `seed = np.random.randint(...)`.
    /// ## Why it matters
    /// The run everyone makes — the README's command, the job with default flags — is the
    /// unseeded one. The script looks seeded to a reader, and two runs of the documented
    /// command still differ from the first step.
    /// ## Example
    /// ```python
    /// parser.add_argument("--seed", type=int, default=None)
    /// if args.seed is not None:
    ///     set_seed(args.seed)
    /// ```
    /// ## Fix
    /// Give the seed a fixed default (`default=42`) and seed unconditionally; to explore
    /// seeds, pass a different value, and log the seed a run used.
    pub static SEED_OPTIONAL = { code: "REPRO013", name: "seed-optional", severity: Warning, summary: "The default run is unseeded: seeding needs a flag, or the seed is drawn at random" };
}

/// An expression that draws a fresh value every run.
fn random_value(v: &str) -> bool {
    [
        "randint",
        "time.time",
        "time()",
        "time_ns",
        "urandom",
        "secrets.",
        "random.random",
        "torch.seed()",
        "initial_seed()",
        "randrange",
    ]
    .iter()
    .any(|w| v.contains(w))
}

fn seed_option(c: &Call) -> bool {
    c.name() == "add_argument"
        && c.args.first().is_some_and(|a| {
            let a = a
                .trim_matches(|q| q == '"' || q == '\'')
                .to_ascii_lowercase();
            a.trim_start_matches('-').replace('-', "_") == "seed"
                || a.trim_start_matches('-').ends_with("_seed") && !a.contains("eval")
        })
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.training().is_none() {
        return;
    }
    let s = ctx.script;
    // A default drawn at random.
    let drawn = s
        .calls
        .iter()
        .filter(|c| seed_option(c))
        .find_map(|c| {
            c.keyword("default")
                .filter(|d| random_value(d))
                .map(|_| (c.file, c.line, c.column, c.written.clone()))
        })
        .or_else(|| {
            s.live_assigns()
                .find(|a| {
                    let t = a
                        .target
                        .rsplit('.')
                        .next()
                        .unwrap_or(&a.target)
                        .to_ascii_lowercase();
                    t.ends_with("seed") && !t.contains("eval") && random_value(&a.value)
                })
                .map(|a| (a.file, a.line, a.column, a.target.clone()))
        });
    if let Some((file, line, column, what)) = drawn {
        out.push(
            Finding::new(
                &SEED_OPTIONAL,
                ctx.at(file, line, column),
                format!("the seed ({what}) is drawn at random by default: every default run uses a different seed"),
            )
            .with_help("give the seed a fixed default (e.g. 42) and log it; pass another value to explore seeds"),
        );
        return;
    }
    // Seeding under a condition on a seed option that defaults to None.
    let option = s.calls.iter().find(|c| seed_option(c));
    let defaults_none = option.is_some_and(|c| {
        c.keyword("default").is_none_or(|d| d.trim() == "None")
            && c.keyword("required") != Some("True")
    }) || s.assigns.iter().any(|a| {
        a.target
            .rsplit('.')
            .next()
            .is_some_and(|t| t.to_ascii_lowercase().ends_with("seed"))
            && matches!(a.value.trim(), "None" | "field(default=None)")
    });
    if !defaults_none {
        return;
    }
    let conditional = s.live_calls().find(|c| {
        !seeded(std::iter::once(*c)).is_empty()
            && c.guard.as_deref().is_some_and(|g| {
                let g = g.to_ascii_lowercase();
                g.contains("seed") && !g.contains("is none") && !g.starts_with("not (")
            })
    });
    // Seeding that also runs unconditionally somewhere else is fine.
    let unconditional = s
        .live_calls()
        .any(|c| c.guard.is_none() && !seeded(std::iter::once(c)).is_empty());
    // The commands that run the program all pass the seed: the documented runs are seeded.
    let option_name = option.and_then(|o| o.args.first()).map_or_else(
        || "seed".to_owned(),
        |a| {
            a.trim_matches(|q| q == '"' || q == '\'')
                .trim_start_matches('-')
                .replace('-', "_")
        },
    );
    let passes_seed = |r: &crate::launch::Run| {
        r.args.iter().any(|w| {
            let k = w.split('=').next().unwrap_or(w).trim_start_matches('-');
            k.replace('-', "_") == option_name
        })
    };
    if !ctx.runs.is_empty() && ctx.runs.iter().all(passes_seed) {
        return;
    }
    if let (Some(c), false) = (conditional, unconditional) {
        let flag = option.map_or("the seed".to_owned(), |o| {
            o.args
                .first()
                .map(|a| a.trim_matches(|q| q == '"' || q == '\'').to_owned())
                .unwrap_or_default()
        });
        out.push(
            Finding::new(
                &SEED_OPTIONAL,
                ctx.at(c.file, c.line, c.column),
                format!(
                    "{}(...) runs only when {flag} is given (if {}), and it defaults to None: the default run is unseeded",
                    c.written,
                    c.guard.as_deref().unwrap_or_default()
                ),
            )
            .with_help("give the seed a fixed default (e.g. default=42) and seed unconditionally"),
        );
    }
}
