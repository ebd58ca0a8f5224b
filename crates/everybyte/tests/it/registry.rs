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

/// Every `declare_rule!` in the sources: (file, code).
fn declared_rules() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap().flatten() {
        let src = krate.path().join("src");
        if src.is_dir() {
            walk(&src, &mut files);
        }
    }
    let mut found = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        // Each invocation's body names its code once: `code: "LOG001"`.
        for (at, _) in text.match_indices("declare_rule! {") {
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            if text[line_start..at].trim_start().starts_with("//") {
                continue; // the macro's own documentation
            }
            let body = &text[at..];
            let code = body
                .find("code: \"")
                .map(|i| &body[i + 7..])
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("{}: a declare_rule! without a code", f.display()));
            found.push((f.display().to_string(), code.to_owned()));
        }
    }
    found
}

#[test]
fn every_declared_rule_is_registered() {
    let reg = registry();
    let declared = declared_rules();
    assert!(
        declared.len() > 50,
        "found only {} declare_rule!",
        declared.len()
    );
    for (file, code) in &declared {
        assert!(
            reg.get(code).is_some(),
            "{code} is declared in {file} but not in any crate's rule table"
        );
    }
    assert_eq!(
        declared.len(),
        reg.rules().len(),
        "the registry has rules that no declare_rule! declares, or a code is declared twice"
    );
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
