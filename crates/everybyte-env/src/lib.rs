//! Environment audit: every ELF object and its shared libraries, symbol versions, Python
//! distributions and lockfiles, container images, and snapshots of whole machines.

pub mod audit;
pub mod elf;
pub mod environment;
pub mod error;
pub mod gpu;
pub mod image;
pub mod ldcache;
pub mod load;
pub mod mapped;
pub mod native;
pub mod python;
pub mod resolve;
pub mod rules;
pub mod snapshot;
pub mod symbols;
pub mod target;

pub use audit::audit;
pub use environment::{CheckOptions, check_environment, env_target, marker_env};
pub use error::{Error, LockError, MetadataError, SnapshotError, TargetError};

/// Every rule of the crate: native code, Python environments, container images.
pub fn rules() -> impl Iterator<Item = &'static everybyte_core::Rule> {
    rules::rules()
}

/// The area's rule prefixes and the title reports give its findings.
pub static AREA: everybyte_core::Area = everybyte_core::Area {
    prefixes: &["ENV", "IMG"],
    title: "env: environments and images",
};
