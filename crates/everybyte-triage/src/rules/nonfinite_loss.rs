//! LOG014: the loss became NaN or infinite.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Training output where a loss value is `nan` or `inf`: `loss: nan`, `train_loss=inf`,
    /// `{'loss': nan, …}` (Hugging Face Trainer), `loss=nan` (Lightning's progress bar),
    /// `tensor(nan, …)`, `Loss is nan, stopping training`. The first occurrence is reported with
    /// its step or epoch where the line gives one, and the repeats are counted. A non-finite
    /// gradient norm (`'grad_norm': nan`, Megatron's `grad norm: nan |`) is reported the same
    /// way. Loss-scaler values (`loss_scale`) are not losses and are ignored.
    /// ## Why it matters
    /// Once the loss is NaN, every gradient is NaN and every later step updates nothing; runs
    /// often continue for hours, spending the GPU budget on a model that outputs garbage. The
    /// first bad step narrows the cause to a batch, a learning-rate change or an fp16 overflow.
    /// ## Example
    /// ```text
    /// {'loss': nan, 'grad_norm': nan, 'learning_rate': 4.8e-05, 'epoch': 0.31}
    /// ```
    /// ## Fix
    /// Lower the learning rate or add warm-up; clip gradients
    /// (`torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`); with fp16 use a
    /// `GradScaler` or switch to bf16; find the first bad batch with
    /// `torch.autograd.set_detect_anomaly(True)`, and scan the data for NaN/inf cells
    /// (`everybyte data scan DIR`).
    pub static NONFINITE_LOSS = { code: "LOG014", name: "nonfinite-loss", severity: Error, summary: "The training loss became NaN or infinite" };
}

static STEP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(global_step|step|iteration|iter|it|batch)\b['\x22]?\s*[:=#]?\s*\[?(\d+)")
        .expect("valid regex")
});
static EPOCH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bepoch\b['\x22]?\s*[:=#]?\s*\[?(\d+(?:\.\d+)?)").expect("valid regex")
});

/// Autograd's anomaly mode naming the backward function that produced the non-finite value.
static ANOMALY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"Function '(\w+)' returned (nan|inf|NaN|Inf) values in its (\d+)(?:st|nd|rd|th) output",
    )
    .expect("valid regex")
});

/// Finds a loss field whose value is non-finite; returns (byte offset, value as written).
pub fn find_nonfinite_loss(line: &str) -> Option<(usize, &str)> {
    find_nonfinite_field(line, "loss")
}

/// Finds a gradient-norm field whose value is non-finite (`'grad_norm': nan`).
pub fn find_nonfinite_grad_norm(line: &str) -> Option<(usize, &str)> {
    // `grad_norm`, `gradnorm`, Megatron's `grad norm: nan |`
    find_nonfinite_field(line, "grad_norm")
        .or_else(|| find_nonfinite_field(line, "gradnorm"))
        .or_else(|| find_nonfinite_field(line, "grad norm"))
}

fn find_nonfinite_field<'a>(line: &'a str, field: &str) -> Option<(usize, &'a str)> {
    let bytes = line.as_bytes();
    let lower = line.to_ascii_lowercase();
    let mut from = 0;
    while let Some(rel) = lower[from..].find(field) {
        let start = from + rel;
        from = start + field.len();
        // The name around "loss": letters, digits and underscores (train_loss, loss_scale).
        let mut name_end = from;
        while name_end < bytes.len()
            && (bytes[name_end].is_ascii_alphanumeric() || bytes[name_end] == b'_')
        {
            name_end += 1;
        }
        let mut name_start = start;
        while name_start > 0
            && (bytes[name_start - 1].is_ascii_alphanumeric()
                || bytes[name_start - 1] == b'_'
                || bytes[name_start - 1] == b'/')
        {
            name_start -= 1;
        }
        let name = &lower[name_start..name_end];
        if name.contains("scale") || name.contains("scaler") {
            continue;
        }
        let rest = &line[name_end..];
        let Some(value) = value_after(rest) else {
            continue;
        };
        return Some((name_start, value));
    }
    None
}

/// The value after a separator (`: `, `=`, ` is `, `': `), if it is non-finite. A bare space
/// separates only in a `|`-delimited row (fairseq's `| loss nan | nll_loss nan |`).
fn value_after(rest: &str) -> Option<&str> {
    let mut s = rest.trim_start_matches(['\'', '"']).trim_start();
    let piped = s.split('|').next().map(str::trim).filter(|cell| {
        rest.contains('|') && !cell.contains(char::is_whitespace) && !cell.is_empty()
    });
    if let Some(cell) = piped
        && !s.starts_with([':', '='])
        && !s.starts_with("is ")
    {
        let t = cell.trim_start_matches(['-', '+']).to_ascii_lowercase();
        return matches!(t.as_str(), "nan" | "inf" | "infinity").then_some(cell);
    }
    if let Some(r) = s.strip_prefix("is ") {
        s = r;
    } else if let Some(r) = s.strip_prefix(':').or_else(|| s.strip_prefix('=')) {
        s = r;
    } else {
        return None;
    }
    s = s.trim_start();
    s = s.strip_prefix("tensor(").unwrap_or(s);
    let end = s
        .find(|c: char| !(c.is_ascii_alphabetic() || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let token = &s[..end];
    let t = token.trim_start_matches(['-', '+']).to_ascii_lowercase();
    matches!(t.as_str(), "nan" | "inf" | "infinity").then_some(token)
}

/// A row of a metrics table (`| nan | 1.0 | 500 | nan |`, rich's `│ 3 │ nan │ nan │`): every
/// cell a number, at least two of them finite, at least one NaN or inf. Returns the offset and
/// the 1-based columns that are not finite.
fn nonfinite_table_row(line: &str) -> Option<(usize, Vec<usize>)> {
    let trimmed = line.trim();
    let sep = ['|', '│', '┃'];
    if !trimmed.starts_with(sep) || !trimmed.ends_with(sep) {
        return None;
    }
    let cells: Vec<&str> = trimmed
        .trim_matches(sep)
        .split(sep)
        .map(str::trim)
        .collect();
    let (mut finite, mut bad) = (0, Vec::new());
    for (i, cell) in cells.iter().enumerate() {
        let t = cell.trim_start_matches(['-', '+']).to_ascii_lowercase();
        if matches!(t.as_str(), "nan" | "inf" | "infinity") {
            bad.push(i + 1);
        } else if cell.parse::<f64>().is_ok_and(f64::is_finite) {
            finite += 1;
        } else if !cell.is_empty() {
            return None;
        }
    }
    (finite >= 2 && !bad.is_empty()).then(|| (line.len() - line.trim_start().len(), bad))
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    if let Some((at, cols)) = nonfinite_table_row(line) {
        let list: Vec<String> = cols.iter().map(ToString::to_string).collect();
        out.push(
            Hit::new(
                &NONFINITE_LOSS,
                at,
                format!(
                    "a row of the metrics table holds NaN/inf (column {} — the table's header names it): training diverged",
                    list.join(", ")
                ),
                "lower the learning rate or add warm-up; clip gradients (torch.nn.utils.clip_grad_norm_(params, 1.0)); with fp16 use GradScaler or switch to bf16; torch.autograd.set_detect_anomaly(True) finds the first bad op",
            )
            .role(Role::None)
            .key("nonfinite-loss")
            .data("columns", cols),
        );
        return;
    }
    if let Some(c) = ANOMALY.captures(line) {
        out.push(
            Hit::new(
                &NONFINITE_LOSS,
                c.get(0).map_or(0, |m| m.start()),
                format!(
                    "autograd's anomaly mode: {} returned {} values in its output {}: the first operation of the backward pass that went non-finite",
                    &c[1], &c[2].to_ascii_lowercase(), &c[3]
                ),
                "the forward operation behind it is in the traceback anomaly mode printed above (the line that created it); look for log/sqrt/division of values that reach 0, softmax over -inf rows, or fp16 overflow; clip gradients and check the inputs (everybyte data scan)",
            )
            .role(Role::None)
            .key("nonfinite-anomaly")
            .data("function", &c[1])
            .data("value", c[2].to_ascii_lowercase()),
        );
        return;
    }
    let (found, what) = match find_nonfinite_loss(line) {
        Some(f) => (f, "loss"),
        None => match find_nonfinite_grad_norm(line) {
            Some(f) => (f, "gradient norm"),
            None => return,
        },
    };
    let (at, value) = found;
    let step = STEP.captures(line).map(|c| format!("{} {}", &c[1], &c[2]));
    let epoch = EPOCH.captures(line).map(|c| format!("epoch {}", &c[1]));
    let when = match (&step, &epoch) {
        (Some(s), Some(e)) => format!(" at {s}, {e}"),
        (Some(s), None) => format!(" at {s}"),
        (None, Some(e)) => format!(" at {e}"),
        (None, None) => String::new(),
    };
    let mut hit = Hit::new(
        &NONFINITE_LOSS,
        at,
        format!("{what} is {value}{when}: training diverged, and every step after this one learns nothing"),
        "lower the learning rate or add warm-up; clip gradients (torch.nn.utils.clip_grad_norm_(params, 1.0)); with fp16 use GradScaler or switch to bf16; torch.autograd.set_detect_anomaly(True) finds the first bad op; everybyte data scan DIR finds NaN/inf in the data",
    )
    .role(Role::None)
    .key("nonfinite-loss")
    .data("value", value);
    if let Some(s) = step {
        hit = hit.data("step", s);
    }
    if let Some(e) = epoch {
        hit = hit.data("epoch", e);
    }
    out.push(hit);
}

#[cfg(test)]
mod tests {
    use super::find_nonfinite_loss;

    #[test]
    fn finds_the_forms_trainers_print() {
        for line in [
            "{'loss': nan, 'grad_norm': nan, 'learning_rate': 4.8e-05, 'epoch': 0.31}",
            "Epoch 3 | step 1200 | loss: nan",
            "train_loss=inf val_loss=2.3",
            "Loss is nan, stopping training",
            "Epoch 0:  12%|█▏ | 120/1000 [00:31<03:50, loss=nan, v_num=3]",
            "loss = tensor(nan, device='cuda:0', grad_fn=<NllLossBackward0>)",
            "val/loss: -inf",
            "epoch 001 | loss nan | nll_loss nan | ppl nan | wps 3012 | ups 1 | wpb 3843",
        ] {
            assert!(find_nonfinite_loss(line).is_some(), "{line}");
        }
        assert!(
            super::find_nonfinite_grad_norm(
                " iteration     5426/  250000 | learning rate: 2.999E-04 | loss scale: 1.0 | grad norm: nan | number of nan iterations:   0 |"
            )
            .is_some()
        );
        assert!(
            super::find_nonfinite_grad_norm(
                "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1.2e-09, 'epoch': 0.0}"
            )
            .is_some()
        );
        assert!(
            super::nonfinite_table_row("| nan           | 1.0   | 500  | nan             |")
                .is_some()
        );
        assert!(super::nonfinite_table_row("│ 3     │ 0.812      │ nan      │").is_some());
        assert!(super::ANOMALY.is_match(
            "RuntimeError: Function 'LogSoftmaxBackward0' returned nan values in its 0th output."
        ));
    }

    #[test]
    fn ignores_finite_losses_and_scalers() {
        for line in [
            "step 10 | loss: 0.4312 | info: nanoGPT finance",
            "loss_scale: inf",
            "Gradient overflow. Skipping step, loss scaler 0 reducing loss scale to inf",
            "lossless compression is informative",
            "loss: 1.2e-3 (inf norm: 4.0)",
            "epoch 001 | loss 4.112 | nll_loss 3.92 | ppl 15.1",
            "the loss nan values were masked | see docs",
        ] {
            assert!(find_nonfinite_loss(line).is_none(), "{line}");
        }
        assert!(super::find_nonfinite_grad_norm("{'grad_norm': 0.7431, 'loss': 1.9}").is_none());
        for row in [
            "| Training Loss | Epoch | Step | Validation Loss |",
            "| 0.4121        | 1.0   | 500  | 0.3977          |",
            "| model | nan-safe | 1.0 | 2.0 |",
            "| nan | text |",
        ] {
            assert!(super::nonfinite_table_row(row).is_none(), "{row}");
        }
    }
}
