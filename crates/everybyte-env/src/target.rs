//! Which environment to examine: a virtual environment folder, an interpreter, or the
//! active one.

use std::path::{Path, PathBuf};
use std::process::Command;

/// An environment located on disk.
#[derive(Debug, Clone)]
pub struct Target {
    /// Folders whose ELF objects are examined (the venv, or the interpreter's site-packages).
    pub roots: Vec<PathBuf>,
    /// `site-packages` folders holding distributions.
    pub site_packages: Vec<PathBuf>,
    /// The interpreter, when there is one to ask.
    pub python: Option<PathBuf>,
    /// Paths in findings are shown relative to this.
    pub display_root: PathBuf,
    /// `3.11.7`, from the interpreter or `pyvenv.cfg`.
    pub python_version: Option<String>,
}

pub use crate::error::TargetError;

/// A virtual environment folder (`python -m venv`, `uv venv`, `virtualenv`, conda prefixes).
pub fn from_venv(dir: &Path) -> Result<Target, TargetError> {
    if !dir.is_dir() {
        return Err(TargetError::Missing(dir.to_owned()));
    }
    let site_packages = site_packages_under(dir);
    let cfg_version = std::fs::read_to_string(dir.join("pyvenv.cfg"))
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                matches!(k.trim(), "version" | "version_info").then(|| v.trim().to_owned())
            })
        });
    if site_packages.is_empty() && cfg_version.is_none() {
        return Err(TargetError::NotAVenv(dir.to_owned()));
    }
    let python = ["bin/python", "bin/python3"]
        .iter()
        .map(|p| dir.join(p))
        .find(|p| p.exists());
    Ok(Target {
        roots: vec![dir.to_owned()],
        site_packages,
        python,
        display_root: dir.to_owned(),
        python_version: cfg_version,
    })
}

fn site_packages_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(rd) = std::fs::read_dir(dir.join(lib)) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("python") {
                let sp = e.path().join("site-packages");
                if sp.is_dir() && !out.iter().any(|o: &PathBuf| same(o, &sp)) {
                    out.push(sp);
                }
            }
        }
    }
    out
}

fn same(a: &Path, b: &Path) -> bool {
    std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok()
}

/// An interpreter: asks it (once) for its prefix and site-packages folders.
pub fn from_python(python: &Path) -> Result<Target, TargetError> {
    const SCRIPT: &str = "import sys, sysconfig, json; p = sysconfig.get_paths(); print(json.dumps({'prefix': sys.prefix, 'base': sys.base_prefix, 'purelib': p['purelib'], 'platlib': p['platlib'], 'version': '.'.join(map(str, sys.version_info[:3]))}))";
    let out = Command::new(python)
        .args(["-I", "-c", SCRIPT])
        .output()
        .map_err(|source| TargetError::Spawn {
            path: python.to_owned(),
            source,
        })?;
    if !out.status.success() {
        return Err(TargetError::Failed {
            path: python.to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|source| TargetError::Answer {
            path: python.to_owned(),
            source,
        })?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(PathBuf::from);
    let prefix = s("prefix").unwrap_or_default();
    let is_venv = s("base").is_some_and(|b| b != prefix);
    let mut site_packages: Vec<PathBuf> = Vec::new();
    for p in [s("purelib"), s("platlib")].into_iter().flatten() {
        if p.is_dir() && !site_packages.iter().any(|o| same(o, &p)) {
            site_packages.push(p);
        }
    }
    let roots = if is_venv {
        vec![prefix.clone()]
    } else {
        site_packages.clone()
    };
    Ok(Target {
        display_root: if is_venv {
            prefix
        } else {
            site_packages.first().cloned().unwrap_or(prefix)
        },
        roots,
        site_packages,
        python: Some(python.to_owned()),
        python_version: v.get("version").and_then(|x| x.as_str()).map(str::to_owned),
    })
}

/// The active environment: `$VIRTUAL_ENV`, else `$CONDA_PREFIX`, else `python3` on the PATH.
pub fn active() -> Result<Target, TargetError> {
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(v) = std::env::var_os(var) {
            let dir = PathBuf::from(v);
            if dir.is_dir() {
                return from_venv(&dir);
            }
        }
    }
    from_python(Path::new("python3"))
}

/// A virtual environment inside a project folder (`.venv`, `venv`, `env`), if any.
pub fn find_in_project(dir: &Path) -> Option<PathBuf> {
    [".venv", "venv", "env", ".env"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.join("pyvenv.cfg").is_file())
}
