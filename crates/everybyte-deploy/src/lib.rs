//! `everybyte profile` and `everybyte deploy`: measure a workload (memory of the whole process
//! tree, cold start, CPU time), then hold Kubernetes manifests to the numbers.

mod audit;
pub mod error;
pub mod expect;
pub mod k8s;
pub mod lint;
pub mod patch;
pub mod profile;
pub mod rules;
mod syscall_names;
pub mod syscalls;
pub mod yaml;

pub use audit::audit;
pub use error::{Error, YamlError};
pub use expect::{Expectations, Measurements};
pub use lint::{Linted, is_manifest, lint_manifest, lint_manifest_file, lint_paths};

/// Every rule of the area, in code order (the registry's list).
pub fn rules() -> impl Iterator<Item = &'static everybyte_core::Rule> {
    everybyte_core::Check::rules(rules::RULES)
}

/// Every rule of the area, in code order, for callers that take a slice of rules: the rules of
/// the one table, [`rules::RULES`].
pub static RULES: &[&everybyte_core::Rule] = &RULE_LIST;

static RULE_LIST: [&everybyte_core::Rule; rules::RULES.len()] = {
    let mut out = [rules::RULES[0].rule; rules::RULES.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = rules::RULES[i].rule;
        i += 1;
    }
    out
};
