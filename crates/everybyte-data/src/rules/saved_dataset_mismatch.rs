use everybyte_core::{Finding, Location};

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Folders written by Hugging Face `datasets` (`save_to_disk`: Arrow files beside a
    /// `state.json` and a `dataset_info.json`): every data file `state.json` lists is there,
    /// and the rows the split's Arrow files hold are the `num_examples` that
    /// `dataset_info.json` records for it.
    /// ## Why it matters
    /// `load_from_disk` opens the files `state.json` lists: one missing (an interrupted copy,
    /// a sync that skipped it) fails the load, and a file cut short or replaced loads with
    /// fewer rows than the split claims, so epochs, schedulers and reported sizes are wrong.
    /// ## Example
    /// ```text
    /// cache/train/dataset_info.json  error  DATA019  split `train`: dataset_info.json records 50000 examples, the Arrow files hold 49152
    /// ```
    /// ## Fix
    /// Copy the folder again from its source (whole: `rsync -a`, then compare with
    /// `everybyte data verify`), or re-create it with `save_to_disk`.
    pub static SAVED_DATASET_MISMATCH = { code: "DATA019", name: "saved-dataset-mismatch", severity: Error, summary: "A saved Hugging Face dataset's state.json or dataset_info.json disagrees with its Arrow files" };
}

/// Missing data files and a row count that differs.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::SavedDataset(s) = &facts.fact else {
        return;
    };
    if !s.missing.is_empty() {
        out.push(
            Finding::new(
                &SAVED_DATASET_MISMATCH,
                facts.at(),
                format!(
                    "state.json lists {} data file{} that {} not there: {}",
                    s.missing.len(),
                    if s.missing.len() == 1 { "" } else { "s" },
                    if s.missing.len() == 1 { "is" } else { "are" },
                    s.missing.join(", ")
                ),
            )
            .with_help(
                "copy the folder again, whole, from its source, or re-create it with save_to_disk",
            )
            .with_data("missing", s.missing.clone()),
        );
    }
    if let Some((split, expected, have)) = &s.rows {
        out.push(
            Finding::new(&SAVED_DATASET_MISMATCH, Location::file(s.info.clone()), format!("split `{split}`: dataset_info.json records {expected} examples, the Arrow files hold {have}"))
                .with_help("copy the folder again, whole, from its source, or re-create it with save_to_disk")
                .with_data("expected", *expected)
                .with_data("rows", *have),
        );
    }
}
