//! The data area's part of `everybyte audit`: the project's images, tables, arrays and
//! `.safetensors` model files scanned as `data scan` scans them (a large dataset sampled).

use everybyte_core::{Audit, ContextItem, FileKind, Report};

use crate::error::DataError;
use crate::scan::{Rel, ScanOptions, scan_files};

/// Scans the project's data files and adds the findings (and, for a sample, a context line
/// saying how much was scanned) to `report`.
pub fn audit(input: &Audit, report: &mut Report) -> Result<(), DataError> {
    let project = input.project;
    let data_files: Vec<Rel> = project
        .files
        .iter()
        .filter(|f| {
            matches!(f.kind, FileKind::Image | FileKind::Table | FileKind::Array)
                || f.rel.ends_with(".safetensors") && f.kind == FileKind::ModelFile
        })
        .map(|f| {
            // The path's own bytes under the root (the `rel` text may have lost some).
            f.path
                .strip_prefix(&project.root)
                .unwrap_or(&f.path)
                .as_os_str()
                .into()
        })
        .collect();
    if data_files.is_empty() {
        return Ok(());
    }
    // A large dataset is sampled: the same files every run (by path hash), so findings are
    // stable; `everybyte data scan` reads every file.
    let options = &input.config.options.data;
    let limit = options.audit_max_files.max(1);
    let total = data_files.len() as u64;
    let shards = total.div_ceil(limit);
    let opts = ScanOptions {
        max_pixels: options.max_pixels,
        shard: (shards > 1).then_some((0, shards)),
        ..ScanOptions::default()
    };
    let scan = scan_files(&project.root, data_files, &opts);
    if shards > 1 {
        report.context.push(ContextItem {
            path: ".".into(),
            key: "data".into(),
            value: format!(
                "{} of {total} data files scanned (a 1/{shards} sample; data.audit-max-files = {limit}); everybyte data scan checks them all",
                scan.summary.files
            ),
            line: None,
        });
    }
    report.findings.extend(scan.findings);
    Ok(())
}

#[cfg(test)]
mod tests;
