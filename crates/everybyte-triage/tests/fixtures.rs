//! Every triage rule has a fixture that fires (`LOGnnn.log`) and a clean one that must not
//! fire any rule (`LOGnnn_ok.log`). The findings of each firing fixture are snapshotted as a
//! user would read them.

use std::path::PathBuf;

use everybyte_core::Finding;
use everybyte_core::config::TriageOptions;
use everybyte_test_support::render;
use everybyte_triage::{TriageResult, triage_file};

fn fixture(name: &str) -> PathBuf {
    everybyte_test_support::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn triage(name: &str) -> TriageResult {
    let path = fixture(name);
    triage_file(&path, name, &TriageOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn run(name: &str) -> Vec<Finding> {
    triage(name).findings
}

everybyte_test_support::rule_fixtures! {
    run = run;
    fires = ".log", ok = "_ok.log";
    log001_cuda_oom_capacity => "LOG001",
    log002_cuda_oom_fragmentation => "LOG002",
    log003_segfault => "LOG003",
    log004_killed_by_signal => "LOG004",
    log005_oom_killed => "LOG005",
    log006_crash_loop => "LOG006",
    log007_probe_failed => "LOG007",
    log008_gpu_xid => "LOG008",
    log009_nccl_failure => "LOG009",
    log010_dataloader_shm => "LOG010",
    log011_symbol_version_not_found => "LOG011",
    log012_cuda_kernel_fault => "LOG012",
    log013_cuda_library_status => "LOG013",
    log014_nonfinite_loss => "LOG014",
    log015_python_exception => "LOG015",
    log016_shared_library_not_found => "LOG016",
    log017_cuda_incompatible => "LOG017",
    log018_cuda_oom_request_exceeds_card => "LOG018",
    log019_cuda_oom_free_but_failed => "LOG019",
    log020_cuda_oom_held_elsewhere => "LOG020",
    log021_illegal_instruction => "LOG021",
    log022_abort => "LOG022",
    log023_ecc_error => "LOG023",
    log024_loss_scale_collapse => "LOG024",
    log025_pod_unschedulable => "LOG025",
    log026_pod_evicted => "LOG026",
    log027_undefined_symbol => "LOG027",
    log028_gpu_lost => "LOG028",
}

#[test]
fn every_rule_has_both_fixtures() {
    for rule in everybyte_triage::RULES {
        for suffix in [".log", "_ok.log"] {
            let name = format!("{}{suffix}", rule.code);
            assert!(fixture(&name).is_file(), "missing fixture {name}");
        }
    }
}

#[test]
fn environment_context_is_read_once() {
    let r = triage("env_context.log");
    assert!(r.findings.is_empty(), "{}", render(&r.findings));
    let keys: Vec<&str> = r.context.iter().map(|c| c.key.as_str()).collect();
    for k in ["PyTorch", "Python", "driver", "GPU"] {
        assert!(keys.contains(&k), "missing {k} in {keys:?}");
    }
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), keys.len(), "a fact reported twice: {keys:?}");
}
