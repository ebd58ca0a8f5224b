//! The reproducibility rules over a [`Script`] model, and what they share: where training
//! happens, and which random generators the running code seeds.

pub mod checkpoint_without_rng_state;
pub mod cublas_workspace_unset;
pub mod cudnn_nondeterministic;
pub mod distributed_sampler_without_set_epoch;
pub mod evaluation_draws_training_rng;
pub mod hardware_unrecorded;
pub mod pythonhashseed_at_runtime;
pub mod rank_seed;
pub mod shuffle_without_generator;
pub mod spawn_loses_seed;
pub mod unseeded_rng;
pub mod unsorted_listing;

use std::collections::BTreeSet;

use everybyte_core::{Finding, Rule};

use crate::model::{Call, Script};

/// A rule and its check over a parsed script.
pub struct ReproRule {
    pub rule: &'static Rule,
    pub check: fn(&Context<'_>, &mut Vec<Finding>),
}

/// Every rule of the area, in code order, each with its check: the one table.
pub static RULES: &[ReproRule] = &[
    ReproRule {
        rule: &unseeded_rng::UNSEEDED_RNG,
        check: unseeded_rng::check,
    },
    ReproRule {
        rule: &cudnn_nondeterministic::CUDNN_NONDETERMINISTIC,
        check: cudnn_nondeterministic::check,
    },
    ReproRule {
        rule: &cublas_workspace_unset::CUBLAS_WORKSPACE_UNSET,
        check: cublas_workspace_unset::check,
    },
    ReproRule {
        rule: &pythonhashseed_at_runtime::PYTHONHASHSEED_AT_RUNTIME,
        check: pythonhashseed_at_runtime::check,
    },
    ReproRule {
        rule: &shuffle_without_generator::SHUFFLE_WITHOUT_GENERATOR,
        check: shuffle_without_generator::check,
    },
    ReproRule {
        rule: &distributed_sampler_without_set_epoch::DISTRIBUTED_SAMPLER_WITHOUT_SET_EPOCH,
        check: distributed_sampler_without_set_epoch::check,
    },
    ReproRule {
        rule: &unsorted_listing::UNSORTED_LISTING,
        check: unsorted_listing::check,
    },
    ReproRule {
        rule: &spawn_loses_seed::SPAWN_LOSES_SEED,
        check: spawn_loses_seed::check,
    },
    ReproRule {
        rule: &checkpoint_without_rng_state::CHECKPOINT_WITHOUT_RNG_STATE,
        check: checkpoint_without_rng_state::check,
    },
    ReproRule {
        rule: &hardware_unrecorded::HARDWARE_UNRECORDED,
        check: hardware_unrecorded::check,
    },
    ReproRule {
        rule: &evaluation_draws_training_rng::EVALUATION_DRAWS_TRAINING_RNG,
        check: evaluation_draws_training_rng::check,
    },
    ReproRule {
        rule: &rank_seed::RANK_SEED,
        check: rank_seed::check,
    },
];

/// What the rules look at.
pub struct Context<'a> {
    pub path: &'a str,
    pub script: &'a Script,
}

/// The generators a script can leave unseeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Generator {
    Random,
    Numpy,
    Torch,
    Cuda,
}

impl Generator {
    pub fn name(self) -> &'static str {
        match self {
            Generator::Random => "random",
            Generator::Numpy => "numpy",
            Generator::Torch => "torch (CPU)",
            Generator::Cuda => "torch.cuda (all GPUs)",
        }
    }

    pub fn fix(self) -> &'static str {
        match self {
            Generator::Random => "random.seed(SEED)",
            Generator::Numpy => "np.random.seed(SEED)",
            Generator::Torch => "torch.manual_seed(SEED)",
            Generator::Cuda => "torch.cuda.manual_seed_all(SEED)",
        }
    }
}

const SEED_ALL: &[&str] = &[
    "seed_everything",
    "transformers.set_seed",
    "transformers.trainer_utils.set_seed",
    "accelerate.utils.set_seed",
    "transformers.enable_full_determinism",
];

/// Trainers that seed every generator themselves (`TrainingArguments.seed`, default 42).
fn self_seeding_trainer(c: &Call) -> bool {
    c.callee.starts_with("transformers.") && c.name().ends_with("Trainer")
}

/// The generators `calls` seed.
pub fn seeded<'a>(calls: impl Iterator<Item = &'a Call>) -> BTreeSet<Generator> {
    let mut out = BTreeSet::new();
    for c in calls {
        let callee = c.callee.as_str();
        // Dotted: `seed_everything` imported from a library, not a local helper of that name.
        if SEED_ALL
            .iter()
            .any(|s| callee.contains('.') && (callee == *s || callee.ends_with(&format!(".{s}"))))
            || self_seeding_trainer(c)
        {
            out.extend([
                Generator::Random,
                Generator::Numpy,
                Generator::Torch,
                Generator::Cuda,
            ]);
        }
        match callee {
            "random.seed" => {
                out.insert(Generator::Random);
            }
            "numpy.random.seed" => {
                out.insert(Generator::Numpy);
            }
            // torch.manual_seed seeds the CPU generator and every CUDA device.
            "torch.manual_seed" | "torch.random.manual_seed" => {
                out.extend([Generator::Torch, Generator::Cuda]);
            }
            "torch.cuda.manual_seed_all" => {
                out.insert(Generator::Cuda);
            }
            _ => {}
        }
    }
    out
}

impl Context<'_> {
    /// The first running call that marks training: `.backward()`, an optimizer, a trainer.
    pub fn training(&self) -> Option<&Call> {
        self.script.live_calls().find(|c| {
            c.name() == "backward"
                || (c.callee.starts_with("torch.optim.")
                    && c.name().chars().next().is_some_and(char::is_uppercase))
                || (c.name().ends_with("Trainer")
                    && ["lightning", "pytorch_lightning", "transformers"]
                        .iter()
                        .any(|m| c.callee.starts_with(m)))
        })
    }

    pub fn uses_torch(&self) -> bool {
        self.script.imports.contains("torch")
    }

    /// A running call whose resolved callee satisfies `pred`.
    pub fn live(&self, pred: impl Fn(&Call) -> bool) -> Option<&Call> {
        self.script.live_calls().find(|c| pred(c))
    }

    /// Any call at all (running or not) whose callee satisfies `pred`.
    pub fn any(&self, pred: impl Fn(&Call) -> bool) -> Option<&Call> {
        self.script.calls.iter().find(|c| pred(c))
    }

    /// The generators the running code seeds.
    pub fn seeded(&self) -> BTreeSet<Generator> {
        seeded(self.script.live_calls())
    }

    /// A running assignment to `target` whose value satisfies `value`.
    pub fn assigned(
        &self,
        target: &str,
        value: impl Fn(&str) -> bool,
    ) -> Option<&crate::model::Assign> {
        self.script
            .live_assigns()
            .find(|a| a.target == target && value(a.value.trim()))
    }

    /// An environment variable the running script sets (`os.environ[...] =`, `setdefault`,
    /// `os.putenv`).
    pub fn sets_env(&self, var: &str) -> Option<(u64, u64)> {
        let key = format!("os.environ[\"{var}\"]");
        if let Some(a) = self.script.live_assigns().find(|a| a.target == key) {
            return Some((a.line, a.column));
        }
        let quoted = |s: &str| s.trim_matches(|c| c == '"' || c == '\'') == var;
        self.script
            .live_calls()
            .find(|c| {
                matches!(
                    c.callee.as_str(),
                    "os.environ.setdefault" | "os.putenv" | "os.environ.update"
                ) && (c.args.first().is_some_and(|a| quoted(a))
                    || c.args.first().is_some_and(|a| {
                        a.contains(&format!("\"{var}\"")) || a.contains(&format!("'{var}'"))
                    }))
            })
            .map(|c| (c.line, c.column))
    }
}
