//! The crate's part of `everybyte audit` over a small project: GPU logs (their alerts and
//! charts, IO001 for one that cannot be read), allocator snapshots (a segment map each), and the
//! largest model the project holds.

use everybyte_core::{Audit, Config, Report};
use everybyte_test_support::{Dir, fixture, render};

fn project(dir: &Dir) -> everybyte_core::Project {
    everybyte_core::discover::discover(dir.path(), &[]).expect("the project walks")
}

fn audit(dir: &Dir) -> Report {
    let project = project(dir);
    let config = Config::default();
    let selection = config.selection(&[], &[]);
    let mut report = Report::default();
    everybyte_mem::audit(
        &Audit {
            project: &project,
            config: &config,
            selection: &selection,
        },
        &mut report,
    )
    .expect("the audit runs");
    report
}

fn read(name: &str) -> Vec<u8> {
    let p = fixture(env!("CARGO_MANIFEST_DIR"), name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn gpu_logs_give_their_alerts_and_charts() {
    let dir = Dir::new();
    dir.create("metrics/gpu.csv", read("gpu/MEM001.csv"));
    dir.create("metrics/gpu-notes.csv", "hello,world\n1,2\n");
    dir.create("metrics/gpu-binary.csv", b"\xff\xfe\x00garbage");
    let report = audit(&dir);
    let text = render(&report.findings);
    assert!(
        text.contains("22:1 MEM001 GPU 0 idle (0% utilisation) for 30 s from 10:00:20 to 10:00:49 with 60.00 GiB allocated"),
        "{text}"
    );
    let at: Vec<(&str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.location.path.as_str()))
        .collect();
    assert!(at.contains(&("IO001", "metrics/gpu-binary.csv")), "{at:?}");
    assert!(at.contains(&("MEM001", "metrics/gpu.csv")), "{at:?}");
    assert_eq!(
        at.len(),
        2,
        "the CSV that is not a GPU log is passed over: {at:?}"
    );
    let titles: Vec<&str> = report.figures.iter().map(|f| f.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "metrics/gpu.csv: GPU memory used",
            "metrics/gpu.csv: GPU utilisation"
        ]
    );
}

#[test]
fn allocator_snapshots_give_a_segment_map() {
    let dir = Dir::new();
    dir.create(
        "memory_snapshot.pickle",
        read("snapshots/ctx128_forward.pickle"),
    );
    dir.create("memory_broken.pickle", b"\x80\x04N");
    let report = audit(&dir);
    assert!(report.findings.is_empty(), "{}", render(&report.findings));
    let titles: Vec<&str> = report.figures.iter().map(|f| f.title.as_str()).collect();
    assert_eq!(titles, ["memory_snapshot.pickle: allocator segment map"]);
    assert!(
        report.figures[0].svg.starts_with("<svg"),
        "{}",
        report.figures[0].svg
    );
}

#[test]
fn the_largest_model_is_an_index_total_or_the_largest_file() {
    let dir = Dir::new();
    assert_eq!(everybyte_mem::model::largest_model(&project(&dir)), None);
    dir.create("small.onnx", vec![0u8; 10]);
    dir.create("weights/model.safetensors", vec![0u8; 100]);
    assert_eq!(
        everybyte_mem::model::largest_model(&project(&dir)),
        Some((100, "weights/model.safetensors".to_owned()))
    );
    dir.create(
        "sharded/model.safetensors.index.json",
        r#"{"metadata": {"total_size": 5000}, "weight_map": {}}"#,
    );
    assert_eq!(
        everybyte_mem::model::largest_model(&project(&dir)),
        Some((5000, "sharded/model.safetensors.index.json".to_owned()))
    );
}
