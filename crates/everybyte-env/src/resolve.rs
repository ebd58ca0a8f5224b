//! Resolving `DT_NEEDED` entries the way the dynamic loader does: `DT_RPATH` (of the object
//! and of the objects that loaded it, when it has no `DT_RUNPATH`), `LD_LIBRARY_PATH`,
//! `DT_RUNPATH`, `/etc/ld.so.cache`, then the default directories, with `$ORIGIN`, `$LIB` and
//! `$PLATFORM` expanded and objects of another class or machine skipped. Each object's whole
//! closure is walked, so a library missing two levels down is found, as `ldd` finds it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::elf::{self, DynamicInfo, Kind};
use crate::ldcache::LdCache;

/// Where the loader looks, besides each object's own paths.
#[derive(Debug, Clone, Default)]
pub struct SearchConfig {
    pub ld_library_path: Vec<PathBuf>,
    pub cache: LdCache,
    pub default_dirs: Vec<PathBuf>,
}

impl SearchConfig {
    /// This host's settings: `LD_LIBRARY_PATH` from the environment, `/etc/ld.so.cache`, and
    /// the default directories.
    pub fn host() -> SearchConfig {
        let ld_library_path = std::env::var_os("LD_LIBRARY_PATH")
            .map(|v| {
                std::env::split_paths(&v)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        SearchConfig {
            ld_library_path,
            cache: LdCache::load(Path::new("/etc/ld.so.cache")).unwrap_or_default(),
            default_dirs: ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]
                .iter()
                .map(PathBuf::from)
                .collect(),
        }
    }
}

/// A library an object needs that could not be found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Missing {
    /// The object whose `DT_NEEDED` names it.
    pub needed_by: PathBuf,
    pub name: String,
}

/// A symbol version an object needs that its provider does not define.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VersionGap {
    pub object: PathBuf,
    pub provider: PathBuf,
    pub version: String,
    /// The newest version of the same family the provider defines.
    pub provider_newest: Option<String>,
}

/// The result of walking one object's closure.
#[derive(Debug, Clone, Default)]
pub struct Closure {
    pub missing: Vec<Missing>,
    pub gaps: Vec<VersionGap>,
    /// Every object loaded, by path.
    pub loaded: Vec<PathBuf>,
}

/// A search: the library's name, the folders searched before the cache (`DT_RPATH` and
/// `LD_LIBRARY_PATH`), those after it (`DT_RUNPATH`), and the object's class and machine.
type SearchKey = (String, Vec<PathBuf>, Vec<PathBuf>, bool, u16);

/// Parsed objects and finished searches, shared between threads: the closures of an
/// environment's objects overlap, and each search is done once.
#[derive(Default)]
pub struct InfoCache {
    /// The objects' bytes, shared with the symbol tables read from them.
    pub files: Arc<crate::mapped::Files>,
    map: Mutex<HashMap<PathBuf, Option<Arc<DynamicInfo>>>>,
    found: Mutex<HashMap<SearchKey, Option<PathBuf>>>,
}

impl InfoCache {
    pub fn get(&self, path: &Path) -> Option<Arc<DynamicInfo>> {
        if let Some(v) = everybyte_core::par::lock(&self.map).get(path) {
            return v.clone();
        }
        let parsed = self
            .files
            .get(path)
            .and_then(|bytes| elf::parse(&bytes).ok())
            .map(Arc::new);
        everybyte_core::par::lock(&self.map).insert(path.to_owned(), parsed.clone());
        parsed
    }
}

fn expand(entry: &str, origin: &Path, class64: bool, machine: u16) -> PathBuf {
    let lib = if class64 { "lib64" } else { "lib" };
    let platform = match machine {
        Kind::X86_64 => "x86_64",
        Kind::AARCH64 => "aarch64",
        _ => "",
    };
    let origin = origin.to_string_lossy();
    let s = entry
        .replace("${ORIGIN}", &origin)
        .replace("$ORIGIN", &origin)
        .replace("${LIB}", lib)
        .replace("$LIB", lib)
        .replace("${PLATFORM}", platform)
        .replace("$PLATFORM", platform);
    normalize(Path::new(&s))
}

/// Removes `.` and `..` components lexically (`numpy/_core/../../numpy.libs` →
/// `numpy.libs`), so one library has one path however it was reached.
pub fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Walks the closure of `root` (an ELF object) and reports every library that cannot be
/// found and every symbol version its provider lacks.
pub fn closure(root: &Path, cfg: &SearchConfig, infos: &InfoCache) -> Closure {
    let mut out = Closure::default();
    let Some(root_info) = infos.get(root) else {
        return out;
    };
    let Some(kind) = root_info.kind else {
        return out;
    };
    // name (soname or DT_NEEDED string) → path of the loaded object
    let mut by_name: HashMap<String, PathBuf> = HashMap::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    // (object, its info, the RPATHs inherited from the objects that loaded it)
    let mut queue: std::collections::VecDeque<(PathBuf, Arc<DynamicInfo>, Vec<PathBuf>)> =
        std::collections::VecDeque::new();
    seen.insert(root.to_owned());
    if let Some(s) = &root_info.soname {
        by_name.insert(s.clone(), root.to_owned());
    }
    queue.push_back((root.to_owned(), root_info, Vec::new()));
    let mut missing: BTreeSet<Missing> = BTreeSet::new();
    let mut providers: Vec<(PathBuf, Arc<DynamicInfo>, BTreeMap<String, PathBuf>)> = Vec::new();
    while let Some((path, info, inherited)) = queue.pop_front() {
        let origin = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let own_rpath: Vec<PathBuf> = info
            .rpath
            .iter()
            .map(|e| expand(e, &origin, kind.class64, kind.machine))
            .collect();
        let runpath: Vec<PathBuf> = info
            .runpath
            .iter()
            .map(|e| expand(e, &origin, kind.class64, kind.machine))
            .collect();
        let mut rpath_chain = Vec::new();
        if runpath.is_empty() {
            rpath_chain.extend(own_rpath.iter().cloned());
            rpath_chain.extend(inherited.iter().cloned());
        }
        let mut child_inherited = own_rpath.clone();
        child_inherited.extend(inherited.iter().cloned());
        let mut resolved_here = BTreeMap::new();
        for name in &info.needed {
            if let Some(p) = by_name.get(name) {
                resolved_here.insert(name.clone(), p.clone());
                continue;
            }
            let found = find_cached(name, &rpath_chain, &runpath, cfg, kind, infos);
            match found {
                Some((p, child)) => {
                    by_name.insert(name.clone(), p.clone());
                    if let Some(s) = &child.soname {
                        by_name.entry(s.clone()).or_insert_with(|| p.clone());
                    }
                    resolved_here.insert(name.clone(), p.clone());
                    if seen.insert(p.clone()) {
                        queue.push_back((p, child, child_inherited.clone()));
                    }
                }
                None => {
                    missing.insert(Missing {
                        needed_by: path.clone(),
                        name: name.clone(),
                    });
                }
            }
        }
        out.loaded.push(path.clone());
        providers.push((path, info, resolved_here));
    }
    // Symbol versions: each object's needs against the definitions of what it loaded.
    let mut gaps = BTreeSet::new();
    for (path, info, resolved) in &providers {
        for need in &info.version_needs {
            let Some(provider) = resolved.get(&need.file).or_else(|| by_name.get(&need.file))
            else {
                continue;
            };
            let Some(pinfo) = infos.get(provider) else {
                continue;
            };
            for v in &need.versions {
                if !pinfo.version_defs.iter().any(|d| d == v) {
                    let family = elf::version_key(v).0;
                    gaps.insert(VersionGap {
                        object: path.clone(),
                        provider: provider.clone(),
                        version: v.clone(),
                        provider_newest: elf::newest(&pinfo.version_defs, &family).cloned(),
                    });
                }
            }
        }
    }
    out.missing = missing.into_iter().collect();
    out.gaps = gaps.into_iter().collect();
    out
}

/// [`find_library`], each search done once for all the closures of an environment.
fn find_cached(
    name: &str,
    rpath: &[PathBuf],
    runpath: &[PathBuf],
    cfg: &SearchConfig,
    kind: Kind,
    infos: &InfoCache,
) -> Option<(PathBuf, Arc<DynamicInfo>)> {
    let key: SearchKey = (
        name.to_owned(),
        rpath.to_vec(),
        runpath.to_vec(),
        kind.class64,
        kind.machine,
    );
    let cached = everybyte_core::par::lock(&infos.found).get(&key).cloned();
    if let Some(p) = cached {
        return p.and_then(|p| infos.get(&p).map(|i| (p, i)));
    }
    let f = find_library(name, rpath, runpath, cfg, kind, infos);
    everybyte_core::par::lock(&infos.found).insert(key, f.as_ref().map(|(p, _)| p.clone()));
    f
}

fn find_library(
    name: &str,
    rpath: &[PathBuf],
    runpath: &[PathBuf],
    cfg: &SearchConfig,
    kind: Kind,
    infos: &InfoCache,
) -> Option<(PathBuf, Arc<DynamicInfo>)> {
    let suits = |p: &Path| -> Option<Arc<DynamicInfo>> {
        let info = infos.get(p)?;
        let k = info.kind?;
        (k.class64 == kind.class64 && k.machine == kind.machine).then_some(info)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return suits(&p).map(|i| (p, i));
    }
    let dirs = rpath
        .iter()
        .chain(cfg.ld_library_path.iter())
        .chain(runpath.iter());
    for d in dirs {
        let p = d.join(name);
        if p.is_file()
            && let Some(i) = suits(&p)
        {
            return Some((p, i));
        }
    }
    if let Some(p) = cfg.cache.lookup(name, kind.machine, kind.class64)
        && let Some(i) = suits(p)
    {
        return Some((p.to_owned(), i));
    }
    for d in &cfg.default_dirs {
        let p = d.join(name);
        if p.is_file()
            && let Some(i) = suits(&p)
        {
            return Some((p, i));
        }
    }
    None
}
