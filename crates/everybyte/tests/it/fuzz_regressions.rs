//! Inputs the fuzz targets (fuzz/fuzz_targets) once crashed on, or minimised inputs of the
//! kind each target explores, replayed through the same functions on every test run: each must
//! give a result or an error, never a panic. Every fuzz target has a replay here and at least
//! one input in fuzz/regressions/TARGET.

use std::collections::BTreeSet;
use std::path::PathBuf;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join("regressions").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (every fuzz target keeps its inputs)",
            dir.display()
        )
    });
    let mut found: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    found.sort();
    found
}

fn text(d: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(d)
}

/// A fuzz target's name and what it runs on one input.
type Replay = (&'static str, fn(&[u8]));

/// What each fuzz target runs, as the target runs it.
#[allow(clippy::too_many_lines)] // one entry per target
fn replays() -> Vec<Replay> {
    vec![
        ("arrays", |d| {
            let _ = everybyte_data::array::npy_header(d, d.len() as u64);
            let _ = everybyte_core::safetensors::parse_header(d, d.len() as u64);
        }),
        ("dockerfile", |d| {
            let _ = everybyte_env::image::check_dockerfile("Dockerfile", &text(d));
        }),
        ("elf", |d| {
            let _ = everybyte_env::elf::parse(d);
            let _ = everybyte_env::ldcache::LdCache::parse(d);
        }),
        ("images", |d| {
            use everybyte_data::image;
            let _ = image::jpeg(d);
            let _ = image::png(d);
            let _ = image::gif(d);
            let _ = image::webp(d);
            let _ = image::bmp(d);
        }),
        ("k8s_yaml", |d| {
            let exp = everybyte_deploy::Expectations {
                headroom: 1.2,
                ..Default::default()
            };
            let t = text(d);
            let _ = everybyte_deploy::lint_manifest("k8s.yaml", &t, &exp);
            let targets = everybyte_deploy::patch::Targets {
                memory_bytes: Some(1 << 30),
                cold_start: Some(60.0),
            };
            if let Ok((edits, _)) = everybyte_deploy::patch::plan(&t, &targets) {
                let _ = everybyte_deploy::patch::apply(&t, &edits, "k8s.yaml");
            }
        }),
        ("kserve_request", |d| {
            if let Some((&split, body)) = d.split_first() {
                let header = (split as usize).min(body.len());
                let body = bytes::Bytes::copy_from_slice(body);
                let _ = everybyte_serve::http::parse_request(&body, Some(header), 1 << 20);
                let _ = everybyte_serve::http::parse_request(&body, None, 1 << 20);
            }
            if let Ok(req) =
                <everybyte_serve::proto::ModelInferRequest as prost::Message>::decode(d)
            {
                let _ = everybyte_serve::grpc::decode(req, 1 << 20);
            }
        }),
        ("lock_files", |d| {
            let dir = tempfile::tempdir().unwrap();
            for name in [
                "uv.lock",
                "poetry.lock",
                "pylock.toml",
                "requirements.txt",
                "Pipfile.lock",
            ] {
                let p = dir.path().join(name);
                std::fs::write(&p, d).unwrap();
                let _ = everybyte_env::python::lock::read_lock(&p, None);
                let _ = everybyte_env::python::lock::parse_requirements(&p);
                let _ = everybyte_env::python::lock::check_requirements_file(&p, name);
            }
        }),
        ("nvidia_smi_csv", |d| {
            if let Ok(samples) = everybyte_mem::gpulog::parse(&text(d)) {
                let _ = everybyte_mem::gpulog::analyze(
                    "gpu.csv",
                    &samples,
                    &everybyte_mem::gpulog::Thresholds::default(),
                );
            }
        }),
        ("pickle", |d| {
            let _ = everybyte_mem::pickle::read_pickle(d);
            let _ = everybyte_mem::snapshot::read_snapshot(d);
            let _ = everybyte_repro::torchzip::read_checkpoint(d);
        }),
        ("python_metadata", |d| {
            let t = text(d);
            let _ = everybyte_env::python::dist::parse_headers(&t);
            let _ = everybyte_env::python::dist::parse_record(&t);
            for line in t.lines() {
                let _ = everybyte_env::python::requirement::Requirement::parse(line);
                let _ = everybyte_env::python::version::SpecifierSet::parse(line);
                let _ = everybyte_env::python::marker::Marker::parse(line);
            }
        }),
        ("python_script", |d| {
            let _ = everybyte_repro::lint_python("train.py", &text(d));
        }),
        ("tables", |d| {
            let _ = everybyte_data::table::scan(d, b',');
            let _ = everybyte_data::table::scan(d, b'\t');
            let _ = everybyte_data::table::scan_jsonl(d);
        }),
        ("triage_log", |d| {
            let opts = everybyte_core::config::TriageOptions::default();
            let _ = everybyte_triage::triage_reader(d, "fuzz.log", &opts);
        }),
    ]
}

#[test]
fn every_fuzz_target_has_a_replay_and_inputs() {
    let targets: BTreeSet<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    assert!(!targets.is_empty(), "no fuzz targets found");
    let replayed: BTreeSet<String> = replays().iter().map(|(t, _)| (*t).to_owned()).collect();
    assert_eq!(
        targets, replayed,
        "every fuzz target needs a replay here, and every replay a target"
    );
    for t in &targets {
        assert!(!inputs(t).is_empty(), "fuzz/regressions/{t} holds no input");
    }
}

#[test]
fn no_regression_input_panics() {
    for (target, run) in replays() {
        for (name, data) in inputs(target) {
            assert!(
                std::panic::catch_unwind(|| run(&data)).is_ok(),
                "{target}/{name} panics again"
            );
        }
    }
}
