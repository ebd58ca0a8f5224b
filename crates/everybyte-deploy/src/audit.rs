//! The deploy area's part of `everybyte audit`: every Kubernetes manifest of the project,
//! held to the size of the largest model the project holds.

use std::path::Path;

use everybyte_core::{Audit, FileKind, Report};

use crate::Error;
use crate::expect::Expectations;
use crate::lint::lint_manifest_file;
use crate::yaml;

/// Whether a project file is a manifest to lint: YAML with a Kubernetes object in it (a
/// `kind` and an `apiVersion`; a `kind` is enough in a folder of manifests), or YAML that does
/// not parse in such a folder.
/// Helm chart templates (`{{ … }}` that is not YAML until rendered) and values files are not.
fn to_lint(path: &Path, named: bool) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return named;
    };
    match yaml::parse(&text) {
        Ok(docs) => docs
            .iter()
            .any(|d| d.get("kind").is_some() && (named || d.get("apiVersion").is_some())),
        Err(_) => named && !text.contains("{{"),
    }
}

/// Lints the project's Kubernetes manifests; the memory they need is the largest model's size
/// times the configured headroom (`[deploy] headroom`).
pub fn audit(input: &Audit<'_>, report: &mut Report) -> Result<(), Error> {
    let manifests: Vec<_> = input
        .project
        .files
        .iter()
        .filter(|f| {
            let named = f.kind == FileKind::KubernetesManifest;
            let ext = Path::new(&f.rel)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            (named || matches!(ext.as_deref(), Some("yaml" | "yml"))) && to_lint(&f.path, named)
        })
        .collect();
    if manifests.is_empty() {
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
