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

pub use check::{Installed, check_distributions, check_site_packages};
pub use dist::{Distribution, MetadataKind, RecordEntry, Scan, scan_site_packages};
pub use lock::{
    LockError, LockKind, LockedPackage, Lockfile, check_lock, check_lock_with_env,
    check_requirements_file, parse_requirements, read_lock,
};
pub use marker::{Marker, MarkerEnv, MarkerEnvError};
pub use requirement::{Requirement, normalize_name};
pub use version::{Specifier, SpecifierSet, Version};
