//! ENV008: installed files no longer match the hashes in RECORD.

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Every file listed in a distribution's `RECORD` with a `sha256` digest: the file must
    /// exist, have the recorded size, and hash to the recorded digest. Entries without a
    /// digest (`RECORD` itself) and compiled bytecode (`__pycache__/`, `.pyc`: pip recompiles
    /// it at install time, even when the wheel shipped it) are skipped. Files are hashed
    /// streaming and in parallel. One finding per distribution gives the number of changed
    /// or missing files and the first few paths.
    /// ## Why it matters
    /// Someone edited installed code (a "quick fix" in `site-packages`), a build step patched
    /// a shared library, or files were lost when an image layer was squashed. The environment
    /// then runs code that no lockfile describes, and reinstalling the "same" version changes
    /// behaviour.
    /// ## Example
    /// ```text
    /// site-packages/transformers-4.35.0.dist-info (RECORD)  warning  ENV008
    ///   transformers 4.35.0: 2 installed files differ from RECORD (modified:
    ///   transformers/trainer.py; missing: transformers/py.typed)
    /// ```
    /// ## Fix
    /// Reinstall the distribution (`pip install --force-reinstall --no-deps
    /// transformers==4.35.0`). If the change is intended, keep it as a patch in the project
    /// and build a wheel of the patched package instead of editing `site-packages`.
    pub static RECORD_MISMATCH = { code: "ENV008", name: "record-mismatch", severity: Warning, summary: "Installed files differ from the distribution's RECORD" };
}
