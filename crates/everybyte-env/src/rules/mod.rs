//! The environment rules about native code (one file each).

pub mod cuda_driver;
pub mod glibc_summary;
pub mod symbol_version;
pub mod unresolved_library;
