//! `everybyte profile` and `everybyte deploy`: measure a workload (memory of the whole process
//! tree, cold start, CPU time), then hold Kubernetes manifests to the numbers.

pub mod error;
pub mod k8s;
pub mod patch;
pub mod profile;
pub mod rules;
mod syscall_names;
pub mod syscalls;
pub mod yaml;

use everybyte_core::Finding;

pub use error::{Error, YamlError};
pub use rules::{Expectations, RULES};

/// Whether a YAML text holds a Kubernetes workload (a `kind` this area checks).
pub fn is_manifest(text: &str) -> bool {
    yaml::parse(text).is_ok_and(|docs| docs.iter().any(|d| !k8s::workloads(d).is_empty()))
}

/// Lints every workload of a (multi-document) manifest; `display` is the path findings carry.
pub fn lint_manifest(
    display: &str,
    text: &str,
    exp: &Expectations,
) -> Result<Vec<Finding>, YamlError> {
    let docs = yaml::parse(text)?;
    let mut out = Vec::new();
    for d in &docs {
        for w in k8s::workloads(d) {
            rules::check(display, &w, exp, &mut out);
        }
    }
    out.sort_by(|a, b| (a.location.line, &a.code).cmp(&(b.location.line, &b.code)));
    Ok(out)
}
