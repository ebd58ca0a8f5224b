everybyte_core::declare_rule! {
    /// ## What it checks
    /// Every record's field count (RFC 4180 quoting honoured, so quoted delimiters and newlines are
    /// not miscounted) against the header's.
    /// ## Why it matters
    /// A ragged row shifts values into the wrong columns or makes the reader raise (`Error
    /// tokenizing data`); with `on_bad_lines="skip"` rows vanish without a trace.
    /// ## Example
    /// ```text
    /// data/labels.csv:254  error  DATA009  1 row has 12 fields instead of 11 (first at line 254)
    /// ```
    /// ## Fix
    /// Quote fields that contain the delimiter, or fix the export that wrote the row.
    pub static RAGGED_ROWS = { code: "DATA009", name: "ragged-rows", severity: Error, summary: "Rows have a different number of fields than the header" };
}
