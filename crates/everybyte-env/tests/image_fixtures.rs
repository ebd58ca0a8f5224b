//! Every image rule has a Dockerfile that fires it (`IMGnnn.Dockerfile`, several variants)
//! and a clean one that must fire no rule at all (`IMGnnn_ok.Dockerfile`). The findings of
//! each firing fixture are snapshotted as a user reads them.

use std::path::PathBuf;

use everybyte_core::Finding;
use everybyte_env::image::check_dockerfile;
use everybyte_test_support::rule_fixtures;

fn fixture(name: &str) -> PathBuf {
    everybyte_test_support::fixture(env!("CARGO_MANIFEST_DIR"), &format!("image/{name}"))
}

fn run(name: &str) -> Vec<Finding> {
    let text = std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    check_dockerfile(name, &text)
}

/// The rules declared under `image/rules/`.
fn image_rules() -> Vec<&'static everybyte_core::Rule> {
    let rules: Vec<_> = everybyte_env::rules()
        .filter(|r| r.source.contains("image/rules/"))
        .collect();
    assert_eq!(rules.len(), 4, "the image rules are IMG001 to IMG004");
    rules
}

rule_fixtures! {
    run = run;
    fires = ".Dockerfile", ok = "_ok.Dockerfile";
    img001_unpinned_base_image => "IMG001",
    img002_pip_install_without_lock => "IMG002",
    img003_remote_script_piped_to_shell => "IMG003",
    img004_unpinned_remote_fetch => "IMG004",
}

#[test]
fn every_rule_has_both_fixtures() {
    for rule in image_rules() {
        for suffix in [".Dockerfile", "_ok.Dockerfile"] {
            let name = format!("{}{suffix}", rule.code);
            assert!(fixture(&name).is_file(), "missing fixture {name}");
        }
    }
}

#[test]
fn every_rule_is_documented() {
    for rule in image_rules() {
        let doc = rule.explanation();
        let mut at = 0;
        for section in everybyte_core::rule::DOC_SECTIONS {
            let found = doc[at..].find(section).map(|i| i + at);
            let Some(i) = found else {
                panic!("{}: missing or misplaced {section}", rule.code)
            };
            at = i;
        }
        assert!(
            doc.contains("```"),
            "{}: the example needs a code block",
            rule.code
        );
        assert!(!rule.summary.ends_with('.'), "{}", rule.code);
        assert!(rule.code.starts_with("IMG"), "{}", rule.code);
    }
}

#[test]
fn messages_are_one_line_without_a_trailing_period() {
    for name in ["IMG001", "IMG002", "IMG003", "IMG004"] {
        for f in run(&format!("{name}.Dockerfile")) {
            assert!(
                !f.message.contains('\n') && !f.message.ends_with('.'),
                "{}",
                f.message
            );
            assert!(f.help.is_some(), "{} has no help", f.message);
        }
    }
}

/// The example project's Dockerfile: two floating bases, a script piped into bash, a clone
/// without a commit, and two `pip install -r` without hashes.
#[test]
fn wreckage() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/wreckage/Dockerfile");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let findings = check_dockerfile("examples/wreckage/Dockerfile", &text);
    let got: Vec<(u64, u64, &str)> = findings
        .iter()
        .map(|f| {
            (
                f.location.line.unwrap_or(0),
                f.location.column.unwrap_or(0),
                f.code.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (4, 6, "IMG001"),
            (12, 13, "IMG003"),
            (16, 15, "IMG004"),
            (24, 17, "IMG002"),
            (30, 6, "IMG001"),
            (37, 17, "IMG002"),
        ],
        "{}",
        everybyte_test_support::render(&findings)
    );
    assert!(
        findings[0]
            .message
            .starts_with("pytorch/pytorch:latest floats")
    );
    assert!(
        findings[1]
            .message
            .contains("https://packagecloud.io/install/repositories/github/git-lfs/script.deb.sh")
    );
    assert!(
        findings[2]
            .message
            .contains("https://github.com/NVIDIA/apex")
    );
    assert!(findings[3].message.contains("not verified by hash"));
    assert!(
        findings[4]
            .message
            .starts_with("python:3.10-slim is pinned by tag only")
    );
    assert!(
        findings
            .iter()
            .all(|f| f.location.path == "examples/wreckage/Dockerfile")
    );
    everybyte_test_support::insta::assert_snapshot!(
        "wreckage",
        everybyte_test_support::render(&findings)
    );
}
