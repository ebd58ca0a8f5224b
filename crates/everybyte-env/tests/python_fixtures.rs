//! The Python-environment rules on the site-packages fixtures under
//! `resources/fixtures/python/` (regenerate them with `make_fixtures.py` there).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use everybyte_core::{Finding, Severity};
use everybyte_env::python::{self, MarkerEnv, check_site_packages, scan_site_packages};

fn fixtures() -> PathBuf {
    everybyte_test_support::fixture(env!("CARGO_MANIFEST_DIR"), "python")
}

fn linux311() -> MarkerEnv {
    MarkerEnv {
        implementation_name: "cpython".into(),
        implementation_version: "3.11.7".into(),
        os_name: "posix".into(),
        platform_machine: "x86_64".into(),
        platform_python_implementation: "CPython".into(),
        platform_release: "6.5.0".into(),
        platform_system: "Linux".into(),
        platform_version: "#1 SMP".into(),
        python_full_version: "3.11.7".into(),
        python_version: "3.11".into(),
        sys_platform: "linux".into(),
    }
}

fn check(name: &str) -> Vec<Finding> {
    let root = fixtures();
    check_site_packages(&root.join(name), &root, &linux311())
}

fn by_code(findings: &[Finding]) -> BTreeMap<&str, Vec<&Finding>> {
    let mut m: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        m.entry(f.code.as_str()).or_default().push(f);
    }
    m
}

#[test]
fn clean_site_packages_has_no_findings() {
    let findings = check("site-packages-clean");
    assert!(findings.is_empty(), "{findings:#?}");
    let scan = scan_site_packages(&fixtures().join("site-packages-clean")).unwrap();
    let names: Vec<_> = scan
        .distributions
        .iter()
        .map(|d| format!("{} {}", d.normalized, d.version))
        .collect();
    assert_eq!(
        names,
        ["alpha 1.0", "beta 2.1rc1", "beta-helper 0.3", "oldpkg 0.5"]
    );
    let alpha = &scan.distributions[0];
    assert_eq!(
        alpha.requires.len(),
        6,
        "the body's Requires-Dist is not a header"
    );
    assert_eq!(alpha.provides_extra, ["fast"]);
    assert_eq!(alpha.installer.as_deref(), Some("pip"));
    let oldpkg = &scan.distributions[3];
    assert_eq!(oldpkg.kind, python::MetadataKind::EggInfo);
    assert_eq!(oldpkg.requires.len(), 3);
    assert!(oldpkg.record.is_none());
}

#[test]
fn extras_and_platform_markers_follow_pip_check() {
    // alpha requires `gamma ; extra == "fast"` and `winonly ; sys_platform == "win32"`: on
    // Windows the second is unmet; the first never is (pip check evaluates extra == "").
    let root = fixtures();
    let mut win = linux311();
    win.sys_platform = "win32".into();
    let findings = check_site_packages(&root.join("site-packages-clean"), &root, &win);
    let msgs: Vec<_> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(msgs, ["alpha 1.0 requires winonly, which is not installed"]);
    // On Python 2.7 the egg-info's `[:python_version < "3"]` section applies.
    let mut py27 = linux311();
    py27.python_version = "2.7".into();
    py27.python_full_version = "2.7.18".into();
    let findings = check_site_packages(&root.join("site-packages-clean"), &root, &py27);
    let msgs: Vec<_> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "alpha 1.0 requires legacy-only, which is not installed",
            "oldpkg 0.5 requires futures, which is not installed",
        ]
    );
}

#[test]
fn broken_site_packages_fires_every_rule() {
    let findings = check("site-packages-broken");
    let codes = by_code(&findings);
    let counts: BTreeMap<&str, usize> = codes.iter().map(|(k, v)| (*k, v.len())).collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("ENV004", 2),
            ("ENV005", 2),
            ("ENV006", 1),
            ("ENV007", 1),
            // editedpkg, plus the files that the second numpy and opencv-python-headless
            // overwrote: exactly what happens on a real disk.
            ("ENV008", 3),
            ("IO001", 1),
        ]),
        "{findings:#?}"
    );

    let msgs =
        |code: &str| -> Vec<&str> { codes[code].iter().map(|f| f.message.as_str()).collect() };
    assert_eq!(
        msgs("ENV004"),
        [
            "torch 2.0.1 requires sympy, which is not installed",
            "torchvision 0.16.0 requires requests, which is not installed",
        ]
    );
    assert_eq!(
        msgs("ENV005"),
        [
            "torchvision 0.16.0 requires torch==2.1.0, but 2.0.1 is installed",
            "torchvision 0.16.0 requires pillow!=8.3.*,>=5.3.0, but 8.3.2 is installed",
        ]
    );
    let conflict = codes["ENV005"][0];
    assert_eq!(conflict.severity, Severity::Error);
    assert_eq!(
        conflict.location.path,
        "site-packages-broken/torchvision-0.16.0.dist-info"
    );
    assert_eq!(conflict.location.detail.as_deref(), Some("Requires-Dist"));

    let dup = codes["ENV006"][0];
    assert_eq!(
        dup.message,
        "numpy is installed 2 times: 1.24.0 (site-packages-broken/numpy-1.24.0.dist-info), 1.26.4 (site-packages-broken/numpy-1.26.4.dist-info)"
    );
    assert_eq!(dup.related.len(), 1);

    let shared = codes["ENV007"][0];
    assert_eq!(shared.severity, Severity::Warning);
    assert_eq!(
        shared.message,
        "opencv-python 4.8.1.78 and opencv-python-headless 4.8.1.78 both install 2 files, e.g. cv2/__init__.py"
    );

    let overwritten: Vec<_> = codes["ENV008"]
        .iter()
        .map(|f| f.data["package"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(overwritten, ["editedpkg", "numpy", "opencv-python"]);
    let edited = codes["ENV008"][0];
    assert_eq!(
        edited.message,
        "editedpkg 1.0: 3 installed files differ from RECORD (modified: editedpkg/__init__.py, editedpkg/same_size.py; missing: editedpkg/gone.py)"
    );
    assert_eq!(edited.data["modified"], 2);
    assert_eq!(edited.data["missing"], 1);

    assert!(
        codes["IO001"][0].message.contains("no Name header"),
        "{}",
        codes["IO001"][0].message
    );
}

#[test]
fn missing_directory_is_one_io_finding() {
    let findings = check("no-such-site-packages");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].code, "IO001");
}

#[test]
fn rules_are_declared_with_all_doc_sections() {
    let mut codes = Vec::new();
    for rule in everybyte_env::rules().filter(|r| r.source.contains("python/rules/")) {
        let doc = rule.explanation();
        let mut at = 0;
        for section in everybyte_core::rule::DOC_SECTIONS {
            let found = doc[at..]
                .find(section)
                .unwrap_or_else(|| panic!("{} lacks {section}", rule.code));
            at += found + section.len();
        }
        assert!(doc.contains("```"), "{} has no code block", rule.code);
        assert!(
            Path::new(rule.source)
                .extension()
                .is_some_and(|e| e == "rs")
        );
        codes.push(rule.code);
    }
    assert_eq!(
        codes,
        [
            "ENV004", "ENV005", "ENV006", "ENV007", "ENV008", "ENV009", "ENV010"
        ]
    );
}

/// A rule's fixture: `CODE` is where it fires (its findings alone), `CODE_ok` is clean input
/// that must raise nothing at all. ENV004–ENV008 fire on the broken site-packages and ENV009
/// and ENV010 on the lock fixtures (against the clean site-packages).
fn rule_fixture(name: &str) -> Vec<Finding> {
    let (code, clean) = match name.strip_suffix("_ok") {
        Some(code) => (code, true),
        None => (name, false),
    };
    let locks = fixtures().join("locks");
    let installed = || {
        scan_site_packages(&fixtures().join("site-packages-clean"))
            .unwrap()
            .distributions
    };
    let findings = match (code, clean) {
        ("ENV009", false) => python::check_lock(
            &locks.join("requirements.txt"),
            "locks/requirements.txt",
            &installed(),
        )
        .unwrap(),
        ("ENV009", true) => python::check_lock_with_env(
            &locks.join("pylock.toml"),
            "locks/pylock.toml",
            &installed(),
            Some(&linux311()),
        )
        .unwrap(),
        ("ENV010", false) => python::check_requirements_file(&locks.join("base.txt"), "base.txt"),
        ("ENV010", true) => {
            python::check_requirements_file(&locks.join("requirements.txt"), "requirements.txt")
        }
        (_, false) => check("site-packages-broken"),
        (_, true) => check("site-packages-clean"),
    };
    if clean {
        findings
    } else {
        findings.into_iter().filter(|f| f.code == code).collect()
    }
}

everybyte_test_support::rule_fixtures! {
    run = rule_fixture;
    fires = "", ok = "_ok";
    env004_unmet_requirement => "ENV004",
    env005_conflicting_requirement => "ENV005",
    env006_duplicate_distribution => "ENV006",
    env007_module_conflict => "ENV007",
    env008_record_mismatch => "ENV008",
    env009_lock_drift => "ENV009",
    env010_unpinned_requirements => "ENV010",
}
