//! The model repository: `NAME/VERSION/model.onnx`, Triton's layout, with an optional
//! `config.pbtxt` (the batching fields are read) or `everybyte.toml` per model.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::error::{PbtxtError, RepoError};

/// How one model is served.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSettings {
    /// Largest batch formed; `None`: batch when the model allows it (every input and output
    /// has a dynamic first dimension), up to [`DEFAULT_MAX_BATCH`]. `Some(0)` disables batching.
    pub max_batch: Option<usize>,
    /// How long the first request of a batch waits for others. Zero: take what is queued.
    pub max_delay: Duration,
    /// Requests waiting at most; beyond it the server answers 503 / UNAVAILABLE at once.
    pub queue: usize,
    pub preferred: Vec<usize>,
    /// Parts of the execution plan fixed for this model ([`crate::plan`]); `max_batch` above
    /// pins the batch limit.
    pub threads: Option<usize>,
    pub runs: Option<usize>,
    pub spin: Option<bool>,
    /// Where the model runs; `None`: the server's `--device`.
    pub device: Option<crate::onnx::Device>,
    /// Input shapes to plan with (batch dimension included), by input name.
    pub plan_shapes: std::collections::BTreeMap<String, Vec<i64>>,
}

pub const DEFAULT_MAX_BATCH: usize = 8;
pub const DEFAULT_QUEUE: usize = 256;
const MAX_QUEUE: usize = 100_000;
const MAX_BATCH: usize = 4096;
const MAX_DELAY: Duration = Duration::from_secs(10);
const MAX_THREADS: usize = 1024;

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            max_batch: None,
            max_delay: Duration::ZERO,
            queue: DEFAULT_QUEUE,
            preferred: Vec::new(),
            threads: None,
            runs: None,
            spin: None,
            device: None,
            plan_shapes: std::collections::BTreeMap::new(),
        }
    }
}

/// One model found in the repository.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelEntry {
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    pub settings: ModelSettings,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TomlSettings {
    max_batch: Option<usize>,
    max_delay_us: Option<u64>,
    queue: Option<usize>,
    preferred_batch: Option<Vec<usize>>,
    threads: Option<usize>,
    runs: Option<usize>,
    spin: Option<bool>,
    device: Option<String>,
    plan_shape: Option<std::collections::BTreeMap<String, Vec<i64>>>,
}

/// Scans a repository. Each model directory holds numbered versions; the highest with a
/// `model.onnx` is served.
pub fn scan(root: &Path) -> Result<Vec<ModelEntry>, RepoError> {
    let entries = std::fs::read_dir(root).map_err(|source| RepoError::Root {
        root: root.to_path_buf(),
        source,
    })?;
    let mut models = Vec::new();
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let mut versions: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
            .map_err(|source| RepoError::Read {
                path: dir.clone(),
                source,
            })?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let v = e.file_name().to_str()?.parse::<u64>().ok()?;
                let model = e.path().join("model.onnx");
                model.is_file().then_some((v, model))
            })
            .collect();
        versions.sort();
        let Some((version, path)) = versions.pop() else {
            return Err(RepoError::NoVersion { dir });
        };
        let settings = settings_for(&dir)?;
        models.push(ModelEntry {
            name,
            version: version.to_string(),
            path,
            settings,
        });
    }
    if models.is_empty() {
        return Err(RepoError::NoModels {
            root: root.to_path_buf(),
        });
    }
    Ok(models)
}

/// The models of `entries` named in `only` (all of them when `only` is empty): a server that
/// serves some models of a shared repository (`--load-model`, one KServe InferenceService per
/// model). A name the repository lacks is an error.
pub fn select(
    root: &Path,
    entries: Vec<ModelEntry>,
    only: &[String],
) -> Result<Vec<ModelEntry>, RepoError> {
    if only.is_empty() {
        return Ok(entries);
    }
    if let Some(name) = only.iter().find(|n| !entries.iter().any(|e| &e.name == *n)) {
        return Err(RepoError::NotInRepository {
            root: root.to_path_buf(),
            name: name.clone(),
            have: entries.iter().map(|e| e.name.clone()).collect(),
        });
    }
    Ok(entries
        .into_iter()
        .filter(|e| only.contains(&e.name))
        .collect())
}

fn settings_for(dir: &Path) -> Result<ModelSettings, RepoError> {
    let toml_path = dir.join("everybyte.toml");
    let pbtxt = dir.join("config.pbtxt");
    let mut s = ModelSettings::default();
    if pbtxt.is_file() {
        let text = std::fs::read_to_string(&pbtxt).map_err(|source| RepoError::Read {
            path: pbtxt.clone(),
            source,
        })?;
        apply_pbtxt(&text, &mut s).map_err(|error| RepoError::Pbtxt {
            path: pbtxt.clone(),
            error,
        })?;
    }
    if toml_path.is_file() {
        let text = std::fs::read_to_string(&toml_path).map_err(|source| RepoError::Read {
            path: toml_path.clone(),
            source,
        })?;
        let t: TomlSettings = toml::from_str(&text).map_err(|error| RepoError::Toml {
            path: toml_path.clone(),
            error,
        })?;
        if t.max_batch.is_some() {
            s.max_batch = t.max_batch;
        }
        if let Some(us) = t.max_delay_us {
            s.max_delay = Duration::from_micros(us);
        }
        if let Some(q) = t.queue {
            s.queue = q;
        }
        if let Some(p) = t.preferred_batch {
            s.preferred = p;
        }
        for (key, n) in [("threads", t.threads), ("runs", t.runs)] {
            if n == Some(0) || n.is_some_and(|n| n > MAX_THREADS) {
                return Err(RepoError::Plan {
                    path: toml_path.clone(),
                    why: format!("{key} must be 1 to {MAX_THREADS}"),
                });
            }
        }
        s.threads = t.threads;
        s.runs = t.runs;
        s.spin = t.spin;
        if let Some(d) = t.device {
            s.device = Some(d.parse().map_err(|why| RepoError::Plan {
                path: toml_path.clone(),
                why: format!("device {why}"),
            })?);
        }
        if let Some(shapes) = t.plan_shape {
            for (name, dims) in &shapes {
                crate::plan::check_shape(name, dims).map_err(|why| RepoError::Plan {
                    path: toml_path.clone(),
                    why,
                })?;
            }
            s.plan_shapes = shapes;
        }
    }
    if s.queue == 0 || s.queue > MAX_QUEUE {
        return Err(RepoError::Queue {
            dir: dir.to_path_buf(),
            max: MAX_QUEUE,
        });
    }
    if s.max_delay > MAX_DELAY {
        return Err(RepoError::Delay {
            dir: dir.to_path_buf(),
            micros: s.max_delay.as_micros(),
            max_seconds: MAX_DELAY.as_secs(),
        });
    }
    if s.max_batch.is_some_and(|b| b > MAX_BATCH) {
        return Err(RepoError::MaxBatch {
            dir: dir.to_path_buf(),
            max: MAX_BATCH,
        });
    }
    Ok(s)
}

/// A value in protobuf text format.
#[derive(Debug, Clone, PartialEq)]
enum Text {
    Scalar(String),
    List(Vec<Text>),
    Message(Vec<(String, Text)>),
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn skip(&mut self) {
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'#' => {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                c if c.is_ascii_whitespace() || c == b',' || c == b';' => self.i += 1,
                _ => break,
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip();
        self.s.get(self.i).copied()
    }

    fn word(&mut self) -> Result<String, PbtxtError> {
        self.skip();
        let start = self.i;
        if let Some(&q @ (b'"' | b'\'')) = self.s.get(self.i) {
            self.i += 1;
            while self.i < self.s.len() && self.s[self.i] != q {
                self.i += 1;
            }
            if self.i >= self.s.len() {
                return Err(PbtxtError::UnterminatedString);
            }
            self.i += 1;
            return Ok(String::from_utf8_lossy(&self.s[start + 1..self.i - 1]).into_owned());
        }
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b"_-.+".contains(&self.s[self.i]))
        {
            self.i += 1;
        }
        if start == self.i {
            return Err(PbtxtError::Unexpected(self.i));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn expect(&mut self, c: u8) -> Result<(), PbtxtError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(PbtxtError::Expected {
                expected: c as char,
                at: self.i,
            })
        }
    }

    fn value(&mut self, depth: usize) -> Result<Text, PbtxtError> {
        if depth > 32 {
            return Err(PbtxtError::TooDeep);
        }
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                let fields = self.fields(depth + 1, Some(b'}'))?;
                Ok(Text::Message(fields))
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                while self.peek() != Some(b']') {
                    if self.peek().is_none() {
                        return Err(PbtxtError::UnterminatedList);
                    }
                    items.push(self.value(depth + 1)?);
                }
                self.i += 1;
                Ok(Text::List(items))
            }
            _ => Ok(Text::Scalar(self.word()?)),
        }
    }

    fn fields(&mut self, depth: usize, end: Option<u8>) -> Result<Vec<(String, Text)>, PbtxtError> {
        let mut out = Vec::new();
        loop {
            match (self.peek(), end) {
                (None, None) => return Ok(out),
                (None, Some(_)) => return Err(PbtxtError::UnterminatedMessage),
                (Some(c), Some(e)) if c == e => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => {}
            }
            let key = self.word()?;
            if self.peek() == Some(b':') {
                self.expect(b':')?;
            }
            let v = self.value(depth)?;
            out.push((key, v));
        }
    }
}

fn number<T: std::str::FromStr>(key: &str, v: &Text) -> Result<T, PbtxtError> {
    match v {
        Text::Scalar(s) => s.parse().map_err(|_| PbtxtError::NotInteger {
            key: key.to_owned(),
            value: s.clone(),
        }),
        _ => Err(PbtxtError::NotNumber {
            key: key.to_owned(),
        }),
    }
}

fn apply_pbtxt(text: &str, s: &mut ModelSettings) -> Result<(), PbtxtError> {
    let mut lx = Lexer {
        s: text.as_bytes(),
        i: 0,
    };
    let fields = lx.fields(0, None)?;
    for (k, v) in &fields {
        match (k.as_str(), v) {
            ("max_batch_size", v) => s.max_batch = Some(number(k, v)?),
            ("dynamic_batching", Text::Message(inner)) => {
                for (k, v) in inner {
                    match (k.as_str(), v) {
                        ("max_queue_delay_microseconds", v) => {
                            s.max_delay = Duration::from_micros(number(k, v)?);
                        }
                        ("preferred_batch_size", Text::List(items)) => {
                            s.preferred = items
                                .iter()
                                .map(|i| number(k, i))
                                .collect::<Result<_, _>>()?;
                        }
                        ("preferred_batch_size", v) => s.preferred.push(number(k, v)?),
                        ("default_queue_policy", Text::Message(q)) => {
                            for (k, v) in q {
                                if k == "max_queue_size" {
                                    let n: usize = number(k, v)?;
                                    if n > 0 {
                                        s.queue = n;
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbtxt_batching_fields() {
        let mut s = ModelSettings::default();
        apply_pbtxt(
            r#"
name: "minilm"   # a comment
platform: "onnxruntime_onnx"
max_batch_size: 16
input [ { name: "input_ids" data_type: TYPE_INT64 dims: [ -1 ] } ]
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 500
  default_queue_policy { max_queue_size: 64 }
}
"#,
            &mut s,
        )
        .unwrap();
        assert_eq!(s.max_batch, Some(16));
        assert_eq!(s.preferred, [4, 8]);
        assert_eq!(s.max_delay, Duration::from_micros(500));
        assert_eq!(s.queue, 64);
    }

    #[test]
    fn pbtxt_errors_never_panic() {
        for bad in [
            "max_batch_size: x",
            "dynamic_batching {",
            "a: [1, 2",
            "a: \"x",
            "{{{{",
            "]",
        ] {
            let mut s = ModelSettings::default();
            assert!(apply_pbtxt(bad, &mut s).is_err(), "{bad}");
        }
        let deep = "a {".repeat(100);
        assert!(apply_pbtxt(&deep, &mut ModelSettings::default()).is_err());
    }

    #[test]
    fn load_model_keeps_the_named_models_and_rejects_unknown_names() {
        let dir = tempfile::tempdir().unwrap();
        for m in ["a", "b", "c"] {
            std::fs::create_dir_all(dir.path().join(m).join("1")).unwrap();
            std::fs::write(dir.path().join(m).join("1/model.onnx"), b"x").unwrap();
        }
        let all = || scan(dir.path()).unwrap();
        assert_eq!(select(dir.path(), all(), &[]).unwrap().len(), 3);
        let b = select(dir.path(), all(), &["b".to_owned()]).unwrap();
        assert_eq!(b.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["b"]);
        let err = select(dir.path(), all(), &["d".to_owned()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no model named d (it has a, b, c)"), "{err}");
    }

    #[test]
    fn repository_layout() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m");
        for v in ["1", "3", "2"] {
            std::fs::create_dir_all(m.join(v)).unwrap();
            std::fs::write(m.join(v).join("model.onnx"), b"x").unwrap();
        }
        std::fs::write(m.join("everybyte.toml"), "max-batch = 0\nqueue = 5\n").unwrap();
        let found = scan(dir.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].version, "3");
        assert_eq!(found[0].settings.max_batch, Some(0));
        assert_eq!(found[0].settings.queue, 5);
        std::fs::write(
            m.join("everybyte.toml"),
            "max-delay-us = 18446744073709551615\n",
        )
        .unwrap();
        assert!(
            scan(dir.path())
                .unwrap_err()
                .to_string()
                .contains("over the 10 s")
        );
        std::fs::write(m.join("everybyte.toml"), "queue = 100000000000\n").unwrap();
        assert!(
            scan(dir.path())
                .unwrap_err()
                .to_string()
                .contains("queue must be between")
        );
        std::fs::write(m.join("everybyte.toml"), "max-bach = 0\n").unwrap();
        assert!(
            scan(dir.path())
                .unwrap_err()
                .to_string()
                .contains("max-bach")
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(
            scan(empty.path())
                .unwrap_err()
                .to_string()
                .contains("no models")
        );
        std::fs::create_dir(empty.path().join("x")).unwrap();
        assert!(
            scan(empty.path())
                .unwrap_err()
                .to_string()
                .contains("x/1/model.onnx")
        );
    }
}
