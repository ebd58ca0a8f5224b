use everybyte_core::{Finding, Location};

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The Parquet and Arrow files of one folder (a dataset's shards): a column whose type
    /// differs between them (`label` int64 in one shard, string in another; float32 here,
    /// float64 there; nullable list in one, plain in another), with how many files have each
    /// type and the first of them.
    /// ## Why it matters
    /// `datasets.load_dataset`, `pyarrow.dataset` and polars unify one schema over the files:
    /// a shard of another type fails the load (`ArrowInvalid: Unable to merge`, `SchemaError`),
    /// or is cast, and a string label where the rest are integers becomes a class of its own.
    /// ## Example
    /// ```text
    /// data  error  DATA018  column `label`: int64 in 7 files, string in 1 (data/train-00007.parquet)
    /// ```
    /// ## Fix
    /// Rewrite the odd shards with the dataset's schema (`table.cast(schema)` before writing),
    /// and pass the schema to the writer of every shard.
    pub static SCHEMA_DRIFT = { code: "DATA018", name: "schema-drift", severity: Error, summary: "A column's type differs between the Parquet or Arrow files of one dataset" };
}

/// Each column of a folder whose files disagree on its type.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::SchemaDrift(columns) = &facts.fact else {
        return;
    };
    for c in columns {
        let mut types = c.types.clone();
        // The most common type first: the others are the odd ones.
        types.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let parts: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, (ty, n, first))| {
                let files = if *n == 1 { "file" } else { "files" };
                if i == 0 {
                    format!("{ty} in {n} {files}")
                } else {
                    format!("{ty} in {n} ({first})")
                }
            })
            .collect();
        let odd = types
            .get(1)
            .map_or_else(|| facts.rel.clone(), |t| t.2.clone());
        out.push(
            Finding::new(&SCHEMA_DRIFT, Location::file(odd), format!("column `{}`: {}", c.column, parts.join(", ")))
                .with_help(format!("rewrite the odd files with the dataset's schema ({} as `{}`), and give every shard's writer that schema", c.column, types[0].0))
                .with_data("column", c.column.as_str())
                .with_data("folder", facts.rel.as_str()),
        );
    }
}
