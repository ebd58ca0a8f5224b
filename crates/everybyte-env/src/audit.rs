//! The environment's part of `everybyte audit`: the project's requirements files (ENV010),
//! its Dockerfiles (IMG rules) and its virtual environment, with the project's lock file.

use std::path::Path;

use everybyte_core::{Audit, FileKind, Report};

use crate::environment::{CheckOptions, check_environment};
use crate::error::Error;
use crate::{image, python, target};

/// Runs the environment checks on a project and adds their findings and context to `report`.
/// A configured or found virtual environment that is not one is an error.
pub fn audit(input: &Audit<'_>, report: &mut Report) -> Result<(), Error> {
    requirements_files(input, report);
    dockerfiles(input, report);
    virtual_environment(input, report)
}

/// ENV010 on every requirements file of the project.
pub fn requirements_files(input: &Audit<'_>, report: &mut Report) {
    for f in input.project.files_of(FileKind::Requirements) {
        report
            .findings
            .extend(python::lock::check_requirements_file(&f.path, &f.rel));
    }
}

/// The image rules on every Dockerfile of the project; one that cannot be read is IO001.
pub fn dockerfiles(input: &Audit<'_>, report: &mut Report) {
    for f in input.project.files_of(FileKind::Dockerfile) {
        match std::fs::read_to_string(&f.path) {
            Ok(text) => report
                .findings
                .extend(image::check_dockerfile(&f.rel, &text)),
            Err(e) => report
                .findings
                .push(everybyte_core::rules::unreadable_io(&f.rel, &e)),
        }
    }
}

/// Every environment check on the project's virtual environment (`[env] venv`, or `.venv`,
/// `venv`, `env` in the project), against the project's first lock file.
pub fn virtual_environment(input: &Audit<'_>, report: &mut Report) -> Result<(), Error> {
    let dir: &Path = &input.project.root;
    let venv = match &input.config.options.env.venv {
        Some(v) => Some(dir.join(v)),
        None => target::find_in_project(dir),
    };
    let Some(venv) = venv else {
        return Ok(());
    };
    let t = target::from_venv(&venv)?;
    let rel = venv
        .strip_prefix(dir)
        .unwrap_or(&venv)
        .display()
        .to_string();
    let lock = input
        .project
        .files_of(FileKind::Lockfile)
        .next()
        .map(|f| f.path.clone());
    let (findings, context) = check_environment(
        &t,
        &CheckOptions {
            display_root: dir,
            display: &rel,
            ldd_compatible: false,
            lock: lock.as_deref(),
            verify_records: input
                .enabled(crate::python::rules::record_mismatch::RECORD_MISMATCH.code),
        },
    );
    report.findings.extend(findings);
    report.context.extend(context);
    Ok(())
}
