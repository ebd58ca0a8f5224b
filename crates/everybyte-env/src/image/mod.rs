//! Container images: lint rules for Dockerfiles (unpinned bases, unverified installs and
//! downloads), on top of a position-keeping Dockerfile parser and a small shell parser for
//! `RUN` commands.

pub mod dockerfile;
pub mod rules;
pub mod shell;

use everybyte_core::{Finding, Rule};

pub use dockerfile::Dockerfile;

/// Every rule of the image area, in code order.
pub static RULES: &[&Rule] = &[
    &rules::unpinned_base_image::UNPINNED_BASE_IMAGE,
    &rules::pip_install_without_lock::PIP_INSTALL_WITHOUT_LOCK,
    &rules::remote_script_piped_to_shell::REMOTE_SCRIPT_PIPED_TO_SHELL,
    &rules::unpinned_remote_fetch::UNPINNED_REMOTE_FETCH,
];

/// Checks a Dockerfile's text; `display` is the path findings carry. Findings come sorted by
/// line, column and code, one per rule and position.
pub fn check_dockerfile(display: &str, text: &str) -> Vec<Finding> {
    let df = Dockerfile::parse(text);
    let ctx = rules::Context::new(display, &df);
    let mut out = Vec::new();
    rules::unpinned_base_image::check(&ctx, &mut out);
    rules::pip_install_without_lock::check(&ctx, &mut out);
    rules::remote_script_piped_to_shell::check(&ctx, &mut out);
    rules::unpinned_remote_fetch::check(&ctx, &mut out);
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
