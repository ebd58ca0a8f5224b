//! ENV006: the same distribution is installed twice in one site-packages.

use std::collections::BTreeMap;

use everybyte_core::{Finding, Location, Related};

use crate::python::check::Installed;
use crate::python::dist::Distribution;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Two or more `.dist-info` / `.egg-info` entries in one `site-packages` directory whose
    /// names normalise (PEP 503) to the same project: `numpy-1.24.0.dist-info` next to
    /// `numpy-1.26.4.dist-info`, or `PyYAML-6.0.egg-info` next to `pyyaml-6.0.1.dist-info`.
    /// ## Why it matters
    /// Which metadata Python's `importlib.metadata` returns depends on directory order, the
    /// files on disk are a mix of both versions, and `pip uninstall` removes only one of them.
    /// Version checks (here and in the program) may see a different version than the one
    /// that is imported. It usually follows an interrupted install or two installers (pip
    /// and conda, pip and a Dockerfile `COPY`) writing into the same directory.
    /// ## Example
    /// ```text
    /// site-packages/numpy-1.24.0.dist-info  error  ENV006
    ///   numpy is installed 2 times: 1.24.0 (numpy-1.24.0.dist-info), 1.26.4 (numpy-1.26.4.dist-info)
    /// ```
    /// ## Fix
    /// Uninstall until none is left (`pip uninstall numpy` repeatedly, or delete the stale
    /// `.dist-info` directory), then install the wanted version once.
    pub static DUPLICATE_DISTRIBUTION = { code: "ENV006", name: "duplicate-distribution", severity: Error, summary: "The same distribution is installed more than once in one site-packages" };
}

/// One finding per normalised name installed more than once.
pub fn check(facts: &Installed<'_>, out: &mut Vec<Finding>) {
    let mut groups: BTreeMap<&str, Vec<&Distribution>> = BTreeMap::new();
    for d in facts.distributions {
        groups.entry(d.normalized.as_str()).or_default().push(d);
    }
    for (name, group) in groups {
        if group.len() < 2 {
            continue;
        }
        let listed: Vec<String> = group
            .iter()
            .map(|d| format!("{} ({})", d.version, facts.display(&d.location)))
            .collect();
        let mut f = Finding::new(
            &DUPLICATE_DISTRIBUTION,
            Location::file(facts.display(&group[0].location)),
            format!("{name} is installed {} times: {}", group.len(), listed.join(", ")),
        )
        .with_help(format!(
            "pip uninstall {name} until none is left (or delete the stale metadata directory), then install one version"
        ))
        .with_data("package", name)
        .with_data(
            "versions",
            group.iter().map(|d| d.version.clone()).collect::<Vec<_>>(),
        );
        f.related = group[1..]
            .iter()
            .map(|d| Related {
                location: Location::file(facts.display(&d.location)),
                message: format!("{} {} is also installed here", d.name, d.version),
            })
            .collect();
        out.push(f);
    }
}
