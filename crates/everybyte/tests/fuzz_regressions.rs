//! Inputs the fuzz targets (fuzz/fuzz_targets) once crashed on, replayed through the same
//! functions on every test run: each must now give a result or an error, never a panic.

use std::path::PathBuf;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn dockerfile() {
    let found = inputs("dockerfile");
    assert!(!found.is_empty(), "the regression inputs are missing");
    for (name, data) in found {
        let text = String::from_utf8_lossy(&data);
        let r = std::panic::catch_unwind(|| {
            everybyte_env::image::check_dockerfile("Dockerfile", &text)
        });
        assert!(r.is_ok(), "{name} panics again");
    }
}

#[test]
fn every_other_target() {
    for (target, run) in [
        (
            "triage_log",
            (|d: &[u8]| {
                let _ = everybyte_triage::triage_reader(
                    d,
                    "f.log",
                    &everybyte_core::config::TriageOptions::default(),
                );
            }) as fn(&[u8]),
        ),
        ("elf", |d| {
            let _ = everybyte_env::elf::parse(d);
        }),
        ("k8s_yaml", |d| {
            let exp = everybyte_deploy::Expectations {
                headroom: 1.2,
                ..Default::default()
            };
            let _ = everybyte_deploy::lint_manifest("k.yaml", &String::from_utf8_lossy(d), &exp);
        }),
        ("pickle", |d| {
            let _ = everybyte_mem::pickle::read_pickle(d);
            let _ = everybyte_repro::torchzip::read_checkpoint(d);
        }),
        ("python_script", |d| {
            let _ = everybyte_repro::lint_python("t.py", &String::from_utf8_lossy(d));
        }),
        ("tables", |d| {
            let _ = everybyte_data::table::scan(d, b',');
        }),
    ] {
        for (name, data) in inputs(target) {
            assert!(
                std::panic::catch_unwind(|| run(&data)).is_ok(),
                "{target}/{name} panics again"
            );
        }
    }
}
