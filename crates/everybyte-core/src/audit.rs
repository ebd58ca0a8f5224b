//! What every area's part of `everybyte audit` is given. Each area crate exposes one function
//! of the same shape, `pub fn audit(input: &Audit, report: &mut Report) -> Result<(), Error>`,
//! which decides what in the project it applies to, runs its checks and adds findings, context
//! and figures to the report. The binary's `audit` is a loop over the areas.

use crate::{Config, Project, Selection};

/// The walked project, its configuration and the rules selected for this run.
#[derive(Clone, Copy, Debug)]
pub struct Audit<'a> {
    pub project: &'a Project,
    pub config: &'a Config,
    pub selection: &'a Selection,
}

impl Audit<'_> {
    /// Whether a rule is selected: an area skips work whose only rule is not.
    pub fn enabled(&self, code: &str) -> bool {
        self.selection.enabled(code)
    }
}
