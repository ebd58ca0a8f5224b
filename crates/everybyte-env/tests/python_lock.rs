//! Lockfile parsing and the ENV009 / ENV010 rules, on the fixtures under
//! `resources/fixtures/python/locks/` against the clean site-packages fixture.

use std::path::PathBuf;

use everybyte_core::Finding;
use everybyte_env::python::{
    Distribution, LockError, LockKind, MarkerEnv, check_lock, check_lock_with_env,
    check_requirements_file, parse_requirements, read_lock, scan_site_packages,
};

fn dir() -> PathBuf {
    everybyte_test_support::fixture(env!("CARGO_MANIFEST_DIR"), "python")
}

fn locks() -> PathBuf {
    dir().join("locks")
}

fn installed() -> Vec<Distribution> {
    scan_site_packages(&dir().join("site-packages-clean"))
        .unwrap()
        .distributions
}

fn linux() -> MarkerEnv {
    let mut env = MarkerEnv::for_current_host("3.11.7");
    env.sys_platform = "linux".into();
    env.platform_system = "Linux".into();
    env.os_name = "posix".into();
    env
}

fn render(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{} {} {}", f.location, f.code, f.message))
        .collect()
}

#[test]
fn requirements_parsing_follows_includes_and_continuations() {
    let lines = parse_requirements(&locks().join("requirements.txt")).unwrap();
    let summary: Vec<String> = lines
        .iter()
        .map(|l| {
            format!(
                "{}:{}:{} {} {:?} hashes={} constraint={}",
                l.file.file_name().unwrap().to_string_lossy(),
                l.line,
                l.column,
                l.name.as_deref().unwrap_or("-"),
                l.pin,
                l.hashes.len(),
                l.constraint
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "base.txt:1:1 Beta.Helper Unpinned(\"it allows a range (>=0.1)\") hashes=0 constraint=false",
            "base.txt:2:1 - Unpinned(\"it is an editable install (it tracks a working tree)\") hashes=0 constraint=false",
            "base.txt:3:1 y Unpinned(\"it is a VCS URL without a full commit hash\") hashes=0 constraint=false",
            "base.txt:4:1 z Immutable hashes=0 constraint=false",
            "constraints.txt:1:1 oldpkg Exact(\"0.4\") hashes=0 constraint=true",
            "requirements.txt:6:1 alpha Exact(\"1.0\") hashes=1 constraint=false",
            "requirements.txt:8:1 beta Exact(\"2.0\") hashes=1 constraint=false",
            "requirements.txt:9:1 gamma Exact(\"1.0\") hashes=2 constraint=false",
            "requirements.txt:12:1 winonly Exact(\"1.0\") hashes=1 constraint=false",
        ]
    );
    assert_eq!(
        lines[8].marker.as_deref(),
        Some("sys_platform == \"win32\"")
    );
}

#[test]
fn unpinned_requirements_rule() {
    // The hashed lock itself is clean; its included base file is not.
    assert!(
        check_requirements_file(&locks().join("requirements.txt"), "requirements.txt").is_empty()
    );
    let base = render(&check_requirements_file(
        &locks().join("base.txt"),
        "base.txt",
    ));
    assert_eq!(
        base,
        [
            "base.txt:1:1 ENV010 `Beta.Helper>=0.1` is not pinned to one version: it allows a range (>=0.1)",
            "base.txt:2:1 ENV010 `./local-pkg` is not pinned to one version: it is an editable install (it tracks a working tree)",
            "base.txt:3:1 ENV010 `git+https://github.com/example/y.git@main#egg=y` is not pinned to one version: it is a VCS URL without a full commit hash",
            "base.txt ENV010 no requirement in this file has a --hash (4 requirements)",
        ]
    );
    let partial = render(&check_requirements_file(
        &locks().join("partial.txt"),
        "partial.txt",
    ));
    assert_eq!(
        partial,
        [
            "partial.txt:4:1 ENV010 `torch>=2.0` is not pinned to one version: it allows a range (>=2.0)",
            "partial.txt ENV010 2 of 3 requirements have no --hash (e.g. numpy==1.26.4, torch>=2.0); pip --require-hashes refuses the file",
        ]
    );
    let missing = check_requirements_file(&locks().join("nope.txt"), "nope.txt");
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].code, "IO001");
}

#[test]
fn requirements_lock_drift() {
    let findings = check_lock(
        &locks().join("requirements.txt"),
        "locks/requirements.txt",
        &installed(),
    )
    .unwrap();
    assert_eq!(
        render(&findings),
        [
            "locks/base.txt:3:1 ENV009 y is in the lockfile but not installed",
            "locks/base.txt:4:1 ENV009 z is in the lockfile but not installed",
            "locks/requirements.txt:8:1 ENV009 beta is locked at 2.0 but 2.1rc1 is installed",
            "locks/requirements.txt:9:1 ENV009 gamma is locked at 1.0 but not installed",
            "locks/requirements.txt ENV009 1 installed distribution is not in the lockfile (extra, not a missing pin): oldpkg 0.5",
        ]
    );
    // With a Windows environment the marker-guarded pin applies and is missing.
    let mut win = linux();
    win.sys_platform = "win32".into();
    let findings = check_lock_with_env(
        &locks().join("requirements.txt"),
        "requirements.txt",
        &installed(),
        Some(&win),
    )
    .unwrap();
    assert!(
        render(&findings).contains(
            &"requirements.txt:12:1 ENV009 winonly is locked at 1.0 but not installed".to_owned()
        ),
        "{findings:#?}"
    );
}

#[test]
fn pylock_matches_installed() {
    let lock = read_lock(&locks().join("pylock.toml"), None).unwrap();
    assert_eq!(lock.kind, LockKind::Pylock);
    assert_eq!(lock.packages.len(), 5);
    // 0.3.0 == 0.3 under PEP 440; winonly's marker is false on Linux.
    let findings = check_lock_with_env(
        &locks().join("pylock.toml"),
        "pylock.toml",
        &installed(),
        Some(&linux()),
    )
    .unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn uv_lock_reachability() {
    let findings = check_lock_with_env(
        &locks().join("uv.lock"),
        "uv.lock",
        &installed(),
        Some(&linux()),
    )
    .unwrap();
    assert_eq!(
        render(&findings),
        [
            "uv.lock (package myproject) ENV009 myproject is locked at 0.1.0 but not installed",
            "uv.lock (package beta-helper) ENV009 beta-helper is locked at 0.2 but 0.3 is installed",
            "uv.lock ENV009 1 installed distribution is not in the lockfile (extra, not a missing pin): oldpkg 0.5",
        ]
    );
    // colorama (win32 marker) and sphinx (an extra) are conditional.
    let lock = read_lock(&locks().join("uv.lock"), Some(&linux())).unwrap();
    let conditional: Vec<&str> = lock
        .packages
        .iter()
        .filter(|p| p.conditional)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(conditional, ["colorama", "sphinx"]);
}

#[test]
fn poetry_lock_drift() {
    let findings = check_lock(&locks().join("poetry.lock"), "poetry.lock", &installed()).unwrap();
    assert_eq!(
        render(&findings),
        ["poetry.lock (package oldpkg) ENV009 oldpkg is locked at 0.4 but 0.5 is installed"]
    );
}

#[test]
fn bad_lockfiles_are_errors_naming_the_file() {
    let err = check_lock(&locks().join("broken/uv.lock"), "uv.lock", &[]).unwrap_err();
    assert!(matches!(err, LockError::Toml { .. }), "{err}");
    assert!(err.to_string().contains("broken/uv.lock"), "{err}");
    let err = check_lock(&locks().join("broken/pylock.toml"), "pylock.toml", &[]).unwrap_err();
    assert!(matches!(err, LockError::Format { .. }), "{err}");
    let err = check_lock(&locks().join("missing.txt"), "missing.txt", &[]).unwrap_err();
    assert!(matches!(err, LockError::Io { .. }), "{err}");
}
