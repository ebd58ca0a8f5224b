//! Checksum manifests: write one with `data scan --manifest`, re-check a dataset against it
//! with `data verify`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::scan::{FileRecord, ScanOptions, ScanReport};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub version: u32,
    /// The folder paths are relative to, as given when the manifest was written.
    pub root: String,
    /// What the scan that wrote it found (summed by `merge`).
    #[serde(default)]
    pub summary: ManifestSummary,
    pub files: Vec<FileRecord>,
}

impl Manifest {
    /// The manifest of a scan (run with [`ScanOptions::hash`]) of the files under `root`: its
    /// records, and its counts of files, bytes, kinds and findings by rule.
    pub fn from_scan(scan: &ScanReport, root: &Path) -> Manifest {
        let mut by_rule = BTreeMap::new();
        for f in &scan.findings {
            *by_rule.entry(f.code.clone()).or_default() += 1;
        }
        Manifest {
            version: 1,
            root: root.display().to_string(),
            summary: ManifestSummary {
                files: scan.summary.files,
                bytes: scan.summary.bytes,
                kinds: scan
                    .summary
                    .kinds
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), *v))
                    .collect(),
                findings_by_rule: by_rule,
            },
            files: scan.files.clone(),
        }
    }

    /// Reads a manifest file.
    pub fn read(path: &Path) -> Result<Manifest, DataError> {
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| DataError::NotAManifest {
            path: path.to_owned(),
            source,
        })
    }

    /// The line `data merge` prints for this manifest merged from `parts` manifests:
    /// `merged 3 manifests: 1200 files, 4.1 MiB; findings: DATA001 ×2`.
    pub fn describe_merge(&self, parts: usize) -> String {
        let bytes: u64 = self.files.iter().map(|f| f.size).sum();
        let rules: Vec<String> = self
            .summary
            .findings_by_rule
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        format!(
            "merged {parts} manifests: {} files, {}; findings: {}",
            self.files.len(),
            everybyte_core::bytesize::format_bytes(bytes),
            if rules.is_empty() {
                "none".to_owned()
            } else {
                rules.join(", ")
            }
        )
    }
}

/// Writes the differences `verify` found, one a line (`changed  a/b.jpg  (same size,
/// different content)`), then the count.
pub fn write_differences(
    out: &mut dyn Write,
    manifest: &Manifest,
    diffs: &[Difference],
) -> io::Result<()> {
    for d in diffs {
        writeln!(out, "{:<8} {}  ({})", d.kind, d.path, d.detail)?;
    }
    writeln!(
        out,
        "{} files in the manifest, {} differences",
        manifest.files.len(),
        diffs.len()
    )
}

/// Counts of a scan, kept with its manifest so shard scans can be added up.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestSummary {
    pub files: u64,
    pub bytes: u64,
    pub kinds: BTreeMap<String, u64>,
    pub findings_by_rule: BTreeMap<String, u64>,
}

impl ManifestSummary {
    pub fn add(&mut self, o: &ManifestSummary) {
        self.files += o.files;
        self.bytes += o.bytes;
        for (k, v) in &o.kinds {
            *self.kinds.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.findings_by_rule {
            *self.findings_by_rule.entry(k.clone()).or_default() += v;
        }
    }
}

/// A difference between a manifest and the files on disk.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Difference {
    pub path: String,
    /// `changed`, `missing`, `new`, or `unreadable` (a folder that cannot be listed).
    pub kind: &'static str,
    pub detail: String,
}

/// Re-hashes every file under `root` and compares with the manifest.
pub fn verify(manifest: &Manifest, root: &Path) -> Vec<Difference> {
    let (files, unlisted) =
        crate::scan::list_files(&[root.to_path_buf()], root, ScanOptions::default().shard);
    let paths: Vec<PathBuf> = files.iter().map(|rel| root.join(&**rel)).collect();
    let hashes = hash_all(&paths);
    let names: Vec<String> = files
        .iter()
        .map(|rel| rel.to_string_lossy().into_owned())
        .collect();
    let on_disk: BTreeMap<&str, (u64, Option<String>)> = names
        .iter()
        .zip(hashes)
        .map(|(rel, h)| (rel.as_str(), h))
        .collect();
    // A folder that cannot be listed is a difference of its own, besides its files missing.
    let mut out: Vec<Difference> = unlisted
        .into_iter()
        .map(|f| Difference {
            path: f.location.path,
            kind: "unreadable",
            detail: f.message,
        })
        .collect();
    let listed: BTreeMap<&str, &FileRecord> = manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    for (path, rec) in &listed {
        match on_disk.get(path) {
            None => out.push(Difference {
                path: (*path).to_owned(),
                kind: "missing",
                detail: format!("{} bytes in the manifest, absent on disk", rec.size),
            }),
            Some((size, hash)) => {
                if hash.as_deref() != Some(rec.blake3.as_str()) {
                    let detail = if *size == rec.size {
                        "same size, different content".to_owned()
                    } else {
                        format!("{} bytes in the manifest, {size} on disk", rec.size)
                    };
                    out.push(Difference {
                        path: (*path).to_owned(),
                        kind: "changed",
                        detail,
                    });
                }
            }
        }
    }
    for (path, (size, _)) in &on_disk {
        if !listed.contains_key(path) {
            out.push(Difference {
                path: (*path).to_owned(),
                kind: "new",
                detail: format!("{size} bytes, not in the manifest"),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn hash_all(paths: &[PathBuf]) -> Vec<(u64, Option<String>)> {
    everybyte_core::par::map(paths, |p| {
        let size = std::fs::metadata(p).map_or(0, |m| m.len());
        (size, crate::scan::blake3_file(p).ok())
    })
}

/// Joins shard manifests into one: the union of their files, sorted; the same path in two
/// shards with different content is an error naming both. Duplicates (DATA013) are counted
/// again over the union, as one scan of every file counts them: two copies in two shards are
/// a group no shard saw.
pub fn merge(parts: &[Manifest]) -> Result<Manifest, DataError> {
    let mut files: BTreeMap<String, FileRecord> = BTreeMap::new();
    let mut summary = ManifestSummary::default();
    for m in parts {
        summary.add(&m.summary);
        for f in &m.files {
            if let Some(prev) = files.get(&f.path)
                && prev.blake3 != f.blake3
            {
                return Err(DataError::Conflict {
                    path: f.path.clone(),
                });
            }
            files.insert(f.path.clone(), f.clone());
        }
    }
    let code = crate::rules::duplicate_files::DUPLICATE_FILES.code;
    let mut hashes: Vec<&str> = files
        .values()
        .filter(|f| f.size > 0 && !f.blake3.is_empty())
        .map(|f| f.blake3.as_str())
        .collect();
    hashes.sort_unstable();
    let groups = hashes
        .chunk_by(|a, b| a == b)
        .filter(|g| g.len() > 1)
        .count() as u64;
    if groups > 0 {
        summary.findings_by_rule.insert(code.to_owned(), groups);
    } else {
        summary.findings_by_rule.remove(code);
    }
    Ok(Manifest {
        version: 1,
        root: parts.first().map(|m| m.root.clone()).unwrap_or_default(),
        summary,
        files: files.into_values().collect(),
    })
}

#[cfg(test)]
mod tests;
