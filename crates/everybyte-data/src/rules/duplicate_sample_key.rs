use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// WebDataset tar shards: a sample key that comes back after other samples (its members
    /// are not adjacent), and a member written twice into one sample (`n01_0003.jpg` twice).
    /// ## Why it matters
    /// WebDataset groups adjacent members by key: a key split in two becomes two samples, each
    /// missing the other's members (a `KeyError` in the decoder, or a silently filtered
    /// sample), and a member written twice keeps only the last copy.
    /// ## Example
    /// ```text
    /// shards/train-0007.tar  warning  DATA016  2 sample keys appear twice: n01440764_10026, n01440764_10027.jpg
    /// ```
    /// ## Fix
    /// Write each sample's members together, once (`tar --sort=name` when packing from a
    /// folder; one `ShardWriter.write(sample)` per key), and give every sample a unique key.
    pub static DUPLICATE_SAMPLE_KEY = { code: "DATA016", name: "duplicate-sample-key", severity: Warning, summary: "A WebDataset shard holds a sample key, or a sample's member, twice" };
}

/// Keys (and members) a shard holds twice.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::DuplicateKeys(d) = &facts.fact else {
        return;
    };
    if d.count == 0 {
        return;
    }
    let more = if d.count > d.examples.len() as u64 {
        ", …"
    } else {
        ""
    };
    out.push(
        Finding::new(
            &DUPLICATE_SAMPLE_KEY,
            facts.at(),
            format!(
                "{} sample key{} twice: {}{more}",
                d.count,
                if d.count == 1 { " appears" } else { "s appear" },
                d.examples.join(", ")
            ),
        )
        .with_help("write each sample's members together, once, and give every sample its own key")
        .with_data("count", d.count)
        .with_data("examples", d.examples.clone()),
    );
}
