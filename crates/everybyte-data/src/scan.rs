//! `data scan`: one parallel walk, each file identified by its magic bytes, checked by kind,
//! hashed with BLAKE3; then the per-dataset summaries (colour modes, duplicates).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use everybyte_core::{Finding, Location};
use serde::{Deserialize, Serialize};

use crate::rules::{
    corrupt_array::CORRUPT_ARRAY, corrupt_image::CORRUPT_IMAGE, duplicate_files::DUPLICATE_FILES,
    empty_file::EMPTY_FILE, extension_mismatch::EXTENSION_MISMATCH,
    image_too_large::IMAGE_TOO_LARGE, missing_cells::MISSING_CELLS,
    nonfinite_array::NONFINITE_ARRAY, nonfinite_cells::NONFINITE_CELLS, ragged_rows::RAGGED_ROWS,
    text_encoding::TEXT_ENCODING, unparsable_cells::UNPARSABLE_CELLS,
    unusual_color_mode::UNUSUAL_COLOR_MODE,
};
use crate::{array, image, table};

/// What a file is, from its first bytes (tables from their extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Jpeg,
    Png,
    Gif,
    Webp,
    Bmp,
    Npy,
    Safetensors,
    Csv,
    Tsv,
    Jsonl,
    Other,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Jpeg => "JPEG",
            Kind::Png => "PNG",
            Kind::Gif => "GIF",
            Kind::Webp => "WebP",
            Kind::Bmp => "BMP",
            Kind::Npy => "NumPy",
            Kind::Safetensors => "safetensors",
            Kind::Csv => "CSV",
            Kind::Tsv => "TSV",
            Kind::Jsonl => "JSON Lines",
            Kind::Other => "other",
        }
    }
}

pub fn sniff(head: &[u8]) -> Option<Kind> {
    Some(if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Kind::Jpeg
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Kind::Png
    } else if head.starts_with(b"GIF8") {
        Kind::Gif
    } else if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        Kind::Webp
    } else if head.starts_with(b"BM") && head.len() >= 26 {
        Kind::Bmp
    } else if head.starts_with(b"\x93NUMPY") {
        Kind::Npy
    } else if head.len() > 9 && head[8] == b'{' && head[..8].iter().rev().take(4).all(|b| *b == 0) {
        Kind::Safetensors
    } else {
        return None;
    })
}

pub fn by_extension(name: &str) -> Option<Kind> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" | "jpe" | "jfif" => Kind::Jpeg,
        "png" => Kind::Png,
        "gif" => Kind::Gif,
        "webp" => Kind::Webp,
        "bmp" => Kind::Bmp,
        "npy" => Kind::Npy,
        "safetensors" => Kind::Safetensors,
        "csv" => Kind::Csv,
        "tsv" | "tab" => Kind::Tsv,
        "jsonl" | "ndjson" => Kind::Jsonl,
        _ => return None,
    })
}

/// Scan settings.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Images above this many pixels are reported (DATA004).
    pub max_pixels: u64,
    /// Scan only shard K of N (1-based), chosen by a hash of the relative path.
    pub shard: Option<(u64, u64)>,
    /// Decode every image fully (a real decoder), for the corruptions only decoding finds.
    pub decode: bool,
    /// Hash every file with BLAKE3 (for a manifest). Without it, duplicates are found with a
    /// CRC-32 and size first, and only the candidates are hashed.
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

#[derive(Debug, Default)]
pub struct ScanReport {
    pub findings: Vec<Finding>,
    pub files: Vec<FileRecord>,
    pub summary: Summary,
}

struct FileResult {
    record: Option<FileRecord>,
    /// The read buffer, returned for the next file.
    buffer: Option<Vec<u8>>,
    /// The image's colour mode, and whether it has 16 bits per sample.
    mode: Option<(&'static str, bool)>,
    /// Size and CRC-32 of the content: equal keys are duplicate candidates.
    key: Option<(u64, u32)>,
    kind: Kind,
    findings: Vec<Finding>,
}

/// FNV-1a of the path: a shard assignment stable across machines and runs.
pub fn shard_of(rel: &str, n: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rel.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % n
}

/// `path` relative to `root`, as a string: a byte-prefix cut (the walker's paths start with
/// the root as given), falling back to `Path::strip_prefix`.
fn relative(path: &Path, root: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let (p, r) = (path.as_os_str().as_bytes(), root.as_os_str().as_bytes());
    let cut = match p.strip_prefix(r) {
        Some(rest) if r.is_empty() || rest.first() == Some(&b'/') || r.ends_with(b"/") => {
            rest.strip_prefix(b"/").unwrap_or(rest)
        }
        _ => path
            .strip_prefix(root)
            .map_or(p, |x| x.as_os_str().as_bytes()),
    };
    String::from_utf8_lossy(cut).into_owned()
}

/// Lists the files under `paths` (files are taken as given), relative to `root`.
pub fn list_files(
    paths: &[PathBuf],
    root: &Path,
    shard: Option<(u64, u64)>,
) -> Vec<(PathBuf, String)> {
    let found = std::sync::Mutex::new(Vec::new());
    for p in paths {
        ignore::WalkBuilder::new(p)
            .standard_filters(false)
            .hidden(true)
            .build_parallel()
            .run(|| {
                Box::new(|e| {
                    if let Ok(e) = e
                        && e.file_type().is_some_and(|t| t.is_file())
                    {
                        let rel = relative(e.path(), root);
                        if shard.is_none_or(|(k, n)| shard_of(&rel, n) == k - 1) {
                            found
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .push((e.into_path(), rel));
                        }
                    }
                    ignore::WalkState::Continue
                })
            });
    }
    let mut out = found
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

/// Scans files (walking folders) on all cores.
pub fn scan(paths: &[PathBuf], root: &Path, opts: &ScanOptions) -> ScanReport {
    scan_files(
        list_files(paths, root, opts.shard),
        &ScanOptions {
            shard: None,
            ..opts.clone()
        },
    )
}

/// Scans files already listed as (path, path relative to the root), such as the files a
/// project walk found; `opts.shard` keeps only that shard of them.
#[allow(clippy::too_many_lines)] // per-file checks, then the per-dataset summaries
pub fn scan_files(mut files: Vec<(PathBuf, String)>, opts: &ScanOptions) -> ScanReport {
    let started = std::time::Instant::now();
    if let Some((k, n)) = opts.shard {
        files.retain(|(_, rel)| shard_of(rel, n) == k - 1);
    }
    if let Some(p) = &opts.progress {
        p.total_files.store(files.len() as u64, Ordering::Relaxed);
    }
    // One read buffer per thread, handed back after each file.
    let results: Vec<(usize, FileResult)> = everybyte_core::par::map_with(
        &files,
        || Vec::with_capacity(64 << 10),
        |scratch, (path, rel)| {
            let mut r = check_file(path, rel, opts, std::mem::take(scratch));
            if let Some(b) = r.buffer.take() {
                *scratch = b;
            }
            if let Some(p) = &opts.progress {
                p.files.fetch_add(1, Ordering::Relaxed);
                p.bytes
                    .fetch_add(r.record.as_ref().map_or(0, |r| r.size), Ordering::Relaxed);
            }
            r
        },
    )
    .into_iter()
    .enumerate()
    .collect();

    let mut report = ScanReport::default();
    // Colour mode → the indices of the files in it (paths are looked up only for the report).
    let mut modes: BTreeMap<(&'static str, bool), Vec<usize>> = BTreeMap::new();
    let mut by_key: BTreeMap<(u64, u32), Vec<usize>> = BTreeMap::new();
    for (i, r) in results {
        report.findings.extend(r.findings);
        *report.summary.kinds.entry(r.kind.name()).or_default() += 1;
        if let Some(m) = r.mode {
            modes.entry(m).or_default().push(i);
        }
        if let Some(rec) = r.record {
            report.summary.files += 1;
            report.summary.bytes += rec.size;
            if rec.size > 0
                && let Some(key) = r.key
            {
                by_key.entry(key).or_default().push(i);
            }
            report.files.push(rec);
        }
    }
    let total: usize = modes.values().map(Vec::len).sum();
    let mode_name = |(m, sixteen): (&str, bool)| {
        if sixteen {
            format!("16-bit {m}")
        } else {
            m.to_owned()
        }
    };
    if let Some((&dominant, _)) = modes.iter().max_by_key(|(_, v)| v.len()) {
        let dominant = mode_name(dominant);
        for (&key, idx) in &modes {
            let mode = mode_name(key);
            if mode == dominant {
                continue;
            }
            let list: Vec<String> = idx.iter().map(|&i| files[i].1.clone()).collect();
            let examples: Vec<&str> = list.iter().take(5).map(String::as_str).collect();
            report.findings.push(
                Finding::new(
                    &UNUSUAL_COLOR_MODE,
                    Location::file(list[0].clone()),
                    format!("{} of {total} images are {mode} (the dataset is mostly {dominant}): {}", list.len(), examples.join(", ")),
                )
                .with_help(format!("convert them to {dominant} once, or convert in the loader (Image.open(p).convert(\"RGB\"))"))
                .with_data("mode", mode.as_str())
                .with_data("count", list.len())
                .with_data("files", list.clone()),
            );
        }
    }
    // Candidates share size and CRC-32; BLAKE3 confirms them.
    let mut by_hash: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for group in by_key.into_values().filter(|v| v.len() > 1) {
        for i in group {
            let (path, rel) = &files[i];
            let known = report
                .files
                .iter()
                .find(|f| f.path == *rel)
                .map(|f| f.blake3.clone())
                .filter(|h| !h.is_empty());
            if let Some(h) = known.or_else(|| blake3_file(path).ok()) {
                by_hash.entry(h).or_default().push(rel.clone());
            }
        }
    }
    for paths in by_hash.into_values().filter(|v| v.len() > 1) {
        report.findings.push(
            Finding::new(
                &DUPLICATE_FILES,
                Location::file(paths[0].clone()),
                format!(
                    "{} files have the same content: {}",
                    paths.len(),
                    paths.join(", ")
                ),
            )
            .with_help("keep one copy, and deduplicate before splitting train and test")
            .with_data("files", paths),
        );
    }
    report.summary.seconds = started.elapsed().as_secs_f64();
    report
}

const MAX_IMAGE_BYTES: u64 = 512 << 20;

pub(crate) fn blake3_file(path: &Path) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    h.update_mmap(path)?;
    Ok(h.finalize().to_hex().to_string())
}

fn crc32_file(path: &Path) -> std::io::Result<u32> {
    let mut f = std::fs::File::open(path)?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finalize());
        }
        h.update(&buf[..n]);
    }
}

#[allow(clippy::too_many_lines)] // one branch per kind
fn check_file(path: &Path, rel: &str, opts: &ScanOptions, scratch: Vec<u8>) -> FileResult {
    let mut out = FileResult {
        buffer: None,
        record: None,
        key: None,
        kind: Kind::Other,
        findings: Vec::new(),
        mode: None,
    };
    let at = || Location::file(rel.to_owned());
    let unreadable = |e: &std::io::Error| everybyte_core::rules::unreadable(rel, "cannot read", e);
    let ext_kind = by_extension(rel);
    let is_image = |k: Kind| {
        matches!(
            k,
            Kind::Jpeg | Kind::Png | Kind::Gif | Kind::Webp | Kind::Bmp
        )
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            out.findings.push(unreadable(&e));
            return out;
        }
    };
    // An image without a manifest to write: open, read, read (end of file), close — the read
    // floor's system calls. Otherwise the size and mtime come from one fstat.
    let mut image_bytes = None;
    let (size, mtime) = if ext_kind.is_some_and(is_image) && !opts.hash {
        let mut b = scratch;
        b.clear();
        if let Err(e) = (&mut file).take(MAX_IMAGE_BYTES).read_to_end(&mut b) {
            out.findings.push(unreadable(&e));
            return out;
        }
        let size = b.len() as u64;
        image_bytes = Some(b);
        (size, 0)
    } else {
        match file.metadata() {
            Ok(m) => (
                m.len(),
                m.modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs()),
            ),
            Err(e) => {
                out.findings.push(unreadable(&e));
                return out;
            }
        }
    };
    if size == 0 {
        out.findings.push(
            Finding::new(&EMPTY_FILE, at(), "empty file (0 bytes)")
                .with_help("restore it from its source, or remove it and its label"),
        );
        out.record = Some(FileRecord {
            path: rel.to_owned(),
            size,
            mtime,
            blake3: if opts.hash {
                blake3::hash(b"").to_hex().to_string()
            } else {
                String::new()
            },
        });
        return out;
    }
    if image_bytes.is_none()
        && (ext_kind.is_some_and(is_image) && size <= MAX_IMAGE_BYTES || size <= 64 << 10)
    {
        let mut b = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        match (&mut file).take(size).read_to_end(&mut b) {
            Ok(_) => image_bytes = Some(b),
            Err(e) => {
                out.findings.push(unreadable(&e));
                return out;
            }
        }
    }
    #[allow(clippy::single_match_else)] // two ways to get the head, side by side
    let head: Vec<u8> = match &image_bytes {
        Some(b) => b[..b.len().min(64)].to_vec(),
        None => {
            let mut h = vec![0u8; 64];
            match file.read(&mut h).map(|n| h.truncate(n)) {
                Ok(()) => h,
                Err(e) => {
                    out.findings.push(unreadable(&e));
                    return out;
                }
            }
        }
    };
    let sniffed = sniff(&head);
    let kind = sniffed.or(ext_kind).unwrap_or(Kind::Other);
    out.kind = kind;
    if let (Some(s), Some(e)) = (sniffed, ext_kind)
        && s != e
    {
        out.findings.push(
            Finding::new(
                &EXTENSION_MISMATCH,
                at(),
                format!("content is {}, extension says {}", s.name(), e.name()),
            )
            .with_help(format!(
                "rename the file to its real type (.{}) or re-encode it",
                s.name().to_ascii_lowercase()
            ))
            .with_data("content", s.name())
            .with_data("extension", e.name()),
        );
    }
    let hash = if opts.hash {
        match &image_bytes {
            Some(b) => blake3::hash(b).to_hex().to_string(),
            None => match blake3_file(path) {
                Ok(h) => h,
                Err(e) => {
                    out.findings.push(unreadable(&e));
                    return out;
                }
            },
        }
    } else {
        String::new()
    };
    out.key = match &image_bytes {
        Some(b) => Some((size, crc32fast::hash(b))),
        None => crc32_file(path).ok().map(|c| (size, c)),
    };
    out.record = Some(FileRecord {
        path: rel.to_owned(),
        size,
        mtime,
        blake3: hash,
    });

    match kind {
        Kind::Jpeg | Kind::Png | Kind::Gif | Kind::Webp | Kind::Bmp => {
            let Some(bytes) = image_bytes.as_deref() else {
                return out;
            };
            let checked = match kind {
                Kind::Jpeg => image::jpeg(bytes),
                Kind::Png => image::png(bytes),
                Kind::Gif => image::gif(bytes),
                Kind::Webp => image::webp(bytes),
                _ => image::bmp(bytes),
            };
            match checked {
                Err(f) => out.findings.push(
                    Finding::new(&CORRUPT_IMAGE, Location { detail: Some(format!("byte {}", f.offset)), ..at() }, format!("{}: {}", kind.name(), f.what))
                        .with_help("restore the file from its source (everybyte data verify MANIFEST finds every changed file), or drop it and its label")
                        .with_data("offset", f.offset),
                ),
                Ok(info) if opts.decode && info.width.saturating_mul(info.height) <= opts.max_pixels => {
                    if let Err(e) = crate::decode::decode(bytes, kind, &info) {
                        out.findings.push(
                            Finding::new(&CORRUPT_IMAGE, at(), format!("{}: structure is sound but decoding fails: {e}", kind.name()))
                                .with_help("restore the file from its source, or drop it and its label")
                                .with_data("decode_error", e),
                        );
                    } else {
                        out.mode = Some((info.mode, info.bits == 16));
                    }
                }
                Ok(info) => {
                    let pixels = info.width.saturating_mul(info.height);
                    if pixels > opts.max_pixels {
                        out.findings.push(
                            Finding::new(
                                &IMAGE_TOO_LARGE,
                                at(),
                                format!("{} is {}x{} ({pixels} pixels), above the limit of {}", kind.name(), info.width, info.height, opts.max_pixels),
                            )
                            .with_help("resize it offline, or raise the limit if intended (--max-pixels)")
                            .with_data("width", info.width)
                            .with_data("height", info.height),
                        );
                    }
                    out.mode = Some((info.mode, info.bits == 16));
                }
            }
        }
        Kind::Npy => check_npy(path, size, &at, &mut out.findings),
        Kind::Safetensors => check_safetensors(path, size, &at, &mut out.findings),
        Kind::Csv | Kind::Tsv => {
            let delim = if kind == Kind::Tsv { b'\t' } else { b',' };
            match table::scan_file(path, delim) {
                Ok(t) => table_findings(&t, rel, &mut out.findings),
                Err(e) => out.findings.push(unreadable(&e)),
            }
        }
        Kind::Jsonl => match std::fs::File::open(path).and_then(table::scan_jsonl) {
            Ok(t) => table_findings(&t, rel, &mut out.findings),
            Err(e) => out.findings.push(unreadable(&e)),
        },
        Kind::Other => {}
    }
    out.buffer = image_bytes;
    out
}

fn check_npy(path: &Path, size: u64, at: &dyn Fn() -> Location, findings: &mut Vec<Finding>) {
    let mut head = vec![0u8; 1 << 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head.truncate(n);
    match array::npy_header(&head, size) {
        Err(e) => findings.push(
            Finding::new(&CORRUPT_ARRAY, at(), e)
                .with_help("re-export the array (write to a temporary file, then rename)"),
        ),
        Ok(h) => {
            let counted = std::fs::File::open(path).and_then(|mut f| {
                std::io::copy(&mut (&mut f).take(h.data_offset), &mut std::io::sink())?;
                array::count_nonfinite(f, h.dtype, h.elements)
            });
            if let Ok(nf) = counted
                && nf.total() > 0
            {
                let name = match h.descr.trim_start_matches(['<', '>', '|', '=']) {
                    "f2" => "float16",
                    "f4" => "float32",
                    "f8" => "float64",
                    other => other,
                };
                findings.push(nonfinite_array(nf, h.elements, name, at()));
            }
        }
    }
}

fn check_safetensors(
    path: &Path,
    size: u64,
    at: &dyn Fn() -> Location,
    findings: &mut Vec<Finding>,
) {
    let read_head = || -> std::io::Result<Vec<u8>> {
        let mut f = std::fs::File::open(path)?;
        let mut len = [0u8; 8];
        f.read_exact(&mut len)?;
        let n = u64::from_le_bytes(len)
            .min(100 << 20)
            .min(size.saturating_sub(8));
        let mut head = len.to_vec();
        f.take(n).read_to_end(&mut head)?;
        Ok(head)
    };
    let head = match read_head() {
        Ok(h) => h,
        Err(e) => {
            findings.push(Finding::new(
                &CORRUPT_ARRAY,
                at(),
                format!("safetensors: {e}"),
            ));
            return;
        }
    };
    match array::safetensors_header(&head, size) {
        Err(e) => findings.push(
            Finding::new(&CORRUPT_ARRAY, at(), format!("safetensors: {e}"))
                .with_help("re-export the file (write to a temporary file, then rename)"),
        ),
        Ok((tensors, data_start)) => {
            for t in tensors {
                let Some(dt) = array::safetensors_dtype(&t.dtype) else {
                    continue;
                };
                if dt.kind != 'f' {
                    continue;
                }
                let elements = (t.end - t.start) / dt.size as u64;
                let counted = std::fs::File::open(path).and_then(|mut f| {
                    std::io::copy(
                        &mut (&mut f).take(data_start + t.start),
                        &mut std::io::sink(),
                    )?;
                    array::count_nonfinite(f, dt, elements)
                });
                if let Ok(nf) = counted
                    && nf.total() > 0
                {
                    let mut f = nonfinite_array(
                        nf,
                        elements,
                        &t.dtype,
                        Location {
                            detail: Some(format!("tensor {}", t.name)),
                            ..at()
                        },
                    );
                    f.message = format!("tensor `{}`: {}", t.name, f.message);
                    findings.push(f);
                }
            }
        }
    }
}

fn nonfinite_array(nf: array::NonFinite, elements: u64, dtype: &str, loc: Location) -> Finding {
    Finding::new(
        &NONFINITE_ARRAY,
        loc,
        format!("{} NaN, {} inf among {elements} {dtype} values (first at flat index {})", nf.nan, nf.inf, nf.first.unwrap_or(0)),
    )
    .with_help("find where they come from (a division by zero, a log of zero) and fix it there, or filter with np.isfinite before saving")
    .with_data("nan", nf.nan)
    .with_data("inf", nf.inf)
}

/// `"1 NaN (first at line 43), 2 inf (first at line 88)"` and the earliest of those lines, or
/// `None` when every count is zero.
fn counts(parts: &[(table::Seen, &str)]) -> Option<(String, u64)> {
    let present: Vec<&(table::Seen, &str)> = parts.iter().filter(|(s, _)| s.count > 0).collect();
    let first = present.iter().map(|(s, _)| s.first_line).min()?;
    let text: Vec<String> = present
        .iter()
        .map(|(s, what)| format!("{} {what} (first at line {})", s.count, s.first_line))
        .collect();
    Some((text.join(", "), first))
}

#[allow(clippy::too_many_lines)] // one block per rule
fn table_findings(t: &table::TableScan, rel: &str, findings: &mut Vec<Finding>) {
    let line_loc = |line: u64| Location::line(rel.to_owned(), line, 1);
    if t.bom {
        findings.push(
            Finding::new(
                &TEXT_ENCODING,
                line_loc(1),
                "starts with a UTF-8 byte-order mark (the first column's name becomes \\ufeff…)",
            )
            .with_help("re-save without a BOM, or read with encoding=\"utf-8-sig\""),
        );
    }
    if t.crlf_lines > 0 && t.lf_lines > 0 {
        findings.push(
            Finding::new(
                &TEXT_ENCODING,
                Location::file(rel.to_owned()),
                format!(
                    "mixes line endings: {} CRLF and {} LF lines",
                    t.crlf_lines, t.lf_lines
                ),
            )
            .with_help("convert to one ending (dos2unix FILE)"),
        );
    }
    if t.ragged.count > 0 && t.delimiter == 0 {
        findings.push(
            Finding::new(
                &RAGGED_ROWS,
                line_loc(t.ragged.first_line),
                format!("{} line{} not a JSON object (first at line {})", t.ragged.count, if t.ragged.count == 1 { " is" } else { "s are" }, t.ragged.first_line),
            )
            .with_help("fix the writer: one JSON object per line; Python's json.dumps(allow_nan=False) refuses NaN"),
        );
    } else if t.ragged.count > 0 {
        findings.push(
            Finding::new(
                &RAGGED_ROWS,
                line_loc(t.ragged.first_line),
                format!(
                    "{} row{} with a field count other than the header's {} (first at line {}, {} fields)",
                    t.ragged.count,
                    if t.ragged.count == 1 { "" } else { "s" },
                    t.columns.len(),
                    t.ragged.first_line,
                    t.ragged_fields
                ),
            )
            .with_help("quote fields that contain the delimiter, or fix the export that wrote the row"),
        );
    }
    for c in &t.columns {
        let ty = c.inferred();
        let numeric = ty == "int" || ty == "float";
        if numeric {
            if let Some((text, first)) = counts(&[(c.nan, "NaN"), (c.inf, "inf")]) {
                findings.push(
                    Finding::new(
                        &NONFINITE_CELLS,
                        line_loc(first),
                        format!("column `{}` ({ty}): {text}", c.name),
                    )
                    .with_help("fix the source, or drop or fill these rows before training")
                    .with_data("column", c.name.as_str())
                    .with_data("nan", c.nan.count)
                    .with_data("inf", c.inf.count),
                );
            }
            let bad = c.unparsable();
            if bad.count > 0 {
                findings.push(
                    Finding::new(&UNPARSABLE_CELLS, line_loc(bad.first_line), format!("column `{}` ({ty}): {} value{} not {ty} (first at line {})", c.name, bad.count, if bad.count == 1 { " is" } else { "s are" }, bad.first_line))
                        .with_help("correct the values at the source, or coerce explicitly (pd.to_numeric(errors=\"coerce\")) and handle the NaN")
                        .with_data("column", c.name.as_str()),
                );
            }
        }
        if let Some((text, first)) = counts(&[(c.empty, "empty"), (c.na, "NA-like")]) {
            findings.push(
                Finding::new(&MISSING_CELLS, line_loc(first), format!("column `{}` ({ty}): {text}", c.name))
                    .with_help("fill or drop them explicitly before training, and make the export write one missing-value marker")
                    .with_data("column", c.name.as_str())
                    .with_data("empty", c.empty.count)
                    .with_data("na", c.na.count),
            );
        }
    }
}
