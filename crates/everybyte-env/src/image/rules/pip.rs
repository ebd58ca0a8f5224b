//! Reading `pip install`, `pip3 install`, `python -m pip install` and `uv pip install`.

use crate::image::shell::{Command, Word};

use super::is_python;

pub struct PipInstall<'a> {
    /// How it was invoked, for messages: `pip3 install`, `python -m pip install`.
    pub invocation: String,
    pub require_hashes: bool,
    pub upgrade: bool,
    /// `--no-index` with only local `--find-links`: nothing comes from the network.
    pub offline: bool,
    /// `-r FILE`: the option word and the file.
    pub requirement_files: Vec<(&'a Word, String)>,
    /// Requirement specifiers and paths given as arguments.
    pub specs: Vec<&'a Word>,
    /// Values of `-e`/`--editable` (and the option word when the value is attached).
    pub editables: Vec<&'a Word>,
}

/// Options of `pip install` and `uv pip install` that take a value.
const VALUE: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--src",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--upgrade-strategy",
    "--progress-bar",
    "-C",
    "--config-settings",
    "--config-setting",
    "--global-option",
    "--build-option",
    "--install-option",
    "--no-binary",
    "--only-binary",
    "--trusted-host",
    "--proxy",
    "--timeout",
    "--retries",
    "--cache-dir",
    "--log",
    "--log-file",
    "--report",
    "--python",
    "-p",
    "--exists-action",
    "--cert",
    "--client-cert",
    "--root-user-action",
    "--keyring-provider",
    "--use-feature",
    "--use-deprecated",
    "--group",
    "--override",
    "--index",
    "--default-index",
    "--torch-backend",
    "--index-strategy",
    "--resolution",
    "--prerelease",
    "--link-mode",
    "--exclude-newer",
    "--extra",
    "--reinstall-package",
    "--upgrade-package",
    "-P",
    "--no-build-package",
    "--no-binary-package",
    "--only-binary-package",
    "--directory",
    "--project",
    "--config-file",
    "--color",
    "--build-constraint",
    "-b",
    "--excludes",
    "--refresh-package",
];

fn is_pip(name: &str) -> bool {
    name.strip_prefix("pip")
        .is_some_and(|r| r.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Skips options (and their values) from `i`; returns the index of the first positional.
fn skip_options(args: &[Word], mut i: usize) -> usize {
    while let Some(w) = args.get(i) {
        let s = w.as_str();
        if !s.starts_with('-') || s == "-" {
            break;
        }
        i += if VALUE.contains(&s) { 2 } else { 1 };
    }
    i
}

/// Reads a `pip install`-like command.
#[allow(clippy::too_many_lines)] // one option table, read top to bottom
pub fn pip_install(cmd: &Command) -> Option<PipInstall<'_>> {
    let name = cmd.name();
    let args = cmd.args();
    let (invocation, mut i) = if is_pip(name) {
        (name.to_owned(), 0)
    } else if is_python(name) {
        let mut i = 0;
        loop {
            let s = args.get(i)?.as_str();
            if s == "-m" {
                if args.get(i + 1)?.as_str() != "pip" {
                    return None;
                }
                break (format!("{name} -m pip"), i + 2);
            }
            if s == "-mpip" {
                break (format!("{name} -m pip"), i + 1);
            }
            if !s.starts_with('-') || s.starts_with("-c") || s.starts_with("-m") {
                return None;
            }
            i += if matches!(s, "-W" | "-X") { 2 } else { 1 };
        }
    } else if name == "uv" {
        let i = skip_options(args, 0);
        if args.get(i)?.as_str() != "pip" {
            return None;
        }
        ("uv pip".to_owned(), i + 1)
    } else {
        return None;
    };
    i = skip_options(args, i);
    if args.get(i)?.as_str() != "install" {
        return None;
    }
    let mut p = PipInstall {
        invocation: format!("{invocation} install"),
        require_hashes: false,
        upgrade: false,
        offline: false,
        requirement_files: Vec::new(),
        specs: Vec::new(),
        editables: Vec::new(),
    };
    let mut find_links: Vec<String> = Vec::new();
    let mut no_index = false;
    i += 1;
    while let Some(w) = args.get(i) {
        let s = w.as_str();
        i += 1;
        if !s.starts_with('-') || s == "-" {
            p.specs.push(w);
            continue;
        }
        let (opt, inline) = if let Some((o, v)) = s.split_once('=').filter(|_| s.starts_with("--"))
        {
            (o, Some(v.to_owned()))
        } else if !s.starts_with("--")
            && s.len() > 2
            && s.as_bytes().get(1).is_some_and(|b| b"rcefi".contains(b))
        {
            // `-rfile`: the option letter is ASCII, so byte 2 is a character boundary.
            (&s[..2], Some(s[2..].to_owned()))
        } else {
            (s, None)
        };
        let mut value = || -> Option<(String, &Word)> {
            if let Some(v) = &inline {
                return Some((v.clone(), w));
            }
            i += 1;
            args.get(i - 1).map(|v| (v.as_str().to_owned(), v))
        };
        match opt {
            "--require-hashes" => p.require_hashes = true,
            "-U" | "--upgrade" => p.upgrade = true,
            "--no-index" => no_index = true,
            "-r" | "--requirement" => {
                if let Some((v, _)) = value() {
                    p.requirement_files.push((w, v));
                }
            }
            "-e" | "--editable" => {
                if let Some((_, word)) = value() {
                    p.editables.push(word);
                }
            }
            "-f" | "--find-links" => find_links.extend(value().map(|(v, _)| v)),
            o if VALUE.contains(&o) && inline.is_none() => i += 1,
            o if !o.starts_with("--")
                && o.len() > 2
                && o[1..].chars().all(|c| "qvUIS".contains(c)) =>
            {
                p.upgrade |= o.contains('U');
            }
            _ => {}
        }
    }
    p.offline = no_index && find_links.iter().all(|f| !f.contains("://"));
    Some(p)
}

/// What a requirement argument is.
#[derive(Debug, PartialEq, Eq)]
pub enum Spec<'a> {
    /// A file or directory of the build (`.`, `./pkg`, `dist/x.whl`).
    Local,
    /// A VCS requirement and its URL (`git+https://…@ref`).
    Vcs(&'a str),
    /// A URL of an archive, and whether it carries a `#sha256=` hash.
    Url { hashed: bool },
    /// A name from an index: its name and its version specifier (empty when none).
    Named { name: &'a str, specifier: &'a str },
}

pub fn classify(spec: &str) -> Spec<'_> {
    let spec = spec.trim();
    if let Some(at) = spec.find("git+") {
        let before = &spec[..at];
        if at == 0 || before.trim_end().ends_with('@') {
            return Spec::Vcs(&spec[at..]);
        }
    }
    if spec.contains("://") {
        return Spec::Url {
            hashed: ["#sha256=", "#sha384=", "#sha512=", "&sha256="]
                .iter()
                .any(|h| spec.contains(h)),
        };
    }
    let archive = [".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz"]
        .iter()
        .any(|e| spec.ends_with(e));
    if spec.starts_with(['.', '/', '~']) || spec.contains('/') || archive {
        return Spec::Local;
    }
    let name_end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || "._-$%{}".contains(c)))
        .unwrap_or(spec.len());
    let name = &spec[..name_end];
    let mut rest = &spec[name_end..];
    if rest.starts_with('[') {
        rest = rest.find(']').map_or("", |e| &rest[e + 1..]);
    }
    let specifier = rest.split(';').next().unwrap_or("").trim();
    Spec::Named { name, specifier }
}

/// Whether a version specifier pins one exact version (`==2.1.0`, `===2.1.0`).
pub fn is_exact(specifier: &str) -> bool {
    let s = specifier.replace(' ', "");
    let v = s
        .strip_prefix("===")
        .or_else(|| s.strip_prefix("=="))
        .unwrap_or("");
    !v.is_empty() && !v.contains([',', '*', '<', '>', '!', '~', '='])
}
