//! Rules that belong to no area: problems with the inputs themselves.

crate::declare_rule! {
    /// ## What it checks
    /// An input that everybyte was asked to examine, or found while walking a project, could
    /// not be read: a permission error, an I/O error, a broken symbolic link, or a compressed
    /// file whose stream is corrupt.
    /// ## Why it matters
    /// A check that silently skips an unreadable file reports a clean result for data it never
    /// saw. The same file usually breaks the job that needs it (a training run reading a
    /// dataset, a server loading a model), only later and with a worse message.
    /// ## Example
    /// ```text
    /// $ chmod 000 logs/train.log
    /// $ everybyte audit .
    /// logs/train.log  error  IO001  cannot read: Permission denied (os error 13)
    /// ```
    /// ## Fix
    /// Make the file readable by the user running everybyte (`ls -l`, `chmod`, `chown`), restore
    /// a truncated archive from its source, or exclude the path in `everybyte.toml`
    /// (`exclude = ["logs/old/"]`).
    pub static UNREADABLE_INPUT = { code: "IO001", name: "unreadable-input", severity: Error, summary: "An input could not be read" };
}

/// The IO001 finding for an input that could not be read (`what` says what it was, e.g.
/// "cannot read the lock file").
pub fn unreadable(
    path: impl Into<String>,
    what: &str,
    err: &dyn std::fmt::Display,
) -> crate::Finding {
    crate::Finding::new(&UNREADABLE_INPUT, crate::Location::file(path), format!("{what}: {err}"))
        .with_help("check permissions (ls -l) and the storage (dmesg for I/O errors); for .gz files, the archive (gzip -t)")
}

/// [`unreadable`] for an I/O error.
pub fn unreadable_io(path: &str, err: &std::io::Error) -> crate::Finding {
    unreadable(path, "cannot read", err)
}

/// Problems with the inputs themselves.
pub static AREA: crate::Area = crate::Area {
    prefixes: &["IO"],
    title: "inputs",
};

/// The rules of this crate.
pub static RULES: &[&crate::Rule] = &[&UNREADABLE_INPUT, &crate::suppress::UNUSED_SUPPRESSION];
