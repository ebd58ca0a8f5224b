//! ENV005: a requirement of an installed distribution is installed in a version it excludes.

use everybyte_core::Finding;

use crate::python::check::Installed;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Every `Requires-Dist` of every installed distribution (markers evaluated as for
    /// ENV004: the interpreter's environment, `extra == ""`) whose distribution is installed
    /// in a version outside the requirement's specifiers. Versions and specifiers follow
    /// PEP 440 as implemented by `packaging` and used by `pip check`: pre-releases are
    /// allowed (`prereleases=True`), `==2.1.0` matches `2.1.0+cu118`, `>1.7` does not match
    /// `1.7.post1`, and `<2.0` does not match `2.0rc1`.
    /// ## Why it matters
    /// pip installs what it is told. A later `pip install X==old` or a second requirements
    /// file silently downgrades a dependency under a package that needs a newer API; the
    /// failure is an `AttributeError` or a wrong result far from the install.
    /// ## Example
    /// ```text
    /// site-packages/torchvision-0.16.0.dist-info (Requires-Dist)  error  ENV005
    ///   torchvision 0.16.0 requires torch==2.1.0, but 2.0.1 is installed
    /// ```
    /// ## Fix
    /// Install a version of the dependency that satisfies every dependent
    /// (`pip install 'torch==2.1.0'`), or move the dependent to a release that accepts the
    /// installed version; then pin both in the lockfile.
    pub static CONFLICTING_REQUIREMENT = { code: "ENV005", name: "conflicting-requirement", severity: Error, summary: "An installed dependency's version does not satisfy a requirement" };
}

/// A requirement whose distribution is installed in a version its specifiers exclude
/// (pre-releases allowed, as `pip check` compares).
pub fn check(facts: &Installed<'_>, out: &mut Vec<Finding>) {
    for (d, req, dep) in facts.active_requirements() {
        let Some(dep) = dep else {
            continue;
        };
        let Some(v) = &dep.parsed_version else {
            continue;
        };
        if req.specifiers.contains(v, Some(true)) {
            continue;
        }
        out.push(
            Finding::new(
                &CONFLICTING_REQUIREMENT,
                facts.location(d, d.requires_source()),
                format!(
                    "{} {} requires {}{}, but {} is installed",
                    d.name, d.version, req.name, req.specifiers, dep.version
                ),
            )
            .with_help(format!(
                "install a {} that satisfies {} (pip install '{}{}'), or a {} release that accepts {} {}",
                dep.name, req.specifiers, req.name, req.specifiers, d.name, dep.name, dep.version
            ))
            .with_data("package", d.normalized.clone())
            .with_data("version", d.version.clone())
            .with_data("dependency", req.normalized.clone())
            .with_data("requirement", req.to_string())
            .with_data("installed", dep.version.clone()),
        );
    }
}
