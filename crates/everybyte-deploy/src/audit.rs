//! The deploy area's part of `everybyte audit`: every Kubernetes manifest of the project,
//! held to the size of the largest model the project holds.

use everybyte_core::{Audit, FileKind, Report};

use crate::Error;
use crate::expect::Expectations;
use crate::lint::lint_manifest_file;

/// Lints the project's Kubernetes manifests; the memory they need is the largest model's size
/// times the configured headroom (`[deploy] headroom`).
pub fn audit(input: &Audit<'_>, report: &mut Report) -> Result<(), Error> {
    let mut manifests = input
        .project
        .files_of(FileKind::KubernetesManifest)
        .peekable();
    if manifests.peek().is_none() {
        return Ok(());
    }
    let expect = Expectations {
        model_bytes: everybyte_mem::model::largest_model(input.project),
        headroom: input.config.options.deploy.headroom,
        ..Expectations::default()
    };
    for f in manifests {
        report
            .findings
            .extend(lint_manifest_file(&f.path, &f.rel, &expect));
    }
    Ok(())
}
