//! The native half of `env check`: find every ELF object under the environment's roots,
//! walk each one's closure on all cores, and turn what is missing into findings.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use everybyte_core::Finding;

use crate::elf;
use crate::resolve::{self, Closure, InfoCache, SearchConfig};

/// Every ELF object under `roots` (symbolic links are not followed, so each file counts once).
pub fn find_objects(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in roots {
        let walk = ignore::WalkBuilder::new(root)
            .standard_filters(false)
            .follow_links(false)
            .build();
        for entry in walk.flatten() {
            let Some(ft) = entry.file_type() else {
                continue;
            };
            if !ft.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy();
            let executable = entry
                .metadata()
                .is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
            if !(name.contains(".so") || executable) {
                continue;
            }
            if has_elf_magic(entry.path()) {
                out.push(entry.into_path());
            }
        }
    }
    out.sort();
    out.dedup();
    out
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
}

/// The facts the native rules judge: every object of the environment with its resolved
/// closure, and the parsed objects.
pub struct Objects<'a> {
    pub objects: &'a [PathBuf],
    /// The closure of `objects[i]` at index `i`.
    pub closures: &'a [Closure],
    /// Paths in findings are shown relative to it.
    pub display_root: &'a Path,
    pub cfg: &'a SearchConfig,
    /// Every object parsed while resolving, the host's libraries included.
    pub infos: &'a InfoCache,
    /// Judge every object alone as well, as a loop of `ldd` judges it.
    pub ldd_compatible: bool,
}

impl Objects<'_> {
    /// `p` relative to the display root, where it is under it.
    pub fn show(&self, p: &Path) -> String {
        p.strip_prefix(self.display_root)
            .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
    }
}

/// Resolves every object's closure (on all cores) and runs the native rules on them. With
/// `ldd_compatible`, every object is also judged alone, as a loop of `ldd` judges it.
pub fn check(
    roots: &[PathBuf],
    display_root: &Path,
    cfg: &SearchConfig,
    ldd_compatible: bool,
) -> NativeReport {
    let objects = find_objects(roots);
    let infos = InfoCache::default();
    let closures: Vec<Closure> =
        everybyte_core::par::map(&objects, |obj| resolve::closure(obj, cfg, &infos));
    let facts = Objects {
        objects: &objects,
        closures: &closures,
        display_root,
        cfg,
        infos: &infos,
        ldd_compatible,
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
    NativeReport {
        objects,
        findings,
        not_found,
    }
}
