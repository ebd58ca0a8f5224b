use std::path::Path;

use everybyte_core::{Config, Report, Selection};

use super::*;

fn project(files: &[(&str, &[u8])]) -> (tempfile::TempDir, everybyte_core::Project) {
    let tmp = tempfile::tempdir().unwrap();
    for (rel, bytes) in files {
        let p = tmp.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let project = everybyte_core::discover::discover(tmp.path(), &[]).unwrap();
    (tmp, project)
}

fn run(project: &everybyte_core::Project, config: &Config) -> Report {
    let mut report = Report::default();
    let input = Audit {
        project,
        config,
        selection: &Selection::default(),
    };
    audit(&input, &mut report).unwrap();
    report
}

#[test]
fn the_projects_data_files_are_scanned_as_data_scan_scans_them() {
    let bad_crc = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/fixtures/DATA003/fires/bad_crc.png"),
    )
    .unwrap();
    let (tmp, project) = project(&[
        ("data/images/a.jpg", b""),
        ("data/images/b.png", &bad_crc),
        ("data/t.csv", b"a,b\n1,NaN\n"),
        ("train.py", b"print(1)\n"),
    ]);
    let report = run(&project, &Config::default());
    assert!(report.context.is_empty());
    let mut codes: Vec<(&str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.location.path.as_str(), f.code.as_str()))
        .collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        [
            ("data/images/a.jpg", "DATA001"),
            ("data/images/b.png", "DATA003"),
            ("data/t.csv", "DATA006")
        ]
    );
    let direct = crate::scan::scan(
        &[tmp.path().to_path_buf()],
        tmp.path(),
        &ScanOptions::default(),
    );
    assert_eq!(direct.findings.len(), report.findings.len());
}

#[test]
fn a_large_dataset_is_sampled_and_says_so() {
    let files: Vec<(String, Vec<u8>)> = (0..9)
        .map(|i| (format!("data/{i}.csv"), b"a\n1\n".to_vec()))
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let (_tmp, project) = project(&refs);
    let mut config = Config::default();
    config.options.data.audit_max_files = 4;
    let report = run(&project, &config);
    assert_eq!(report.context.len(), 1);
    let c = &report.context[0];
    assert_eq!((c.path.as_str(), c.key.as_str()), (".", "data"));
    assert!(
        c.value.ends_with(
            " of 9 data files scanned (a 1/3 sample; data.audit-max-files = 4); everybyte data scan checks them all"
        ),
        "{}",
        c.value
    );
    // No data file: nothing scanned, nothing said.
    let (_tmp, project) = self::project(&[("train.py", b"x = 1\n")]);
    let report = run(&project, &config);
    assert!(report.context.is_empty() && report.findings.is_empty());
}
