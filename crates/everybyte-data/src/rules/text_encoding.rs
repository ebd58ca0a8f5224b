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
