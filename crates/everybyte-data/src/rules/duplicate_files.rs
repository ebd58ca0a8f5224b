use everybyte_core::{Finding, Location};

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Files whose BLAKE3 hashes are equal, reported once per group with every path.
    /// ## Why it matters
    /// Duplicates across a train/test split leak the test set into training and inflate the
    /// reported accuracy; duplicates within a class over-weight it.
    /// ## Example
    /// ```text
    /// data/images  warning  DATA013  3 files have the same content: train/cat/1.jpg, train/dog/1.jpg, test/cat/9.jpg
    /// ```
    /// ## Fix
    /// Keep one copy, and deduplicate before splitting.
    pub static DUPLICATE_FILES = { code: "DATA013", name: "duplicate-files", severity: Warning, summary: "Files with identical content appear more than once" };
}

/// Groups of two or more files with the same content.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::SameContent(groups) = &facts.fact else {
        return;
    };
    for paths in groups.iter().filter(|v| v.len() > 1) {
        out.push(
            Finding::new(
                &DUPLICATE_FILES,
                Location::file(paths[0].clone()),
                format!(
                    "{} files have the same content: {}",
                    paths.len(),
                    paths.join(", ")
                ),
            )
            .with_help("keep one copy, and deduplicate before splitting train and test")
            .with_data("files", paths.clone()),
        );
    }
}
