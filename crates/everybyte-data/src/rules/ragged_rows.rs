use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

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

/// Records whose field count differs from the header's (JSON Lines: lines that are not
/// objects).
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Table(t) = &facts.fact else {
        return;
    };
    if t.ragged.count > 0 && t.delimiter == 0 {
        out.push(
            Finding::new(
                &RAGGED_ROWS,
                facts.line(t.ragged.first_line),
                format!("{} line{} not a JSON object (first at line {})", t.ragged.count, if t.ragged.count == 1 { " is" } else { "s are" }, t.ragged.first_line),
            )
            .with_help("fix the writer: one JSON object per line; Python's json.dumps(allow_nan=False) refuses NaN"),
        );
    } else if t.ragged.count > 0 {
        out.push(
            Finding::new(
                &RAGGED_ROWS,
                facts.line(t.ragged.first_line),
                format!(
                    "{} row{} with a field count other than the header's {} (first at line {}, {} fields)",
                    t.ragged.count,
                    if t.ragged.count == 1 { "" } else { "s" },
                    t.columns.len(),
                    t.ragged.first_line,
                    t.ragged_fields
                ),
            )
            .with_help("quote fields that contain the delimiter, or fix the export that wrote the row"),
        );
    }
}
