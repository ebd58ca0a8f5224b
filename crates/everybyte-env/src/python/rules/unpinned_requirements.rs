//! ENV010: a requirements file that does not pin exact versions and hashes.

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A pip requirements file on its own: every requirement line that is not an exact
    /// `name==version` pin (`>=`, `~=`, a bare name, a URL or VCS reference without a commit
    /// hash, an editable `-e` install) is reported with its line and column. Separately, the
    /// file is reported when no line, or not every pinned line, carries a `--hash=` option.
    /// Included files (`-r`, `-c`) are read relative to the including file.
    /// ## Why it matters
    /// An unpinned line resolves to whatever is newest on the day of the install: two images
    /// built from the same file differ, and a new upstream release breaks training runs that
    /// worked yesterday. Without hashes, pip cannot tell a tampered or rebuilt wheel from the
    /// one that was tested.
    /// ## Example
    /// ```text
    /// requirements.txt:3:1  warning  ENV010
    ///   `torch>=2.0` is not pinned to one version
    /// ```
    /// ## Fix
    /// Generate a lock with exact pins and hashes (`pip-compile --generate-hashes`,
    /// `uv pip compile --generate-hashes`, `pip freeze` as a start), and install it with
    /// `pip install --require-hashes -r requirements.lock`.
    pub static UNPINNED_REQUIREMENTS = { code: "ENV010", name: "unpinned-requirements", severity: Warning, summary: "A requirements file has unpinned lines or no hashes" };
}
