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
        model_bytes: largest_model(input.project),
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

/// The size of the largest model the project holds, with where it was read: a sharded
/// index's `metadata.total_size`, else the largest `.safetensors` / `.onnx` / `.pt` file.
// To be replaced by `everybyte_mem`'s `largest_model(&Project) -> Option<(u64, String)>`,
// which holds this function once it exists there.
fn largest_model(project: &everybyte_core::Project) -> Option<(u64, String)> {
    let mut best: Option<(u64, String)> = None;
    for f in &project.files {
        let size = if f.rel.ends_with(".safetensors.index.json") {
            std::fs::read_to_string(&f.path)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| everybyte_mem::budget::index_total_size(&v))
        } else if f.kind == FileKind::ModelFile {
            std::fs::metadata(&f.path).ok().map(|m| m.len())
        } else {
            None
        };
        if let Some(s) = size.filter(|&s| best.as_ref().is_none_or(|(b, _)| s > *b)) {
            best = Some((s, f.rel.clone()));
        }
    }
    best
}
