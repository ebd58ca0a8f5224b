use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// In a column that is numeric in at least 80% of its present values, the values that do not
    /// parse as numbers (or as integers in an integer column), with the count and the first line.
    /// ## Why it matters
    /// A stray `12,5` or `n.a.` makes pandas read the whole column as strings; the model then gets
    /// an object array, or a conversion step drops the row silently.
    /// ## Example
    /// ```text
    /// data/labels.csv:301  warning  DATA008  column `width` (int): 2 values are not int (first at line 301)
    /// ```
    /// ## Fix
    /// Correct the values at the source, or coerce them explicitly
    /// (`pd.to_numeric(errors="coerce")`) and handle the resulting NaN.
    pub static UNPARSABLE_CELLS = { code: "DATA008", name: "unparsable-cells", severity: Warning, summary: "Values do not parse as their column's type" };
}

/// Values of a numeric column that are not of its type.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Column(c) = &facts.fact else {
        return;
    };
    let ty = c.inferred();
    if !matches!(ty, "int" | "float") {
        return;
    }
    let bad = c.unparsable();
    if bad.count > 0 {
        out.push(
            Finding::new(&UNPARSABLE_CELLS, facts.line(bad.first_line), format!("column `{}` ({ty}): {} value{} not {ty} (first at line {})", c.name, bad.count, if bad.count == 1 { " is" } else { "s are" }, bad.first_line))
                .with_help("correct the values at the source, or coerce explicitly (pd.to_numeric(errors=\"coerce\")) and handle the NaN")
                .with_data("column", c.name.as_str()),
        );
    }
}
