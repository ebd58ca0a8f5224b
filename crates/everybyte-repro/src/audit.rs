//! Repro's part of the audit: every Python source of the project.

use std::path::{Path, PathBuf};

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

/// What `repro lint` found in its paths, and the files it read.
#[derive(Debug, Default)]
pub struct Linted {
    pub findings: Vec<Finding>,
    pub inputs: Vec<String>,
}

/// Why `repro lint` cannot lint a path.
#[derive(Debug, thiserror::Error)]
pub enum LintPathError {
    #[error("{}: no such file or directory", .0.display())]
    NotFound(PathBuf),
    #[error("{}: cannot walk", .path.display())]
    Walk {
        path: PathBuf,
        source: ignore::Error,
    },
}

/// Lints the given Python files and folders (the current folder when none is given); a
/// folder's Python sources are found by the same walk the audit makes (`exclude` applies).
pub fn lint_paths(roots: &[PathBuf], exclude: &[String]) -> Result<Linted, LintPathError> {
    let here = [PathBuf::from(".")];
    let roots = if roots.is_empty() { &here[..] } else { roots };
    let mut out = Linted::default();
    for root in roots {
        if root.is_file() {
            let name = root.display().to_string();
            out.findings.extend(lint_python_file(root, &name));
            out.inputs.push(name);
            continue;
        }
        if !root.is_dir() {
            return Err(LintPathError::NotFound(root.clone()));
        }
        let project = everybyte_core::discover::discover(root, exclude).map_err(|source| {
            LintPathError::Walk {
                path: root.clone(),
                source,
            }
        })?;
        for f in project.files_of(FileKind::PythonSource) {
            let shown = if root == Path::new(".") {
                f.rel.clone()
            } else {
                root.join(&f.rel).display().to_string()
            };
            out.findings.extend(lint_python_file(&f.path, &shown));
            out.inputs.push(shown);
        }
    }
    Ok(out)
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
