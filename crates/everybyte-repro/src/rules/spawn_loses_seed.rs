//! REPRO008: seeds and flags set before `spawn`, which the spawned processes do not inherit.

use everybyte_core::Finding;

use super::{Context, seeded};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `torch.multiprocessing.spawn(fn, ...)` / `mp.spawn`, or a
    /// `multiprocessing.Process(target=fn)` under the spawn or forkserver start method, whose
    /// target `fn` (and what it calls) seeds nothing, while the parent seeds or sets cuDNN
    /// flags before spawning.
    /// ## Why it matters
    /// `spawn` starts each worker as a fresh interpreter that imports the script and calls
    /// `fn`: generator states and `torch.backends.cudnn` flags set in the parent do not cross.
    /// The parent's seeding looks right and does nothing for the processes that train.
    /// ## Example
    /// ```python
    /// torch.manual_seed(0)
    /// mp.spawn(train_worker, nprocs=4)   # train_worker never seeds
    /// ```
    /// ## Fix
    /// Seed and set the flags at the top of the worker function, with the rank folded in only
    /// where ranks must differ (data augmentation), never for model initialisation.
    pub static SPAWN_LOSES_SEED = { code: "REPRO008", name: "spawn-loses-seed", severity: Warning, summary: "Seeds set before spawn do not reach the spawned workers" };
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let s = ctx.script;
    // A `Process` starts a fresh interpreter only under the spawn (or forkserver) start
    // method; under fork, the Linux default before Python 3.14, it inherits the parent's state.
    let spawn_start = s.calls.iter().any(|c| {
        matches!(c.name(), "set_start_method" | "get_context")
            && c.args
                .first()
                .is_some_and(|a| a.contains("spawn") || a.contains("forkserver"))
    });
    for c in s.live_calls() {
        let target = if c.name() == "spawn" && c.callee.contains("multiprocessing") {
            c.args
                .first()
                .cloned()
                .or_else(|| c.keyword("fn").map(str::to_owned))
        } else if (c.name() == "Process" && c.callee.starts_with("multiprocessing")
            || c.callee.starts_with("torch.multiprocessing.Process"))
            && spawn_start
        {
            c.keyword("target").map(str::to_owned)
        } else {
            None
        };
        let Some(target) = target else { continue };
        if !s.functions.contains_key(&target) {
            continue;
        }
        let inside = s.called_from(&target);
        let child_seeds = seeded(
            s.calls
                .iter()
                .filter(|x| x.function.as_ref().is_some_and(|f| inside.contains(f))),
        );
        let parent_seeds = seeded(s.calls.iter().filter(|x| {
            x.function.as_ref().is_none_or(|f| !inside.contains(f)) && s.runs(x.function.as_ref())
        }));
        if child_seeds.is_empty() && !parent_seeds.is_empty() {
            out.push(
                Finding::new(
                    &SPAWN_LOSES_SEED,
                    ctx.at(c.file, c.line, c.column),
                    format!(
                        "{}({target}, ...) starts fresh interpreters: the seeds set before it do not reach {target}(), which seeds nothing",
                        c.written
                    ),
                )
                .with_help(format!("seed (and set torch.backends.cudnn flags) at the top of {target}()")),
            );
        }
    }
}
