//! The rule registry: codes unique and well-formed, every doc complete.

use everybyte::registry;
use everybyte_core::rule::DOC_SECTIONS;

#[test]
fn codes_are_unique_and_well_formed() {
    let reg = registry();
    let mut seen = std::collections::HashSet::new();
    for r in reg.rules() {
        assert!(seen.insert(r.code), "duplicate code {}", r.code);
        let (prefix, num) = r.code.split_at(r.prefix().len());
        assert!(
            [
                "IO", "LOG", "ENV", "IMG", "DATA", "MEM", "SRV", "REPRO", "K8S"
            ]
            .contains(&prefix),
            "{}: unknown area prefix",
            r.code
        );
        assert!(
            num.len() == 3 && num.bytes().all(|b| b.is_ascii_digit()),
            "{}",
            r.code
        );
        assert!(
            r.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{}: name {}",
            r.code,
            r.name
        );
        assert!(
            !r.summary.ends_with('.'),
            "{}: summary ends with a period",
            r.code
        );
    }
    let names: std::collections::HashSet<_> = reg.rules().iter().map(|r| r.name).collect();
    assert_eq!(names.len(), reg.rules().len(), "duplicate rule names");
}

#[test]
fn every_doc_has_the_four_sections_in_order() {
    for r in registry().rules() {
        let doc = r.explanation();
        let mut last = 0;
        for s in DOC_SECTIONS {
            let at = doc
                .find(s)
                .unwrap_or_else(|| panic!("{} lacks `{s}`", r.code));
            assert!(at >= last, "{}: `{s}` out of order", r.code);
            last = at;
        }
        let example = &doc[doc.find("## Example").unwrap()..doc.find("## Fix").unwrap()];
        assert!(
            example.contains("```"),
            "{}: the example has no code block",
            r.code
        );
        assert!(
            doc.starts_with("## What it checks"),
            "{}: leading space not stripped",
            r.code
        );
    }
}

#[test]
fn every_crate_rule_is_registered() {
    let reg = registry();
    for group in [
        everybyte_core::rules::RULES,
        everybyte_triage::RULES,
        everybyte_env::RULES,
        everybyte_env::python::RULES,
        everybyte_env::image::RULES,
        everybyte_data::RULES,
        everybyte_mem::RULES,
        everybyte_repro::RULES,
        everybyte_deploy::RULES,
    ] {
        for r in group {
            assert!(
                reg.get(r.code).is_some(),
                "{} is not in the registry",
                r.code
            );
        }
    }
}

#[test]
fn every_code_the_example_audit_reports_is_registered() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_everybyte"))
        .current_dir(&root)
        .args(["audit", "examples/wreckage", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reg = registry();
    for f in v["findings"].as_array().unwrap() {
        let code = f["code"].as_str().unwrap();
        assert!(
            reg.get(code).is_some(),
            "{code} is reported but not registered"
        );
    }
}
