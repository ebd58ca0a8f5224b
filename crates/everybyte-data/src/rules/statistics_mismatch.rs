use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A Parquet file's column-chunk statistics against the data they describe: the null count,
    /// and the minimum and maximum of numeric columns, each recounted from the values.
    /// ## Why it matters
    /// Readers skip row groups by their statistics (`pyarrow.dataset` filters, Spark, DuckDB,
    /// polars' `scan_parquet(...).filter(...)`): a maximum that is lower than a value in the
    /// chunk makes a filter drop rows that match it, silently. Wrong statistics come from
    /// writers that patch files in place or from buggy writers.
    /// ## Example
    /// ```text
    /// data/train-0003.parquet  error  DATA017  column `score`, row group 2: the statistics say the maximum is 0.5, the data holds 0.97
    /// ```
    /// ## Fix
    /// Rewrite the file with a current writer (`pq.write_table(pq.read_table(p), p2)`), which
    /// computes the statistics from the data; do not edit Parquet files in place.
    pub static STATISTICS_MISMATCH = { code: "DATA017", name: "statistics-mismatch", severity: Error, summary: "A Parquet file's statistics contradict its data" };
}

/// Statistics that contradict the data.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Statistics(found) = &facts.fact else {
        return;
    };
    for what in found {
        out.push(
            Finding::new(&STATISTICS_MISMATCH, facts.at(), what.clone())
                .with_help("rewrite the file with a current writer, which computes statistics from the data; never patch Parquet in place"),
        );
    }
}
