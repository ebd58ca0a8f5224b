everybyte_core::declare_rule! {
    /// ## What it checks
    /// Every ELF object of the environment (extension modules and vendored libraries under
    /// `site-packages`, the `.libs` folders of manylinux wheels, the venv's `bin` and `lib`)
    /// has each `DT_NEEDED` library resolved the way the dynamic loader does it: `DT_RPATH`,
    /// `LD_LIBRARY_PATH`, `DT_RUNPATH` with `$ORIGIN` expanded, the host's `/etc/ld.so.cache`
    /// (read directly), then the default directories, skipping libraries of another
    /// architecture. The closure is followed, so a library missing two levels down counts.
    /// One finding per missing library, naming the objects that need it.
    /// ## Why it matters
    /// A missing library fails the `import` with `cannot open shared object file` — on the
    /// cluster, not on the laptop where the wheel was tested — or, for a lazily loaded
    /// plugin, in the middle of a run. `ldd` finds the same thing one file at a time; an
    /// environment has thousands.
    /// ## Example
    /// ```text
    /// site-packages/torch/lib/libtorch_cuda.so  error  ENV001  libcudart.so.12 not found, needed by torch/lib/libtorch_cuda.so and 3 more
    /// ```
    /// ## Fix
    /// Install the package that ships the library (for CUDA libraries, the `nvidia-*-cu12`
    /// wheels that match the framework), or make the loader find it (`LD_LIBRARY_PATH`, or an
    /// `ldconfig` entry). `ldd OBJECT` shows the same gap for one object.
    pub static UNRESOLVED_LIBRARY = { code: "ENV001", name: "unresolved-library", severity: Error, summary: "A shared library an ELF object needs cannot be found" };
}
