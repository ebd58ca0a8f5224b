use super::*;
use crate::rules::{duplicate_files::DUPLICATE_FILES, empty_file::EMPTY_FILE};
use crate::scan::Summary;
use everybyte_core::{Finding, Location};

fn record(path: &str, size: u64, blake3: &str) -> FileRecord {
    FileRecord {
        path: path.to_owned(),
        size,
        mtime: 7,
        blake3: blake3.to_owned(),
    }
}

fn scanned() -> ScanReport {
    let mut kinds = BTreeMap::new();
    kinds.insert("JPEG", 2);
    kinds.insert("CSV", 1);
    ScanReport {
        findings: vec![
            Finding::new(&EMPTY_FILE, Location::file("a.jpg"), "empty file (0 bytes)"),
            Finding::new(&DUPLICATE_FILES, Location::file("b.jpg"), "2 files"),
            Finding::new(&EMPTY_FILE, Location::file("c.csv"), "empty file (0 bytes)"),
        ],
        files: vec![record("a.jpg", 0, "x"), record("b.jpg", 3, "y")],
        summary: Summary {
            files: 3,
            bytes: 1234,
            kinds,
            seconds: 0.5,
        },
    }
}

#[test]
fn a_manifest_from_a_scan_keeps_its_records_and_counts() {
    let m = Manifest::from_scan(&scanned(), Path::new("data/images"));
    assert_eq!(m.version, 1);
    assert_eq!(m.root, "data/images");
    assert_eq!(m.files, scanned().files);
    assert_eq!((m.summary.files, m.summary.bytes), (3, 1234));
    let kinds: Vec<(&str, u64)> = m
        .summary
        .kinds
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(kinds, [("CSV", 1), ("JPEG", 2)]);
    let rules: Vec<(&str, u64)> = m
        .summary
        .findings_by_rule
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(rules, [("DATA001", 2), ("DATA013", 1)]);
}

#[test]
fn differences_are_written_one_a_line_then_counted() {
    let m = Manifest::from_scan(&scanned(), Path::new("."));
    let diffs = [
        Difference {
            path: "a.jpg".into(),
            kind: "missing",
            detail: "0 bytes in the manifest, absent on disk".into(),
        },
        Difference {
            path: "new.txt".into(),
            kind: "new",
            detail: "1 bytes, not in the manifest".into(),
        },
    ];
    let mut out = Vec::new();
    write_differences(&mut out, &m, &diffs).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "missing  a.jpg  (0 bytes in the manifest, absent on disk)\n\
         new      new.txt  (1 bytes, not in the manifest)\n\
         2 files in the manifest, 2 differences\n"
    );
    let mut out = Vec::new();
    write_differences(&mut out, &m, &[]).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "2 files in the manifest, 0 differences\n"
    );
}

#[test]
fn reading_a_manifest_names_the_file_and_the_fault() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("m.json");
    let m = Manifest::from_scan(&scanned(), Path::new("root"));
    std::fs::write(&p, serde_json::to_string(&m).unwrap()).unwrap();
    assert_eq!(Manifest::read(&p).unwrap(), m);
    std::fs::write(&p, "{\"version\": 1}").unwrap();
    let e = Manifest::read(&p).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: not an everybyte manifest", p.display())
    );
    assert!(std::error::Error::source(&e).is_some());
    let gone = tmp.path().join("gone.json");
    let e = Manifest::read(&gone).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: cannot read", gone.display()));
    assert!(matches!(e, DataError::Read { .. }));
}

#[test]
fn merging_adds_up_and_refuses_a_conflict() {
    let a = Manifest::from_scan(&scanned(), Path::new("r"));
    let mut b = a.clone();
    b.files = vec![record("z.csv", 5, "z")];
    let merged = merge(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(merged.files.len(), 3);
    assert_eq!(merged.summary.files, 6);
    // Duplicates are counted over the union's hashes, not added up: here no two files match.
    assert_eq!(
        merged.describe_merge(2),
        "merged 2 manifests: 3 files, 8 bytes; findings: DATA001 ×4"
    );
    // A copy in another shard makes a group neither shard saw alone.
    b.files.push(record("copy-of-b.jpg", 3, "y"));
    let merged = merge(&[a.clone(), b]).unwrap();
    assert_eq!(merged.summary.findings_by_rule["DATA013"], 1);
    let mut c = a.clone();
    c.files = vec![record("b.jpg", 3, "other")];
    assert_eq!(
        merge(&[a, c]).unwrap_err().to_string(),
        "b.jpg appears in two manifests with different content"
    );
    let empty = merge(&[]).unwrap();
    assert_eq!(
        empty.describe_merge(0),
        "merged 0 manifests: 0 files, 0 bytes; findings: none"
    );
}
