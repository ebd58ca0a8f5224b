//! `everybyte repro`: what makes a training program non-deterministic (a lint over real
//! Python parse trees, across the modules a program imports and the launchers that start it),
//! and `repro run`, which runs a command several times and names the first output — file,
//! tensor or metric — that differs.

mod audit;
pub mod compare;
pub mod error;
pub mod launch;
pub mod model;
pub mod program;
pub mod rules;
pub mod run;
pub mod torchzip;

use everybyte_core::{Finding, Rule};

pub use audit::{
    LintPathError, Linted, Source, audit, lint_entries, lint_paths, load, program_context,
    project_root,
};
pub use error::{CheckpointError, ParseError, RunError, TensorFileError};
pub use model::Script;

/// Every rule of the area, in code order.
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    rules::RULES.iter().map(|r| r.rule)
}

/// Lints one Python source as a program on its own; `display` is the path findings carry.
/// Sorted by position.
pub fn lint_python(display: &str, source: &str) -> Result<Vec<Finding>, ParseError> {
    let mut script = Script::parse(source)?;
    script.files = vec![display.to_owned()];
    Ok(lint_program(&ProgramInputs {
        script: &script,
        env: &[],
        runs: &[],
        torch: None,
        manifests: &[],
    }))
}

/// What one program is linted with: the program linked across its modules, what the
/// launchers that run it set and pass, the project's torch pin and data manifests.
pub struct ProgramInputs<'a> {
    pub script: &'a Script,
    pub env: &'a [launch::EnvSetting],
    pub runs: &'a [launch::Run],
    pub torch: Option<&'a launch::TorchPin>,
    pub manifests: &'a [String],
}

/// Lints one linked program.
pub fn lint_program(input: &ProgramInputs<'_>) -> Vec<Finding> {
    let ctx = rules::Context {
        script: input.script,
        env: input.env,
        runs: input.runs,
        torch: input.torch,
        manifests: input.manifests,
    };
    let mut out = Vec::new();
    for r in rules::RULES {
        (r.check)(&ctx, &mut out);
    }
    everybyte_core::finding::sort_findings(&mut out);
    out
}

/// The area's rule prefixes and the title reports give its findings.
pub static AREA: everybyte_core::Area = everybyte_core::Area {
    prefixes: &["REPRO"],
    title: "repro: non-determinism",
};
