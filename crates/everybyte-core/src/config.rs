//! Configuration: `everybyte.toml`, or `[tool.everybyte]` in `pyproject.toml`. Unknown keys
//! and unknown rule codes are errors that name the file and the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Registry, Severity};

/// Settings of the triage area.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct TriageOptions {
    /// How many lines after an OOM or a failed probe a kill is still attributed to it.
    pub link_window: u64,
    /// Lines longer than this are cut for diagnosis (the rest of the line is skipped).
    pub max_line_bytes: usize,
    /// At most this many incidents per log; the rest are counted, not kept.
    pub max_incidents: usize,
}

impl Default for TriageOptions {
    fn default() -> Self {
        TriageOptions {
            link_window: 200,
            max_line_bytes: 1 << 20,
            max_incidents: 10_000,
        }
    }
}

/// Settings of the environment area.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct EnvOptions {
    /// The virtual environment `audit` examines (default: `.venv`, `venv` or `env` in the
    /// project, when one exists), relative to the project.
    pub venv: Option<std::path::PathBuf>,
}

/// Settings of `serve`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ServeOptions {
    /// The ONNX Runtime library (`libonnxruntime.so.1.x`), relative to the configuration file;
    /// used when neither `--ort-library` nor `ORT_DYLIB_PATH` names one.
    pub ort_library: Option<std::path::PathBuf>,
}

/// Settings of the data area.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DataOptions {
    /// Images with more pixels are reported (DATA004).
    pub max_pixels: u64,
    /// `audit` scans at most this many data files, a deterministic sample by path hash.
    pub audit_max_files: u64,
}

impl Default for DataOptions {
    fn default() -> Self {
        DataOptions {
            max_pixels: 89_478_485,
            audit_max_files: 100_000,
        }
    }
}

/// Settings of the deploy area.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DeployOptions {
    /// Memory limits are judged against the measured or computed peak times this factor.
    pub headroom: f64,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions { headroom: 1.2 }
    }
}

/// The options a configuration file may set.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// Rule codes or prefixes to enable (`["LOG", "ENV001"]`); all rules when absent.
    pub select: Option<Vec<String>>,
    /// Rule codes or prefixes to disable; wins over `select`.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Gitignore-style patterns of paths `audit` skips.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// The lowest severity that makes the exit status 1 (default `error`).
    pub fail_on: Option<Severity>,
    #[serde(default)]
    pub triage: TriageOptions,
    #[serde(default)]
    pub env: EnvOptions,
    #[serde(default)]
    pub data: DataOptions,
    #[serde(default)]
    pub serve: ServeOptions,
    #[serde(default)]
    pub deploy: DeployOptions,
}

#[derive(Deserialize)]
struct Pyproject {
    tool: Option<Tools>,
}

#[derive(Deserialize)]
struct Tools {
    everybyte: Option<Options>,
}

/// A configuration error, naming the file and the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: `{key}`: unknown rule code or prefix `{value}` (see `everybyte rules`)")]
    UnknownRule {
        path: PathBuf,
        key: String,
        value: String,
    },
}

/// Loaded configuration and where it came from.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub options: Options,
    /// The file it was read from, if any.
    pub source: Option<PathBuf>,
}

impl Config {
    /// Finds the configuration for a project directory: `everybyte.toml` first, then a
    /// `pyproject.toml` that has `[tool.everybyte]`. No file is not an error.
    pub fn discover(dir: &Path) -> Result<Config, ConfigError> {
        let own = dir.join("everybyte.toml");
        if own.is_file() {
            return Config::load(&own);
        }
        let pyproject = dir.join("pyproject.toml");
        if pyproject.is_file() {
            return Config::load(&pyproject);
        }
        Ok(Config::default())
    }

    /// Loads one file; `pyproject.toml` is read for its `[tool.everybyte]` table.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
        let parsed = if is_pyproject {
            toml::from_str::<Pyproject>(&text)
                .map(|p| p.tool.and_then(|t| t.everybyte).unwrap_or_default())
        } else {
            toml::from_str::<Options>(&text)
        };
        let options = parsed.map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: describe_toml_error(&e, &text, is_pyproject),
        })?;
        Ok(Config {
            options,
            source: Some(path.to_owned()),
        })
    }

    /// Checks every rule selector against the registry.
    pub fn validate(&self, registry: &Registry) -> Result<(), ConfigError> {
        let path = self
            .source
            .clone()
            .unwrap_or_else(|| PathBuf::from("<config>"));
        let lists = [
            ("select", self.options.select.as_deref().unwrap_or_default()),
            ("ignore", self.options.ignore.as_slice()),
        ];
        for (key, list) in lists {
            for (i, sel) in list.iter().enumerate() {
                if !registry.selector_is_known(sel) {
                    return Err(ConfigError::UnknownRule {
                        path,
                        key: format!("{key}[{i}]"),
                        value: sel.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The rule selection after command-line flags (which win) are applied.
    pub fn selection(&self, select: &[String], ignore: &[String]) -> Selection {
        let select = if select.is_empty() {
            self.options.select.clone()
        } else {
            Some(select.to_vec())
        };
        let mut all_ignore = self.options.ignore.clone();
        all_ignore.extend_from_slice(ignore);
        Selection {
            select,
            ignore: all_ignore,
        }
    }
}

fn describe_toml_error(err: &toml::de::Error, text: &str, in_pyproject: bool) -> String {
    let mut msg = err.message().trim().to_owned();
    if let Some(span) = err.span() {
        let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
        let key = text[span.clone()].trim();
        let table = if in_pyproject {
            " in [tool.everybyte]"
        } else {
            ""
        };
        msg = format!("line {line}: key `{key}`{table}: {msg}");
    }
    msg
}

/// Which rules are enabled.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    select: Option<Vec<String>>,
    ignore: Vec<String>,
}

impl Selection {
    /// Whether a rule runs: selected and not ignored; a preview rule only when `select` names
    /// its full code; a removed rule never.
    pub fn runs(&self, rule: &crate::Rule) -> bool {
        match rule.status {
            crate::RuleStatus::Stable => self.enabled(rule.code),
            crate::RuleStatus::Preview => {
                self.enabled(rule.code)
                    && self
                        .select
                        .as_ref()
                        .is_some_and(|s| s.iter().any(|c| c == rule.code))
            }
            crate::RuleStatus::Removed => false,
        }
    }

    pub fn enabled(&self, code: &str) -> bool {
        let matches = |sel: &String| sel == "ALL" || code.starts_with(sel.as_str());
        let selected = self.select.as_ref().is_none_or(|s| s.iter().any(matches));
        selected && !self.ignore.iter().any(matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_pyproject_table() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pyproject.toml",
            "[project]\nname='x'\n[tool.everybyte]\nignore=['LOG004']\n[tool.everybyte.triage]\nlink-window=50\n",
        );
        let cfg = Config::discover(dir.path()).unwrap();
        assert_eq!(cfg.options.ignore, vec!["LOG004"]);
        assert_eq!(cfg.options.triage.link_window, 50);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "everybyte.toml",
            "select = ['LOG']\nselekt = ['x']\n",
        );
        let err = Config::load(&p).unwrap_err().to_string();
        assert!(err.contains("everybyte.toml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("selekt"), "{err}");
    }

    #[test]
    fn unknown_rule_code_is_an_error() {
        static R: crate::Rule = crate::Rule {
            code: "LOG001",
            name: "x",
            severity: Severity::Error,
            summary: "x",
            doc: "",
            source: "",
            status: crate::rule::RuleStatus::Stable,
        };
        let registry = Registry::new(&[&[&R]]);
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "everybyte.toml", "ignore = ['LOG', 'LOG999']\n");
        let err = Config::load(&p)
            .unwrap()
            .validate(&registry)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ignore[1]") && err.contains("LOG999"), "{err}");
    }

    #[test]
    fn selection_prefixes_and_ignore_win() {
        let cfg = Config::default();
        let sel = cfg.selection(&["LOG".into()], &["LOG004".into()]);
        assert!(sel.enabled("LOG001"));
        assert!(!sel.enabled("LOG004"));
        assert!(!sel.enabled("ENV001"));
        assert!(Config::default().selection(&[], &[]).enabled("ENV001"));
    }

    #[test]
    fn preview_rules_run_only_when_named_and_removed_ones_never() {
        static PREVIEW: crate::Rule = crate::Rule {
            code: "LOG999",
            name: "p",
            severity: Severity::Warning,
            summary: "p",
            doc: "",
            source: "",
            status: crate::RuleStatus::Preview,
        };
        static REMOVED: crate::Rule = crate::Rule {
            code: "LOG998",
            name: "r",
            severity: Severity::Warning,
            summary: "r",
            doc: "",
            source: "",
            status: crate::RuleStatus::Removed,
        };
        let cfg = Config::default();
        assert!(!cfg.selection(&[], &[]).runs(&PREVIEW));
        assert!(!cfg.selection(&["LOG".into()], &[]).runs(&PREVIEW));
        assert!(cfg.selection(&["LOG999".into()], &[]).runs(&PREVIEW));
        assert!(!cfg.selection(&["LOG998".into()], &[]).runs(&REMOVED));
    }
}
