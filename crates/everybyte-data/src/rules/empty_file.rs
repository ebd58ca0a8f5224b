use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A file of the dataset has zero bytes.
    /// ## Why it matters
    /// A zero-byte image or table is an interrupted download or copy. A DataLoader that opens it
    /// raises in a worker, often hours into an epoch, and the whole run dies for one file.
    /// ## Example
    /// ```text
    /// data/images/train/cat/666.jpg  error  DATA001  empty file (0 bytes)
    /// ```
    /// ## Fix
    /// Restore the file from its source, or remove it and its label; then record the dataset with
    /// `everybyte data scan DIR --manifest MANIFEST` so the next copy can be verified.
    pub static EMPTY_FILE = { code: "DATA001", name: "empty-file", severity: Error, summary: "A dataset file is empty (zero bytes)" };
}

/// An empty file.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    if let Fact::File(f) = &facts.fact
        && f.size == 0
    {
        out.push(
            Finding::new(&EMPTY_FILE, facts.at(), "empty file (0 bytes)")
                .with_help("restore it from its source, or remove it and its label"),
        );
    }
}
