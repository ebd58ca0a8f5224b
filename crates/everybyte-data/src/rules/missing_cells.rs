everybyte_core::declare_rule! {
    /// ## What it checks
    /// Empty cells and NA-like markers (`NA`, `N/A`, `null`, `NULL`, `None`, `nil`, `-`) per
    /// column, with the count and the first line.
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
