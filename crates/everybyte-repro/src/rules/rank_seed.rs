//! REPRO012: seeds that differ per rank where ranks must agree, or agree where they must differ.

use everybyte_core::Finding;

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

#[allow(clippy::too_many_lines)] // three checks that share what they compute
pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let s = ctx.script;
    if !ctx.distributed() {
        return;
    }
    // Wrappers that broadcast rank 0's parameters.
    let ddp = ctx
        .any(|c| {
            matches!(
                c.name(),
                "DistributedDataParallel" | "FullyShardedDataParallel"
            ) || c.callee.starts_with("deepspeed.initialize")
                || c.name() == "prepare" && s.calls.iter().any(|a| a.name() == "Accelerator")
        })
        .is_some();
    let torch_seeds: Vec<_> = s
        .live_calls()
        .filter(|c| {
            matches!(
                c.callee.as_str(),
                "torch.manual_seed" | "torch.random.manual_seed" | "torch.cuda.manual_seed_all"
            ) || (seeded(std::iter::once(*c)).contains(&super::Generator::Torch)
                && c.callee.contains('.'))
        })
        .collect();
    let per_rank = |c: &&&crate::model::Call| ctx.arg_mentions(c, "rank");
    if let Some(c) = torch_seeds.iter().find(per_rank) {
        if !ddp {
            out.push(
                Finding::new(
                    &RANK_SEED,
                    ctx.at(c.file, c.line, c.column),
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
    // Seeding only under a seed option leaves the default run unseeded (REPRO013): its ranks
    // do differ.
    let seeded_by_default = torch_seeds.iter().any(|c| {
        !c.guard
            .as_deref()
            .is_some_and(|g| g.to_ascii_lowercase().contains("seed"))
    });
    let augments = s.calls.iter().find(|c| {
        (c.callee.contains("transforms.") && c.name().starts_with("Random") && seeded_by_default)
            || (c.callee.starts_with("albumentations.") && python_seeded)
    });
    let rank_elsewhere = s.calls.iter().any(|c| {
        (matches!(
            c.name(),
            "manual_seed" | "seed" | "set_seed" | "seed_everything"
        ) || c.keyword("worker_init_fn").is_some())
            && (ctx.arg_mentions(c, "rank") || ctx.arg_mentions(c, "process_index"))
    }) || s
        .calls
        .iter()
        .any(|c| c.name() == "seed_everything" && c.keyword("workers") == Some("True"));
    // Data built per rank from randomness no seed shares: each rank holds another dataset or
    // split.
    let torch_shared = !torch_seeds.is_empty();
    let per_rank_data = s.live_calls().find(|c| {
        let split = c.name() == "random_split" && c.keyword("generator").is_none();
        let init_draw = c
            .function
            .as_deref()
            .is_some_and(|f| f.ends_with("__init__"))
            && super::evaluation_draws_training_rng::TORCH_DRAWS.contains(&c.callee.as_str())
            && c.keyword("generator").is_none()
            && s.functions
                .get(c.function.as_deref().unwrap_or_default())
                .is_some_and(|f| f.class.as_deref().is_some_and(|k| k.contains("Data")));
        // `dataset.shuffle(seed=args.seed)` / `train_test_split(seed=...)` with a seed option
        // that defaults to None: each rank draws its own subset.
        let unseeded_subset = matches!(c.name(), "shuffle" | "train_test_split")
            && c.keyword("seed")
                .is_some_and(|v| v.trim() == "None" || ctx.defaults_none(v));
        (split || init_draw) && !torch_shared || unseeded_subset
    });
    if let Some(c) = per_rank_data {
        out.push(
            Finding::new(
                &RANK_SEED,
                ctx.at(c.file, c.line, c.column),
                format!(
                    "{}(...) builds data from randomness no seed shares across ranks: every rank holds a different {}",
                    c.written,
                    match c.name() {
                        "random_split" | "train_test_split" => "split, and one rank's validation samples are another's training samples",
                        "shuffle" => "subset of the data",
                        _ => "dataset",
                    }
                ),
            )
            .with_help("seed the split or dataset with the same value on every rank: generator=torch.Generator().manual_seed(SEED)"),
        );
        return;
    }
    if let (Some(aug), false) = (augments, rank_elsewhere) {
        out.push(
            Finding::new(
                &RANK_SEED,
                ctx.at(aug.file, aug.line, aug.column),
                format!(
                    "every rank seeds the same value and {} draws random augmentation: all ranks apply the same crops and flips in lockstep",
                    aug.written
                ),
            )
            .with_help("derive the data/augmentation seed from seed + rank, e.g. DataLoader(..., generator=torch.Generator().manual_seed(seed + rank))"),
        );
    }
}
