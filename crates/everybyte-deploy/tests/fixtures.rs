//! Every rule has a manifest that fires it and a clean one that fires nothing.

use everybyte_core::Finding;
use everybyte_core::rule::DOC_SECTIONS;
use everybyte_deploy::{Expectations, lint_manifest};
use everybyte_test_support::{render, rule_fixtures};

fn exp() -> Expectations {
    Expectations {
        headroom: 1.2,
        ..Expectations::default()
    }
}

fn run(name: &str, exp: &Expectations) -> Vec<Finding> {
    let path = everybyte_test_support::fixture(env!("CARGO_MANIFEST_DIR"), name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    lint_manifest(name, &text, exp).unwrap()
}

/// K8S011 judges probes against a measured p99, so its fixtures come with one (1.5 s).
fn run_fixture(name: &str) -> Vec<Finding> {
    if name.starts_with("K8S011") {
        return run(
            name,
            &Expectations {
                p99_seconds: Some((1.5, "bench.json".into())),
                ..exp()
            },
        );
    }
    run(name, &exp())
}

rule_fixtures! {
    run = run_fixture;
    fires = ".yaml", ok = "_ok.yaml";
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
    k8s012_liveness_missing => "K8S012",
    k8s013_shm_unbounded => "K8S013",
    k8s014_host_ipc => "K8S014",
    k8s015_checkpoint_ephemeral => "K8S015",
    k8s016_world_size_mismatch => "K8S016",
    k8s017_never_exits => "K8S017",
    k8s018_model_cache_small => "K8S018",
    k8s019_model_download_every_start => "K8S019",
    k8s020_model_revision_unpinned => "K8S020",
    k8s021_download_no_ephemeral_storage => "K8S021",
    k8s022_fetch_at_start => "K8S022",
    k8s023_gpu_driver_floating => "K8S023",
    k8s024_tensor_parallel_mismatch => "K8S024",
    k8s025_no_restart_policy => "K8S025",
    k8s026_nccl_transport_disabled => "K8S026",
    k8s027_privileged => "K8S027",
    k8s028_placeholder_unrendered => "K8S028",
    k8s029_api_removed => "K8S029",
    k8s030_name_invalid => "K8S030",
    k8s031_schema_unknown_field => "K8S031",
}

#[test]
fn every_rule_has_both_fixtures_and_a_doc() {
    for rule in everybyte_deploy::rules() {
        for suffix in [".yaml", "_ok.yaml"] {
            assert!(
                everybyte_test_support::fixture(
                    env!("CARGO_MANIFEST_DIR"),
                    &format!("{}{suffix}", rule.code)
                )
                .is_file(),
                "{} {suffix}",
                rule.code
            );
        }
        for section in DOC_SECTIONS {
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
        ..exp()
    };
    let f = run("K8S001_ok.yaml", &e);
    let mem: Vec<_> = f.iter().filter(|f| f.code == "K8S001").collect();
    assert!(!mem.is_empty(), "{}", render(&f));
    assert!(mem[0].message.contains("memory limit 24Gi of container server of Deployment/server is below 22.00 GiB × 1.2 = 26.40 GiB (the peak measured in profile.json)"), "{}", mem[0].message);
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
    assert!(
        m.message
            .contains("below 17.16 GiB × 1.2 = 20.59 GiB (the host memory of 4 processes")
            && m.message.contains("each holds its own: 63.66 GiB"),
        "{}",
        m.message
    );
    // A pickle checkpoint: torch.load and load_state_dict, two copies in each process.
    let e = Expectations {
        model_bytes: Some((16_642_998_272, "pytorch_model.bin".into())),
        ..exp()
    };
    let f = lint_manifest("d.yaml", text, &e).unwrap();
    let m = f.iter().find(|f| f.code == "K8S001").unwrap();
    assert!(
        m.message.contains("below 125.66 GiB × 1.2")
            && m.message.contains("each holding two copies"),
        "{}",
        m.message
    );
    // An ONNX model is read by another runtime: one copy per worker.
    let e = Expectations {
        model_bytes: Some((16_642_998_272, "model.onnx".into())),
        ..exp()
    };
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
    let f = run("K8S011.yaml", &e);
    let p: Vec<_> = f.iter().filter(|f| f.code == "K8S011").collect();
    // Readiness and liveness keep the default 1 s.
    assert_eq!(p.len(), 2, "{}", render(&f));
    assert!(p[0].message.contains("readiness probe of asr times out after 1 s, but an inference takes 1.80 s at p99 (bench.json)"), "{}", p[0].message);
    // Without a measurement it says nothing.
    assert!(
        run("K8S011.yaml", &exp())
            .iter()
            .all(|f| f.code != "K8S011")
    );
}

#[test]
fn a_dev_shm_smaller_than_the_batches_in_flight_is_reported_once_the_sample_is_known() {
    let text = "kind: Job\nspec:\n  template:\n    spec:\n      containers:\n      - name: train\n        image: x@sha256:0000000000000000000000000000000000000000000000000000000000000000\n        command: [torchrun, --nproc_per_node=2, train.py, --num_workers, \"8\", --batch_size=64]\n        resources: {limits: {nvidia.com/gpu: 2, memory: 64Gi}}\n        volumeMounts: [{name: dshm, mountPath: /dev/shm}]\n      volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 1Gi}}]\n";
    let shm = |e: &Expectations| -> Vec<String> {
        lint_manifest("j.yaml", text, e)
            .unwrap()
            .into_iter()
            .filter(|f| f.code == "K8S008")
            .map(|f| format!("{}:{}", f.location.line.unwrap_or(0), f.message))
            .collect()
    };
    // Without the sample's size, a memory-backed /dev/shm is all the rule can ask for.
    assert!(shm(&exp()).is_empty());
    // 224×224 RGB in fp32: 2 × 8 × 2 × 64 × 588 KiB = 1.15 GiB in flight.
    let e = Expectations {
        sample_bytes: Some(3 * 224 * 224 * 4),
        ..exp()
    };
    let f = shm(&e);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].starts_with("11:/dev/shm of container train of Job/ holds 1Gi but its DataLoader keeps 1.15 GiB in flight (2 × 8 workers × prefetch_factor 2 × batch 64 × 588.00 KiB per sample)"),
        "{f:?}"
    );
    // Small samples fit.
    let e = Expectations {
        sample_bytes: Some(4096),
        ..exp()
    };
    assert!(shm(&e).is_empty());
}
