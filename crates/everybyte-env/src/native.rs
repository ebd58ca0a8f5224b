//! The native half of `env check`: find every ELF object under the environment's roots,
//! walk each one's closure on all cores, and turn what is missing into findings.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use everybyte_core::{Finding, Location};

use crate::elf;
use crate::resolve::{self, Closure, InfoCache, SearchConfig};
use crate::rules::{
    glibc_summary::GLIBC_SUMMARY, symbol_version::SYMBOL_VERSION_MISSING,
    unresolved_library::UNRESOLVED_LIBRARY,
};

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

/// Missing symbol versions by (object, provider): (version, the provider's newest).
type Gaps = BTreeMap<(PathBuf, PathBuf), Vec<(String, Option<String>)>>;

/// Resolves every object's closure (on all cores) and reports.
#[allow(clippy::too_many_lines)] // gather, then one loop per rule
/// With `ldd_compatible`, every object is also judged alone, as a loop of `ldd` judges it.
pub fn check(
    roots: &[PathBuf],
    display_root: &Path,
    cfg: &SearchConfig,
    ldd_compatible: bool,
) -> NativeReport {
    let objects = find_objects(roots);
    let infos = InfoCache::default();
    let results: Vec<(usize, Closure)> =
        everybyte_core::par::map(&objects, |obj| resolve::closure(obj, cfg, &infos))
            .into_iter()
            .enumerate()
            .collect();

    let show = |p: &Path| -> String {
        p.strip_prefix(display_root)
            .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
    };
    let mut report = NativeReport::default();
    // missing library name → objects whose DT_NEEDED names it
    let mut missing: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let mut gaps: Gaps = BTreeMap::new();
    // An object that another object of the environment loads is judged in its loader's
    // closure, where the libraries loaded before it are already there (auditwheel's vendored
    // `.libs` depend on that). Alone, `ldd` calls their siblings "not found"; `ldd_compatible`
    // reports those too.
    let objs = &objects;
    let loaded_by_others: std::collections::HashSet<&PathBuf> = results
        .iter()
        .flat_map(|(i, c)| c.loaded.iter().filter(move |p| **p != objs[*i]))
        .collect();
    for (i, c) in &results {
        let judged_elsewhere = !ldd_compatible && loaded_by_others.contains(&objects[*i]);
        for m in &c.missing {
            report.not_found.push((objects[*i].clone(), m.name.clone()));
            if judged_elsewhere {
                continue;
            }
            let v = missing.entry(m.name.clone()).or_default();
            if !v.contains(&m.needed_by) {
                v.push(m.needed_by.clone());
            }
        }
        for g in &c.gaps {
            let v = gaps
                .entry((g.object.clone(), g.provider.clone()))
                .or_default();
            if !v.iter().any(|(x, _)| *x == g.version) {
                v.push((g.version.clone(), g.provider_newest.clone()));
            }
        }
    }
    for (name, mut needers) in missing {
        needers.sort();
        let first = show(&needers[0]);
        let more = if needers.len() > 1 {
            format!(" and {} more", needers.len() - 1)
        } else {
            String::new()
        };
        let list: Vec<String> = needers.iter().take(20).map(|p| show(p)).collect();
        report.findings.push(
            Finding::new(&UNRESOLVED_LIBRARY, Location { detail: Some("DT_NEEDED".into()), ..Location::file(first.clone()) }, format!("{name} not found, needed by {first}{more}"))
                .with_help(format!("install the package that ships {name} or add its directory to the loader's path; check one object with: ldd {}", needers[0].display()))
                .with_data("library", name.as_str())
                .with_data("needed_by", list),
        );
    }
    for ((object, provider), mut versions) in gaps {
        versions.sort_by_key(|(v, _)| elf::version_key(v));
        let Some((top, newest)) = versions.last().cloned() else {
            continue;
        };
        let obj_name = object
            .file_name()
            .map_or_else(|| show(&object), |n| n.to_string_lossy().into_owned());
        let more = if versions.len() > 1 {
            format!(" (and {} older versions it also lacks)", versions.len() - 1)
        } else {
            String::new()
        };
        let provides = newest.map_or_else(
            || "defines no version of that family".to_owned(),
            |n| format!("provides up to {n}"),
        );
        report.findings.push(
            Finding::new(
                &SYMBOL_VERSION_MISSING,
                Location { detail: Some(".gnu.version_r".into()), ..Location::file(show(&object)) },
                format!("{obj_name} requires {top}; {} {provides}{more}", provider.display()),
            )
            .with_help(format!("objdump -T {} | grep {top} lists the symbols that need it; use a build for this host, or a base image whose library provides {top}", object.display()))
            .with_data("required", top.as_str())
            .with_data("provider", provider.display().to_string())
            .with_data("missing_versions", versions.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>()),
        );
    }
    if let Some(f) = summary(&objects, display_root, cfg, &infos) {
        report.findings.push(f);
    }
    report.not_found.sort();
    report.not_found.dedup();
    report.objects = objects;
    report
}

/// ENV003: the newest GLIBC_/GLIBCXX_ any object needs, against this host's libraries.
fn summary(
    objects: &[PathBuf],
    display_root: &Path,
    cfg: &SearchConfig,
    infos: &InfoCache,
) -> Option<Finding> {
    let mut need: BTreeMap<&str, (String, PathBuf)> = BTreeMap::new();
    for o in objects {
        let Some(info) = infos.get(o) else { continue };
        for n in &info.version_needs {
            for fam in ["GLIBC", "GLIBCXX"] {
                if let Some(v) = elf::newest(&n.versions, fam) {
                    let better = need
                        .get(fam)
                        .is_none_or(|(cur, _)| elf::version_key(v) > elf::version_key(cur));
                    if better {
                        need.insert(fam, (v.clone(), o.clone()));
                    }
                }
            }
        }
    }
    if need.is_empty() {
        return None;
    }
    let host = |lib: &str, fam: &str| -> Option<String> {
        let p = cfg
            .cache
            .lookup(lib, elf::Kind::X86_64, true)
            .map(Path::to_path_buf)
            .or_else(|| {
                cfg.default_dirs
                    .iter()
                    .map(|d| d.join(lib))
                    .find(|p| p.is_file())
            })?;
        let info = infos.get(&p)?;
        elf::newest(&info.version_defs, fam).cloned()
    };
    let mut parts = Vec::new();
    let mut finding_data = Vec::new();
    for (fam, lib) in [("GLIBC", "libc.so.6"), ("GLIBCXX", "libstdc++.so.6")] {
        if let Some((v, o)) = need.get(fam) {
            let who = o
                .strip_prefix(display_root)
                .unwrap_or(o)
                .display()
                .to_string();
            let have = host(lib, fam);
            parts.push(format!(
                "objects need up to {v} ({who}); this host provides {}",
                have.as_deref()
                    .map_or_else(|| format!("no {lib}"), |h| format!("up to {h}"))
            ));
            finding_data.push((fam, v.clone(), have));
        }
    }
    let mut f = Finding::new(
        &GLIBC_SUMMARY,
        Location::file(display_root.display().to_string()),
        parts.join("; "),
    );
    for (fam, v, have) in finding_data {
        f = f.with_data(&format!("{}_needed", fam.to_ascii_lowercase()), v);
        if let Some(h) = have {
            f = f.with_data(&format!("{}_host", fam.to_ascii_lowercase()), h);
        }
    }
    Some(f.with_help("deploy on hosts and base images that provide at least these versions (ldd --version; strings libstdc++.so.6 | grep GLIBCXX_)"))
}
