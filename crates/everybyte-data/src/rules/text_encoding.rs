use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A UTF-8 byte-order mark at the start of a CSV/TSV, and files that mix `\r\n` and `\n` line
    /// endings.
    /// ## Why it matters
    /// A BOM becomes part of the first column's name (`\ufeffimage`), so `df["image"]` raises
    /// KeyError; mixed endings leave `\r` at the end of the last column's values in some readers.
    /// ## Example
    /// ```text
    /// data/labels.csv  warning  DATA010  starts with a UTF-8 byte-order mark
    /// ```
    /// ## Fix
    /// Re-save without a BOM (`sed -i '1s/^\xEF\xBB\xBF//' FILE`) and with one line ending
    /// (`dos2unix FILE`), or read with `encoding="utf-8-sig"`.
    pub static TEXT_ENCODING = { code: "DATA010", name: "text-encoding", severity: Warning, summary: "A table has a byte-order mark or mixed line endings" };
}

/// A byte-order mark, and mixed line endings.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Table(t) = &facts.fact else {
        return;
    };
    if t.bom {
        out.push(
            Finding::new(
                &TEXT_ENCODING,
                facts.line(1),
                "starts with a UTF-8 byte-order mark (the first column's name becomes \\ufeff…)",
            )
            .with_help("re-save without a BOM, or read with encoding=\"utf-8-sig\""),
        );
    }
    if t.crlf_lines > 0 && t.lf_lines > 0 {
        out.push(
            Finding::new(
                &TEXT_ENCODING,
                facts.at(),
                format!(
                    "mixes line endings: {} CRLF and {} LF lines",
                    t.crlf_lines, t.lf_lines
                ),
            )
            .with_help("convert to one ending (dos2unix FILE)"),
        );
    }
}
