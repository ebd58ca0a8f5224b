//! Container images: lint rules for Dockerfiles (unpinned bases, unverified installs and
//! downloads), on top of a position-keeping Dockerfile parser and a small shell parser for
//! `RUN` commands.

pub mod dockerfile;
pub mod rules;
pub mod shell;

use everybyte_core::Finding;

pub use dockerfile::Dockerfile;

/// Checks a Dockerfile's text; `display` is the path findings carry. Findings come sorted by
/// line, column and code, one per rule and position.
pub fn check_dockerfile(display: &str, text: &str) -> Vec<Finding> {
    let df = Dockerfile::parse(text);
    let ctx = rules::Context::new(display, &df);
    let mut out = Vec::new();
    crate::rules::run_dockerfile(&ctx, &mut out);
    out.sort_by(|a, b| {
        (a.location.line, a.location.column, &a.code).cmp(&(
            b.location.line,
            b.location.column,
            &b.code,
        ))
    });
    out.dedup_by(|a, b| {
        a.code == b.code
            && a.location.line == b.location.line
            && a.location.column == b.location.column
    });
    out
}
