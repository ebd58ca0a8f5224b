//! Linting a manifest: parsed into workloads, every rule's check run on them.

use everybyte_core::{Check, Finding, Report};

use crate::error::YamlError;
use crate::expect::Expectations;
use crate::k8s::{self, Manifest};
use crate::{rules, yaml};

/// Whether a YAML text holds a Kubernetes workload (a `kind` this area checks).
pub fn is_manifest(text: &str) -> bool {
    yaml::parse(text).is_ok_and(|docs| docs.iter().any(|d| !k8s::workloads(d).is_empty()))
}

/// Lints every workload of a (multi-document) manifest; `display` is the path findings carry.
/// Findings come in the order of the manifest's lines.
pub fn lint_manifest(
    display: &str,
    text: &str,
    exp: &Expectations,
) -> Result<Vec<Finding>, YamlError> {
    let manifest = Manifest::parse(display, text, exp)?;
    let mut report = Report::default();
    Check::run_all(rules::RULES, &manifest, &mut report.findings);
    report.sort();
    Ok(report.findings)
}
