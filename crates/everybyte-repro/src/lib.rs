//! `everybyte repro`: what makes a training script non-deterministic (a lint over a real
//! Python parse tree), and `repro run`, which runs a command several times and names the first
//! output — file, tensor or metric — that differs.

mod audit;
pub mod compare;
pub mod error;
pub mod model;
pub mod rules;
pub mod run;
pub mod torchzip;

use everybyte_core::{Finding, Rule};

pub use audit::{LintPathError, Linted, audit, lint_paths, lint_python_file};
pub use error::{CheckpointError, ParseError, RunError, TensorFileError};
pub use model::Script;

/// Every rule of the area, in code order.
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    rules::RULES.iter().map(|r| r.rule)
}

/// Lints one Python source; `display` is the path findings carry. Sorted by position.
pub fn lint_python(display: &str, source: &str) -> Result<Vec<Finding>, ParseError> {
    let script = Script::parse(source)?;
    let ctx = rules::Context {
        path: display,
        script: &script,
    };
    let mut out = Vec::new();
    for r in rules::RULES {
        (r.check)(&ctx, &mut out);
    }
    everybyte_core::finding::sort_findings(&mut out);
    Ok(out)
}

/// The area's rule prefixes and the title reports give its findings.
pub static AREA: everybyte_core::Area = everybyte_core::Area {
    prefixes: &["REPRO"],
    title: "repro: non-determinism",
};
