//! Repro's part of the audit: every Python source of the project.

use std::path::Path;

use everybyte_core::{Audit, FileKind, Finding, Report};

use crate::rules::cublas_workspace_unset::CUBLAS_WORKSPACE_UNSET;

/// The REPRO findings of one Python file; an unreadable or unparsable file is IO001.
pub fn lint_python_file(path: &Path, display: &str) -> Vec<Finding> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            match crate::lint_python(display, &text) {
                Ok(f) => f,
                Err(e) => vec![everybyte_core::rules::unreadable(
                    display,
                    "cannot parse",
                    &e,
                )],
            }
        }
        Err(e) => vec![everybyte_core::rules::unreadable_io(display, &e)],
    }
}

/// Lints every Python source. Where the project pins torch (a requirements or lock file
/// line `torch==V`), REPRO003 says which version its requirement applies to.
pub fn audit(input: &Audit, report: &mut Report) {
    let project = input.project;
    let torch_pin = project
        .files_of(FileKind::Requirements)
        .chain(project.files_of(FileKind::Lockfile))
        .find_map(|f| {
            let text = std::fs::read_to_string(&f.path).ok()?;
            text.lines().enumerate().find_map(|(i, l)| {
                let v = l.trim().strip_prefix("torch==")?;
                let v = v.split([' ', ';', '\\', '#']).next()?.to_owned();
                Some(format!("torch {v} pinned at {}:{}", f.rel, i + 1))
            })
        });
    for f in project.files_of(FileKind::PythonSource) {
        let mut found = lint_python_file(&f.path, &f.rel);
        if let Some(pin) = &torch_pin {
            for x in found
                .iter_mut()
                .filter(|x| x.code == CUBLAS_WORKSPACE_UNSET.code)
            {
                x.message.push_str(&format!(
                    " ({pin}: every release since 1.8 requires it with CUDA 10.2 or later)"
                ));
            }
        }
        report.findings.extend(found);
    }
}
