//! The reproducibility rules over a [`Script`] model, and what they share: where training
//! happens, and which random generators the running code seeds.

pub mod checkpoint_incomplete;
pub mod checkpoint_several_writers;
pub mod checkpoint_without_rng_state;
pub mod cublas_workspace_unset;
pub mod cudnn_nondeterministic;
pub mod data_without_checksum;
pub mod distributed_sampler_without_set_epoch;
pub mod evaluation_draws_training_rng;
pub mod hardware_unrecorded;
pub mod nondeterministic_kernel;
pub mod pythonhashseed_at_runtime;
pub mod rank_seed;
pub mod resume_replays_data;
pub mod seed_optional;
pub mod shuffle_without_generator;
pub mod spawn_loses_seed;
pub mod tf32_enabled;
pub mod unpinned_artifact;
pub mod unseeded_rng;
pub mod unsorted_listing;

use std::collections::BTreeSet;

use everybyte_core::{Finding, Location, Rule};

use crate::launch::{EnvSetting, Run, TorchPin};
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
    ReproRule {
        rule: &seed_optional::SEED_OPTIONAL,
        check: seed_optional::check,
    },
    ReproRule {
        rule: &tf32_enabled::TF32_ENABLED,
        check: tf32_enabled::check,
    },
    ReproRule {
        rule: &nondeterministic_kernel::NONDETERMINISTIC_KERNEL,
        check: nondeterministic_kernel::check,
    },
    ReproRule {
        rule: &checkpoint_incomplete::CHECKPOINT_INCOMPLETE,
        check: checkpoint_incomplete::check,
    },
    ReproRule {
        rule: &resume_replays_data::RESUME_REPLAYS_DATA,
        check: resume_replays_data::check,
    },
    ReproRule {
        rule: &unpinned_artifact::UNPINNED_ARTIFACT,
        check: unpinned_artifact::check,
    },
    ReproRule {
        rule: &data_without_checksum::DATA_WITHOUT_CHECKSUM,
        check: data_without_checksum::check,
    },
    ReproRule {
        rule: &checkpoint_several_writers::CHECKPOINT_SEVERAL_WRITERS,
        check: checkpoint_several_writers::check,
    },
];

/// What the rules look at: one program, linked across its modules, and what its launchers
/// and pins say.
pub struct Context<'a> {
    pub script: &'a Script,
    /// Variables the launchers that run the program set before Python starts.
    pub env: &'a [EnvSetting],
    /// The launch lines that start the program, with their arguments.
    pub runs: &'a [Run],
    /// The torch version the project pins.
    pub torch: Option<&'a TorchPin>,
    /// Checksum manifests or data-version files of the project.
    pub manifests: &'a [String],
}

/// Where a variable the program needs is set.
#[derive(Clone, Debug)]
pub enum EnvSource {
    /// In the program: file index, line, column.
    Script(usize, u64, u64),
    /// By a launcher.
    Launcher(EnvSetting),
}

/// What marks training: `.backward()`, a `torch.optim` optimizer, a Lightning or Hugging Face
/// trainer.
pub fn is_training_call(c: &Call) -> bool {
    c.name() == "backward"
        || c.callee.starts_with("timm.optim.") && c.name().starts_with("create_optimizer")
        || c.callee.starts_with("deepspeed.initialize")
        || (c.callee.starts_with("torch.optim.")
            && !c.callee.starts_with("torch.optim.lr_scheduler")
            && c.name().chars().next().is_some_and(char::is_uppercase))
        || ((c.name().ends_with("Trainer") || c.name() == "LightningCLI")
            && ["lightning", "pytorch_lightning", "transformers", "trl"]
                .iter()
                .any(|m| c.callee.starts_with(m)))
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

/// Library helpers that seed `random`, NumPy and torch (CPU and every GPU) at once.
const SEED_ALL: &[&str] = &[
    "seed_everything",
    "transformers.set_seed",
    "transformers.trainer_utils.set_seed",
    "accelerate.utils.set_seed",
    "transformers.enable_full_determinism",
    "timm.utils.random_seed",
    "timm.utils.random.random_seed",
    "detectron2.utils.env.seed_all_rng",
    "mmengine.runner.set_random_seed",
    "deepspeed.runtime.utils.set_random_seed",
];

/// Trainers that seed every generator themselves (`TrainingArguments.seed`, default 42).
fn self_seeding_trainer(c: &Call) -> bool {
    c.callee.starts_with("transformers.") && c.name().ends_with("Trainer")
}

/// `LightningCLI` seeds everything (`seed_everything_default`, an int or a seed it draws
/// and records in the run's config) unless told not to.
fn lightning_cli_seeds(c: &Call) -> bool {
    (c.callee.starts_with("lightning") || c.callee.starts_with("pytorch_lightning"))
        && c.name() == "LightningCLI"
        && !matches!(c.keyword("seed_everything_default"), Some("False" | "None"))
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
            || lightning_cli_seeds(c)
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
            "torch.cuda.manual_seed_all"
            | "torch.cuda.manual_seed"
            | "torch.cuda.random.manual_seed_all" => {
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
        self.script.live_calls().find(|c| is_training_call(c))
    }

    /// A location in one of the program's files.
    pub fn at(&self, file: usize, line: u64, column: u64) -> Location {
        let path = self.script.files.get(file).map_or("", String::as_str);
        Location::line(path, line, column)
    }

    /// The entry point's display path.
    pub fn program(&self) -> &str {
        self.script.files.first().map_or("", String::as_str)
    }

    /// A launch line that passes option `name` (`--tf32`, `--tf32 True`, `--tf32=1`) a value
    /// that is not false: the line and the value.
    pub fn launched_with(&self, name: &str) -> Option<(&Run, String)> {
        let flag = format!("--{}", name.replace('_', "-"));
        let flag_us = format!("--{name}");
        self.runs.iter().find_map(|r| {
            let mut words = r.args.iter().peekable();
            while let Some(w) = words.next() {
                let (key, inline) = w
                    .split_once('=')
                    .map_or((w.as_str(), None), |(k, v)| (k, Some(v)));
                if key != flag && key != flag_us {
                    continue;
                }
                let value = match inline {
                    Some(v) => v.to_owned(),
                    None => match words.peek() {
                        Some(v) if !v.starts_with('-') => (*v).clone(),
                        _ => "true".to_owned(),
                    },
                };
                let off = matches!(
                    value.to_ascii_lowercase().as_str(),
                    "0" | "false" | "no" | "off" | "none"
                );
                return (!off).then(|| {
                    (
                        r,
                        format!(
                            "{w}{}",
                            if inline.is_none() && value != "true" {
                                format!(" {value}")
                            } else {
                                String::new()
                            }
                        ),
                    )
                });
            }
            None
        })
    }

    /// A launcher setting for `var`, if one runs this program.
    pub fn launcher_sets(&self, var: &str) -> Option<&EnvSetting> {
        self.env.iter().find(|e| e.var == var)
    }

    /// Where `var` is set for the program: in its code, by its launcher, or by a library
    /// call that sets it (Hugging Face's full determinism and Lightning's deterministic
    /// `Trainer` export `CUBLAS_WORKSPACE_CONFIG` themselves).
    pub fn env_source(&self, var: &str) -> Option<EnvSource> {
        if let Some(e) = self.launcher_sets(var) {
            return Some(EnvSource::Launcher(e.clone()));
        }
        if var == "CUBLAS_WORKSPACE_CONFIG" {
            let library = self.live(|c| {
                c.callee == "transformers.enable_full_determinism"
                    || c.callee.starts_with("transformers.")
                        && c.name() == "set_seed"
                        && c.keyword("deterministic") == Some("True")
                    || c.keyword("full_determinism") == Some("True")
                    || (c.callee.starts_with("lightning")
                        || c.callee.starts_with("pytorch_lightning"))
                        && c.name() == "Trainer"
                        && c.keyword("deterministic") == Some("True")
            });
            if let Some(c) = library {
                return Some(EnvSource::Script(c.file, c.line, c.column));
            }
        }
        self.sets_env(var)
            .map(|(f, l, c)| EnvSource::Script(f, l, c))
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

    /// The calls of function `f` (by its key, or for a method, by its name on an object).
    pub fn callers<'s>(&'s self, f: &'s str) -> impl Iterator<Item = &'s Call> + 's {
        let method = self.script.functions.get(f).filter(|d| d.method);
        self.script.calls.iter().filter(move |x| {
            x.callee == f
                || method.is_some_and(|m| x.written.contains('.') && x.name() == m.short())
        })
    }

    /// The `add_argument` call that declares option `field` (`--model-name` for
    /// `model_name`).
    pub fn option(&self, field: &str) -> Option<&Call> {
        self.script.calls.iter().find(|c| {
            c.name() == "add_argument"
                && c.args.iter().any(|a| {
                    let l = a.trim().trim_matches(|q| q == '"' || q == '\'');
                    l.starts_with('-') && l.trim_start_matches('-').replace('-', "_") == field
                })
        })
    }

    /// Whether the option or config field `arg` names (`args.revision`, `seed`) is `None` by
    /// default: an `add_argument` without a default or with `default=None`, or a field
    /// assigned `None`.
    pub fn defaults_none(&self, arg: &str) -> bool {
        let field = arg.rsplit('.').next().unwrap_or(arg);
        self.option(field)
            .is_some_and(|c| c.keyword("default").is_none_or(|d| d.trim() == "None"))
            || self.script.assigns.iter().any(|a| {
                (a.target == field || a.target.ends_with(&format!(".{field}")))
                    && matches!(a.value.trim(), "None" | "field(default=None)")
            })
    }

    /// The conditions a call runs under: its own, and those of the calls of the function
    /// that holds it (one level up: `if rank == 0: save_checkpoint(...)`).
    pub fn guards<'s>(&'s self, c: &'s Call) -> Vec<&'s str> {
        let mut out: Vec<&str> = c.guard.as_deref().into_iter().collect();
        if let Some(f) = &c.function {
            for caller in self.callers(f) {
                out.extend(caller.guard.as_deref());
            }
        }
        out
    }

    /// The text of what a call's first argument holds: a literal as written, or for a name,
    /// the values assigned to it (and to its keys) in the same function, or, for a parameter
    /// of the function, the arguments its callers pass.
    pub fn value_text(&self, c: &Call) -> String {
        match c.args.first() {
            Some(arg) => self.name_text(arg, c.function.as_ref(), 0),
            None => String::new(),
        }
    }

    /// What `arg` holds where `function` runs: itself when it is an expression; for a name,
    /// the values assigned to it (and its keys, and `update`s) there; for a parameter (or
    /// `*args`), what the function's callers pass, resolved in their functions in turn.
    fn name_text(&self, arg: &str, function: Option<&String>, depth: usize) -> String {
        let bare = arg.trim_start_matches('*');
        let ident = !bare.is_empty()
            && bare
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !ident || depth > 2 {
            return arg.to_owned();
        }
        let key = format!("{bare}[");
        let mut text: Vec<String> = self
            .script
            .assigns
            .iter()
            .filter(|a| {
                a.function.as_ref() == function
                    && a.guard.as_deref() != Some("<parameter default>")
                    && (a.target == bare || a.target.starts_with(&key))
            })
            .flat_map(|a| [a.target.clone(), a.value.clone()])
            .collect();
        text.extend(
            self.script
                .calls
                .iter()
                .filter(|x| {
                    x.function.as_ref() == function
                        && x.written.starts_with(&format!("{bare}."))
                        && matches!(x.name(), "update" | "setdefault")
                })
                .flat_map(|x| x.args.iter().cloned()),
        );
        if text.is_empty()
            && let Some(f) = function
        {
            for caller in self.callers(f) {
                for a in caller
                    .args
                    .iter()
                    .chain(caller.keywords.iter().map(|(_, v)| v))
                {
                    text.push(self.name_text(a, caller.function.as_ref(), depth + 1));
                }
            }
        }
        if text.is_empty() {
            arg.to_owned()
        } else {
            text.join(" ")
        }
    }

    /// Whether an argument of `c`, or what a name among its arguments was assigned in the
    /// same function, mentions `word` (lowercase): `torch.manual_seed(seed)` after
    /// `seed = args.seed + rank`.
    pub fn arg_mentions(&self, c: &Call, word: &str) -> bool {
        c.args
            .iter()
            .chain(c.keywords.iter().map(|(_, v)| v))
            .any(|a| {
                a.to_ascii_lowercase().contains(word)
                    || self.script.assigns.iter().any(|x| {
                        x.function == c.function
                            && x.target == *a
                            && x.value.to_ascii_lowercase().contains(word)
                    })
            })
    }

    /// Whether the running program draws randomness while it trains: dropout, shuffled or
    /// distributed sampling, random augmentation, or direct draws from the global generators.
    pub fn draws_randomness(&self) -> bool {
        self.script.live_calls().any(|c| {
            let n = c.name();
            let own_generator = c.keyword("generator").is_some();
            n.to_ascii_lowercase().contains("dropout")
                || c.keywords.iter().any(|(k, v)| {
                    let k = k.to_ascii_lowercase();
                    (k.starts_with("drop")
                        || k.contains("mixup")
                        || k.contains("cutmix")
                        || k == "re_prob")
                        && !matches!(v.trim(), "0" | "0.0" | "None" | "False")
                        || k == "is_training" && v == "True"
                })
                || n == "DataLoader"
                    && c.keyword("shuffle").is_some_and(|v| v != "False")
                    && !own_generator
                || matches!(
                    n,
                    "RandomSampler" | "DistributedSampler" | "random_split" | "Mixup"
                ) && !own_generator
                || c.callee.contains("transforms.") && n.starts_with("Random")
                || c.callee.starts_with("albumentations.")
                || evaluation_draws_training_rng::TORCH_DRAWS.contains(&c.callee.as_str())
                    && !own_generator
                || ["random.", "numpy.random."].iter().any(|p| {
                    c.callee
                        .strip_prefix(p)
                        .is_some_and(|r| !r.contains('.') && !unseeded_rng::NOT_DRAWS.contains(&r))
                })
        }) || self.script.assigns.iter().any(|a| {
            a.target.to_ascii_lowercase().contains("dropout")
                && !matches!(a.value.trim(), "0" | "0.0" | "None")
        })
    }

    /// Whether a `torch.save` writes a checkpoint a run resumes from: what it saves or the
    /// path it writes names the epoch, step or iteration, or holds the optimizer.
    pub fn resumable_save(&self, save: &Call) -> bool {
        let mut text = self.value_text(save).to_ascii_lowercase();
        if let Some(path) = save.args.get(1) {
            text.push(' ');
            text.push_str(&path.to_ascii_lowercase());
        }
        ["epoch", "step", "iter", "optim"]
            .iter()
            .any(|w| text.contains(w))
    }

    /// Whether the program is distributed: a process group, DDP/FSDP, a distributed sampler,
    /// or a launcher that starts several processes.
    pub fn distributed(&self) -> bool {
        self.any(|c| {
            matches!(
                c.name(),
                "init_process_group"
                    | "DistributedSampler"
                    | "DistributedDataParallel"
                    | "FullyShardedDataParallel"
                    | "init_distributed"
                    | "init_distributed_mode"
                    | "Accelerator"
            ) || c.callee.starts_with("deepspeed.initialize")
        })
        .is_some()
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
    pub fn sets_env(&self, var: &str) -> Option<(usize, u64, u64)> {
        let key = format!("os.environ[\"{var}\"]");
        if let Some(a) = self.script.live_assigns().find(|a| a.target == key) {
            return Some((a.file, a.line, a.column));
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
            .map(|c| (c.file, c.line, c.column))
    }
}
