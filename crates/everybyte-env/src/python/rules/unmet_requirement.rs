//! ENV004: a requirement of an installed distribution is not installed.

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
