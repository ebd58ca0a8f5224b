//! The data rules, one file each: its documentation, its declaration and the check that judges
//! the facts the scan's passes produce ([`crate::facts`]).

use everybyte_core::rule::Check;
use everybyte_core::{Finding, Rule};

use crate::facts::Facts;
use crate::table::Seen;

pub mod corrupt_array;
pub mod corrupt_container;
pub mod corrupt_image;
pub mod duplicate_files;
pub mod duplicate_sample_key;
pub mod empty_file;
pub mod extension_mismatch;
pub mod image_too_large;
pub mod missing_cells;
pub mod missing_field;
pub mod nonfinite_array;
pub mod nonfinite_cells;
pub mod ragged_rows;
pub mod saved_dataset_mismatch;
pub mod schema_drift;
pub mod statistics_mismatch;
pub mod text_encoding;
pub mod unparsable_cells;
pub mod unusual_color_mode;

/// Every rule of the data area with its check, in the order their findings are raised for one
/// file (a table's encoding and rows before its columns; per column NaN/inf, unparsable, then
/// missing cells), then the rules judged over the whole scan.
pub static RULES: &[Check<Facts>] = &[
    Check {
        rule: &empty_file::EMPTY_FILE,
        check: empty_file::check,
    },
    Check {
        rule: &extension_mismatch::EXTENSION_MISMATCH,
        check: extension_mismatch::check,
    },
    Check {
        rule: &corrupt_image::CORRUPT_IMAGE,
        check: corrupt_image::check,
    },
    Check {
        rule: &image_too_large::IMAGE_TOO_LARGE,
        check: image_too_large::check,
    },
    Check {
        rule: &corrupt_container::CORRUPT_CONTAINER,
        check: corrupt_container::check,
    },
    Check {
        rule: &missing_field::MISSING_FIELD,
        check: missing_field::check,
    },
    Check {
        rule: &duplicate_sample_key::DUPLICATE_SAMPLE_KEY,
        check: duplicate_sample_key::check,
    },
    Check {
        rule: &statistics_mismatch::STATISTICS_MISMATCH,
        check: statistics_mismatch::check,
    },
    Check {
        rule: &text_encoding::TEXT_ENCODING,
        check: text_encoding::check,
    },
    Check {
        rule: &ragged_rows::RAGGED_ROWS,
        check: ragged_rows::check,
    },
    Check {
        rule: &nonfinite_cells::NONFINITE_CELLS,
        check: nonfinite_cells::check,
    },
    Check {
        rule: &unparsable_cells::UNPARSABLE_CELLS,
        check: unparsable_cells::check,
    },
    Check {
        rule: &missing_cells::MISSING_CELLS,
        check: missing_cells::check,
    },
    Check {
        rule: &corrupt_array::CORRUPT_ARRAY,
        check: corrupt_array::check,
    },
    Check {
        rule: &nonfinite_array::NONFINITE_ARRAY,
        check: nonfinite_array::check,
    },
    Check {
        rule: &unusual_color_mode::UNUSUAL_COLOR_MODE,
        check: unusual_color_mode::check,
    },
    Check {
        rule: &schema_drift::SCHEMA_DRIFT,
        check: schema_drift::check,
    },
    Check {
        rule: &saved_dataset_mismatch::SAVED_DATASET_MISMATCH,
        check: saved_dataset_mismatch::check,
    },
    Check {
        rule: &duplicate_files::DUPLICATE_FILES,
        check: duplicate_files::check,
    },
];

/// The rules of the data area, for the registry.
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    Check::rules(RULES)
}

/// Runs every rule on one fact.
pub fn judge(facts: &Facts, out: &mut Vec<Finding>) {
    Check::run_all(RULES, facts, out);
}

/// `"1 NaN (first at line 43), 2 inf (first at line 88)"` (rows, for a columnar file) and the
/// earliest of those lines, or `None` when every count is zero.
fn counts(c: &crate::table::Column, parts: &[(Seen, &str)]) -> Option<(String, u64)> {
    let unit = if c.by_row { "row" } else { "line" };
    let present: Vec<&(Seen, &str)> = parts.iter().filter(|(s, _)| s.count > 0).collect();
    let first = present.iter().map(|(s, _)| s.first_line).min()?;
    let text: Vec<String> = present
        .iter()
        .map(|(s, what)| format!("{} {what} (first at {unit} {})", s.count, s.first_line))
        .collect();
    Some((text.join(", "), first))
}

/// Where a column's finding points: the line of a text table, the file of a columnar one.
fn column_at(facts: &Facts, c: &crate::table::Column, first: u64) -> everybyte_core::Location {
    if c.by_row {
        facts.at()
    } else {
        facts.line(first)
    }
}
