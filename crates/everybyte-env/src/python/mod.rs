//! Python environments: distributions, requirements, markers, lockfiles.
//!
//! Everything here is pure Rust and reads files only; the one process ever started is the
//! interpreter itself, by [`MarkerEnv::from_interpreter`], to read its marker environment.

pub mod check;
pub mod dist;
pub mod lock;
pub mod marker;
pub mod requirement;
pub mod rules;
mod sha256;
pub mod version;

pub use check::{check_distributions, check_site_packages};
pub use dist::{Distribution, MetadataKind, RecordEntry, Scan, scan_site_packages};
pub use lock::{
    LockError, LockKind, LockedPackage, Lockfile, check_lock, check_lock_with_env,
    check_requirements_file, parse_requirements, read_lock,
};
pub use marker::{Marker, MarkerEnv, MarkerEnvError};
pub use requirement::{Requirement, normalize_name};
pub use version::{Specifier, SpecifierSet, Version};

/// The rules of the Python-environment checks, in code order.
pub static RULES: &[&everybyte_core::Rule] = &[
    &rules::UNMET_REQUIREMENT,
    &rules::CONFLICTING_REQUIREMENT,
    &rules::DUPLICATE_DISTRIBUTION,
    &rules::MODULE_CONFLICT,
    &rules::RECORD_MISMATCH,
    &rules::LOCK_DRIFT,
    &rules::UNPINNED_REQUIREMENTS,
];
