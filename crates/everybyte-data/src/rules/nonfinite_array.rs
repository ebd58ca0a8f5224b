use everybyte_core::{Finding, Location};

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Floating-point `.npy` arrays and `.safetensors` tensors (F16, BF16, F32, F64) element by
    /// element: the number of NaN and infinite values and the index of the first.
    /// ## Why it matters
    /// A NaN in features or weights propagates through every operation it touches: the loss becomes
    /// NaN on the first batch that includes it.
    /// ## Example
    /// ```text
    /// data/features.npy  error  DATA012  1 NaN, 0 inf among 4800 float32 values (first at flat index 2196)
    /// ```
    /// ## Fix
    /// Find where the NaN comes from (a division by zero in preprocessing, a log of zero) and fix
    /// it there, or filter with `np.isfinite` before saving.
    pub static NONFINITE_ARRAY = { code: "DATA012", name: "nonfinite-array", severity: Error, summary: "A float array holds NaN or infinite values" };
}

/// NaN and inf values of a float array or tensor.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Array(a) = &facts.fact else {
        return;
    };
    for c in a.nonfinite.iter().filter(|c| c.counts.total() > 0) {
        let nf = c.counts;
        let message = format!(
            "{} NaN, {} inf among {} {} values (first at flat index {})",
            nf.nan,
            nf.inf,
            c.elements,
            c.dtype,
            nf.first.unwrap_or(0)
        );
        let (location, message) = match &c.tensor {
            None => (facts.at(), message),
            Some(name) => (
                Location {
                    detail: Some(format!("tensor {name}")),
                    ..facts.at()
                },
                format!("tensor `{name}`: {message}"),
            ),
        };
        out.push(
            Finding::new(&NONFINITE_ARRAY, location, message)
                .with_help("find where they come from (a division by zero, a log of zero) and fix it there, or filter with np.isfinite before saving")
                .with_data("nan", nf.nan)
                .with_data("inf", nf.inf),
        );
    }
}
