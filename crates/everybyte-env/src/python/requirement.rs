//! PEP 508 dependency specifications, as found in `Requires-Dist` and requirements files:
//! `name[extra1,extra2] (>=1.0,<2) ; python_version < "3.8"` and `name @ url ; marker`.

use std::fmt;

use super::marker::{Marker, MarkerError};
use super::version::{SpecifierSet, VersionError};

/// PEP 503 name normalisation: lowercase, runs of `-`, `_` and `.` become one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    if sep && !out.is_empty() {
        out.push('-');
    }
    out
}

/// Whether `name` is a valid PEP 508 project name.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// One parsed requirement.
#[derive(Clone, Debug, PartialEq)]
pub struct Requirement {
    /// The name as written.
    pub name: String,
    /// [`normalize_name`] of `name`.
    pub normalized: String,
    pub extras: Vec<String>,
    pub specifiers: SpecifierSet,
    pub url: Option<String>,
    pub marker: Option<Marker>,
}

/// A requirement string that is not PEP 508.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequirementError {
    #[error("invalid requirement `{input}`: {reason}")]
    Syntax { input: String, reason: String },
    #[error("invalid requirement `{input}`: {source}")]
    Version {
        input: String,
        #[source]
        source: VersionError,
    },
    #[error("invalid requirement `{input}`: {source}")]
    Marker {
        input: String,
        #[source]
        source: MarkerError,
    },
}

impl Requirement {
    pub fn parse(input: &str) -> Result<Requirement, RequirementError> {
        let syntax = |reason: &str| RequirementError::Syntax {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let s = input.trim();
        let name_len = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(s.len());
        let name = &s[..name_len];
        if !is_valid_name(name) {
            return Err(syntax("expected a project name"));
        }
        let mut rest = s[name_len..].trim_start();
        let mut extras = Vec::new();
        if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else {
                return Err(syntax("unterminated `[` of extras"));
            };
            for extra in after[..end].split(',') {
                let extra = extra.trim();
                if extra.is_empty() && after[..end].trim().is_empty() {
                    break;
                }
                if !is_valid_name(extra) {
                    return Err(syntax("invalid extra name"));
                }
                extras.push(extra.to_owned());
            }
            rest = after[end + 1..].trim_start();
        }
        let mut url = None;
        let mut specifiers = SpecifierSet::default();
        let marker_text;
        if let Some(after) = rest.strip_prefix('@') {
            let after = after.trim_start();
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            if end == 0 {
                return Err(syntax("expected a URL after `@`"));
            }
            url = Some(after[..end].to_owned());
            let tail = after[end..].trim_start();
            marker_text = match tail.strip_prefix(';') {
                Some(m) => Some(m),
                None if tail.is_empty() => None,
                None => return Err(syntax("expected `;` and a marker after the URL")),
            };
        } else {
            let (spec_text, tail) = match rest.find(';') {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            let mut spec_text = spec_text.trim();
            if let Some(inner) = spec_text.strip_prefix('(') {
                let Some(inner) = inner.strip_suffix(')') else {
                    return Err(syntax("unterminated `(` of version specifiers"));
                };
                spec_text = inner;
            }
            if !spec_text.trim().is_empty() {
                specifiers =
                    SpecifierSet::parse(spec_text).map_err(|source| RequirementError::Version {
                        input: input.to_owned(),
                        source,
                    })?;
            }
            marker_text = tail;
        }
        let marker = marker_text
            .map(|m| {
                Marker::parse(m).map_err(|source| RequirementError::Marker {
                    input: input.to_owned(),
                    source,
                })
            })
            .transpose()?;
        Ok(Requirement {
            name: name.to_owned(),
            normalized: normalize_name(name),
            extras,
            specifiers,
            url,
            marker,
        })
    }

    /// `name[extras]specifiers` or `name @ url`, without the marker.
    pub fn without_marker(&self) -> String {
        let mut s = self.name.clone();
        if !self.extras.is_empty() {
            s.push('[');
            s.push_str(&self.extras.join(","));
            s.push(']');
        }
        if let Some(url) = &self.url {
            s.push_str(" @ ");
            s.push_str(url);
        } else {
            s.push_str(&self.specifiers.to_string());
        }
        s
    }
}

impl std::str::FromStr for Requirement {
    type Err = RequirementError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Requirement::parse(s)
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.without_marker())?;
        if let Some(m) = &self.marker {
            if self.url.is_some() {
                f.write_str(" ")?;
            }
            write!(f, "; {m}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::version::Version;

    fn req(s: &str) -> Requirement {
        Requirement::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalize_name("Charset_Normalizer"), "charset-normalizer");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("A-_.-b"), "a-b");
        assert_eq!(normalize_name("nvidia-cublas-cu12"), "nvidia-cublas-cu12");
        assert!(is_valid_name("a"));
        assert!(!is_valid_name("-a"));
        assert!(!is_valid_name("a-"));
        assert!(!is_valid_name(""));
    }

    #[test]
    fn requires_dist_forms() {
        let r = req("urllib3<3,>=1.21.1");
        assert_eq!(r.name, "urllib3");
        assert_eq!(r.specifiers.to_string(), "<3,>=1.21.1");
        assert!(r.marker.is_none());

        let r = req(r#"PySocks!=1.5.7,>=1.5.6; extra == "socks""#);
        assert_eq!(r.normalized, "pysocks");
        assert_eq!(r.specifiers.specs.len(), 2);
        assert!(r.marker.as_ref().unwrap().mentions_extra());

        let r = req("chardet (<6,>=3.0.2) ; extra == 'use_chardet_on_py3'");
        assert_eq!(r.specifiers.to_string(), "<6,>=3.0.2");

        let r =
            req("  Foo.Bar [ security , tests ]  ( >= 2.8.1 , == 2.8.* )  ;python_version<'2.7'");
        assert_eq!(r.name, "Foo.Bar");
        assert_eq!(r.normalized, "foo-bar");
        assert_eq!(r.extras, ["security", "tests"]);
        assert!(
            r.specifiers
                .contains(&Version::parse("2.8.5").unwrap(), Some(true))
        );
        assert_eq!(r.marker.unwrap().text, "python_version<'2.7'");

        let r = req("name[]");
        assert!(r.extras.is_empty());

        let r = req("numpy");
        assert!(r.specifiers.is_empty());
        assert_eq!(r.to_string(), "numpy");
    }

    #[test]
    fn url_requirements() {
        let r = req(
            "torch @ https://download.pytorch.org/whl/torch-2.1.0.whl ; sys_platform == 'linux'",
        );
        assert_eq!(
            r.url.as_deref(),
            Some("https://download.pytorch.org/whl/torch-2.1.0.whl")
        );
        assert!(r.specifiers.is_empty());
        assert!(r.marker.is_some());
        let r = req("pip@file:///localbuilds/pip-1.3.1.zip");
        assert_eq!(r.url.as_deref(), Some("file:///localbuilds/pip-1.3.1.zip"));
        assert_eq!(r.to_string(), "pip @ file:///localbuilds/pip-1.3.1.zip");
    }

    #[test]
    fn bad_requirements() {
        for bad in [
            "",
            ">=1.0",
            "name[",
            "name[a b]",
            "name (>=1.0",
            "name >=1.0 ;",
            "name 1.0",
            "name @",
            "name @ url junk",
            "name; python_version <",
        ] {
            assert!(Requirement::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
