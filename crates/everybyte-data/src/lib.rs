//! Dataset scanning: every file identified by its magic bytes and checked by kind (images
//! walked structure by structure, tables column by column, arrays against their headers),
//! hashed with BLAKE3 for duplicates and manifests.
//!
//! The scan's passes produce facts ([`facts`]); each rule of [`mod@rules`] judges them.

pub mod array;
pub mod audit;
pub mod columnar;
pub mod compress;
pub mod decode;
pub mod error;
pub mod facts;
pub mod fields;
pub mod image;
pub mod job;
pub mod manifest;
pub mod pack;
pub mod rules;
pub mod scan;
pub mod table;
pub mod tar;
pub mod tfrecord;

pub use audit::audit;
pub use error::DataError;
pub use rules::{RULES, rules};

/// The area's rule prefixes and the title reports give its findings.
pub static AREA: everybyte_core::Area = everybyte_core::Area {
    prefixes: &["DATA"],
    title: "data: datasets",
};
