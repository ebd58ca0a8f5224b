//! Every data rule has a `fires/` folder that triggers it and an `ok/` folder that triggers
//! no rule at all (written by resources/fixtures/make_fixtures.py): one generated test each.

use std::path::PathBuf;

use everybyte_core::{Finding, Report};
use everybyte_data::scan::{ScanOptions, scan};

fn dir(rule: &str, kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("resources/fixtures")
        .join(rule)
        .join(kind)
}

/// The findings of a scan of one fixture folder (`DATA001/fires`), in report order: the scan's
/// threads finish in any order.
fn run_fixture(name: &str) -> Vec<Finding> {
    let d = everybyte_test_support::fixture(env!("CARGO_MANIFEST_DIR"), name);
    let mut report = Report {
        findings: scan(std::slice::from_ref(&d), &d, &ScanOptions::default()).findings,
        ..Report::default()
    };
    report.sort();
    report.findings
}

fn findings(rule: &str, kind: &str) -> Vec<(String, String)> {
    run_fixture(&format!("{rule}/{kind}"))
        .into_iter()
        .map(|f| (f.code, format!("{}: {}", f.location, f.message)))
        .collect()
}

everybyte_test_support::rule_fixtures! {
    run = run_fixture;
    fires = "/fires", ok = "/ok";
    data001_empty_file => "DATA001",
    data002_extension_mismatch => "DATA002",
    data003_corrupt_image => "DATA003",
    data004_image_too_large => "DATA004",
    data005_unusual_color_mode => "DATA005",
    data006_nonfinite_cells => "DATA006",
    data007_missing_cells => "DATA007",
    data008_unparsable_cells => "DATA008",
    data009_ragged_rows => "DATA009",
    data010_text_encoding => "DATA010",
    data011_corrupt_array => "DATA011",
    data012_nonfinite_array => "DATA012",
    data013_duplicate_files => "DATA013",
    data014_corrupt_container => "DATA014",
    data015_missing_field => "DATA015",
    data016_duplicate_sample_key => "DATA016",
    data017_statistics_mismatch => "DATA017",
    data018_schema_drift => "DATA018",
    data019_saved_dataset_mismatch => "DATA019",
}

/// Every rule of the table has a generated test above.
#[test]
fn every_rule_has_its_fixtures() {
    for rule in everybyte_data::rules() {
        for kind in ["fires", "ok"] {
            let d = dir(rule.code, kind);
            assert!(
                d.is_dir(),
                "{}: no fixture folder {}",
                rule.code,
                d.display()
            );
        }
    }
    assert_eq!(
        everybyte_data::rules().count(),
        19,
        "add the new rule's line above"
    );
}

#[test]
fn specific_diagnoses() {
    let has = |rule: &str, needle: &str| {
        let f = findings(rule, "fires");
        assert!(
            f.iter().any(|(c, m)| c == rule && m.contains(needle)),
            "{rule}: no `{needle}` in {f:?}"
        );
    };
    has("DATA003", "truncated.jpg (byte");
    has("DATA003", "before the EOI marker (truncated)");
    has("DATA003", "bad CRC");
    has("DATA003", "no_iend.png");
    has("DATA003", "GIF: no trailer byte");
    has("DATA004", "40000x40000");
    has("DATA005", "1 of 21 images are grayscale");
    has(
        "DATA006",
        "1 NaN (first at line 3), 2 inf (first at line 4)",
    );
    has(
        "DATA007",
        "1 empty (first at line 3), 1 NA-like (first at line 4)",
    );
    has("DATA008", "1 value is not float (first at line 6)");
    has(
        "DATA009",
        "2 rows with a field count other than the header's 3 (first at line 3, 4 fields)",
    );
    has("DATA010", "byte-order mark");
    has("DATA010", "2 CRLF and 1 LF");
    has("DATA011", "(truncated)");
    has("DATA011", "tensor `a`");
    has(
        "DATA012",
        "1 NaN, 0 inf among 4 float32 values (first at flat index 1)",
    );
    has("DATA012", "tensor `w`: 0 NaN, 1 inf among 2 F16 values");
    has("DATA013", "2 files have the same content");
}

#[test]
fn manifest_roundtrip_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(root.join("a.csv"), "x\n1\n").unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/b.bin"), b"abc").unwrap();
    let r = scan(
        &[root.to_path_buf()],
        root,
        &ScanOptions {
            hash: true,
            ..ScanOptions::default()
        },
    );
    let m = everybyte_data::manifest::Manifest {
        version: 1,
        root: root.display().to_string(),
        summary: everybyte_data::manifest::ManifestSummary::default(),
        files: r.files,
    };
    assert!(everybyte_data::manifest::verify(&m, root).is_empty());
    std::fs::write(root.join("sub/b.bin"), b"abd").unwrap();
    std::fs::remove_file(root.join("a.csv")).unwrap();
    std::fs::write(root.join("new.txt"), b"n").unwrap();
    let d = everybyte_data::manifest::verify(&m, root);
    let kinds: Vec<(&str, &str)> = d.iter().map(|x| (x.path.as_str(), x.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("a.csv", "missing"),
            ("new.txt", "new"),
            ("sub/b.bin", "changed")
        ]
    );
}

#[test]
fn shards_partition_the_files() {
    let d = dir("DATA003", "fires");
    let (all, errors) = everybyte_data::scan::list_files(std::slice::from_ref(&d), &d, None);
    assert!(errors.is_empty());
    let mut union = Vec::new();
    for k in 0..3 {
        union
            .extend(everybyte_data::scan::list_files(std::slice::from_ref(&d), &d, Some((k, 3))).0);
    }
    union.sort();
    assert_eq!(union, all);
}
