//! LOG024: a mixed-precision loss scale that collapses: every step overflows.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};
use crate::rules::Memory;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The dynamic loss scaler's overflow messages — Apex's `Gradient overflow.  Skipping step,
    /// loss scaler 0 reducing loss scale to 0.5`, DeepSpeed's `OVERFLOW! Rank 0 Skipping step.
    /// Attempted loss scale: 2, reducing to 1` and `Current loss scale already at minimum`,
    /// fairseq's `gradient overflow detected, ignoring gradient, setting loss scale to: 0.5`
    /// and `Minimum loss scale reached` — over the whole log. It reports the first line where
    /// the scale fell below 1 (or hit the scaler's minimum: said so, or an overflow whose
    /// `reducing to` leaves the attempted scale of 1 or less where it was), with its step where
    /// printed, and
    /// how many overflows there were in all. An occasional overflow that leaves the scale at 1
    /// or above is how dynamic loss scaling works and is not reported.
    /// ## Why it matters
    /// The scaler halves the scale on each overflow and skips the step. A scale below 1 means
    /// even the unscaled gradients overflow fp16: every step is skipped, the weights stop
    /// changing, and the run burns GPU hours while its loss stays flat (or turns NaN).
    /// ## Example
    /// ```text
    /// Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 0.5
    /// ```
    /// ## Fix
    /// The model diverged: restart from the last good checkpoint with a lower learning rate or
    /// longer warm-up, clip gradients (`clip_grad_norm_(params, 1.0)`), check the data around
    /// the first overflow, and prefer bf16 (no loss scaling needed) on GPUs that support it.
    pub static LOSS_SCALE_COLLAPSE = { code: "LOG024", name: "loss-scale-collapse", severity: Error, summary: "The mixed-precision loss scale collapsed: every step overflows" };
}

/// The scale the scaler moved to after an overflow.
static REDUCED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:reducing (?:loss scale )?to|setting loss scale to):?\s*([0-9.]+(?:e-?\d+)?)",
    )
    .expect("valid regex")
});
/// DeepSpeed's `Attempted loss scale: 1, reducing to 1`: a reduction that leaves the scale
/// where it was has hit the scaler's floor (`min_loss_scale`).
static ATTEMPTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)attempted loss scale:?\s*([0-9.]+(?:e-?\d+)?)").expect("valid regex")
});
static MINIMUM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:loss scale already at minimum|minimum loss scale reached)(?:\s*\(([0-9.e-]+)\))?",
    )
    .expect("valid regex")
});
static OVERFLOW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)overflow").expect("valid regex"));
static STEP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(global_step|step|iteration|iter|update|num_updates)\b\s*[:=#]?\s*(\d+)")
        .expect("valid regex")
});

/// Where the scale collapsed: (line, text, scale, step, overflows up to it).
type Collapse = (u64, String, Option<f64>, Option<String>, u64);

/// The loss scaler's history over one log.
#[derive(Default)]
pub struct Tracker {
    overflows: u64,
    first_overflow: Option<u64>,
    last_overflow: u64,
    /// The first line where the scale fell below 1 or reached the minimum.
    collapse: Option<Collapse>,
    lowest: Option<f64>,
}

pub fn detect(line: &str, line_no: u64, memory: &mut Memory, _out: &mut Vec<Hit>) {
    let t = &mut memory.loss_scale;
    let minimum = MINIMUM.captures(line);
    let scale = if minimum.is_some() {
        minimum
            .as_ref()
            .and_then(|c| c.get(1))
            .and_then(|m| m.as_str().parse::<f64>().ok())
    } else if OVERFLOW.is_match(line) {
        match REDUCED.captures(line) {
            Some(c) => c[1].parse::<f64>().ok(),
            // An overflow that did not lower the scale (DeepSpeed's hysteresis).
            None if line.contains("kipping step") || line.contains("gnoring gradient") => None,
            None => return,
        }
    } else {
        return;
    };
    if minimum.is_none() {
        t.overflows += 1;
        t.first_overflow.get_or_insert(line_no);
        t.last_overflow = line_no;
    }
    if let Some(s) = scale {
        t.lowest = Some(t.lowest.map_or(s, |l| l.min(s)));
    }
    // A floor above 1 (`min_loss_scale: 128`) still scales the gradients up: not a collapse.
    let at_floor = scale.is_some_and(|s| {
        s <= 1.0
            && ATTEMPTED
                .captures(line)
                .and_then(|c| c[1].parse::<f64>().ok())
                .is_some_and(|attempted| attempted <= s)
    });
    let collapsed = minimum.is_some() || at_floor || scale.is_some_and(|s| s < 1.0);
    if collapsed && t.collapse.is_none() {
        let step = STEP.captures(line).map(|c| format!("{} {}", &c[1], &c[2]));
        t.collapse = Some((line_no, line.to_owned(), scale, step, t.overflows));
    }
}

impl Tracker {
    pub fn finish(self, out: &mut Vec<(u64, String, Hit)>) {
        let Some((line_no, text, scale, step, before)) = self.collapse else {
            return;
        };
        let when = step
            .as_ref()
            .map(|s| format!(" at {s}"))
            .unwrap_or_default();
        let fell = match scale {
            Some(s) => format!("the loss scale fell to {s}{when}"),
            None => format!("the loss scale reached the scaler's minimum{when}"),
        };
        let first = self
            .first_overflow
            .map(|l| format!(", the first at line {l}"))
            .unwrap_or_default();
        let message = format!(
            "{fell}: even unscaled fp16 gradients overflow, so every step is skipped — training has diverged ({} gradient overflows in all{first}; {before} up to here, the last at line {})",
            self.overflows, self.last_overflow
        );
        let at = crate::line::find_ci(&text, "overflow")
            .or_else(|| crate::line::find_ci(&text, "loss scale"))
            .unwrap_or(0);
        let mut hit = Hit::new(
            &LOSS_SCALE_COLLAPSE,
            at,
            message,
            "restart from the last good checkpoint with a lower learning rate or a longer warm-up, clip gradients (torch.nn.utils.clip_grad_norm_(params, 1.0)), inspect the batches around the first overflow, and prefer bf16 where the GPU supports it (no loss scaling)",
        )
        // The exception a trainer raises for it (DeepSpeed's `Current loss scale already at
        // minimum`) follows from it.
        .role(Role::Cause("loss-scale collapse"))
        .data("overflows", self.overflows)
        .data("overflows_before", before);
        if let Some(s) = scale {
            hit = hit.data("scale", s);
        }
        if let Some(l) = self.lowest {
            hit = hit.data("lowest_scale", l);
        }
        if let Some(s) = step {
            hit = hit.data("step", s);
        }
        out.push((line_no, text, hit));
    }
}
