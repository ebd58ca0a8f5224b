//! REPRO012: seeds that differ per rank where ranks must agree, or agree where they must differ.

use everybyte_core::{Finding, Location};

use super::{Context, seeded};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// In a distributed script (`init_process_group`, `DistributedSampler`, DDP), two opposite
    /// mistakes:
    /// a torch seed that folds in the rank (`torch.manual_seed(seed + rank)`) while the model is
    /// not wrapped in `DistributedDataParallel` (which would broadcast rank 0's weights), so each
    /// rank starts from different weights; or a seed that is the same on every rank while the
    /// script applies random augmentation (`transforms.Random…`, `albumentations`), so every
    /// rank draws the same augmentation sequence.
    /// ## Why it matters
    /// Replicas that start apart average gradients of different models, and the result depends
    /// on the world size. Identical augmentation streams on every rank correlate what should be
    /// independent samples: eight GPUs see the same crops and flips in lockstep, which is not
    /// what the single-GPU run did.
    /// ## Example
    /// ```python
    /// torch.manual_seed(42 + rank)
    /// model = Net().cuda(rank)           # no DDP: weights differ per rank
    /// ```
    /// ## Fix
    /// Seed model initialisation identically on every rank (or wrap in DDP, which broadcasts
    /// rank 0's parameters); derive augmentation and data-loading seeds from `seed + rank`
    /// (for example through the DataLoader's `generator`, or `worker_init_fn`).
    pub static RANK_SEED = { code: "REPRO012", name: "rank-seed", severity: Warning, summary: "Seeds differ per rank where ranks must agree, or agree where they must differ" };
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let s = ctx.script;
    let distributed = ctx
        .any(|c| {
            matches!(
                c.name(),
                "init_process_group" | "DistributedSampler" | "DistributedDataParallel"
            )
        })
        .is_some();
    if !distributed {
        return;
    }
    let ddp = ctx
        .any(|c| c.name() == "DistributedDataParallel" || c.name() == "FullyShardedDataParallel")
        .is_some();
    let torch_seeds: Vec<_> = s
        .live_calls()
        .filter(|c| {
            matches!(
                c.callee.as_str(),
                "torch.manual_seed" | "torch.random.manual_seed" | "torch.cuda.manual_seed_all"
            ) || c.callee.ends_with(".seed_everything")
        })
        .collect();
    let per_rank = |c: &&&crate::model::Call| {
        c.args
            .iter()
            .any(|a| a.to_ascii_lowercase().contains("rank"))
    };
    if let Some(c) = torch_seeds.iter().find(per_rank) {
        if !ddp {
            out.push(
                Finding::new(
                    &RANK_SEED,
                    Location::line(ctx.path, c.line, c.column),
                    format!(
                        "{}({}) differs per rank and the model is not wrapped in DistributedDataParallel: each rank initialises different weights",
                        c.written,
                        c.args.join(", ")
                    ),
                )
                .with_help("seed model initialisation with the same value on every rank (or wrap the model in DDP, which broadcasts rank 0's parameters); fold the rank only into data and augmentation seeds"),
            );
        }
        return;
    }
    // torchvision's transforms draw from torch's generator; albumentations from random/numpy.
    let python_seeded = {
        let g = seeded(s.live_calls());
        g.contains(&super::Generator::Random) || g.contains(&super::Generator::Numpy)
    };
    let augments = s.calls.iter().find(|c| {
        (c.callee.contains("transforms.")
            && c.name().starts_with("Random")
            && !torch_seeds.is_empty())
            || (c.callee.starts_with("albumentations.") && python_seeded)
    });
    let rank_elsewhere = s.calls.iter().any(|c| {
        (c.name() == "manual_seed" || c.name() == "seed" || c.keyword("worker_init_fn").is_some())
            && c.args
                .iter()
                .any(|a| a.to_ascii_lowercase().contains("rank"))
    });
    if let (Some(aug), false) = (augments, rank_elsewhere) {
        out.push(
            Finding::new(
                &RANK_SEED,
                Location::line(ctx.path, aug.line, aug.column),
                format!(
                    "every rank seeds the same value and {} draws random augmentation: all ranks apply the same crops and flips in lockstep",
                    aug.written
                ),
            )
            .with_help("derive the data/augmentation seed from seed + rank, e.g. DataLoader(..., generator=torch.Generator().manual_seed(seed + rank))"),
        );
    }
}
