//! Every rule has a script that fires it (`REPROnnn.py`) and a clean one that fires no rule at
//! all (`REPROnnn_ok.py`, complete training scripts in four styles). The findings of each
//! firing fixture are snapshotted as a user reads them.

use std::path::PathBuf;

use everybyte_core::Finding;
use everybyte_repro::{lint_python, rules};
use everybyte_test_support::render;

fn fixture(name: &str) -> PathBuf {
    everybyte_test_support::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn run(name: &str) -> Vec<Finding> {
    let text = std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    lint_python(name, &text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

everybyte_test_support::rule_fixtures! {
    run = run;
    fires = ".py", ok = "_ok.py";
    repro001_unseeded_rng => "REPRO001",
    repro002_cudnn_nondeterministic => "REPRO002",
    repro003_cublas_workspace_unset => "REPRO003",
    repro004_pythonhashseed_at_runtime => "REPRO004",
    repro005_shuffle_without_generator => "REPRO005",
    repro006_distributed_sampler_without_set_epoch => "REPRO006",
    repro007_unsorted_listing => "REPRO007",
    repro008_spawn_loses_seed => "REPRO008",
    repro009_checkpoint_without_rng_state => "REPRO009",
    repro010_hardware_unrecorded => "REPRO010",
    repro011_evaluation_draws_training_rng => "REPRO011",
    repro012_rank_seed => "REPRO012",
    repro013_seed_optional => "REPRO013",
    repro014_tf32_enabled => "REPRO014",
    repro015_nondeterministic_kernel => "REPRO015",
    repro016_checkpoint_incomplete => "REPRO016",
    repro017_resume_replays_data => "REPRO017",
    repro018_unpinned_artifact => "REPRO018",
    repro019_data_without_checksum => "REPRO019",
    repro020_checkpoint_several_writers => "REPRO020",
}

#[test]
fn every_rule_has_both_fixtures_and_a_doc() {
    for rule in rules() {
        for suffix in [".py", "_ok.py"] {
            let name = format!("{}{suffix}", rule.code);
            assert!(fixture(&name).is_file(), "missing fixture {name}");
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
fn identical_seeds_with_random_augmentation_across_ranks() {
    let src = r#"
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torchvision import transforms

dist.init_process_group("nccl")
torch.manual_seed(0)
aug = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip()])
model = DDP(torch.nn.Linear(4, 2))
"#;
    let f = lint_python("ddp_aug.py", src).unwrap();
    let r: Vec<_> = f.iter().filter(|f| f.code == "REPRO012").collect();
    assert_eq!(r.len(), 1, "{}", render(&f));
    assert!(
        r[0].message
            .contains("all ranks apply the same crops and flips"),
        "{}",
        r[0].message
    );
    // With the rank folded into the data seed, nothing to say.
    let fixed = src.replace(
        "model = DDP",
        "g = torch.Generator(); g.manual_seed(0 + dist.get_rank())\nmodel = DDP",
    );
    let f = lint_python("ddp_aug.py", &fixed).unwrap();
    assert!(f.iter().all(|f| f.code != "REPRO012"), "{}", render(&f));
}
