//! The environment's part of `everybyte audit` on a small project: requirements files,
//! Dockerfiles and a folder that claims to be a virtual environment.

use everybyte_core::{Audit, Config, Report};
use everybyte_test_support::Dir;

fn audit(dir: &Dir) -> Result<Report, everybyte_env::Error> {
    let config = Config::default();
    let project = everybyte_core::discover::discover(dir.path(), &[]).unwrap();
    let selection = config.selection(&[], &[]);
    let input = Audit {
        project: &project,
        config: &config,
        selection: &selection,
    };
    let mut report = Report::default();
    everybyte_env::audit(&input, &mut report)?;
    Ok(report)
}

#[test]
fn requirements_and_dockerfiles_are_checked() {
    let dir = Dir::new();
    dir.create("requirements.txt", "torch>=2\n");
    dir.create("Dockerfile", "FROM python:3.11\n");
    let report = audit(&dir).unwrap();
    let mut codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    codes.sort_unstable();
    assert_eq!(codes, ["ENV010", "ENV010", "IMG001"]);
    assert!(report.context.is_empty());
}

#[test]
fn a_configured_venv_that_is_not_one_is_an_error() {
    let dir = Dir::new();
    dir.create("venv/pyvenv.cfg", "home = /usr/bin\nversion = 3.11.7\n");
    let report = audit(&dir).unwrap();
    assert_eq!(report.context[0].path, "venv");
    assert_eq!(report.context[0].key, "objects");
    let mut config = Config::default();
    config.options.env.venv = Some("missing".into());
    let project = everybyte_core::discover::discover(dir.path(), &[]).unwrap();
    let selection = config.selection(&[], &[]);
    let input = Audit {
        project: &project,
        config: &config,
        selection: &selection,
    };
    let e = everybyte_env::audit(&input, &mut Report::default()).unwrap_err();
    assert!(e.to_string().ends_with("missing: no such directory"), "{e}");
}
