use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Records that lack a field most records of the same file have: a JSON Lines key absent
    /// from some lines, a `tf.train.Example` feature absent from some records, a WebDataset
    /// sample without a member (its `.cls`, `.json`, `.jpg`) the shard's other samples have.
    /// A field counts when at least half of the file's records have it; each gap is given
    /// with its count and first record.
    /// ## Why it matters
    /// The loader indexes every record the same way (`sample["cls"]`, `example["label"]`,
    /// `row["text"]`): one record without the field is a `KeyError` hours into the run, in a
    /// DataLoader worker, or a silently dropped sample when the pipeline filters failures.
    /// ## Example
    /// ```text
    /// shards/train-000.tar  warning  DATA015  member `.cls`: 3 of 1000 samples lack it (first: sample n01440764_10026)
    /// ```
    /// ## Fix
    /// Fix the writer so every record carries every field (write a default where a value is
    /// unknown), or filter the incomplete records once, before training, and count them.
    pub static MISSING_FIELD = { code: "DATA015", name: "missing-field", severity: Warning, summary: "Some records lack a field most records of the file have" };
}

/// Each field some records lack.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Fields(f) = &facts.fact else {
        return;
    };
    for g in &f.gaps {
        if g.missing == 0 || g.present < g.missing {
            continue;
        }
        let at = match g.line {
            Some(l) => facts.line(l),
            None => facts.at(),
        };
        let total = g.present + g.missing;
        out.push(
            Finding::new(
                &MISSING_FIELD,
                at,
                format!(
                    "{} `{}`: {} of {total} {}s lack it (first: {})",
                    f.field, g.name, g.missing, f.unit, g.first
                ),
            )
            .with_help("make the writer emit every field in every record, or filter incomplete records once before training")
            .with_data("field", g.name.as_str())
            .with_data("missing", g.missing)
            .with_data("records", total),
        );
    }
}
