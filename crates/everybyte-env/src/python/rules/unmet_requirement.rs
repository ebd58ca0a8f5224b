//! ENV004: a requirement of an installed distribution is not installed.

use everybyte_core::Finding;

use crate::python::check::Installed;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Every `Requires-Dist` of every distribution in a `site-packages` directory (or the
    /// `requires.txt` of an `.egg-info`) whose environment marker is true for the interpreter,
    /// and reports the ones whose distribution is not installed at all. Markers are evaluated
    /// exactly as `pip check` does: against the interpreter's marker environment with
    /// `extra` set to `""`, so requirements of extras (`requests[socks]` → `PySocks`) are not
    /// checked even when the extra was asked for at install time. The result is the
    /// "requires X, which is not installed" half of `pip check`, without running pip.
    /// ## Why it matters
    /// The package imports fine until the code path that needs the missing dependency runs:
    /// an `ImportError` in production, often after a `pip install --no-deps`, a partial
    /// `pip uninstall`, or an image layer that copied `site-packages` selectively.
    /// ## Example
    /// ```text
    /// $ pip install --no-deps torchvision==0.16.0
    /// $ everybyte env check
    /// site-packages/torchvision-0.16.0.dist-info (Requires-Dist)  error  ENV004
    ///   torchvision 0.16.0 requires torch, which is not installed
    /// ```
    /// ## Fix
    /// Install the requirement (`pip install 'torch==2.1.0'`), or reinstall the dependent
    /// package without `--no-deps` so the resolver brings its dependencies.
    pub static UNMET_REQUIREMENT = { code: "ENV004", name: "unmet-requirement", severity: Error, summary: "A requirement of an installed distribution is not installed" };
}

/// A requirement whose distribution is not installed at all.
pub fn check(facts: &Installed<'_>, out: &mut Vec<Finding>) {
    for (d, req, dep) in facts.active_requirements() {
        if dep.is_some() {
            continue;
        }
        out.push(
            Finding::new(
                &UNMET_REQUIREMENT,
                facts.location(d, d.requires_source()),
                format!(
                    "{} {} requires {}, which is not installed",
                    d.name, d.version, req.name
                ),
            )
            .with_help(format!("pip install '{}'", req.without_marker()))
            .with_data("package", d.normalized.clone())
            .with_data("version", d.version.clone())
            .with_data("dependency", req.normalized.clone())
            .with_data("requirement", req.to_string()),
        );
    }
}
