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
