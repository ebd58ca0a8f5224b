//! ENV009: the installed environment differs from the lockfile.

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A lockfile (`requirements.txt` with `==` pins, PEP 751 `pylock.toml`, `uv.lock`,
    /// `poetry.lock`) against the distributions installed in a `site-packages`: a locked
    /// package that is not installed, or installed in another version (one finding each), and
    /// installed packages the lockfile does not mention (one finding listing them all; the
    /// message says it is an extra, but the severity stays that of the rule).
    /// ## Why it matters
    /// The lockfile is the record of what was tested. An environment that drifted from it
    /// (a manual `pip install -U`, an image built from an older lock) runs different code
    /// than the one reviewed, and the difference is invisible until results diverge.
    /// ## Example
    /// ```text
    /// requirements.lock:12:1  error  ENV009
    ///   torch is locked at 2.1.0 but 2.0.1 is installed
    /// ```
    /// ## Fix
    /// Sync the environment to the lock (`pip install --require-hashes -r requirements.lock`,
    /// `uv sync`, `poetry install --sync`), or update the lockfile if the installed version is
    /// the one you want.
    pub static LOCK_DRIFT = { code: "ENV009", name: "lock-drift", severity: Error, summary: "The installed distributions differ from the lockfile" };
}
