//! `everybyte profile` and `everybyte deploy`: measure a workload (memory of the whole process
//! tree, cold start, CPU time), then hold Kubernetes manifests to the numbers.

mod audit;
pub mod bpf;
pub mod error;
pub mod expect;
pub mod k8s;
mod kinds;
pub mod lint;
pub mod patch;
pub mod profile;
pub mod ray;
pub mod rules;
pub mod schema;
pub mod serving;
mod syscall_names;
pub mod syscalls;
pub mod yaml;

pub use audit::audit;
pub use error::{Error, YamlError};
pub use expect::{Expectations, Measurements};
pub use lint::{Linted, lint_manifest, lint_manifest_file, lint_paths};

/// Every rule of the area, in code order (the registry's list).
pub fn rules() -> impl Iterator<Item = &'static everybyte_core::Rule> {
    everybyte_core::Check::rules(rules::RULES)
}

/// The area's rule prefixes and the title reports give its findings.
pub static AREA: everybyte_core::Area = everybyte_core::Area {
    prefixes: &["K8S"],
    title: "deploy: Kubernetes manifests",
};
