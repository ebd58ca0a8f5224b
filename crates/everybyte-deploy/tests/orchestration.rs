//! What `everybyte deploy`, `everybyte profile` and `everybyte audit` run through this crate:
//! the measurements gathered, the paths linted, a manifest patched, the audit's manifests.

use std::path::Path;

use everybyte_core::{Audit, Config, Report};
use everybyte_deploy::profile::{Record, write_record};
use everybyte_deploy::{Expectations, Measurements, lint_paths, patch};
use everybyte_test_support::Dir;

const SERVER: &str = "\
kind: Deployment
metadata: {name: server}
spec:
  template:
    spec:
      containers:
        - name: server
          image: server:1.0@sha256:abc
          resources:
            limits: {nvidia.com/gpu: 1, memory: 1Ki}
";

fn record(peak: u64, cold_start: Option<f64>) -> Record {
    Record {
        command: vec!["python".into(), "serve.py".into()],
        wall_seconds: 70.0,
        exit_code: None,
        signal: Some(15),
        user_cpu_seconds: 1.0,
        system_cpu_seconds: 1.0,
        profiler_cpu_seconds: 0.0,
        peak_rss_bytes: peak,
        peak_pss_bytes: peak,
        peak_gpu_bytes: None,
        peak_at_seconds: 30.0,
        steady_bytes: peak / 2,
        cold_start_seconds: cold_start,
        sample_interval_seconds: 0.1,
        samples: Vec::new(),
        syscalls: None,
        syscall_counter: None,
        seconds: Vec::new(),
        verdict: None,
        attached: None,
    }
}

fn codes(findings: &[everybyte_core::Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

fn audit(dir: &Path, headroom: f64) -> Report {
    let project = everybyte_core::discover::discover(dir, &[]).unwrap();
    let mut config = Config::default();
    config.options.deploy.headroom = headroom;
    let selection = config.selection(&[], &[]);
    let mut report = Report::default();
    everybyte_deploy::audit(
        &Audit {
            project: &project,
            config: &config,
            selection: &selection,
        },
        &mut report,
    )
    .unwrap();
    report
}

#[test]
fn the_audit_holds_manifests_to_the_largest_model_times_the_configured_headroom() {
    let dir = Dir::new();
    dir.create("model.safetensors", vec![0u8; 1000]);
    dir.create("small.onnx", vec![0u8; 10]);
    dir.create("k8s/deployment.yaml", SERVER);
    dir.create("k8s/broken.yaml", "kind: Pod\nspec: [\n");
    let report = audit(dir.path(), 1.2);
    let limit: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "K8S001")
        .collect();
    assert_eq!(limit.len(), 1, "{:?}", report.findings);
    assert_eq!(limit[0].location.path, "k8s/deployment.yaml");
    assert!(
        limit[0].message.starts_with(
            "memory limit 1Ki of container server of Deployment/server is below 650.00 MiB × 1.2 = 780.00 MiB (the host memory of a process loading the model in model.safetensors: the Python runtime and one mapped copy"
        ),
        "{}",
        limit[0].message
    );
    let broken: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.location.path == "k8s/broken.yaml")
        .collect();
    assert_eq!(codes(&report.findings).first(), Some(&"IO001"));
    assert_eq!(broken.len(), 1);
    assert!(
        broken[0]
            .message
            .starts_with("cannot parse the YAML: line ")
    );
    // [deploy] headroom = 1.0 is the factor the limit is then held to.
    let report = audit(dir.path(), 1.0);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code == "K8S001" && f.message.contains("650.00 MiB × 1.0 = 650.00 MiB")),
        "{:?}",
        report.findings
    );
    // No manifest, nothing to say.
    let empty = Dir::new();
    empty.create("model.safetensors", vec![0u8; 1000]);
    assert_eq!(audit(empty.path(), 1.2), Report::default());
}

#[test]
fn lint_paths_reads_files_and_the_manifests_of_folders() {
    let dir = Dir::new();
    dir.create("k8s/deployment.yaml", SERVER);
    dir.create(
        "app.yaml",
        "kind: Pod\nspec:\n  containers:\n  - name: x\n    image: x:latest\n",
    );
    dir.create("values.yaml", "replicas: 2\n");
    dir.create("notes.txt", "kind: Pod\n");
    let exp = Expectations {
        headroom: 1.2,
        ..Expectations::default()
    };
    let root = dir.path().to_owned();
    let linted = lint_paths(std::slice::from_ref(&root), &[], &exp).unwrap();
    let shown = |rel: &str| root.join(rel).display().to_string();
    assert_eq!(
        linted.inputs,
        vec![shown("app.yaml"), shown("k8s/deployment.yaml")]
    );
    assert!(
        linted
            .findings
            .iter()
            .any(|f| f.location.path == shown("app.yaml") && f.code == "K8S005")
    );
    // A file is linted as named.
    let file = root.join("values.yaml");
    let linted = lint_paths(std::slice::from_ref(&file), &[], &exp).unwrap();
    assert_eq!(linted.inputs, vec![file.display().to_string()]);
    assert!(linted.findings.is_empty());
    let missing = root.join("nothing");
    let err = lint_paths(std::slice::from_ref(&missing), &[], &exp).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: no such file or directory", missing.display())
    );
}

#[test]
fn measurements_become_expectations_or_say_what_is_wrong() {
    let dir = Dir::new();
    let profile = dir.path().join("profile.json");
    write_record(&profile, &record(22 << 30, Some(45.0))).unwrap();
    let bench = dir.create("bench.json", r#"{"latency": {"p99_ms": 1800}}"#);
    let model = dir.create("model.onnx", vec![0u8; 64]);
    let m = Measurements {
        profile: Some(&profile),
        bench: Some(&bench),
        model: Some(&model),
        headroom: 1.5,
    };
    let (exp, figures) = m.expectations().unwrap();
    assert_eq!(
        exp.peak_bytes,
        Some((22 << 30, profile.display().to_string()))
    );
    assert_eq!(exp.cold_start, Some(45.0));
    assert_eq!(exp.p99_seconds, Some((1.8, bench.display().to_string())));
    assert_eq!(exp.model_bytes, Some((64, model.display().to_string())));
    assert!((exp.headroom - 1.5).abs() < f64::EPSILON);
    assert_eq!(figures.len(), 1);
    assert_eq!(
        figures[0].title,
        format!("{}: memory of the process tree", profile.display())
    );

    let msg = |m: Measurements<'_>| m.expectations().err().map(|e| e.to_string());
    let none = Measurements {
        profile: None,
        bench: None,
        model: None,
        headroom: 1.2,
    };
    assert_eq!(
        msg(Measurements {
            headroom: 0.5,
            ..none
        })
        .as_deref(),
        Some("--headroom 0.5: expected a factor of at least 1.0")
    );
    let not_bench = dir.create("other.json", r#"{"latency": {}}"#);
    assert_eq!(
        msg(Measurements {
            bench: Some(&not_bench),
            ..none
        }),
        Some(format!(
            "--bench {}: not a report of everybyte bench --format json",
            not_bench.display()
        ))
    );
    let nothing = dir.path().join("nothing");
    let e = msg(Measurements {
        bench: Some(&nothing),
        ..none
    })
    .unwrap_or_default();
    assert!(
        e.starts_with(&format!("--bench {}: cannot read: ", nothing.display())),
        "{e}"
    );
    let e = msg(Measurements {
        model: Some(&nothing),
        ..none
    })
    .unwrap_or_default();
    assert!(
        e.starts_with(&format!("--model {}: cannot read: ", nothing.display())),
        "{e}"
    );
    let e = msg(Measurements {
        profile: Some(&bench),
        ..none
    })
    .unwrap_or_default();
    assert!(
        e.starts_with(&format!(
            "{}: not an everybyte profile record: ",
            bench.display()
        )),
        "{e}"
    );
}

const PATCHABLE: &str = "\
kind: Deployment   # the server
spec:
  template:
    spec:
      containers:
        - name: server
          resources:
            limits:
              memory: \"16Gi\"   # too small
          livenessProbe:
            httpGet: {path: /health, port: 8080}
";

#[test]
fn patch_file_writes_the_measured_numbers_once() {
    let dir = Dir::new();
    let manifest = dir.create("deployment.yaml", PATCHABLE);
    let profile = dir.path().join("profile.json");
    write_record(&profile, &record(20 << 30, Some(62.0))).unwrap();
    let name = manifest.display().to_string();

    let dry = patch::patch_file(&manifest, &profile, 1.2, true).unwrap();
    assert!(dry.changed);
    assert_eq!(dry.exit_code(), 1);
    assert!(
        dry.output
            .starts_with(&format!("--- {name}\n+++ {name} (patched)\n")),
        "{}",
        dry.output
    );
    assert!(
        dry.output
            .contains("+              memory: 24576Mi   # too small\n"),
        "{}",
        dry.output
    );
    assert_eq!(
        dry.notes,
        vec![format!(
            "everybyte: {name}: container server: no requests.memory to edit; add `memory: 24576Mi` under resources.requests"
        )]
    );
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), PATCHABLE);

    let done = patch::patch_file(&manifest, &profile, 1.2, false).unwrap();
    assert_eq!(done, dry);
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        text.contains("          startupProbe:\n            httpGet: {path: /health, port: 8080}\n            periodSeconds: 10\n            failureThreshold: 10\n          livenessProbe:\n"),
        "{text}"
    );

    let again = patch::patch_file(&manifest, &profile, 1.2, false).unwrap();
    assert!(!again.changed);
    assert_eq!(again.exit_code(), 0);
    assert_eq!(again.output, format!("{name}: already meets the profile\n"));

    let e = patch::patch_file(&manifest, &profile, f64::NAN, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--headroom NaN: expected a factor of at least 1.0"
    );
    let broken = dir.create("broken.yaml", "kind: Pod\nspec: [\n");
    let e = patch::patch_file(&broken, &profile, 1.2, false).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}: line ", broken.display())),
        "{e}"
    );
    let e = patch::patch_file(&dir.path().join("none.yaml"), &profile, 1.2, false).unwrap_err();
    assert!(e.to_string().contains("none.yaml: cannot read: "), "{e}");
}
