//! The Python-environment rules, one file each (their table is the crate's, in
//! `crate::rules`).

pub mod conflicting_requirement;
pub mod duplicate_distribution;
pub mod lock_drift;
pub mod module_conflict;
pub mod record_mismatch;
pub mod unmet_requirement;
pub mod unpinned_requirements;
