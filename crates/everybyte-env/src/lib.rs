//! Environment audit: every ELF object and its shared libraries, symbol versions, Python
//! distributions and lockfiles, container images, and snapshots of whole machines.

pub mod image;
pub mod python;
