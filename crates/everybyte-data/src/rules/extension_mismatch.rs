use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The file's type, decided from its first bytes (its magic number), against its extension: a
    /// PNG named `.jpg`, a JPEG named `.png`, an `.npy` that is not NumPy data.
    /// ## Why it matters
    /// Loaders that dispatch on the extension (or on it alone in a custom `Dataset`) choose the
    /// wrong decoder; others decode it silently in another colour mode. Either way the sample is
    /// not what the label says, and the error, if any, comes late.
    /// ## Example
    /// ```text
    /// data/images/train/dog/7114.jpg  warning  DATA002  content is PNG, extension says JPEG
    /// ```
    /// ## Fix
    /// Rename the file to its real type, or re-encode it (`convert in.png out.jpg`).
    pub static EXTENSION_MISMATCH = { code: "DATA002", name: "extension-mismatch", severity: Warning, summary: "A file's content does not match its extension" };
}

/// Content of one kind under the extension of another.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::File(f) = &facts.fact else {
        return;
    };
    if let (Some(s), Some(e)) = (f.sniffed, f.extension)
        && s != e
    {
        out.push(
            Finding::new(
                &EXTENSION_MISMATCH,
                facts.at(),
                format!("content is {}, extension says {}", s.name(), e.name()),
            )
            .with_help(format!(
                "rename the file to its real type (.{}) or re-encode it",
                s.name().to_ascii_lowercase()
            ))
            .with_data("content", s.name())
            .with_data("extension", e.name()),
        );
    }
}
