//! Environment audit: every ELF object and its shared libraries, symbol versions, Python
//! distributions and lockfiles, container images, and snapshots of whole machines.

pub mod elf;
pub mod gpu;
pub mod image;
pub mod ldcache;
pub mod native;
pub mod python;
pub mod resolve;
pub mod rules;
pub mod snapshot;
pub mod target;

/// The rules of this crate, in code order.
pub static RULES: &[&everybyte_core::Rule] = &[
    &rules::unresolved_library::UNRESOLVED_LIBRARY,
    &rules::symbol_version::SYMBOL_VERSION_MISSING,
    &rules::glibc_summary::GLIBC_SUMMARY,
    &rules::cuda_driver::CUDA_NEWER_THAN_DRIVER,
];
