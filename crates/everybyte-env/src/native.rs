//! The native half of `env check`: find every ELF object under the environment's roots,
//! walk each one's closure on all cores, and turn what is missing into findings.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use everybyte_core::Finding;

use crate::elf;
use crate::load::{self, Loading};
use crate::resolve::{self, Closure, InfoCache, SearchConfig};
use crate::symbols::SymbolCache;

/// Every ELF object under `roots` (symbolic links are not followed, so each file counts once).
/// The folders are read on all cores: in a large environment, listing them is most of the
/// cost.
pub fn find_objects(roots: &[PathBuf]) -> Vec<PathBuf> {
    let found = std::sync::Mutex::new(Vec::new());
    for root in roots {
        ignore::WalkBuilder::new(root)
            .standard_filters(false)
            .follow_links(false)
            .threads(everybyte_core::par::cores())
            .filter_entry(|e| !is_never_loaded_from(e))
            .build_parallel()
            .run(|| {
                let found = &found;
                let mut mine = Vec::new();
                Box::new(move |entry| {
                    if let Ok(entry) = entry
                        && entry.file_type().is_some_and(|ft| ft.is_file())
                    {
                        let name = entry.file_name().to_string_lossy();
                        // A library names itself `.so`; an executable has no extension
                        // (`ptxas`) or a version for one (`python3.11`). Only those are
                        // opened, and only the latter stat'ed: a venv holds tens of
                        // thousands of sources, headers and data files.
                        let library = name.contains(".so");
                        if (library || (could_be_program(&name) && is_executable(&entry)))
                            && has_elf_magic(entry.path())
                        {
                            mine.push(entry.into_path());
                        }
                    }
                    if !mine.is_empty() {
                        everybyte_core::par::lock(found).append(&mut mine);
                    }
                    ignore::WalkState::Continue
                })
            });
    }
    let mut out = found
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    out.sort();
    out.dedup();
    out
}

/// Folders no loader opens an object from: bytecode caches and header trees. In a torch
/// environment they hold three files in four.
fn is_never_loaded_from(e: &ignore::DirEntry) -> bool {
    e.depth() > 0
        && e.file_type().is_some_and(|t| t.is_dir())
        && matches!(e.file_name().to_str(), Some("__pycache__" | "include"))
}

/// Whether a file name could be a program's: no extension, or a numeric one.
fn could_be_program(name: &str) -> bool {
    name.rsplit_once('.')
        .is_none_or(|(_, ext)| ext.chars().all(|c| c.is_ascii_digit()))
}

fn is_executable(entry: &ignore::DirEntry) -> bool {
    entry
        .metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

fn has_elf_magic(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && elf::is_elf(&head)
}

/// What the native check found.
#[derive(Debug, Default)]
pub struct NativeReport {
    pub objects: Vec<PathBuf>,
    pub findings: Vec<Finding>,
    /// (object, name) pairs of unresolved libraries, transitive ones included: what a loop of
    /// `ldd` over the same objects prints as "not found".
    pub not_found: Vec<(PathBuf, String)>,
    /// (driver library, the object that needs it), for the libraries the NVIDIA driver
    /// provides that this host lacks.
    pub driver_needs: Vec<(String, PathBuf)>,
}

/// The facts the native rules judge: every object of the environment with its resolved
/// closure, the entry points that load them, and the parsed objects.
pub struct Objects<'a> {
    pub objects: &'a [PathBuf],
    /// The closure of `objects[i]` at index `i`.
    pub closures: &'a [Closure],
    /// The entry points (extension modules, programs, libraries packages load) and what
    /// their closures reach.
    pub loading: &'a Loading,
    /// What the interpreter itself loads (its executable, `libpython`, libc): the global
    /// scope every extension's symbols are looked up in. Empty when there is no interpreter.
    pub interpreter: &'a [PathBuf],
    /// Paths in findings are shown relative to it.
    pub display_root: &'a Path,
    /// The environment's `site-packages` folders.
    pub site_packages: &'a [PathBuf],
    pub cfg: &'a SearchConfig,
    /// Every object parsed while resolving, the host's libraries included.
    pub infos: &'a InfoCache,
    pub symbols: &'a SymbolCache,
    /// Judge every object alone as well, as a loop of `ldd` judges it.
    pub ldd_compatible: bool,
    /// Whether an NVIDIA driver is loaded on this host: without one, the driver's libraries
    /// are not expected anywhere.
    pub driver_present: bool,
}

impl Objects<'_> {
    /// `p` relative to the display root, where it is under it.
    pub fn show(&self, p: &Path) -> String {
        p.strip_prefix(self.display_root)
            .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
    }

    /// Every soname (and file name) the entry points' closures load → the top-level packages
    /// whose entries load it.
    pub fn loaded_names(&self) -> BTreeMap<String, BTreeSet<&str>> {
        let mut out: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for (path, entries) in &self.loading.reached {
            let tops = entries
                .iter()
                .map(|&e| self.loading.entries[e].top.as_str());
            let mut names: Vec<String> = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .into_iter()
                .collect();
            if let Some(s) = self.infos.get(path).and_then(|i| i.soname.clone()) {
                names.push(s);
            }
            for n in names {
                out.entry(n).or_default().extend(tops.clone());
            }
        }
        out
    }

    /// Whether a missing library is the driver's, on a host without a driver: not an error
    /// of the environment.
    pub fn is_absent_driver_library(&self, name: &str) -> bool {
        !self.driver_present && load::is_driver_library(name)
    }
}

/// What the native check examines and how.
#[derive(Debug, Clone, Copy)]
pub struct NativeInput<'a> {
    /// Folders whose ELF objects are examined.
    pub roots: &'a [PathBuf],
    /// `site-packages` folders: extension modules' names are relative to them.
    pub site_packages: &'a [PathBuf],
    /// The environment's interpreter, if it has one.
    pub python: Option<&'a Path>,
    /// `3.11.7`: extension modules tagged for another Python are not importable.
    pub python_version: Option<&'a str>,
    /// Paths in findings are shown relative to it.
    pub display_root: &'a Path,
    /// Judge every object alone as well, as a loop of `ldd` does.
    pub ldd_compatible: bool,
    pub driver_present: bool,
}

impl<'a> NativeInput<'a> {
    /// A folder of objects with no interpreter, judged with the host's driver state.
    pub fn folder(roots: &'a [PathBuf], display_root: &'a Path) -> NativeInput<'a> {
        NativeInput {
            roots,
            site_packages: &[],
            python: None,
            python_version: None,
            display_root,
            ldd_compatible: false,
            driver_present: false,
        }
    }
}

/// Resolves every object's closure (on all cores), finds the entry points, and runs the
/// native rules on them.
pub fn check(input: &NativeInput<'_>, cfg: &SearchConfig) -> NativeReport {
    let objects = find_objects(input.roots);
    let infos = InfoCache::default();
    let symbols = SymbolCache::sharing(&infos.files);
    let closures: Vec<Closure> =
        everybyte_core::par::map(&objects, |obj| resolve::closure(obj, cfg, &infos));
    let tag = input.python_version.and_then(load::python_tag);
    let loading = load::entries(
        &objects,
        &closures,
        input.site_packages,
        tag.as_deref(),
        &infos,
        &symbols,
    );
    let interpreter: Vec<PathBuf> = input
        .python
        .and_then(|p| std::fs::canonicalize(p).ok())
        .map(|p| resolve::closure(&p, cfg, &infos).loaded)
        .unwrap_or_default();
    let facts = Objects {
        objects: &objects,
        closures: &closures,
        loading: &loading,
        interpreter: &interpreter,
        display_root: input.display_root,
        site_packages: input.site_packages,
        cfg,
        infos: &infos,
        symbols: &symbols,
        ldd_compatible: input.ldd_compatible,
        driver_present: input.driver_present,
    };
    let mut findings = Vec::new();
    crate::rules::run_objects(&facts, &mut findings);
    let mut not_found: Vec<(PathBuf, String)> = objects
        .iter()
        .zip(&closures)
        .flat_map(|(o, c)| c.missing.iter().map(|m| (o.clone(), m.name.clone())))
        .collect();
    not_found.sort();
    not_found.dedup();
    let mut driver_needs: Vec<(String, PathBuf)> = closures
        .iter()
        .flat_map(|c| &c.missing)
        .filter(|m| load::is_driver_library(&m.name))
        .map(|m| (m.name.clone(), m.needed_by.clone()))
        .collect();
    driver_needs.sort();
    driver_needs.dedup();
    NativeReport {
        objects,
        findings,
        not_found,
        driver_needs,
    }
}
