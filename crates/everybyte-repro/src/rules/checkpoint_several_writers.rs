//! REPRO020: a checkpoint every node writes.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// In a distributed program, a checkpoint save (`torch.save`, `save_pretrained`,
    /// `save_checkpoint`, `save_model`, `save_state`) under a condition that selects local rank
    /// 0 — `LOCAL_RANK == 0`, `local_rank in [-1, 0]`, `rank % ngpus_per_node == 0` — directly
    /// or around the call of the function that saves.
    /// ## Why it matters
    /// The local rank is 0 once per node. On one node that is one writer; on several nodes
    /// every node's first process writes the same path on the shared file system at the same
    /// moment: interleaved or truncated checkpoints, and a resume that loads whichever writer
    /// finished last.
    /// ## Example
    /// ```python
    /// if int(os.environ["LOCAL_RANK"]) == 0:
    ///     torch.save(state, "/shared/ckpt/last.pt")
    /// ```
    /// ## Fix
    /// Select the global rank: `if dist.get_rank() == 0:` (or `accelerator.is_main_process`,
    /// `trainer.is_global_zero`); keep the local rank for per-node work such as preparing data
    /// on local disk.
    pub static CHECKPOINT_SEVERAL_WRITERS = { code: "REPRO020", name: "checkpoint-several-writers", severity: Warning, summary: "A checkpoint is written by local rank 0 of every node" };
}

/// A condition that holds on each node's first process.
pub fn per_node(guard: &str) -> bool {
    let g: String = guard
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let local = g.contains("local_rank")
        || g.contains("localrank")
        || g.contains("local_process_index==0")
        || g.contains("is_local_main_process");
    let modulo = g.contains('%')
        && [
            "ngpus",
            "device_count",
            "nproc",
            "gpus_per_node",
            "local_world_size",
        ]
        .iter()
        .any(|w| g.contains(w));
    let global = g.contains("is_main_process") && !g.contains("is_local_main_process")
        || g.contains("global_rank")
        || g.contains("get_rank()==0");
    (local || modulo) && !global
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if !ctx.distributed() {
        return;
    }
    let save = ctx.script.live_calls().find(|c| {
        (c.callee == "torch.save"
            || matches!(
                c.name(),
                "save_pretrained" | "save_checkpoint" | "save_model" | "save_state"
            ))
            && ctx.guards(c).iter().any(|g| per_node(g))
    });
    if let Some(c) = save {
        let guard = ctx
            .guards(c)
            .into_iter()
            .find(|g| per_node(g))
            .unwrap_or_default()
            .to_owned();
        out.push(
            Finding::new(
                &CHECKPOINT_SEVERAL_WRITERS,
                ctx.at(c.file, c.line, c.column),
                format!(
                    "{}(...) runs under `{guard}`, which holds on the first process of every node: on several nodes each one writes the same checkpoint",
                    c.written
                ),
            )
            .with_help("save on the global rank 0 only: dist.get_rank() == 0 (accelerator.is_main_process, trainer.is_global_zero)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::per_node;

    #[test]
    fn local_and_global_rank_conditions() {
        for g in [
            "args.local_rank in [-1, 0]",
            "int(os.environ['LOCAL_RANK']) == 0",
            "args.rank % ngpus_per_node == 0",
            "accelerator.is_local_main_process",
        ] {
            assert!(per_node(g), "{g}");
        }
        for g in [
            "dist.get_rank() == 0",
            "accelerator.is_main_process",
            "rank == 0",
            "global_rank == 0",
        ] {
            assert!(!per_node(g), "{g}");
        }
    }
}
