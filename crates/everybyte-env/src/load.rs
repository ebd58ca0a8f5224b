//! What a program actually loads. `ldd` asks of each file alone whether every `DT_NEEDED`
//! resolves; a user asks whether their imports and their GPU work. The entry points are what
//! runs: the importable extension modules (`*.cpython-*.so`, `*.abi3.so`, or a plain `.so`
//! exporting `PyInit_<name>`), the executables, and the libraries a package is known to load
//! itself (torch's `_load_global_deps`, jax's CUDA PJRT plugin). Whatever their closures reach
//! is judged strictly; an object outside every closure is a plugin or an optional backend that
//! its library `dlopen`s only when that feature is asked for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::resolve::{Closure, InfoCache};
use crate::symbols::SymbolCache;

/// How an entry point comes to be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A Python extension module: `import` opens it.
    Extension,
    /// An executable: something runs it.
    Program,
    /// A library its package loads by path (`ctypes.CDLL`, a PJRT plugin).
    PackageLoaded,
}

/// One entry point.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Index into the environment's objects.
    pub object: usize,
    pub kind: EntryKind,
    /// The top-level import or program it belongs to: `torch`, `bin/ptxas`.
    pub top: String,
    /// The module an extension is imported as (`torch._C`); for a library its package
    /// loads, what fails without it; the top-level otherwise.
    pub module: String,
}

impl Entry {
    /// What fails when it cannot load, as a user types it: `import torch._C` (an
    /// extension: its package may import it lazily, so the module itself is named),
    /// `import torch` (a library the package loads as it is imported), `running bin/ptxas`.
    pub fn breaks_as(&self) -> String {
        match self.kind {
            EntryKind::Program => format!("running {}", self.top),
            EntryKind::Extension => format!("import {}", self.module),
            EntryKind::PackageLoaded if self.module == self.top => format!("import {}", self.top),
            EntryKind::PackageLoaded => self.module.clone(),
        }
    }
}

/// A list for a message: `a`, `a and b`, `a, b and 3 more`.
pub fn list_some(items: &[String], show: usize) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n if n <= show => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
        n => format!("{} and {} more", items[..show].join(", "), n - show),
    }
}

/// Libraries packages load by path, relative to `site-packages` (`*` matches one folder):
/// the pattern, the top-level import, and what fails without it (`None`: the import itself).
const PACKAGE_LOADED: &[(&str, &str, Option<&str>)] = &[
    // torch/__init__.py loads it with RTLD_GLOBAL (`_load_global_deps`).
    ("torch/lib/libtorch_global_deps.so", "torch", None),
    // jax loads it as its CUDA backend (a PJRT plugin); without it, jax logs the failure and
    // runs on the CPU: the import works.
    (
        "jax_plugins/*/xla_cuda_plugin.so",
        "jax",
        Some("jax's CUDA backend (jax.devices('gpu'))"),
    ),
];

/// The driver's libraries: installed with the NVIDIA driver on the host (or mounted into a
/// container by the NVIDIA container toolkit), never shipped by a wheel.
pub fn is_driver_library(name: &str) -> bool {
    name.starts_with("libcuda.so")
        || name.starts_with("libnvidia-")
        || name.starts_with("libnvcuvid.so")
        || name.starts_with("libcudadebugger.so")
        || name.starts_with("libnvoptix.so")
}

/// The entry points of an environment and which objects their closures reach.
#[derive(Debug, Default)]
pub struct Loading {
    pub entries: Vec<Entry>,
    /// Every path an entry's closure loads (host libraries included) → the entries that
    /// load it.
    pub reached: BTreeMap<PathBuf, Vec<usize>>,
}

impl Loading {
    /// Whether an entry point's closure loads `path`.
    pub fn is_reached(&self, path: &Path) -> bool {
        self.reached.contains_key(path)
    }

    /// The imports and programs that load `path`, as a user meets them (`import torch._C`,
    /// `running bin/ptxas`), sorted.
    pub fn breaks(&self, path: &Path) -> Vec<String> {
        let all: BTreeSet<String> = self.entries_loading(path).map(Entry::breaks_as).collect();
        all.into_iter().collect()
    }

    /// The entries that load `path`.
    pub fn entries_loading(&self, path: &Path) -> impl Iterator<Item = &Entry> {
        self.reached
            .get(path)
            .into_iter()
            .flatten()
            .map(|&e| &self.entries[e])
    }
}

/// Finds the entry points among `objects` (with their closures at the same index).
pub fn entries(
    objects: &[PathBuf],
    closures: &[Closure],
    site_packages: &[PathBuf],
    python_tag: Option<&str>,
    infos: &InfoCache,
    symbols: &SymbolCache,
) -> Loading {
    let found: Vec<Option<(EntryKind, String, String)>> =
        everybyte_core::par::map(objects, |obj| {
            classify(obj, site_packages, python_tag, infos, symbols)
        });
    let mut out = Loading::default();
    for (i, f) in found.into_iter().enumerate() {
        let Some((kind, top, module)) = f else {
            continue;
        };
        let e = out.entries.len();
        out.entries.push(Entry {
            object: i,
            kind,
            top,
            module,
        });
        for p in &closures[i].loaded {
            out.reached.entry(p.clone()).or_default().push(e);
        }
    }
    out
}

/// Whether `obj` is an entry point, and as what.
fn classify(
    obj: &Path,
    site_packages: &[PathBuf],
    python_tag: Option<&str>,
    infos: &InfoCache,
    symbols: &SymbolCache,
) -> Option<(EntryKind, String, String)> {
    let info = infos.get(obj)?;
    let name = obj.file_name()?.to_string_lossy().into_owned();
    let base = site_packages.iter().find(|sp| obj.starts_with(sp));
    let rel = base.and_then(|b| obj.strip_prefix(b).ok());
    if let Some(rel) = rel {
        let rel_s = rel.to_string_lossy();
        for (pattern, top, fails) in PACKAGE_LOADED {
            if glob_one_folder(pattern, &rel_s) {
                return Some((
                    EntryKind::PackageLoaded,
                    (*top).to_owned(),
                    fails.map_or_else(|| (*top).to_owned(), str::to_owned),
                ));
            }
        }
    }
    if let Some(stem) = extension_stem(&name, python_tag) {
        let exported = |stem: &str| {
            symbols
                .get(obj)
                .is_some_and(|s| s.defines(&format!("PyInit_{stem}")))
        };
        // A tagged name is an extension by its name; a plain `.so` only when it exports
        // the module's init function (`libtorch_cpu.so` is a library, `_linalg.so` a module).
        let tagged = name.len() > stem.len() + ".so".len();
        if tagged || exported(stem) {
            let module = match rel {
                Some(r) => module_path(r, stem),
                None => stem.to_owned(),
            };
            let top = module.split('.').next().unwrap_or(&module).to_owned();
            return Some((EntryKind::Extension, top, module));
        }
    }
    if info.has_interp || info.elf_type == 2 {
        let shown = rel.map_or_else(
            || {
                obj.parent().and_then(Path::file_name).map_or_else(
                    || name.clone(),
                    |d| format!("{}/{name}", d.to_string_lossy()),
                )
            },
            |r| r.to_string_lossy().into_owned(),
        );
        return Some((EntryKind::Program, shown.clone(), shown));
    }
    None
}

/// The module name of an extension file: `torch/_C.cpython-311-x86_64-linux-gnu.so` →
/// `torch._C`.
fn module_path(rel: &Path, stem: &str) -> String {
    let mut parts: Vec<String> = rel
        .parent()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    parts.push(stem.to_owned());
    parts.join(".")
}

/// The module stem of a file name Python would import as an extension: `X.cpython-311-…so`
/// (for this interpreter's tag, when known), `X.abi3.so`, or `X.so`, with `X` an identifier.
fn extension_stem<'a>(name: &'a str, python_tag: Option<&str>) -> Option<&'a str> {
    let without = name.strip_suffix(".so")?;
    let (stem, tag) = without.split_once('.').unwrap_or((without, ""));
    let ident = !stem.is_empty()
        && !stem.starts_with(|c: char| c.is_ascii_digit())
        && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident {
        return None;
    }
    let ok = match tag {
        "" | "abi3" => true,
        t if t.starts_with("cpython-") => python_tag.is_none_or(|want| {
            // `311-` matches `cpython-311-x86_64-linux-gnu`, and a free-threaded build's
            // `cpython-313t-…` too.
            let digits = want.trim_end_matches('-');
            t.strip_prefix("cpython-")
                .and_then(|r| r.strip_prefix(digits))
                .is_some_and(|r| r.starts_with('-') || r.starts_with("t-"))
        }),
        _ => false,
    };
    ok.then_some(stem)
}

/// `a/*/c.so` against `a/b/c.so`: `*` stands for exactly one folder name.
fn glob_one_folder(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    p.len() == s.len() && p.iter().zip(&s).all(|(a, b)| *a == "*" || a == b)
}

/// The source of a package's `__init__.py` (or of a one-file module) under `dir`.
pub fn module_source(dir: &Path, name: &str) -> Option<String> {
    let package = dir.join(name).join("__init__.py");
    let module = dir.join(format!("{name}.py"));
    [package, module].iter().find_map(|p| {
        let meta = std::fs::metadata(p).ok()?;
        (meta.len() < 1 << 20)
            .then(|| std::fs::read_to_string(p).ok())
            .flatten()
    })
}

/// The import statements of Python source (`import …`, `from … import …`), at any
/// indentation: a `try:` block at module level runs on import too.
fn import_lines(src: &str) -> impl Iterator<Item = &str> {
    src.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("import ") || l.starts_with("from "))
}

/// Whether `word` occurs in `line` as a whole identifier.
fn has_word(line: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(word)
        .any(|(i, _)| !line[..i].ends_with(ident) && !line[i + word.len()..].starts_with(ident))
}

/// Whether the source imports `package` (a top-level name: `torch`, not `torchgen`).
pub fn imports_package(src: &str, package: &str) -> bool {
    import_lines(src).any(|l| line_imports_package(l, package))
}

fn line_imports_package(l: &str, package: &str) -> bool {
    let rest = l
        .strip_prefix("import ")
        .or_else(|| l.strip_prefix("from "))
        .unwrap_or("");
    rest.split(',').any(|part| {
        part.trim()
            .strip_prefix(package)
            .is_some_and(|after| after.is_empty() || after.starts_with(['.', ' ']))
    })
}

/// Whether importing the top-level package `top` imports `package` (its `__init__` or a
/// module it imports says `import package` / `from package …`).
///
/// Follows the package's own modules as they import each other on load (import statements
/// at the top level or one block deep, such as a `try:`; not those in function bodies), up
/// to 300 files: `pandas` → `pandas.compat` → `pandas.compat.numpy` → `import numpy`.
pub fn imports_on_load(site: &Path, top: &str, package: &str) -> bool {
    let mut queue: Vec<String> = vec![top.to_owned()];
    let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
    while let Some(module) = queue.pop() {
        if seen.len() > 300 {
            return false;
        }
        let path: Vec<&str> = module.split('.').collect();
        let (dir, name) = match path.split_last() {
            Some((name, parents)) => (
                parents.iter().fold(site.to_path_buf(), |d, p| d.join(p)),
                *name,
            ),
            None => continue,
        };
        let Some(src) = module_source(&dir, name) else {
            continue;
        };
        let is_package = dir.join(name).join("__init__.py").is_file();
        // The package a relative import is relative to.
        let base: Vec<&str> = if is_package {
            path.clone()
        } else {
            path[..path.len() - 1].to_vec()
        };
        let mut in_def = false;
        for line in src.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            if !line.starts_with([' ', '\t']) {
                // A function body runs when called, not on import.
                in_def = l.starts_with("def ") || l.starts_with("async def ");
            }
            if in_def || !shallow(line) {
                continue;
            }
            if !(l.starts_with("import ") || l.starts_with("from ")) {
                continue;
            }
            if line_imports_package(l, package) {
                return true;
            }
            for m in own_modules(l, top, &base) {
                if seen.insert(m.clone()) {
                    queue.push(m);
                }
            }
        }
    }
    false
}

/// A line at the top level of a module or one block below it (four spaces or a tab).
fn shallow(line: &str) -> bool {
    let indent = line.len() - line.trim_start().len();
    indent <= 4 && !line.starts_with("\t\t")
}

/// The modules of package `top` an import statement names: `from .a import b` (relative to
/// `base`), `from top.a.b import c`, `import top.a`; `from . import a, b` names `a` and `b`.
fn own_modules(line: &str, top: &str, base: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(rest) = line.strip_prefix("from ") {
        let (module, names) = rest.split_once(" import ").unwrap_or((rest, ""));
        let module = module.trim();
        let dots = module.chars().take_while(|&c| c == '.').count();
        let absolute = if dots > 0 {
            let keep = base.len().saturating_sub(dots - 1);
            let mut parts: Vec<&str> = base[..keep].to_vec();
            parts.extend(module[dots..].split('.').filter(|p| !p.is_empty()));
            parts.join(".")
        } else if module == top || module.starts_with(&format!("{top}.")) {
            module.to_owned()
        } else {
            return out;
        };
        if absolute.is_empty() {
            return out;
        }
        out.push(absolute.clone());
        // `from pkg import a, b` may name submodules.
        for n in names.trim().trim_matches(['(', ')']).split(',') {
            if let Some(n) = n.split_whitespace().next()
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !n.is_empty()
            {
                out.push(format!("{absolute}.{n}"));
            }
        }
    } else if let Some(rest) = line.strip_prefix("import ") {
        for part in rest.split(',') {
            let m = part.split_whitespace().next().unwrap_or("");
            if m == top || m.starts_with(&format!("{top}.")) {
                out.push(m.to_owned());
            }
        }
    }
    out
}

/// Whether importing the top-level package runs the import of `module`
/// (`numpy._core._multiarray_umath`): at each level the package's `__init__` names the next
/// part in an import statement, or imports a sibling module that does (`numpy._core`
/// imports `multiarray`, which imports `_multiarray_umath`). Read from import statements,
/// not executed: one inside a function counts too, so it errs towards "eagerly".
pub fn imported_eagerly(site: &Path, module: &str) -> bool {
    let parts: Vec<&str> = module.split('.').collect();
    let mut dir = site.to_path_buf();
    for w in parts.windows(2) {
        let Some(init) = module_source(&dir, w[0]) else {
            return false;
        };
        dir.push(w[0]);
        if !imports_name(&dir, &init, w[1]) {
            return false;
        }
    }
    true
}

/// Whether a package's `__init__` source imports `name`, directly or through one sibling
/// module it imports.
fn imports_name(dir: &Path, init: &str, name: &str) -> bool {
    loads(dir, init, |l| has_word(l, name))
}

/// Whether an import statement `wanted` accepts is in a package's `__init__` (source
/// `init`, folder `dir`) or in one of the modules of the package it imports.
fn loads(dir: &Path, init: &str, wanted: impl Fn(&str) -> bool) -> bool {
    if import_lines(init).any(&wanted) {
        return true;
    }
    // Siblings the `__init__` imports: `from . import a, b`, `from .a import …`, and the
    // absolute `from pkg.a import …`.
    let absolute = dir
        .file_name()
        .map(|n| format!("from {}.", n.to_string_lossy()))
        .unwrap_or_default();
    let mut siblings: BTreeSet<String> = BTreeSet::new();
    let relative = import_lines(init).filter_map(|l| {
        l.strip_prefix("from .").or_else(|| {
            l.strip_prefix(absolute.as_str())
                .filter(|_| !absolute.is_empty())
        })
    });
    for rest in relative {
        let (module, names) = rest.split_once(" import ").unwrap_or((rest, ""));
        let module = module.trim();
        if module.is_empty() {
            for n in names.split(',') {
                let n = n.trim().trim_matches(['(', ')']);
                if let Some(first) = n.split_whitespace().next() {
                    siblings.insert(first.to_owned());
                }
            }
        } else if let Some(first) = module.split('.').next() {
            siblings.insert(first.to_owned());
        }
    }
    siblings
        .iter()
        .any(|s| module_source(dir, s).is_some_and(|src| import_lines(&src).any(&wanted)))
}

/// The CPython tag of a version: `3.11.7` → `311-`.
pub fn python_tag(version: &str) -> Option<String> {
    let mut it = version.split('.');
    let (maj, min) = (it.next()?, it.next()?);
    (maj.chars().all(|c| c.is_ascii_digit()) && min.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("{maj}{min}-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_names() {
        assert_eq!(
            extension_stem("_C.cpython-311-x86_64-linux-gnu.so", Some("311-")),
            Some("_C")
        );
        assert_eq!(
            extension_stem("_C.cpython-310-x86_64-linux-gnu.so", Some("311-")),
            None
        );
        assert_eq!(extension_stem("_rust.abi3.so", Some("311-")), Some("_rust"));
        assert_eq!(extension_stem("_linalg.so", None), Some("_linalg"));
        assert_eq!(extension_stem("libcudart.so.13", None), None);
        assert_eq!(extension_stem("libc10-1a2b3c.so", None), None);
        assert_eq!(python_tag("3.11.7").as_deref(), Some("311-"));
    }

    #[test]
    fn module_paths_and_globs() {
        assert_eq!(
            module_path(Path::new("torch/_C.cpython-311-x86_64-linux-gnu.so"), "_C"),
            "torch._C"
        );
        assert!(glob_one_folder(
            "jax_plugins/*/xla_cuda_plugin.so",
            "jax_plugins/xla_cuda13/xla_cuda_plugin.so"
        ));
        assert!(!glob_one_folder(
            "jax_plugins/*/xla_cuda_plugin.so",
            "jax_plugins/xla_cuda_plugin.so"
        ));
        assert!(is_driver_library("libcuda.so.1") && is_driver_library("libnvidia-ml.so.1"));
        assert!(!is_driver_library("libcudart.so.13"));
    }

    #[test]
    fn free_threaded_extensions_are_importable_by_their_build() {
        let tag = python_tag("3.13.1");
        assert_eq!(
            extension_stem("_C.cpython-313t-x86_64-linux-gnu.so", tag.as_deref()),
            Some("_C")
        );
        assert_eq!(
            extension_stem("_C.cpython-3131-x86_64-linux-gnu.so", tag.as_deref()),
            None
        );
    }

    #[test]
    fn eager_imports_read_from_import_statements() {
        let site = tempfile::tempdir().unwrap();
        let w = |p: &str, t: &str| {
            let p = site.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        w(
            "np/__init__.py",
            "try:\n    from . import core\nexcept ImportError:\n    raise\n",
        );
        w(
            "np/core/__init__.py",
            "from . import multiarray\nif not hasattr(multiarray, '_umath'):\n    pass\n",
        );
        w("np/core/multiarray.py", "from ._umath import *\n");
        w(
            "lazy/__init__.py",
            "submodules = ['_ext', 'linalg']\ndef __getattr__(n):\n    return n\n",
        );
        assert!(imported_eagerly(site.path(), "np.core._umath"));
        assert!(!imported_eagerly(site.path(), "lazy._ext"));
        assert!(imports_package("import torch\n", "torch"));
        assert!(imports_package("from torch.nn import Module\n", "torch"));
        assert!(!imports_package("import torchgen\n", "torch"));
        // pandas → pandas.compat → pandas.compat.numpy → numpy, through absolute and
        // relative imports; an import inside a function does not count.
        w("pd/__init__.py", "from pd.compat import is_dev\n");
        w("pd/compat/__init__.py", "from .np import is_dev\n");
        w(
            "pd/compat/np.py",
            "try:\n    import numpy as np\nexcept ImportError:\n    raise\n",
        );
        w("tr/__init__.py", "from . import gen\n");
        w(
            "tr/gen.py",
            "def render():\n    import jinja2\n    if True:\n        import jinja2\n",
        );
        assert!(imports_on_load(site.path(), "pd", "numpy"));
        assert!(!imports_on_load(site.path(), "tr", "jinja2"));
    }
}
