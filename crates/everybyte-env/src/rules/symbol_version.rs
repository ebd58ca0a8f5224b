everybyte_core::declare_rule! {
    /// ## What it checks
    /// For every library an ELF object loads, the symbol versions the object requires
    /// (`.gnu.version_r`: `GLIBC_2.34`, `GLIBCXX_3.4.30`, `CXXABI_1.3.13`, …) against the
    /// versions the library actually defines (`.gnu.version_d`).
    /// ## Why it matters
    /// A binary built against a newer glibc or libstdc++ than the host has fails at import
    /// with ``version `GLIBC_2.34' not found``. The version sections say so before anything
    /// runs, with the exact provider that is too old.
    /// ## Example
    /// ```text
    /// torch/lib/libtorch_cpu.so  error  ENV002  libtorch_cpu.so requires GLIBC_2.34; /lib/x86_64-linux-gnu/libc.so.6 provides up to GLIBC_2.31
    /// ```
    /// ## Fix
    /// Use a build made for this host (a wheel whose manylinux tag is at or below the host's
    /// glibc, see `ldd --version`), move to a base image with a newer glibc, or for
    /// libstdc++ put a newer one first (`conda install -c conda-forge libstdcxx-ng`). Never
    /// replace the system's libc.
    pub static SYMBOL_VERSION_MISSING = { code: "ENV002", name: "symbol-version-missing", severity: Error, summary: "A library lacks a symbol version an object requires" };
}
