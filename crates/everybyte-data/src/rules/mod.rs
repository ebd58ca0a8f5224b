//! The data rules, one file each.

pub mod corrupt_array;
pub mod corrupt_image;
pub mod duplicate_files;
pub mod empty_file;
pub mod extension_mismatch;
pub mod image_too_large;
pub mod missing_cells;
pub mod nonfinite_array;
pub mod nonfinite_cells;
pub mod ragged_rows;
pub mod text_encoding;
pub mod unparsable_cells;
pub mod unusual_color_mode;

/// Every rule of the data area, in code order.
pub static RULES: &[&everybyte_core::Rule] = &[
    &empty_file::EMPTY_FILE,
    &extension_mismatch::EXTENSION_MISMATCH,
    &corrupt_image::CORRUPT_IMAGE,
    &image_too_large::IMAGE_TOO_LARGE,
    &unusual_color_mode::UNUSUAL_COLOR_MODE,
    &nonfinite_cells::NONFINITE_CELLS,
    &missing_cells::MISSING_CELLS,
    &unparsable_cells::UNPARSABLE_CELLS,
    &ragged_rows::RAGGED_ROWS,
    &text_encoding::TEXT_ENCODING,
    &corrupt_array::CORRUPT_ARRAY,
    &nonfinite_array::NONFINITE_ARRAY,
    &duplicate_files::DUPLICATE_FILES,
];
