//! Lockfiles: pip requirements files (pins, `--hash`, `-r`/`-c` includes), PEP 751
//! `pylock.toml`, `uv.lock` and `poetry.lock`; and the checks against them (ENV009 lock
//! drift, ENV010 unpinned requirements).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use everybyte_core::Finding;
use regex::Regex;

use super::dist::Distribution;
use super::marker::{Marker, MarkerEnv};
use super::requirement::{Requirement, normalize_name};
use super::version::Operator;

pub use crate::error::LockError;

/// The format of a lockfile, from its file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    Requirements,
    Pylock,
    Uv,
    Poetry,
}

impl LockKind {
    pub fn of(path: &Path) -> LockKind {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name == "uv.lock" {
            LockKind::Uv
        } else if name == "poetry.lock" {
            LockKind::Poetry
        } else if name.starts_with("pylock.")
            && Path::new(&name).extension().is_some_and(|e| e == "toml")
        {
            LockKind::Pylock
        } else {
            LockKind::Requirements
        }
    }
}

/// One package of a lockfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: String,
    pub normalized: String,
    /// The pinned version; `None` for unpinned requirement lines, URLs, editables.
    pub version: Option<String>,
    /// The file that names it (an included requirements file, say).
    pub file: PathBuf,
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// A PEP 508 marker that decides whether it is installed here.
    pub marker: Option<String>,
    /// Installed only for some extras, groups or platforms (universal locks), so its absence
    /// is not drift.
    pub conditional: bool,
}

/// The packages of a lockfile.
#[derive(Clone, Debug)]
pub struct Lockfile {
    pub kind: LockKind,
    pub path: PathBuf,
    pub packages: Vec<LockedPackage>,
}

/// Reads any supported lockfile. Marker-guarded packages of universal locks (`uv.lock`)
/// are evaluated against `env` when given.
pub fn read_lock(path: &Path, env: Option<&MarkerEnv>) -> Result<Lockfile, LockError> {
    let kind = LockKind::of(path);
    let packages = match kind {
        LockKind::Requirements => parse_requirements(path)?
            .into_iter()
            .filter(|l| !l.constraint)
            .filter_map(|l| {
                let name = l.name.clone()?;
                Some(LockedPackage {
                    normalized: normalize_name(&name),
                    name,
                    version: match &l.pin {
                        Pin::Exact(v) => Some(v.clone()),
                        _ => None,
                    },
                    file: l.file,
                    line: Some(l.line),
                    column: Some(l.column),
                    marker: l.marker,
                    conditional: false,
                })
            })
            .collect(),
        LockKind::Pylock | LockKind::Uv | LockKind::Poetry => {
            let text = read_text(path)?;
            let doc: toml::Table = toml::from_str(&text).map_err(|e| LockError::Toml {
                path: path.to_path_buf(),
                source: Box::new(e),
            })?;
            match kind {
                LockKind::Pylock => toml_packages(path, &doc, "packages")?,
                LockKind::Uv => uv_packages(path, &doc, env)?,
                _ => poetry_packages(path, &doc, env)?,
            }
        }
    };
    Ok(Lockfile {
        kind,
        path: path.to_path_buf(),
        packages,
    })
}

fn read_text(path: &Path) -> Result<String, LockError> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|source| LockError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn format_error(path: &Path, reason: impl Into<String>) -> LockError {
    LockError::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn package_tables<'a>(
    path: &Path,
    doc: &'a toml::Table,
    key: &str,
) -> Result<Vec<&'a toml::Table>, LockError> {
    let Some(list) = doc.get(key) else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err(format_error(
            path,
            format!("`{key}` is not an array of tables"),
        ));
    };
    list.iter()
        .map(|v| {
            v.as_table()
                .ok_or_else(|| format_error(path, format!("an entry of `{key}` is not a table")))
        })
        .collect()
}

fn str_field<'a>(t: &'a toml::Table, key: &str) -> Option<&'a str> {
    t.get(key).and_then(toml::Value::as_str)
}

fn toml_packages(
    path: &Path,
    doc: &toml::Table,
    key: &str,
) -> Result<Vec<LockedPackage>, LockError> {
    package_tables(path, doc, key)?
        .into_iter()
        .map(|t| {
            let name = str_field(t, "name")
                .ok_or_else(|| format_error(path, format!("a `[[{key}]]` entry has no name")))?;
            Ok(LockedPackage {
                name: name.to_owned(),
                normalized: normalize_name(name),
                version: str_field(t, "version").map(str::to_owned),
                file: path.to_path_buf(),
                line: None,
                column: None,
                marker: str_field(t, "marker").map(str::to_owned),
                conditional: false,
            })
        })
        .collect()
}

/// Whether an edge marker holds: unknown without an environment.
fn edge_holds(marker: Option<&str>, env: Option<&MarkerEnv>) -> bool {
    match marker {
        None => true,
        Some(m) => match (Marker::parse(m), env) {
            (Ok(m), Some(env)) => m.evaluate(env, ""),
            _ => false,
        },
    }
}

/// `uv.lock`: packages reachable from the workspace members (and their dev groups, which
/// `uv sync` installs) through dependencies whose markers hold are unconditional.
fn uv_packages(
    path: &Path,
    doc: &toml::Table,
    env: Option<&MarkerEnv>,
) -> Result<Vec<LockedPackage>, LockError> {
    let tables = package_tables(path, doc, "package")?;
    let mut pkgs = toml_packages(path, doc, "package")?;
    let edges = |t: &toml::Table, key: &str| -> Vec<(String, Option<String>)> {
        let list: Vec<&toml::Value> = match t.get(key) {
            Some(toml::Value::Array(a)) => a.iter().collect(),
            // Groups: `[package.dev-dependencies] dev = [...]`.
            Some(toml::Value::Table(groups)) => groups
                .values()
                .filter_map(toml::Value::as_array)
                .flatten()
                .collect(),
            _ => Vec::new(),
        };
        list.into_iter()
            .filter_map(toml::Value::as_table)
            .filter_map(|d| {
                Some((
                    normalize_name(str_field(d, "name")?),
                    str_field(d, "marker").map(str::to_owned),
                ))
            })
            .collect()
    };
    let source_kind = |t: &toml::Table| -> Option<String> {
        t.get("source")
            .and_then(toml::Value::as_table)
            .and_then(|s| s.keys().next().cloned())
    };
    let mut virtual_roots = BTreeSet::new();
    let mut queue = VecDeque::new();
    for (i, t) in tables.iter().enumerate() {
        match source_kind(t).as_deref() {
            Some("virtual") => {
                virtual_roots.insert(i);
                queue.push_back(i);
            }
            Some("editable") => queue.push_back(i),
            _ => {}
        }
    }
    if queue.is_empty() {
        return Ok(pkgs);
    }
    let index: BTreeMap<&str, usize> = pkgs
        .iter()
        .enumerate()
        .map(|(i, p)| (p.normalized.as_str(), i))
        .collect();
    let roots: BTreeSet<usize> = queue.iter().copied().collect();
    let mut reached = BTreeSet::new();
    while let Some(i) = queue.pop_front() {
        if !reached.insert(i) {
            continue;
        }
        let mut next = edges(tables[i], "dependencies");
        if roots.contains(&i) {
            next.extend(edges(tables[i], "dev-dependencies"));
        }
        for (name, marker) in next {
            if edge_holds(marker.as_deref(), env)
                && let Some(&j) = index.get(name.as_str())
            {
                queue.push_back(j);
            }
        }
    }
    for (i, p) in pkgs.iter_mut().enumerate() {
        p.conditional = !reached.contains(&i);
    }
    // A virtual workspace root is never installed.
    let mut i = 0;
    pkgs.retain(|_| {
        i += 1;
        !virtual_roots.contains(&(i - 1))
    });
    Ok(pkgs)
}

/// `poetry.lock`: optional packages, and packages that every dependent reaches only through
/// a marker that does not hold, are conditional.
fn poetry_packages(
    path: &Path,
    doc: &toml::Table,
    env: Option<&MarkerEnv>,
) -> Result<Vec<LockedPackage>, LockError> {
    let tables = package_tables(path, doc, "package")?;
    let mut pkgs = toml_packages(path, doc, "package")?;
    // name → whether some incoming edge holds
    let mut incoming: BTreeMap<String, bool> = BTreeMap::new();
    for t in &tables {
        let Some(deps) = t.get("dependencies").and_then(toml::Value::as_table) else {
            continue;
        };
        for (name, spec) in deps {
            let (marker, optional) = match spec {
                toml::Value::Table(s) => (
                    str_field(s, "markers").map(str::to_owned),
                    s.get("optional")
                        .and_then(toml::Value::as_bool)
                        .unwrap_or(false),
                ),
                _ => (None, false),
            };
            let holds = !optional && edge_holds(marker.as_deref(), env);
            *incoming.entry(normalize_name(name)).or_insert(false) |= holds;
        }
    }
    for (p, t) in pkgs.iter_mut().zip(&tables) {
        let optional = t
            .get("optional")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        let unreachable = incoming.get(&p.normalized).is_some_and(|holds| !holds);
        p.conditional = optional || unreachable;
    }
    Ok(pkgs)
}

/// How a requirements line pins its package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pin {
    /// `name==1.2.3` (or `===`).
    Exact(String),
    /// A VCS URL at a full commit hash, or an archive URL with a hash.
    Immutable,
    /// Anything else, with the reason.
    Unpinned(String),
}

/// One logical requirement line of a requirements file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequirementLine {
    pub file: PathBuf,
    /// 1-based first physical line, and column of the requirement.
    pub line: u64,
    pub column: u64,
    /// The requirement text, without options.
    pub text: String,
    pub name: Option<String>,
    pub pin: Pin,
    pub hashes: Vec<String>,
    pub marker: Option<String>,
    pub editable: bool,
    /// From a `-c` constraints file.
    pub constraint: bool,
}

static COMMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|\s+)#.*$").expect("valid regex"));
static COMMIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"@[0-9a-fA-F]{40}([0-9a-fA-F]{24})?(#|$)").expect("valid regex"));
static EGG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)").expect("valid regex"));

/// Reads a requirements file and, recursively, the files it includes with `-r` and `-c`
/// (resolved relative to the including file; each file is read once).
pub fn parse_requirements(path: &Path) -> Result<Vec<RequirementLine>, LockError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    parse_requirements_into(path, false, &mut seen, &mut out)?;
    Ok(out)
}

/// Splits a flag `-r x` / `-rx` / `--requirement=x` / `--requirement x` into its value.
fn option_value<'a>(line: &'a str, short: &str, long: &str) -> Option<&'a str> {
    for flag in [long, short] {
        if let Some(rest) = line.strip_prefix(flag) {
            if let Some(v) = rest.strip_prefix('=') {
                return Some(v.trim());
            }
            if rest.starts_with(char::is_whitespace) {
                return Some(rest.trim());
            }
            if flag == short && !rest.is_empty() {
                return Some(rest.trim());
            }
        }
    }
    None
}

fn parse_requirements_into(
    path: &Path,
    constraint: bool,
    seen: &mut BTreeSet<PathBuf>,
    out: &mut Vec<RequirementLine>,
) -> Result<(), LockError> {
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if !seen.insert(key) {
        return Ok(());
    }
    let text = read_text(path)?;
    let dir = path.parent().unwrap_or(Path::new(""));
    for (line_no, logical) in logical_lines(&text) {
        let stripped = COMMENT.replace(&logical, "");
        let trimmed = stripped.trim();
        if trimmed.is_empty() {
            continue;
        }
        let column = (stripped.len() - stripped.trim_start().len()) as u64 + 1;
        if let Some(inc) = option_value(trimmed, "-r", "--requirement") {
            parse_requirements_into(&dir.join(inc), constraint, seen, out)?;
            continue;
        }
        if let Some(inc) = option_value(trimmed, "-c", "--constraint") {
            parse_requirements_into(&dir.join(inc), true, seen, out)?;
            continue;
        }
        let editable_target = option_value(trimmed, "-e", "--editable");
        if editable_target.is_none() && trimmed.starts_with('-') {
            // Global options (`-i`, `--extra-index-url`, `--require-hashes`, …) name no package.
            continue;
        }
        let body = editable_target.unwrap_or(trimmed);
        let (req_text, options) = match body.find(" --").or_else(|| body.find("\t--")) {
            Some(i) => (body[..i].trim(), &body[i..]),
            None => (body, ""),
        };
        let hashes = hash_options(options);
        let mut line = RequirementLine {
            file: path.to_path_buf(),
            line: line_no,
            column,
            text: req_text.to_owned(),
            name: None,
            pin: Pin::Unpinned(String::new()),
            hashes,
            marker: None,
            editable: editable_target.is_some(),
            constraint,
        };
        classify(&mut line);
        out.push(line);
    }
    Ok(())
}

/// Logical lines (joined at a trailing `\`), with the number of their first physical line.
fn logical_lines(text: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0u64;
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if cur.is_empty() {
            start = i as u64 + 1;
        }
        if let Some(body) = raw.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
        } else {
            cur.push_str(raw);
            out.push((start, std::mem::take(&mut cur)));
        }
    }
    if !cur.trim().is_empty() {
        out.push((start, cur));
    }
    out
}

fn hash_options(options: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut tokens = options.split_whitespace();
    while let Some(tok) = tokens.next() {
        if let Some(v) = tok.strip_prefix("--hash=") {
            hashes.push(v.to_owned());
        } else if tok == "--hash"
            && let Some(v) = tokens.next()
        {
            hashes.push(v.to_owned());
        }
    }
    hashes
}

fn is_url_or_path(s: &str) -> bool {
    s.contains("://")
        || s.starts_with("git+")
        || s.starts_with('.')
        || s.starts_with('/')
        || s.starts_with("file:")
}

fn classify(line: &mut RequirementLine) {
    let text = line.text.clone();
    if line.editable {
        line.name = EGG.captures(&text).map(|c| c[1].to_owned());
        line.pin = Pin::Unpinned("it is an editable install (it tracks a working tree)".to_owned());
        return;
    }
    match Requirement::parse(&text) {
        Err(e) => {
            // `git+https://…@rev#egg=x` without `name @`.
            if is_url_or_path(&text) {
                line.name = EGG.captures(&text).map(|c| c[1].to_owned());
                line.pin = url_pin(&text, &line.hashes);
            } else {
                line.pin = Pin::Unpinned(format!("it cannot be parsed: {e}"));
            }
        }
        Ok(r) => {
            line.name = Some(r.name.clone());
            line.marker = r.marker.as_ref().map(|m| m.text.clone());
            line.pin = if let Some(url) = &r.url {
                url_pin(url, &line.hashes)
            } else {
                match r.specifiers.specs.as_slice() {
                    [s] if matches!(s.op, Operator::Equal | Operator::ArbitraryEqual)
                        && !s.wildcard =>
                    {
                        Pin::Exact(s.text.clone())
                    }
                    [] => Pin::Unpinned("it has no version".to_owned()),
                    _ => Pin::Unpinned(format!("it allows a range ({})", r.specifiers)),
                }
            };
        }
    }
}

fn url_pin(url: &str, hashes: &[String]) -> Pin {
    let vcs = url.starts_with("git+")
        || url.starts_with("hg+")
        || url.starts_with("svn+")
        || url.starts_with("bzr+");
    if vcs {
        if COMMIT.is_match(url) {
            Pin::Immutable
        } else {
            Pin::Unpinned("it is a VCS URL without a full commit hash".to_owned())
        }
    } else if url.contains("#sha256=") || !hashes.is_empty() {
        Pin::Immutable
    } else {
        Pin::Unpinned("it is a URL or path without a hash".to_owned())
    }
}

/// The facts ENV010 judges: the lines of one requirements file (its own; included files are
/// checked on their own).
pub struct RequirementsFile<'a> {
    /// The path findings carry.
    pub display: &'a str,
    pub lines: Vec<&'a RequirementLine>,
}

/// ENV010 on one requirements file (its own lines; included files are checked on their own).
pub fn check_requirements_file(path: &Path, display: &str) -> Vec<Finding> {
    let lines = match parse_requirements(path) {
        Ok(l) => l,
        Err(e) => {
            return vec![everybyte_core::rules::unreadable(
                display,
                "cannot read",
                &e,
            )];
        }
    };
    let facts = RequirementsFile {
        display,
        lines: lines.iter().filter(|l| l.file == path).collect(),
    };
    let mut out = Vec::new();
    crate::rules::run_requirements(&facts, &mut out);
    out
}

/// ENV009: the lockfile against the installed distributions. Marker-guarded packages are
/// not reported missing (no environment is known here; see [`check_lock_with_env`]).
pub fn check_lock(
    lock: &Path,
    display: &str,
    dists: &[Distribution],
) -> Result<Vec<Finding>, LockError> {
    check_lock_with_env(lock, display, dists, None)
}

/// [`check_lock`] with markers evaluated against `env`.
pub fn check_lock_with_env(
    lock: &Path,
    display: &str,
    dists: &[Distribution],
    env: Option<&MarkerEnv>,
) -> Result<Vec<Finding>, LockError> {
    let lockfile = read_lock(lock, env)?;
    let facts = Locked {
        lockfile: &lockfile,
        display,
        installed: dists,
        env,
    };
    let mut out = Vec::new();
    crate::rules::run_lock(&facts, &mut out);
    Ok(out)
}

/// The facts ENV009 judges: a lockfile's packages next to the installed distributions.
pub struct Locked<'a> {
    pub lockfile: &'a Lockfile,
    /// The path findings carry for the lockfile itself.
    pub display: &'a str,
    pub installed: &'a [Distribution],
    /// Markers are evaluated in it; without one, marker-guarded packages are not reported
    /// missing.
    pub env: Option<&'a MarkerEnv>,
}
