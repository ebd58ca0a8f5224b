use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Empty cells and NA-like markers (`NA`, `N/A`, `null`, `NULL`, `None`, `nil`, `-`) per
    /// column, with the count and the first line; in Parquet and Arrow files, the nulls of
    /// numeric columns (a null in an optional text column is what its schema allows), with
    /// the first row.
    /// ## Why it matters
    /// pandas turns them into NaN (a numeric column) or leaves strings like `"N/A"` (an object
    /// column), and `torch.tensor` then fails or trains on NaN.
    /// ## Example
    /// ```text
    /// data/labels.csv:176  warning  DATA007  column `blur_score` (float): 1 empty (first at line 176), 1 N/A (first at line 209)
    /// ```
    /// ## Fix
    /// Fill or drop them explicitly before training, and make the export write one consistent
    /// missing-value marker.
    pub static MISSING_CELLS = { code: "DATA007", name: "missing-cells", severity: Warning, summary: "A table column holds empty or NA-like cells" };
}

/// Empty and NA-like cells of a column.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Column(c) = &facts.fact else {
        return;
    };
    // A columnar file's nulls matter where the column is a number (a feature, a label): a
    // null in an optional text column is what the schema allows.
    if c.by_row && !matches!(c.inferred(), "int" | "float") {
        return;
    }
    let na = if c.by_row { "null" } else { "NA-like" };
    if let Some((text, first)) = super::counts(c, &[(c.empty, "empty"), (c.na, na)]) {
        out.push(
            Finding::new(&MISSING_CELLS, super::column_at(facts, c, first), format!("column `{}` ({}): {text}", c.name, c.inferred()))
                .with_help("fill or drop them explicitly before training, and make the export write one missing-value marker")
                .with_data("column", c.name.as_str())
                .with_data("empty", c.empty.count)
                .with_data("na", c.na.count),
        );
    }
}
