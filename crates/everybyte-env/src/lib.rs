//! Environment audit: every ELF object and its shared libraries, symbol versions, Python
//! distributions and lockfiles, container images, and snapshots of whole machines.

pub mod audit;
pub mod elf;
pub mod environment;
pub mod error;
pub mod gpu;
pub mod image;
pub mod ldcache;
pub mod native;
pub mod python;
pub mod resolve;
pub mod rules;
pub mod snapshot;
pub mod target;

pub use audit::audit;
pub use environment::{CheckOptions, check_environment, env_target, marker_env};
pub use error::{Error, LockError, MetadataError, SnapshotError, TargetError};

/// The rules of this crate's native-code checks, in code order.
pub static RULES: &[&everybyte_core::Rule] = &[
    &rules::unresolved_library::UNRESOLVED_LIBRARY,
    &rules::symbol_version::SYMBOL_VERSION_MISSING,
    &rules::glibc_summary::GLIBC_SUMMARY,
    &rules::cuda_driver::CUDA_NEWER_THAN_DRIVER,
];

/// Every rule of the crate: native code, Python environments, container images.
pub fn rules() -> impl Iterator<Item = &'static everybyte_core::Rule> {
    RULES
        .iter()
        .chain(python::RULES)
        .chain(image::RULES)
        .copied()
}
