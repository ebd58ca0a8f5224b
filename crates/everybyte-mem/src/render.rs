//! The text `everybyte mem budget` prints, and the title of its chart.

use std::io::{self, Write};

use everybyte_core::bytesize::Bytes;

use crate::budget::{Budget, ModelShape};

/// What a budget's text and chart say beside the numbers.
#[derive(Debug, Clone, Copy)]
pub struct BudgetView<'a> {
    pub shape: &'a ModelShape,
    pub budget: &'a Budget,
    /// The card read through NVML (`--gpu auto`), named in a line of its own.
    pub card_label: Option<&'a str>,
    /// The fraction of the card kept free.
    pub buffer: f64,
    pub batch: u64,
    pub seq: u64,
}

/// The chart's title: `LlamaForCausalLM at batch 8 × seq 2048 — GPU 0 (…)`.
pub fn budget_title(v: &BudgetView<'_>) -> String {
    format!(
        "{} at batch {} × seq {}{}",
        v.shape.architecture.as_deref().unwrap_or("model"),
        v.batch,
        v.seq,
        v.card_label.map(|l| format!(" — {l}")).unwrap_or_default()
    )
}

/// The budget as text: the parameter count, one line per component, the total, and against a
/// card whether it fits and the largest batch that does.
pub fn budget_text(out: &mut dyn Write, v: &BudgetView<'_>) -> io::Result<()> {
    let (shape, b) = (v.shape, v.budget);
    writeln!(
        out,
        "{} parameters{}",
        shape.params,
        shape
            .architecture
            .as_ref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default()
    )?;
    for c in &b.components {
        writeln!(
            out,
            "  {:<30} {:>12}   {}",
            c.name,
            Bytes(c.bytes).to_string(),
            c.note
        )?;
    }
    match &b.peak {
        Some(note) => writeln!(
            out,
            "  {:<30} {:>12}   {note}",
            "peak",
            Bytes(b.required).to_string()
        )?,
        None => writeln!(
            out,
            "  {:<30} {:>12}",
            "total",
            Bytes(b.required).to_string()
        )?,
    }
    if let (Some(cap), Some(usable), Some(margin)) = (b.capacity, b.usable, b.margin) {
        let verdict = if margin >= 0 {
            format!(
                "fits, {} to spare",
                Bytes(u64::try_from(margin).unwrap_or(0))
            )
        } else {
            format!(
                "does NOT fit: short by {}",
                Bytes(u64::try_from(-margin).unwrap_or(0))
            )
        };
        if let Some(l) = v.card_label {
            writeln!(out, "{l}")?;
        }
        writeln!(
            out,
            "card {} with {:.0}% kept free: {} usable; {verdict}",
            Bytes(cap),
            v.buffer * 100.0,
            Bytes(usable)
        )?;
        if let Some(mb) = b.max_batch {
            writeln!(out, "largest batch that fits at seq {}: {mb}", v.seq)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::{BudgetInput, Optimizer, Recompute, budget};

    fn seven_b(capacity: Option<u64>) -> (ModelShape, Budget) {
        let shape = ModelShape {
            params: 7_000_000_000,
            ..ModelShape::default()
        };
        let b = budget(&BudgetInput {
            model: shape.clone(),
            train: true,
            weight_bytes: 2.0,
            optimizer: Optimizer::Adamw,
            mixed_precision: true,
            batch: 1,
            seq: 2048,
            recompute: Recompute::None,
            zero_stage: 0,
            gpus: 1,
            capacity,
            buffer: 0.15,
            context_bytes: 512 << 20,
            precision: None,
            attention: crate::activations::Attention::Sdpa,
            device: crate::activations::Device::Cuda,
        });
        (shape, b)
    }

    #[test]
    fn text_names_each_component_and_the_verdict() {
        let (shape, b) = seven_b(Some(24 << 30));
        let mut out = Vec::new();
        let v = BudgetView {
            shape: &shape,
            budget: &b,
            card_label: Some("GPU 0 (test card)"),
            buffer: 0.15,
            batch: 1,
            seq: 2048,
        };
        budget_text(&mut out, &v).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("7000000000 parameters\n"), "{text}");
        assert!(text.contains("  weights "), "{text}");
        assert!(text.contains("  total "), "{text}");
        assert!(text.contains("\nGPU 0 (test card)\n"), "{text}");
        assert!(
            text.contains(
                "card 24.00 GiB with 15% kept free: 20.40 GiB usable; does NOT fit: short by"
            ),
            "{text}"
        );
        assert_eq!(
            budget_title(&v),
            "model at batch 1 × seq 2048 — GPU 0 (test card)"
        );
    }

    #[test]
    fn without_a_card_there_is_no_verdict() {
        let (shape, b) = seven_b(None);
        let mut out = Vec::new();
        let v = BudgetView {
            shape: &shape,
            budget: &b,
            card_label: None,
            buffer: 0.15,
            batch: 1,
            seq: 2048,
        };
        budget_text(&mut out, &v).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("card "), "{text}");
        assert!(
            text.lines().last().unwrap().starts_with("  total"),
            "{text}"
        );
    }
}
