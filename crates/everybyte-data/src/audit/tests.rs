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

#[test]
fn documentation_pictures_are_not_a_dataset() {
    let bad_crc = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/fixtures/DATA003/fires/bad_crc.png"),
    )
    .unwrap();
    let (_tmp, project) = project(&[
        ("README.md", b"![demo](assets/demo.png)\n<img src=\"./docs/arch.png\">\n![x](https://github.com/o/r/raw/main/paper/fig1.png?raw=true)\n"),
        ("assets/demo.png", &bad_crc),
        ("assets/more/other.png", &bad_crc),
        ("docs/arch.png", &bad_crc),
        ("paper/fig1.png", &bad_crc),
        ("examples/README.md", b"see the pictures\n"),
        ("examples/images/sample.png", &bad_crc),
        // Not beside a README, and linked by no document: data.
        ("data/images/cat.png", &bad_crc),
        ("data/train/assets/x.png", &bad_crc),
    ]);
    let report = run(&project, &Config::default());
    let paths: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.code == "DATA003")
        .map(|f| f.location.path.as_str())
        .collect();
    assert_eq!(paths, ["data/images/cat.png", "data/train/assets/x.png"]);
}

#[test]
fn links_resolve_from_the_documents_folder() {
    assert_eq!(
        resolve("docs", "../assets/a.png").as_deref(),
        Some("assets/a.png")
    );
    assert_eq!(
        resolve("docs", "/assets/a.png").as_deref(),
        Some("assets/a.png")
    );
    assert_eq!(resolve("", "./a.png#x").as_deref(), Some("a.png"));
    assert_eq!(resolve("", "../a.png"), None);
    let links = image_links(b"<img src='x/Y.PNG' width=3> see fig.png.\n[a](b.jpgx) c.jpeg");
    assert_eq!(links, ["x/Y.PNG", "fig.png", "c.jpeg"]);
}
