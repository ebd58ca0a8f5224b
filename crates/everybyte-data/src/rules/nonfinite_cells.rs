use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// CSV and TSV files column by column: cells that read as `NaN`/`nan` or
    /// `inf`/`-inf`/`Infinity` in columns that are numeric, with the count and the first line of
    /// each. JSON Lines the same way (Python's `NaN`/`Infinity` tokens); Parquet and Arrow
    /// float columns from their data (not their statistics, which leave NaN out), with the
    /// first row.
    /// ## Why it matters
    /// One NaN in a feature or a target makes the loss NaN, and from then on every gradient; the
    /// run keeps spending GPU hours on a model that learns nothing.
    /// ## Example
    /// ```text
    /// data/labels.csv:43  error  DATA006  column `mean_r` (float): 1 NaN (first at line 43), 2 inf (first at line 88)
    /// ```
    /// ## Fix
    /// Fix the source, or decide a policy and apply it before training: drop the rows or fill
    /// them with a documented value.
    pub static NONFINITE_CELLS = { code: "DATA006", name: "nonfinite-cells", severity: Error, summary: "A numeric table column holds NaN or infinite values" };
}

/// NaN and inf cells of a numeric column.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Column(c) = &facts.fact else {
        return;
    };
    let ty = c.inferred();
    if !matches!(ty, "int" | "float") {
        return;
    }
    if let Some((text, first)) = super::counts(c, &[(c.nan, "NaN"), (c.inf, "inf")]) {
        out.push(
            Finding::new(
                &NONFINITE_CELLS,
                super::column_at(facts, c, first),
                format!("column `{}` ({ty}): {text}", c.name),
            )
            .with_help("fix the source, or drop or fill these rows before training")
            .with_data("column", c.name.as_str())
            .with_data("nan", c.nan.count)
            .with_data("inf", c.inf.count),
        );
    }
}
