//! The Python-environment rules, one file each.

pub mod conflicting_requirement;
pub mod duplicate_distribution;
pub mod lock_drift;
pub mod module_conflict;
pub mod record_mismatch;
pub mod unmet_requirement;
pub mod unpinned_requirements;

pub use conflicting_requirement::CONFLICTING_REQUIREMENT;
pub use duplicate_distribution::DUPLICATE_DISTRIBUTION;
pub use lock_drift::LOCK_DRIFT;
pub use module_conflict::MODULE_CONFLICT;
pub use record_mismatch::RECORD_MISMATCH;
pub use unmet_requirement::UNMET_REQUIREMENT;
pub use unpinned_requirements::UNPINNED_REQUIREMENTS;
