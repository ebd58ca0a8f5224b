//! Every rule has a manifest that fires it and a clean one that fires nothing.

use std::fmt::Write as _;
use std::path::PathBuf;

use everybyte_core::Finding;
use everybyte_deploy::{Expectations, RULES, lint_manifest};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("resources/fixtures")
        .join(name)
}

fn exp() -> Expectations {
    Expectations {
        headroom: 1.2,
        ..Expectations::default()
    }
}

fn run(name: &str, exp: &Expectations) -> Vec<Finding> {
    let text = std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    lint_manifest(name, &text, exp).unwrap()
}

fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let _ = writeln!(
            s,
            "{}: {} {}",
            f.location.line.unwrap_or(0),
            f.code,
            f.message
        );
        if let Some(h) = &f.help {
            let _ = writeln!(s, "    help: {h}");
        }
    }
    s
}

macro_rules! rule_fixtures {
    ($($name:ident => $code:literal),* $(,)?) => {$(
        #[test]
        fn $name() {
            let fires = run(concat!($code, ".yaml"), &exp());
            assert!(fires.iter().any(|f| f.code == $code), "{} did not fire:\n{}", $code, render(&fires));
            insta::assert_snapshot!(concat!($code, "_fires"), render(&fires));
            let clean = run(concat!($code, "_ok.yaml"), &exp());
            assert!(clean.is_empty(), "{}_ok.yaml must be clean:\n{}", $code, render(&clean));
        }
    )*};
}

rule_fixtures! {
    k8s001_memory_limit => "K8S001",
    k8s002_gpu_not_guaranteed => "K8S002",
    k8s003_liveness_before_ready => "K8S003",
    k8s004_readiness_missing => "K8S004",
    k8s005_image_not_pinned => "K8S005",
    k8s006_pull_always => "K8S006",
    k8s007_gpu_scheduling => "K8S007",
    k8s008_shm_missing => "K8S008",
    k8s009_model_copies => "K8S009",
    k8s010_cpu_limit_throttles => "K8S010",
    k8s011_probe_timeout => "K8S011",
}

#[test]
fn every_rule_has_both_fixtures_and_a_doc() {
    for rule in RULES {
        for suffix in [".yaml", "_ok.yaml"] {
            assert!(
                fixture(&format!("{}{suffix}", rule.code)).is_file(),
                "{} {suffix}",
                rule.code
            );
        }
        for section in [
            "## What it checks",
            "## Why it matters",
            "## Example",
            "## Fix",
        ] {
            assert!(rule.doc.contains(section), "{}: no {section}", rule.code);
        }
    }
}

#[test]
fn measured_numbers_tighten_the_rules() {
    // The clean server has 24Gi and a startup probe; a profile of 22 GiB peak needs 26.4.
    let e = Expectations {
        peak_bytes: Some((22 << 30, "profile.json".into())),
        cold_start: Some(45.0),
        headroom: 1.2,
        model_bytes: None,
        p99_seconds: None,
    };
    let f = run("K8S001_ok.yaml", &e);
    let mem: Vec<_> = f.iter().filter(|f| f.code == "K8S001").collect();
    assert!(!mem.is_empty(), "{}", render(&f));
    assert!(mem[0].message.contains("memory limit 24Gi is below 22.00 GiB × 1.2 = 26.40 GiB (the peak measured in profile.json)"), "{}", mem[0].message);
    // A measured cold start longer than the liveness window.
    let f = run(
        "K8S003.yaml",
        &Expectations {
            cold_start: Some(62.0),
            ..exp()
        },
    );
    let l: Vec<_> = f.iter().filter(|f| f.code == "K8S003").collect();
    assert!(
        l[0].message.contains("40 s after start") && l[0].message.contains("cold start is 62.0 s"),
        "{}",
        l[0].message
    );
    assert!(
        l[0].help
            .as_deref()
            .unwrap()
            .contains("failureThreshold: 10"),
        "{:?}",
        l[0].help
    );
    // And a model of 15.5 GiB with 4 workers against 16Gi.
    let e = Expectations {
        model_bytes: Some((16_642_998_272, "model.safetensors.index.json".into())),
        ..exp()
    };
    let text = "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: s\n        ports: [{containerPort: 1}]\n        env: [{name: WORKERS, value: \"4\"}]\n        resources: {limits: {nvidia.com/gpu: 1, memory: 16Gi}}\n";
    let f = lint_manifest("d.yaml", text, &e).unwrap();
    let m = f.iter().find(|f| f.code == "K8S001").unwrap();
    assert!(m.message.contains("4 copies of the model"), "{}", m.message);
}

#[test]
fn broken_yaml_is_an_error() {
    assert!(lint_manifest("x.yaml", "kind: Pod\nspec: [\n", &exp()).is_err());
    assert!(lint_manifest("x.yaml", "", &exp()).unwrap().is_empty());
}

#[test]
fn a_measured_p99_holds_every_probe() {
    let e = Expectations {
        p99_seconds: Some((1.8, "bench.json".into())),
        ..exp()
    };
    let f = run("K8S011_ok.yaml", &e);
    let p: Vec<_> = f.iter().filter(|f| f.code == "K8S011").collect();
    // The clean server's readiness keeps the default 1 s; its liveness has 5 s.
    assert_eq!(p.len(), 1, "{}", render(&f));
    assert!(p[0].message.contains("readiness probe of server times out after 1 s, but an inference takes 1.80 s at p99 (bench.json)"), "{}", p[0].message);
}
