//! Project discovery: one parallel, `.gitignore`-aware walk that classifies every file once.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

/// What a file is, decided once from its name and place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    PythonSource,
    Requirements,
    Lockfile,
    Pyproject,
    Dockerfile,
    KubernetesManifest,
    Log,
    ModelFile,
    ModelConfig,
    NvidiaSmiCsv,
    AllocatorSnapshot,
    Image,
    Table,
    Array,
    Config,
    Other,
}

/// A file of the project.
#[derive(Clone, Debug, Serialize)]
pub struct ProjectFile {
    #[serde(skip)]
    pub path: PathBuf,
    /// Path relative to the project root, with `/` separators: what reports print.
    pub rel: String,
    pub kind: FileKind,
    pub size: u64,
}

/// A walked and classified project.
#[derive(Clone, Debug, Serialize)]
pub struct Project {
    #[serde(skip)]
    pub root: PathBuf,
    pub files: Vec<ProjectFile>,
    /// Paths the walk could not read, with the reason.
    pub errors: Vec<(String, String)>,
}

impl Project {
    pub fn files_of(&self, kind: FileKind) -> impl Iterator<Item = &ProjectFile> {
        self.files.iter().filter(move |f| f.kind == kind)
    }
}

/// Walks `root` (respecting `.gitignore`, `.ignore` and the `exclude` patterns) on all cores
/// and classifies every regular file. The result is sorted by relative path.
pub fn discover(root: &Path, exclude: &[String]) -> Result<Project, ignore::Error> {
    let mut overrides = ignore::overrides::OverrideBuilder::new(root);
    for pat in exclude {
        overrides.add(&format!("!{pat}"))?;
    }
    let overrides = overrides.build()?;
    let files = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    ignore::WalkBuilder::new(root)
        .require_git(false)
        .overrides(overrides)
        .build_parallel()
        .run(|| {
            Box::new(|entry| {
                match entry {
                    Ok(entry) => {
                        if entry.file_type().is_some_and(|t| t.is_file()) {
                            let path = entry.path().to_owned();
                            let rel = relative(root, &path);
                            let size = entry.metadata().map_or(0, |m| m.len());
                            let kind = classify(&rel);
                            crate::par::lock(&files).push(ProjectFile {
                                path,
                                rel,
                                kind,
                                size,
                            });
                        }
                    }
                    Err(err) => {
                        let path = match &err {
                            ignore::Error::WithPath { path, .. } => relative(root, path),
                            _ => root.display().to_string(),
                        };
                        crate::par::lock(&errors).push((path, err.to_string()));
                    }
                }
                ignore::WalkState::Continue
            })
        });
    let mut files = files
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    let mut errors = errors
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    errors.sort();
    Ok(Project {
        root: root.to_owned(),
        files,
        errors,
    })
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s = rel.to_string_lossy().replace('\\', "/");
    if s.is_empty() { ".".to_owned() } else { s }
}

/// Classifies a file by its relative path.
// Names are lowercased before any extension comparison.
#[allow(clippy::case_sensitive_file_extension_comparisons)]
pub fn classify(rel: &str) -> FileKind {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let lower = name.to_ascii_lowercase();
    let in_dir = |d: &str| {
        rel.split('/')
            .rev()
            .skip(1)
            .any(|p| p.eq_ignore_ascii_case(d))
    };
    let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
    let ext = stem.rsplit_once('.').map_or("", |(_, e)| e);

    if lower == "pyproject.toml" {
        return FileKind::Pyproject;
    }
    if lower == "dockerfile"
        || lower.starts_with("dockerfile.")
        || lower.ends_with(".dockerfile")
        || lower == "containerfile"
    {
        return FileKind::Dockerfile;
    }
    if matches!(
        lower.as_str(),
        "poetry.lock" | "uv.lock" | "pylock.toml" | "pdm.lock" | "pipfile.lock" | "conda-lock.yml"
    ) || (lower.starts_with("pylock.") && lower.ends_with(".toml"))
    {
        return FileKind::Lockfile;
    }
    if (lower.starts_with("requirements") || lower.starts_with("constraints"))
        && (ext == "txt" || ext == "in")
        || in_dir("requirements") && ext == "txt"
    {
        return FileKind::Requirements;
    }
    if lower == "everybyte.toml" {
        return FileKind::Config;
    }
    match ext {
        "py" | "pyi" => return FileKind::PythonSource,
        "log" | "out" | "err" => return FileKind::Log,
        "onnx" | "safetensors" | "pt" | "pth" | "ckpt" | "bin" | "gguf" => {
            return FileKind::ModelFile;
        }
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" | "tif" | "tiff" => return FileKind::Image,
        "npy" | "npz" => return FileKind::Array,
        "pickle" | "pkl" if lower.contains("snapshot") || lower.contains("memory") => {
            return FileKind::AllocatorSnapshot;
        }
        _ => {}
    }
    if is_rotated_log(stem) {
        return FileKind::Log;
    }
    if ext == "txt" && (in_dir("logs") || in_dir("log")) {
        return FileKind::Log;
    }
    if lower == "config.json" || lower.ends_with(".safetensors.index.json") {
        return FileKind::ModelConfig;
    }
    if ext == "csv" && (lower.contains("nvidia-smi") || lower.contains("gpu")) {
        return FileKind::NvidiaSmiCsv;
    }
    if matches!(ext, "csv" | "tsv" | "jsonl" | "parquet") {
        return FileKind::Table;
    }
    if (ext == "yaml" || ext == "yml")
        && (in_dir("k8s")
            || in_dir("kubernetes")
            || in_dir("manifests")
            || in_dir("deploy")
            || in_dir("charts")
            || lower.contains("deployment")
            || lower.contains("job")
            || lower.contains("pod")
            || lower.contains("inferenceservice"))
    {
        return FileKind::KubernetesManifest;
    }
    FileKind::Other
}

/// `train.log.1`, `syslog.2`: a log rotated by number (`name` is lowercase).
#[allow(clippy::case_sensitive_file_extension_comparisons)]
fn is_rotated_log(name: &str) -> bool {
    let Some((base, num)) = name.rsplit_once('.') else {
        return false;
    };
    !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
        && (base.ends_with(".log") || base == "syslog" || base == "messages" || base == "kern.log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_name_and_place() {
        assert_eq!(classify("logs/crash.log"), FileKind::Log);
        assert_eq!(classify("logs/crash.log.gz"), FileKind::Log);
        assert_eq!(classify("logs/train.log.3"), FileKind::Log);
        assert_eq!(classify("logs/pod-describe.txt"), FileKind::Log);
        assert_eq!(classify("notes.txt"), FileKind::Other);
        assert_eq!(classify("requirements-dev.txt"), FileKind::Requirements);
        assert_eq!(classify("Dockerfile"), FileKind::Dockerfile);
        assert_eq!(
            classify("k8s/deployment.yaml"),
            FileKind::KubernetesManifest
        );
        assert_eq!(classify("train.py"), FileKind::PythonSource);
        assert_eq!(classify("metrics/gpu.csv"), FileKind::NvidiaSmiCsv);
        assert_eq!(classify("data/labels.csv"), FileKind::Table);
        assert_eq!(
            classify("model/model.safetensors.index.json"),
            FileKind::ModelConfig
        );
    }

    #[test]
    fn walk_respects_gitignore_and_exclude() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("logs/old")).unwrap();
        std::fs::write(root.join(".gitignore"), "ignored.log\n").unwrap();
        std::fs::write(root.join("ignored.log"), "x").unwrap();
        std::fs::write(root.join("logs/a.log"), "x").unwrap();
        std::fs::write(root.join("logs/old/b.log"), "x").unwrap();
        let p = discover(root, &["logs/old/".to_owned()]).unwrap();
        let rels: Vec<_> = p.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["logs/a.log"]);
    }
}
