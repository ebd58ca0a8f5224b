use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The files datasets are shipped in, as their readers would fail on them: gzip and zstd
    /// streams (`.jsonl.gz`, `.csv.zst`, `.tar.gz`) read to their end marker and checksum;
    /// TFRecord files record by record (the length's and the data's masked CRC-32C, a file
    /// cut inside a record); WebDataset tar shards header by header (the header checksum, a
    /// member cut short, the end-of-archive blocks), and a shard's `.json` and `.cls` members
    /// that do not parse as what their extension says; Parquet files (the `PAR1` magic at both
    /// ends, a footer length past the file, the footer, every page, and the page CRCs where the
    /// writer wrote them) and Arrow IPC files and streams (schema, record batches, buffers).
    /// ## Why it matters
    /// A shard cut short by an interrupted upload or a full disk reads fine up to the break, so
    /// the job runs for hours and dies when a worker reaches it (`DataLossError: corrupted
    /// record`, `ReadError: unexpected end of data`, `EOFError: Compressed file ended before
    /// the end-of-stream marker was reached`), or, with a reader that skips errors, trains on
    /// fewer samples than anyone thinks.
    /// ## Example
    /// ```text
    /// shards/train-0042.tfrecord  error  DATA014  TFRecord: record 1181 (byte 9437184): the file ends 5120 bytes into a 32768-byte record (cut short)
    /// ```
    /// ## Fix
    /// Copy or regenerate the shard from its source and compare checksums (`everybyte data
    /// scan --manifest`, then `data verify` where it is used); write shards to a temporary name
    /// and rename them when complete.
    pub static CORRUPT_CONTAINER = { code: "DATA014", name: "corrupt-container", severity: Error, summary: "A compressed stream, TFRecord, tar, Parquet or Arrow file is cut short, fails its checksums or holds what does not parse" };
}

/// A container that breaks.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Container(c) = &facts.fact else {
        return;
    };
    let at = match c.line {
        Some(l) => facts.line(l),
        None => facts.at(),
    };
    out.push(
        Finding::new(&CORRUPT_CONTAINER, at, format!("{}: {}", c.format, c.message))
            .with_help("copy or regenerate the file from its source and compare checksums; write shards to a temporary name and rename when complete")
            .with_data("format", c.format),
    );
}
