//! LOG016: a shared library cannot be loaded at all.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The dynamic loader's `libcudart.so.11.0: cannot open shared object file: No such file or
    /// directory` (from an `ImportError`, an `OSError` of `ctypes`, or `error while loading
    /// shared libraries` when a program starts), and cuDNN 9's `Unable to load any of
    /// {libcudnn_ops.so.9.1.0, …}`.
    /// ## Why it matters
    /// The library is not on the loader's search path: not installed, installed for another
    /// CUDA major version (`.so.11` versus `.so.12`), or installed in a place only one
    /// environment knows about. The import fails before any of your code runs.
    /// ## Example
    /// ```text
    /// ImportError: libcudart.so.11.0: cannot open shared object file: No such file or directory
    /// ```
    /// ## Fix
    /// `ldconfig -p | grep NAME` shows whether the system has it; for CUDA libraries install
    /// the matching `nvidia-*-cu11`/`-cu12` wheels or a framework build that bundles them;
    /// `everybyte env check` resolves every `DT_NEEDED` of the environment and lists each
    /// missing one with the objects that need it.
    pub static SHARED_LIBRARY_NOT_FOUND = { code: "LOG016", name: "shared-library-not-found", severity: Error, summary: "A shared library could not be found by the dynamic loader" };
}

static CANNOT_OPEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([\w.+-]+\.so(?:\.[\w.]+)?): cannot open shared object file").expect("valid regex")
});

static ANY_OF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Unable to load any of \{\s*([\w.+-]+\.so(?:\.[\w.]+)?)").expect("valid regex")
});

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    // NCCL probes for an optional network plugin on every start and logs the miss at INFO.
    if line.contains("NCCL INFO") || line.contains("libnccl-net") || line.contains("NET/Plugin") {
        return;
    }
    // cuDNN 9 (and CTranslate2) try each name of a library in turn: `Unable to load any of
    // {libcudnn_ops.so.9.1.0, libcudnn_ops.so.9.1, libcudnn_ops.so.9, libcudnn_ops.so}`; the
    // first, most specific name is the one the build expects.
    let Some(c) = CANNOT_OPEN.captures(line).or_else(|| ANY_OF.captures(line)) else {
        return;
    };
    let lib = &c[1];
    let stem = lib.split(".so").next().unwrap_or(lib);
    let cuda = [
        "libcudart",
        "libcudnn",
        "libcublas",
        "libnccl",
        "libcufft",
        "libcurand",
        "libcusparse",
        "libcusolver",
        "libnvrtc",
        "libnvJitLink",
        "libcupti",
    ]
    .iter()
    .any(|p| stem.starts_with(p));
    let major = lib
        .split(".so.")
        .nth(1)
        .and_then(|v| v.split('.').next())
        .filter(|v| !v.is_empty());
    let mut message = format!("{lib} cannot be loaded: no such file on the loader's search path");
    let help = if cuda {
        if let Some(m) = major {
            let what = if stem.starts_with("libcudnn") {
                format!("cuDNN {m}")
            } else if stem.starts_with("libnccl") {
                format!("NCCL {m}")
            } else {
                format!("CUDA {m}")
            };
            message.push_str(&format!(" (the build expects {what} libraries)"));
        }
        format!(
            "ldconfig -p | grep {stem}; pip list | grep nvidia- shows the CUDA wheels installed; install the ones this build expects or a framework build that bundles them; everybyte env check lists every unresolved library"
        )
    } else {
        format!(
            "ldconfig -p | grep {stem}; install the package that provides {lib}, or add its directory to LD_LIBRARY_PATH; everybyte env check lists every unresolved library"
        )
    };
    out.push(
        Hit::new(
            &SHARED_LIBRARY_NOT_FOUND,
            c.get(0).map_or(0, |m| m.start()),
            message,
            help,
        )
        // What fails for want of it (cuDNN's abort, the import's exception) follows from it.
        .role(Role::Cause("missing shared library"))
        .key(format!("solib-{lib}"))
        .data("library", lib),
    );
}
