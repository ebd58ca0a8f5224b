//! REPRO017: a resume path that starts the data stream over.

use everybyte_core::Finding;

use super::Context;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A program that resumes — it reads the epoch, step or iteration back from a loaded
    /// checkpoint (`start_epoch = checkpoint["epoch"]`, `iter_num = ckpt["iter_num"]`) — but
    /// restores nothing of the data stream: no generator state (`set_rng_state`,
    /// `random.setstate`, `np.random.set_state`), no sampler or loader state
    /// (`load_state_dict` on it, `StatefulDataLoader`), no skipping of seen batches
    /// (`skip_first_batches`, `itertools.islice`), no `set_epoch`, no loader state handed back
    /// (`resume_state_dict=`). A program that never seeds replays nothing and is not reported.
    /// ## Why it matters
    /// The resumed process seeds its generators as a fresh run does, so the batches it draws
    /// after step N are the batches of step 0: the model sees its first data again and never
    /// sees what the interrupted run would have drawn next. A run interrupted and resumed ends
    /// with different weights from one that was not.
    /// ## Example
    /// ```python
    /// checkpoint = torch.load(ckpt_path)
    /// iter_num = checkpoint["iter_num"]
    /// torch.manual_seed(1337)                 # same stream as step 0
    /// x, y = get_batch("train")               # torch.randint from the global generator
    /// ```
    /// ## Fix
    /// Save and restore the generator states with the checkpoint (`torch.get_rng_state()`,
    /// `torch.cuda.get_rng_state_all()`, NumPy and `random`), or the sampler's position
    /// (`torchdata`'s `StatefulDataLoader`, `accelerator.skip_first_batches`), or seed the data
    /// stream from the step (`torch.manual_seed(seed + iter_num)`).
    pub static RESUME_REPLAYS_DATA = { code: "REPRO017", name: "resume-replays-data", severity: Warning, summary: "Resuming restores the step but starts the data stream over" };
}

const CONTINUES: &[&str] = &[
    "set_rng_state",
    "set_rng_state_all",
    "setstate",
    "set_state",
    "skip_first_batches",
    "islice",
    "set_epoch",
    "StatefulDataLoader",
    "load_state",
];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.training().is_none() {
        return;
    }
    let s = ctx.script;
    if ctx
        .live(|c| c.name() == "load" && c.callee.starts_with("torch."))
        .is_none()
    {
        return;
    }
    let position = s.live_assigns().find(|a| {
        let v = a.value.to_ascii_lowercase();
        let reads_key = ["[\"", "['", ".get("].iter().any(|open| {
            v.split(open).skip(1).any(|rest| {
                ["epoch", "step", "iter"].iter().any(|w| {
                    rest.split(['"', '\''])
                        .next()
                        .is_some_and(|k| k.contains(w))
                })
            })
        });
        let target = a.target.to_ascii_lowercase();
        // A value read from the checkpoint, not a string that mentions it.
        let expression =
            !v.trim_start().starts_with(['f', '"', '\'']) || v.trim_start().starts_with("float(");
        reads_key
            && expression
            && (v.contains("ckpt") || v.contains("checkpoint") || v.contains("state"))
            && ["epoch", "step", "iter"].iter().any(|w| target.contains(w))
    });
    let Some(at) = position else { return };
    let continues = s.calls.iter().any(|c| {
        CONTINUES.contains(&c.name())
            || c.name() == "load_state_dict" && c.written.to_ascii_lowercase().contains("sampler")
            || c.name() == "load_state_dict" && c.written.to_ascii_lowercase().contains("loader")
    });
    // Seeding with the position folded in continues the stream too.
    let seeds_from_step = s.calls.iter().any(|c| {
        matches!(
            c.name(),
            "manual_seed" | "seed" | "set_seed" | "seed_everything"
        ) && c.args.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a.contains("step") || a.contains("iter") || a.contains("epoch")
        })
    });
    // A loader handed its saved state (`resume_state_dict=`, `dataloader_state_dict`).
    let loader_state = s.calls.iter().any(|c| {
        c.keywords.iter().any(|(k, v)| {
            let kv = format!("{k} {v}").to_ascii_lowercase();
            [
                "loader_state",
                "sampler_state",
                "resume_state",
                "data_state",
            ]
            .iter()
            .any(|w| kv.contains(w))
        })
    });
    // Without seeding there is nothing to replay: the resumed run draws fresh randomness.
    let seeded = !super::seeded(s.live_calls()).is_empty();
    if continues || seeds_from_step || loader_state || !seeded {
        return;
    }
    out.push(
        Finding::new(
            &RESUME_REPLAYS_DATA,
            ctx.at(at.file, at.line, at.column),
            format!(
                "resuming restores {} from the checkpoint but not the data stream: the generators start as in a fresh run, so the resumed run draws the batches of step 0 again",
                a_target(&at.target)
            ),
        )
        .with_help("save and restore the generator states (torch.get_rng_state(), torch.cuda.get_rng_state_all(), numpy, random) or the sampler position with the checkpoint"),
    );
}

fn a_target(t: &str) -> &str {
    t.rsplit('.').next().unwrap_or(t)
}
