//! The environment checks: unmet and conflicting requirements (what `pip check` reports),
//! duplicate distributions, files owned by two distributions, and RECORD verification.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use everybyte_core::{Finding, Location, Related};

use super::dist::{Distribution, scan_site_packages};
use super::marker::MarkerEnv;
use super::rules::{
    CONFLICTING_REQUIREMENT, DUPLICATE_DISTRIBUTION, MODULE_CONFLICT, RECORD_MISMATCH,
    UNMET_REQUIREMENT,
};
use super::sha256::base64_url_nopad;
use sha2::{Digest, Sha256};

/// How many changed paths a ENV008 message names.
const SHOWN_PATHS: usize = 3;

/// Checks one `site-packages` directory: ENV004–ENV008. Paths in findings are relative to
/// `display_root` where possible. Unreadable inputs are reported as IO001.
pub fn check_site_packages(
    site_packages: &Path,
    display_root: &Path,
    env: &MarkerEnv,
) -> Vec<Finding> {
    check_site_packages_with(site_packages, display_root, env, true)
}

/// As [`check_site_packages`]; `verify_records: false` skips hashing every installed file
/// (ENV008), the one check whose cost grows with the environment's size.
pub fn check_site_packages_with(
    site_packages: &Path,
    display_root: &Path,
    env: &MarkerEnv,
    verify_records: bool,
) -> Vec<Finding> {
    match scan_site_packages(site_packages) {
        Ok(scan) => check_scan(&scan, display_root, env, verify_records),
        Err(e) => vec![everybyte_core::rules::unreadable(
            display(site_packages, display_root),
            "cannot read",
            &e,
        )],
    }
}

/// The checks over an already scanned `site-packages` (metadata that could not be read is
/// an IO001 finding).
pub fn check_scan(
    scan: &super::dist::Scan,
    display_root: &Path,
    env: &MarkerEnv,
    verify_records: bool,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = scan
        .skipped
        .iter()
        .map(|s| {
            everybyte_core::rules::unreadable(
                display(&s.path, display_root),
                "cannot read distribution metadata",
                &s.reason,
            )
        })
        .collect();
    out.extend(check_requirements(&scan.distributions, display_root, env));
    out.extend(check_duplicates(&scan.distributions, display_root));
    out.extend(check_module_conflicts(&scan.distributions, display_root));
    if verify_records {
        out.extend(check_records(&scan.distributions, display_root));
    }
    out
}

/// All checks over already scanned distributions of one `site-packages`.
pub fn check_distributions(
    dists: &[Distribution],
    display_root: &Path,
    env: &MarkerEnv,
) -> Vec<Finding> {
    let mut out = check_requirements(dists, display_root, env);
    out.extend(check_duplicates(dists, display_root));
    out.extend(check_module_conflicts(dists, display_root));
    out.extend(check_records(dists, display_root));
    out
}

pub(crate) fn display(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s = rel.to_string_lossy();
    if s.is_empty() {
        ".".to_owned()
    } else {
        s.into_owned()
    }
}

fn location(d: &Distribution, root: &Path, detail: &str) -> Location {
    Location {
        detail: Some(detail.to_owned()),
        ..Location::file(display(&d.location, root))
    }
}

/// The distribution that answers for each normalised name: the first in scan order.
fn installed_by_name(dists: &[Distribution]) -> BTreeMap<&str, &Distribution> {
    let mut map = BTreeMap::new();
    for d in dists {
        map.entry(d.normalized.as_str()).or_insert(d);
    }
    map
}

/// ENV004 and ENV005, with `pip check`'s semantics: markers evaluated with `extra == ""`,
/// versions compared with pre-releases allowed.
pub fn check_requirements(
    dists: &[Distribution],
    display_root: &Path,
    env: &MarkerEnv,
) -> Vec<Finding> {
    let installed = installed_by_name(dists);
    let mut out = Vec::new();
    for d in dists {
        for req in &d.requires {
            if req.marker.as_ref().is_some_and(|m| !m.evaluate(env, "")) {
                continue;
            }
            let loc = || location(d, display_root, d.requires_source());
            let Some(dep) = installed.get(req.normalized.as_str()) else {
                out.push(
                    Finding::new(
                        &UNMET_REQUIREMENT,
                        loc(),
                        format!(
                            "{} {} requires {}, which is not installed",
                            d.name, d.version, req.name
                        ),
                    )
                    .with_help(format!("pip install '{}'", req.without_marker()))
                    .with_data("package", d.normalized.clone())
                    .with_data("version", d.version.clone())
                    .with_data("dependency", req.normalized.clone())
                    .with_data("requirement", req.to_string()),
                );
                continue;
            };
            let Some(v) = &dep.parsed_version else {
                continue;
            };
            if req.specifiers.contains(v, Some(true)) {
                continue;
            }
            out.push(
                Finding::new(
                    &CONFLICTING_REQUIREMENT,
                    loc(),
                    format!(
                        "{} {} requires {}{}, but {} is installed",
                        d.name, d.version, req.name, req.specifiers, dep.version
                    ),
                )
                .with_help(format!(
                    "install a {} that satisfies {} (pip install '{}{}'), or a {} release that accepts {} {}",
                    dep.name, req.specifiers, req.name, req.specifiers, d.name, dep.name, dep.version
                ))
                .with_data("package", d.normalized.clone())
                .with_data("version", d.version.clone())
                .with_data("dependency", req.normalized.clone())
                .with_data("requirement", req.to_string())
                .with_data("installed", dep.version.clone()),
            );
        }
    }
    out
}

/// ENV006: one finding per normalised name installed more than once.
pub fn check_duplicates(dists: &[Distribution], display_root: &Path) -> Vec<Finding> {
    let mut groups: BTreeMap<&str, Vec<&Distribution>> = BTreeMap::new();
    for d in dists {
        groups.entry(d.normalized.as_str()).or_default().push(d);
    }
    let mut out = Vec::new();
    for (name, group) in groups {
        if group.len() < 2 {
            continue;
        }
        let listed: Vec<String> = group
            .iter()
            .map(|d| format!("{} ({})", d.version, display(&d.location, display_root)))
            .collect();
        let mut f = Finding::new(
            &DUPLICATE_DISTRIBUTION,
            Location::file(display(&group[0].location, display_root)),
            format!("{name} is installed {} times: {}", group.len(), listed.join(", ")),
        )
        .with_help(format!(
            "pip uninstall {name} until none is left (or delete the stale metadata directory), then install one version"
        ))
        .with_data("package", name)
        .with_data(
            "versions",
            group.iter().map(|d| d.version.clone()).collect::<Vec<_>>(),
        );
        f.related = group[1..]
            .iter()
            .map(|d| Related {
                location: Location::file(display(&d.location, display_root)),
                message: format!("{} {} is also installed here", d.name, d.version),
            })
            .collect();
        out.push(f);
    }
    out
}

/// Compiled bytecode: installers regenerate it, even when the wheel shipped it with a hash.
fn is_bytecode(path: &str) -> bool {
    path.contains("__pycache__/")
        || Path::new(path)
            .extension()
            .is_some_and(|e| e == "pyc" || e == "pyo")
}

fn ignored_for_conflicts(path: &str) -> bool {
    let first = Path::new(path.split('/').next().unwrap_or(""));
    is_bytecode(path)
        || first
            .extension()
            .is_some_and(|e| e == "dist-info" || e == "egg-info")
}

/// ENV007: pairs of distributions (of different names) whose RECORDs list the same path with
/// different or unknown contents.
pub fn check_module_conflicts(dists: &[Distribution], display_root: &Path) -> Vec<Finding> {
    type Owner<'a> = (usize, Option<&'a (String, String)>);
    let mut owners: BTreeMap<&str, Vec<Owner<'_>>> = BTreeMap::new();
    for (i, d) in dists.iter().enumerate() {
        for e in d.record.iter().flatten() {
            if !ignored_for_conflicts(&e.path) {
                owners
                    .entry(e.path.as_str())
                    .or_default()
                    .push((i, e.hash.as_ref()));
            }
        }
    }
    // (i, j) → (count, first example path)
    let mut pairs: BTreeMap<(usize, usize), (usize, &str)> = BTreeMap::new();
    for (path, list) in &owners {
        for (a, &(i, hi)) in list.iter().enumerate() {
            for &(j, hj) in &list[a + 1..] {
                let same_content = hi.is_some() && hi == hj;
                if i == j || same_content || dists[i].normalized == dists[j].normalized {
                    continue;
                }
                let key = (i.min(j), i.max(j));
                pairs.entry(key).or_insert((0, path)).0 += 1;
            }
        }
    }
    pairs
        .into_iter()
        .map(|((i, j), (count, example))| {
            let (a, b) = (&dists[i], &dists[j]);
            let files = if count == 1 { "file" } else { "files" };
            let mut f = Finding::new(
                &MODULE_CONFLICT,
                location(a, display_root, "RECORD"),
                format!(
                    "{} {} and {} {} both install {count} {files}, e.g. {example}",
                    a.name, a.version, b.name, b.version
                ),
            )
            .with_help(format!(
                "keep one: pip uninstall -y {} {} and reinstall only the one you need",
                a.name, b.name
            ))
            .with_data("packages", vec![a.normalized.clone(), b.normalized.clone()])
            .with_data("count", count)
            .with_data("example", example);
            f.related.push(Related {
                location: location(b, display_root, "RECORD"),
                message: format!("{} {} lists the same files", b.name, b.version),
            });
            f
        })
        .collect()
}

/// What verifying one RECORD line found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Verdict {
    Ok,
    Missing,
    /// Also the verdict for a file whose worker thread failed.
    #[default]
    Modified,
}

fn verify_file(path: &Path, size: Option<u64>, want: &str) -> Verdict {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Verdict::Missing,
        Err(_) => return Verdict::Modified,
    };
    if let (Some(size), Ok(meta)) = (size, file.metadata())
        && meta.len() != size
    {
        return Verdict::Modified;
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 18];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Verdict::Modified,
        }
    }
    if base64_url_nopad(&hasher.finalize()) == want.trim_end_matches('=') {
        Verdict::Ok
    } else {
        Verdict::Modified
    }
}

/// ENV008: hashes every sha256-recorded file of every distribution, on all cores.
pub fn check_records(dists: &[Distribution], display_root: &Path) -> Vec<Finding> {
    // (dist index, entry index)
    let jobs: Vec<(usize, usize)> = dists
        .iter()
        .enumerate()
        .flat_map(|(i, d)| {
            d.record
                .iter()
                .flatten()
                .enumerate()
                .filter(|(_, e)| {
                    e.hash.as_ref().is_some_and(|(algo, _)| algo == "sha256")
                        && !is_bytecode(&e.path)
                })
                .map(move |(j, _)| (i, j))
        })
        .collect();
    let verdicts = everybyte_core::par::map(&jobs, |&(i, j)| {
        let d = &dists[i];
        let Some(e) = d.record.as_ref().and_then(|r| r.get(j)) else {
            return Verdict::Ok;
        };
        let digest = e.hash.as_ref().map_or("", |(_, h)| h.as_str());
        verify_file(&d.root().join(&e.path), e.size, digest)
    });
    let mut per_dist: BTreeMap<usize, Vec<(usize, Verdict)>> = BTreeMap::new();
    for (&(i, j), v) in jobs.iter().zip(verdicts) {
        if v != Verdict::Ok {
            per_dist.entry(i).or_default().push((j, v));
        }
    }
    per_dist
        .into_iter()
        .map(|(i, bad)| {
            let d = &dists[i];
            let record = d.record.as_deref().unwrap_or_default();
            let path_of = |j: usize| record.get(j).map_or("", |e| e.path.as_str());
            let missing: Vec<&str> = bad
                .iter()
                .filter(|(_, v)| *v == Verdict::Missing)
                .map(|&(j, _)| path_of(j))
                .collect();
            let modified: Vec<&str> = bad
                .iter()
                .filter(|(_, v)| *v == Verdict::Modified)
                .map(|&(j, _)| path_of(j))
                .collect();
            let mut parts = Vec::new();
            for (label, list) in [("modified", &modified), ("missing", &missing)] {
                if list.is_empty() {
                    continue;
                }
                let mut s = format!(
                    "{label}: {}",
                    list.iter()
                        .take(SHOWN_PATHS)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if list.len() > SHOWN_PATHS {
                    s.push_str(&format!(" and {} more", list.len() - SHOWN_PATHS));
                }
                parts.push(s);
            }
            let files = if bad.len() == 1 {
                "file differs"
            } else {
                "files differ"
            };
            Finding::new(
                &RECORD_MISMATCH,
                location(d, display_root, "RECORD"),
                format!(
                    "{} {}: {} installed {files} from RECORD ({})",
                    d.name,
                    d.version,
                    bad.len(),
                    parts.join("; ")
                ),
            )
            .with_help(format!(
                "pip install --force-reinstall --no-deps '{}=={}'",
                d.name, d.version
            ))
            .with_data("package", d.normalized.clone())
            .with_data("modified", modified.len())
            .with_data("missing", missing.len())
            .with_data(
                "paths",
                bad.iter()
                    .take(SHOWN_PATHS * 2)
                    .map(|&(j, _)| path_of(j))
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}
