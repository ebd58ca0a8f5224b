//! Installed distributions of a `site-packages` directory: `*.dist-info` (METADATA, RECORD,
//! top_level.txt, INSTALLER) and `*.egg-info` (PKG-INFO, requires.txt), read without pip.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::requirement::{Requirement, normalize_name};
use super::version::Version;
pub use crate::error::MetadataError;

/// Which metadata format a distribution was installed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataKind {
    DistInfo,
    /// An `.egg-info` directory or a single `.egg-info` file (distutils).
    EggInfo,
}

/// One line of a `RECORD` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordEntry {
    /// Relative to the `site-packages` directory (may start with `../` for scripts).
    pub path: String,
    /// `(algorithm, urlsafe-base64 digest without padding)`.
    pub hash: Option<(String, String)>,
    pub size: Option<u64>,
}

/// An installed distribution.
#[derive(Clone, Debug)]
pub struct Distribution {
    /// The `Name` header as written.
    pub name: String,
    /// PEP 503 normalised name.
    pub normalized: String,
    /// The `Version` header as written.
    pub version: String,
    /// `version` parsed as PEP 440, if it is.
    pub parsed_version: Option<Version>,
    /// `Requires-Dist` (or requires.txt converted to PEP 508), each parsed.
    pub requires: Vec<Requirement>,
    pub provides_extra: Vec<String>,
    /// `RECORD`, when the distribution has one.
    pub record: Option<Vec<RecordEntry>>,
    pub top_level: Vec<String>,
    /// The `INSTALLER` file (`pip`, `uv`, `conda`).
    pub installer: Option<String>,
    /// The `.dist-info` / `.egg-info` path.
    pub location: PathBuf,
    pub kind: MetadataKind,
    /// Metadata lines that could not be parsed (an invalid `Requires-Dist`, say).
    pub problems: Vec<String>,
}

impl Distribution {
    /// The directory the distribution's RECORD paths are relative to.
    pub fn root(&self) -> &Path {
        self.location.parent().unwrap_or(Path::new(""))
    }

    /// The name of the metadata file that holds the requirements.
    pub fn requires_source(&self) -> &'static str {
        match self.kind {
            MetadataKind::DistInfo => "Requires-Dist",
            MetadataKind::EggInfo => "requires.txt",
        }
    }
}

/// A metadata directory that could not be read as a distribution.
#[derive(Debug)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: MetadataError,
}

/// Everything found in one `site-packages`.
#[derive(Debug, Default)]
pub struct Scan {
    /// Sorted by normalised name, then path.
    pub distributions: Vec<Distribution>,
    pub skipped: Vec<Skipped>,
}

/// Reads every distribution of `dir`. Only failing to list `dir` itself is an error; a bad
/// distribution is reported in [`Scan::skipped`].
pub fn scan_site_packages(dir: &Path) -> io::Result<Scan> {
    let mut scan = Scan::default();
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "dist-info" || e == "egg-info")
        })
        .collect();
    entries.sort();
    for path in entries {
        match read_distribution(&path) {
            Ok(d) => scan.distributions.push(d),
            Err(reason) => scan.skipped.push(Skipped { path, reason }),
        }
    }
    scan.distributions
        .sort_by(|a, b| (&a.normalized, &a.location).cmp(&(&b.normalized, &b.location)));
    Ok(scan)
}

/// Reads one `.dist-info` directory or `.egg-info` directory/file.
pub fn read_distribution(path: &Path) -> Result<Distribution, MetadataError> {
    let is_dist_info = path.extension().is_some_and(|e| e == "dist-info");
    let meta_path = if is_dist_info {
        path.join("METADATA")
    } else if path.is_dir() {
        path.join("PKG-INFO")
    } else {
        path.to_path_buf()
    };
    let meta = fs::read(&meta_path).map_err(|source| MetadataError::Io {
        path: meta_path.clone(),
        source,
    })?;
    let headers = parse_headers(&String::from_utf8_lossy(&meta));
    let get = |key: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let missing = |header| MetadataError::MissingHeader {
        path: meta_path.clone(),
        header,
    };
    let name = get("Name").ok_or_else(|| missing("Name"))?;
    let version = get("Version").ok_or_else(|| missing("Version"))?;
    let mut problems = Vec::new();
    let mut requires = Vec::new();
    for line in requirement_lines(path, is_dist_info, &headers, &mut problems) {
        match Requirement::parse(&line) {
            Ok(r) => requires.push(r),
            Err(e) => problems.push(e.to_string()),
        }
    }
    let provides_extra = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Provides-Extra"))
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    let record = if is_dist_info {
        match fs::read(path.join("RECORD")) {
            Ok(b) => Some(match String::from_utf8(b) {
                Ok(text) => parse_record(&text),
                Err(e) => parse_record(&String::from_utf8_lossy(e.as_bytes())),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                problems.push(format!("RECORD: {e}"));
                None
            }
        }
    } else {
        None
    };
    let read_small = |file: &str| -> Option<String> {
        if !path.is_dir() {
            return None;
        }
        fs::read(path.join(file))
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let top_level = read_small("top_level.txt")
        .map(|s| {
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let installer = read_small("INSTALLER")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    Ok(Distribution {
        normalized: normalize_name(&name),
        parsed_version: Version::parse(&version).ok(),
        name,
        version,
        requires,
        provides_extra,
        record,
        top_level,
        installer,
        location: path.to_path_buf(),
        kind: if is_dist_info {
            MetadataKind::DistInfo
        } else {
            MetadataKind::EggInfo
        },
        problems,
    })
}

/// `Requires-Dist` values, or the lines of an egg-info's `requires.txt` as PEP 508.
fn requirement_lines(
    path: &Path,
    is_dist_info: bool,
    headers: &[(String, String)],
    problems: &mut Vec<String>,
) -> Vec<String> {
    if is_dist_info {
        headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("Requires-Dist"))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    } else if path.is_dir() {
        match fs::read(path.join("requires.txt")) {
            Ok(b) => requires_txt_to_pep508(&String::from_utf8_lossy(&b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                problems.push(format!("requires.txt: {e}"));
                Vec::new()
            }
        }
    } else {
        Vec::new()
    }
}

/// RFC 822-style headers up to the first empty line; continuation lines (starting with a
/// space or tab) are joined to the previous value with a newline. Lines that are neither a
/// header nor a continuation are ignored.
pub fn parse_headers(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Only an empty line ends the headers: a line of spaces continues the previous
        // field (scipy's and pandas' `License` carry whole license texts that way, and
        // their `Requires-Dist` come after).
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if !k.is_empty() && !k.contains(char::is_whitespace) {
                out.push((k.to_owned(), v.trim().to_owned()));
            }
        }
    }
    out
}

/// Converts setuptools' `requires.txt` (`[extra]`, `[:marker]`, `[extra:marker]` sections)
/// to PEP 508 strings, as pip's metadata backend does.
pub fn requires_txt_to_pep508(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut extra = String::new();
    let mut marker = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let (e, m) = section.split_once(':').unwrap_or((section, ""));
            extra = normalize_name(e);
            m.trim().clone_into(&mut marker);
            continue;
        }
        let full = match (extra.is_empty(), marker.is_empty()) {
            (true, true) => line.to_owned(),
            (true, false) => format!("{line} ; {marker}"),
            (false, true) => format!("{line} ; extra == \"{extra}\""),
            (false, false) => format!("{line} ; ({marker}) and extra == \"{extra}\""),
        };
        out.push(full);
    }
    out
}

/// Parses a `RECORD` file (CSV: path, `algo=digest`, size). Quoted fields are supported.
pub fn parse_record(text: &str) -> Vec<RecordEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        // Almost every line is `path,algo=digest,size` with no quoting: split it in place;
        // a quoted path (one with a comma) takes the CSV reader.
        let quoted;
        let (path, hash, size) = if line.contains('"') {
            quoted = split_csv_line(line);
            (
                quoted.first().map_or("", String::as_str),
                quoted.get(1).map_or("", String::as_str),
                quoted.get(2).map_or("", String::as_str),
            )
        } else {
            let mut it = line.rsplitn(3, ',');
            let (c, b, a) = (it.next(), it.next(), it.next());
            match (a, b, c) {
                (Some(a), Some(b), Some(c)) => (a, b, c),
                (None, Some(b), Some(c)) => (b, c, ""),
                _ => (line, "", ""),
            }
        };
        if path.is_empty() {
            continue;
        }
        let hash = hash
            .split_once('=')
            .filter(|(a, d)| !a.is_empty() && !d.is_empty())
            .map(|(a, d)| (a.to_ascii_lowercase(), d.to_owned()));
        let size = size.trim().parse().ok();
        out.push(RecordEntry {
            path: path.to_owned(),
            hash,
            size,
        });
    }
    out
}

fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            }
            '"' if cur.is_empty() => quoted = true,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_with_continuations() {
        let h = parse_headers(
            "Metadata-Version: 2.1\r\nName: foo\nSummary: a\n  long summary\nRequires-Dist: bar>=1\nRequires-Dist: baz ; extra == 'x'\n\nBody: not a header\n",
        );
        assert_eq!(h[1], ("Name".into(), "foo".into()));
        assert_eq!(h[2].1, "a\nlong summary");
        assert_eq!(h.len(), 5);
        let h = parse_headers(
            "Name: scipy\nLicense: Copyright\n        \n        All rights reserved.\nRequires-Dist: numpy<2.3\n\nbody\n",
        );
        assert_eq!(
            h.last(),
            Some(&("Requires-Dist".into(), "numpy<2.3".into()))
        );
    }

    #[test]
    fn record_lines() {
        let r = parse_record(
            "foo/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n\"foo/a,b.py\",sha256=abc,12\nfoo-1.0.dist-info/RECORD,,\nfoo/__pycache__/x.pyc,,\n",
        );
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].size, Some(0));
        assert_eq!(r[1].path, "foo/a,b.py");
        assert_eq!(r[1].hash, Some(("sha256".into(), "abc".into())));
        assert_eq!(r[2].hash, None);
        assert_eq!(r[2].size, None);
    }

    #[test]
    fn requires_txt_sections() {
        let lines = requires_txt_to_pep508(
            "requests>=2\n\n[Socks_Proxy]\nPySocks\n[:python_version < \"3.8\"]\nimportlib-metadata\n[win:sys_platform == \"win32\"]\npywin32\n",
        );
        assert_eq!(
            lines,
            [
                "requests>=2",
                "PySocks ; extra == \"socks-proxy\"",
                "importlib-metadata ; python_version < \"3.8\"",
                "pywin32 ; (sys_platform == \"win32\") and extra == \"win\"",
            ]
        );
        for l in &lines {
            Requirement::parse(l).unwrap();
        }
    }
}
