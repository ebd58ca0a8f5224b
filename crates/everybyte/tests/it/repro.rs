//! `everybyte repro run` on small real Python programs (numpy and safetensors from the test
//! environment), and `repro lint` through the binary.

use std::path::Path;

use crate::util::{Dir, stderr, stdout};

fn program(dir: &Dir, name: &str) {
    let src = crate::util::workspace_root().join("crates/everybyte/tests/data/repro");
    for f in [name, "torch_format.py"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
}

fn repro_run(
    dir: &Dir,
    script: &str,
    extra: &[&str],
    outputs: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let python = crate::util::test_python();
    let mut c = dir.command();
    c.args(["repro", "run", "--format", "json", "--store"])
        .arg(dir.path().join("store"))
        .args(extra)
        .arg("--outputs")
        .args(outputs)
        .arg("--")
        .arg(&python)
        .arg(script);
    let out = c.output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_default();
    (
        out.status.code(),
        v,
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

fn difference<'a>(v: &'a serde_json::Value, output: &str) -> &'a serde_json::Value {
    &v["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["output"] == output)
        .unwrap_or_else(|| panic!("no output {output} in {v}"))["difference"]
}

#[test]
fn a_seeded_program_reproduces() {
    let dir = Dir::new();
    program(&dir, "det.py");
    let (code, v, all) = repro_run(&dir, "det.py", &["-n", "3"], &["out/*"]);
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(v["reproducible"], true, "{v}");
    assert_eq!(v["runs"].as_array().unwrap().len(), 3);
    assert!(difference(&v, "out/w.npy").is_null());
    assert!(difference(&v, "out/metrics.json").is_null());
    // Each run keeps its outputs, its logs and the environment it ran in.
    let run2 = dir.path().join("store/run-2");
    assert!(run2.join("outputs/out/w.npy").is_file());
    assert!(run2.join("stderr.log").is_file());
    assert!(run2.join("env.json").is_file() || run2.join("env-unavailable.txt").is_file());
}

#[test]
fn the_first_differing_tensor_is_named() {
    let dir = Dir::new();
    program(&dir, "nondet.py");
    let (code, v, all) = repro_run(&dir, "nondet.py", &[], &["out/*.safetensors"]);
    assert_eq!(code, Some(1), "{all}");
    let d = difference(&v, "out/model.safetensors");
    assert_eq!(d["kind"], "tensor", "{v}");
    assert_eq!(d["tensor"], "head.bias", "{v}");
    assert_eq!(d["elements"], 6);
    assert!(d["differing"].as_u64().unwrap() >= 5, "{d}");
    assert!(d["max_abs"].as_f64().unwrap() > 0.0);
    // The text report says the same.
    let out = dir
        .command()
        .args(["repro", "run", "--outputs", "out/*.safetensors", "--store"])
        .arg(dir.path().join("store2"))
        .arg("--")
        .arg(crate::util::test_python())
        .arg("nondet.py")
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("first differing tensor head.bias [2, 3]"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("NOT reproducible"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_unseeded_spawned_worker_is_caught_and_the_seeded_parent_is_not() {
    let dir = Dir::new();
    program(&dir, "worker.py");
    let (code, v, all) = repro_run(&dir, "worker.py", &[], &["out/*.npy"]);
    assert_eq!(code, Some(1), "{all}");
    assert!(difference(&v, "out/parent.npy").is_null(), "{v}");
    let d = difference(&v, "out/children.npy");
    assert_eq!(d["kind"], "tensor", "{v}");
    assert_eq!(d["tensor"], "(array)");
}

#[test]
fn a_torch_checkpoint_is_compared_by_tensor_and_never_executed() {
    let dir = Dir::new();
    program(&dir, "ckpt.py");
    let (code, v, all) = repro_run(&dir, "ckpt.py", &[], &["out/model.pt"]);
    assert_eq!(code, Some(1), "{all}");
    let d = difference(&v, "out/model.pt");
    assert_eq!(d["tensor"], "model.layer.bias", "{v}");
    assert_eq!(d["differing"], 1, "{v}");
    assert_eq!(d["first_index"], 0, "{v}");
    // The os.system entry was read as data: nothing ran.
    assert!(!dir.path().join("PWNED").exists());
    assert!(!Path::new("PWNED").exists());
}

#[test]
fn metrics_compare_with_a_tolerance() {
    let dir = Dir::new();
    program(&dir, "metrics_noise.py");
    let (code, v, all) = repro_run(&dir, "metrics_noise.py", &[], &["metrics.csv"]);
    assert_eq!(code, Some(1), "{all}");
    let d = difference(&v, "metrics.csv");
    assert_eq!(d["at"], "row 3, loss", "{v}");
    let (code, v, all) = repro_run(
        &dir,
        "metrics_noise.py",
        &["--atol", "1e-6"],
        &["metrics.csv"],
    );
    assert_eq!(code, Some(0), "{all}\n{v}");
}

#[test]
fn usage_errors() {
    let dir = Dir::new();
    for args in [
        &["repro", "run", "-n", "1", "--outputs", "x", "--", "true"][..],
        &["repro", "run", "--outputs", "[", "--", "true"][..],
        &[
            "repro",
            "run",
            "--rtol",
            "-1",
            "--outputs",
            "x",
            "--",
            "true",
        ][..],
        &[
            "repro",
            "run",
            "--outputs",
            "x",
            "--",
            "/nonexistent/program",
        ][..],
    ] {
        let out = dir.command().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    // Nothing written: nothing to compare, not reproducible.
    let out = dir
        .command()
        .args(["repro", "run", "--outputs", "nothing/*", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("no output matched --outputs"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn lint_reports_the_example_training_script() {
    let dir = Dir::new();
    let out = dir
        .command()
        .args(["repro", "lint", "-f", "json"])
        .arg(crate::util::workspace_root().join("examples/wreckage/train.py"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for c in [
        "REPRO001", "REPRO002", "REPRO004", "REPRO005", "REPRO007", "REPRO009",
    ] {
        assert!(codes.contains(&c), "{c} missing from {codes:?}");
    }
    // A syntax error is not a crash.
    dir.create("broken.py", "def f(:\n    torch.manual_seed(\n");
    let out = dir
        .command()
        .args(["repro", "lint", "broken.py"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn audit_names_the_pinned_torch_for_the_cublas_requirement() {
    let dir = Dir::new();
    let src =
        crate::util::workspace_root().join("crates/everybyte-repro/resources/fixtures/REPRO003.py");
    std::fs::copy(src, dir.path().join("train.py")).unwrap();
    dir.create(
        "requirements.txt",
        "numpy==1.26.4\ntorch==2.3.1 ; python_version >= \"3.9\"\n",
    );
    let out = dir
        .command()
        .args(["audit", ".", "-f", "concise", "--select", "REPRO003"])
        .output()
        .unwrap();
    let so = stdout(&out);
    assert!(
        so.contains("PyTorch before 2.10 raises")
            && so.contains("torch==2.3.1")
            && so.contains("at requirements.txt:2)"),
        "{so}"
    );
    // A pin of a release that dropped the requirement: nothing to say.
    dir.create(
        "requirements.txt",
        "torch==2.10.0
",
    );
    let out = dir
        .command()
        .args(["audit", ".", "-f", "concise", "--select", "REPRO003"])
        .output()
        .unwrap();
    assert!(!stdout(&out).contains("REPRO003"), "{}", stdout(&out));
}
