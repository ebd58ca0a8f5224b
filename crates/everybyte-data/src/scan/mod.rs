//! `data scan`: one parallel walk, each file identified by its magic bytes, checked by kind,
//! hashed with BLAKE3; then the per-dataset summaries (colour modes, duplicates).
//!
//! The walk (`walk`) lists the files; each thread folds its share into a partial report
//! (`aggregate`), reading every file once (`file`, `read`) and passing it to the pass of its
//! kind (`images`, `tables`, `arrays`), which produces the facts the rules judge; the partials
//! are joined, and the dataset's facts (`dataset`) judged last.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use everybyte_core::Finding;
use serde::{Deserialize, Serialize};

mod aggregate;
mod arrays;
mod columns;
mod dataset;
mod file;
mod hash;
mod images;
mod kind;
mod listing;
mod read;
mod records;
mod shard;
mod tables;
mod walk;

pub(crate) use hash::blake3_file;
pub use kind::{Kind, by_extension, sniff};
pub use listing::{listed_count, read_list, write_list};
pub use shard::shard_of;
pub use walk::{Rel, list_files};

/// Scan settings.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Images above this many pixels are reported (DATA004).
    pub max_pixels: u64,
    /// Scan only shard K of N (K from 0 to N-1, as a Kubernetes Indexed Job numbers its pods),
    /// chosen by a hash of the relative path.
    pub shard: Option<(u64, u64)>,
    /// Decode every image fully (a real decoder), for the corruptions only decoding finds.
    pub decode: bool,
    /// Hash every file with BLAKE3 (for a manifest). Without it, duplicate candidates are
    /// found by size and a CRC-32 (of the whole of a small file, of the first and last 64 KiB
    /// of a large one), and only the candidates are hashed.
    pub hash: bool,
    /// Updated as files are done, for a progress display.
    pub progress: Option<std::sync::Arc<Progress>>,
}

/// Counters a progress display reads while a scan runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub total_files: std::sync::atomic::AtomicU64,
    pub files: std::sync::atomic::AtomicU64,
    pub bytes: std::sync::atomic::AtomicU64,
}

impl Progress {
    /// The progress line after `seconds`: files done of the total, files/s, MB/s and the time
    /// left at this rate.
    pub fn line(&self, seconds: f64) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        let (n, total, bytes) = (
            self.files.load(Relaxed),
            self.total_files.load(Relaxed),
            self.bytes.load(Relaxed),
        );
        let secs = seconds.max(1e-3);
        let rate = n as f64 / secs;
        let eta = if rate > 0.0 {
            (total.saturating_sub(n)) as f64 / rate
        } else {
            0.0
        };
        format!(
            "{n}/{total} files  {rate:.0} files/s  {:.1} MB/s  ETA {eta:.0} s",
            bytes as f64 / 1e6 / secs
        )
    }
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_pixels: 89_478_485,
            shard: None,
            decode: false,
            hash: false,
            progress: None,
        }
    }
}

/// One file as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    pub size: u64,
    /// Seconds since the epoch.
    pub mtime: u64,
    /// Empty unless the scan hashed every file (`ScanOptions::hash`).
    pub blake3: String,
}

/// Counts over a scan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub files: u64,
    pub bytes: u64,
    pub kinds: BTreeMap<&'static str, u64>,
    pub seconds: f64,
}

impl Summary {
    /// The line `data scan` prints when it is done: `scanned 20000 files, 1.9 GiB in 1.20 s
    /// (16667 files/s, 1700.0 MB/s): 20000 JPEG`.
    pub fn describe(&self) -> String {
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!(
            "scanned {} files, {} in {:.2} s ({:.0} files/s, {:.1} MB/s): {}",
            self.files,
            everybyte_core::bytesize::format_bytes(self.bytes),
            self.seconds,
            self.files as f64 / self.seconds.max(1e-9),
            self.bytes as f64 / 1e6 / self.seconds.max(1e-9),
            kinds.join(", ")
        )
    }
}

#[derive(Debug, Default)]
pub struct ScanReport {
    pub findings: Vec<Finding>,
    /// The manifest's records, in path order: filled when [`ScanOptions::hash`] is set.
    pub files: Vec<FileRecord>,
    pub summary: Summary,
}

/// Runs `run` (a [`scan`] or a [`scan_listed`]) with `show` given the progress line (see
/// [`Progress::line`]) five times a second while it runs, and once more with an empty line
/// when it is done.
pub fn scan_showing<R: Send>(
    run: impl FnOnce(&ScanOptions) -> R + Send,
    opts: &ScanOptions,
    show: &(dyn Fn(&str) + Sync),
) -> R {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let progress = std::sync::Arc::new(Progress::default());
    let opts = ScanOptions {
        progress: Some(progress.clone()),
        ..opts.clone()
    };
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let start = std::time::Instant::now();
            while !done.load(Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(200));
                show(&progress.line(start.elapsed().as_secs_f64()));
            }
            show("");
        });
        let r = run(&opts);
        done.store(true, Relaxed);
        r
    })
}

/// Scans files (walking folders) on all cores.
pub fn scan(paths: &[PathBuf], root: &Path, opts: &ScanOptions) -> ScanReport {
    let started = std::time::Instant::now();
    let (files, errors) = list_files(paths, root, opts.shard);
    let mut report = scan_selected(root, files, opts, started);
    report.findings.splice(0..0, errors);
    report
}

/// [`scan_files`] of files already cut to `opts.shard`, timed from `started` (the listing
/// included).
fn scan_selected(
    root: &Path,
    files: Vec<Rel>,
    opts: &ScanOptions,
    started: std::time::Instant,
) -> ScanReport {
    let opts = ScanOptions {
        shard: None,
        ..opts.clone()
    };
    let mut report = scan_files(root, files, &opts);
    report.summary.seconds = started.elapsed().as_secs_f64();
    report
}

/// Scans the files of a listing written by `data list` ([`write_list`]), relative to `root`:
/// with `opts.shard`, only that shard's paths are kept as the listing streams by, and no
/// folder is walked.
pub fn scan_listed(root: &Path, list: &Path, opts: &ScanOptions) -> std::io::Result<ScanReport> {
    let started = std::time::Instant::now();
    let files = read_list(list, opts.shard)?;
    Ok(scan_selected(root, files, opts, started))
}

/// Scans files already listed relative to `root`, such as the files a project walk found;
/// `opts.shard` keeps only that shard of them.
pub fn scan_files(root: &Path, mut files: Vec<Rel>, opts: &ScanOptions) -> ScanReport {
    let started = std::time::Instant::now();
    if let Some((k, n)) = opts.shard {
        files.retain(|rel| shard_of(rel.as_bytes(), n) == k);
    }
    if let Some(p) = &opts.progress {
        p.total_files.store(files.len() as u64, Ordering::Relaxed);
    }
    let joined = aggregate::scan_all(root, &files, opts);
    let mut report = ScanReport::default();
    report.summary.files = joined.files;
    report.summary.bytes = joined.bytes;
    for (k, n) in Kind::ALL.iter().zip(joined.kinds) {
        if n > 0 {
            report.summary.kinds.insert(k.name(), n);
        }
    }
    report.findings = joined.findings;
    dataset::judge(
        root,
        &files,
        &joined.modes,
        joined.keys,
        &joined.records,
        &mut report.findings,
    );
    dataset::judge_schemas(&files, &joined.schemas, &mut report.findings);
    dataset::judge_saved_datasets(root, &files, &joined.schemas, &mut report.findings);
    report.files = joined
        .records
        .into_iter()
        .map(|(i, mut r)| {
            r.path = walk::shown(&files[i]);
            r
        })
        .collect();
    report.summary.seconds = started.elapsed().as_secs_f64();
    report
}

#[cfg(test)]
mod tests;
