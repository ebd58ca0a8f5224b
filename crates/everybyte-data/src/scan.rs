//! `data scan`: one parallel walk, each file identified by its magic bytes, checked by kind,
//! hashed with BLAKE3; then the per-dataset summaries (colour modes, duplicates).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
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
    /// Every kind, in declaration order (`kind as usize` indexes it).
    pub const ALL: [Kind; 11] = [
        Kind::Jpeg,
        Kind::Png,
        Kind::Gif,
        Kind::Webp,
        Kind::Bmp,
        Kind::Npy,
        Kind::Safetensors,
        Kind::Csv,
        Kind::Tsv,
        Kind::Jsonl,
        Kind::Other,
    ];

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
    // The extension is the text after the last dot of the file name, at most 11 bytes long
    // ("safetensors"); it is lowered on the stack, as this runs once per file.
    let b = name.as_bytes();
    let dot = b
        .iter()
        .rev()
        .take(12)
        .position(|&c| c == b'.' || c == b'/')?;
    let ext = &b[b.len() - dot..];
    if b[b.len() - dot - 1] != b'.' {
        return None;
    }
    let mut low = [0u8; 11];
    low[..ext.len()].copy_from_slice(ext);
    low.make_ascii_lowercase();
    Some(match &low[..ext.len()] {
        b"jpg" | b"jpeg" | b"jpe" | b"jfif" => Kind::Jpeg,
        b"png" => Kind::Png,
        b"gif" => Kind::Gif,
        b"webp" => Kind::Webp,
        b"bmp" => Kind::Bmp,
        b"npy" => Kind::Npy,
        b"safetensors" => Kind::Safetensors,
        b"csv" => Kind::Csv,
        b"tsv" | b"tab" => Kind::Tsv,
        b"jsonl" | b"ndjson" => Kind::Jsonl,
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
    /// The manifest's records, in path order: filled when [`ScanOptions::hash`] is set.
    pub files: Vec<FileRecord>,
    pub summary: Summary,
}

struct FileResult {
    record: Option<FileRecord>,
    /// The image's colour mode, and whether it has 16 bits per sample.
    mode: Option<(&'static str, bool)>,
    /// Size and CRC-32 of the content: equal keys are duplicate candidates.
    key: Option<(u64, u32)>,
    kind: Kind,
    findings: Vec<Finding>,
}

/// FNV-1a of the path: a shard assignment stable across machines and runs.
pub fn shard_of(rel: impl AsRef<[u8]>, n: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in rel.as_ref() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % n
}

/// A listed file: its path relative to the scan's root (or the path as given, for a file
/// outside the root), bytes as the file system has them. One allocation per file, and the
/// file is opened from its folder (see [`FolderCache`]), so the listing keeps no full paths.
pub type Rel = Box<OsStr>;

/// `path` relative to `root`: a byte-prefix cut (the paths given start with the root as given),
/// falling back to `Path::strip_prefix`, then to the path itself.
fn relative(path: &Path, root: &Path) -> OsString {
    let (p, r) = (path.as_os_str().as_bytes(), root.as_os_str().as_bytes());
    let cut = match p.strip_prefix(r) {
        Some(rest) if r.is_empty() || rest.first() == Some(&b'/') || r.ends_with(b"/") => {
            rest.strip_prefix(b"/").unwrap_or(rest)
        }
        _ => path
            .strip_prefix(root)
            .map_or(p, |x| x.as_os_str().as_bytes()),
    };
    OsStr::from_bytes(cut).to_owned()
}

/// `rel` as text, for findings and manifests (not-UTF-8 bytes shown as U+FFFD).
fn shown(rel: &OsStr) -> String {
    rel.to_string_lossy().into_owned()
}

/// [`shown`], with the root itself (an empty relative path) shown as `.`.
fn shown_or_root(rel: &OsStr) -> String {
    if rel.is_empty() {
        ".".to_owned()
    } else {
        shown(rel)
    }
}

/// Lists the files under `paths` (files are taken as given), relative to `root`, sorted by
/// relative path. Hidden entries (a name starting with `.`) are skipped and symbolic links
/// are not followed; a folder that cannot be read is returned as an unreadable-input finding.
///
/// The walk goes one level at a time, the folders of a level read on all cores: a dataset's
/// few wide folders (one per class) are read side by side, and the listing is deterministic.
pub fn list_files(
    paths: &[PathBuf],
    root: &Path,
    shard: Option<(u64, u64)>,
) -> (Vec<Rel>, Vec<Finding>) {
    let keep = |rel: &OsStr| shard.is_none_or(|(k, n)| shard_of(rel.as_bytes(), n) == k - 1);
    let mut runs: Vec<Vec<Rel>> = Vec::new();
    let mut given = Vec::new();
    let mut errors = Vec::new();
    let mut level: Vec<Rel> = Vec::new();
    for p in paths {
        let rel = relative(p, root).into_boxed_os_str();
        if p.is_dir() {
            level.push(rel);
        } else if p.is_file() {
            if keep(&rel) {
                given.push(rel);
            }
        } else if keep(&rel) {
            // A FIFO would block the scan and a device read as empty: neither is data.
            errors.push(everybyte_core::rules::unreadable(
                shown_or_root(&rel),
                "not a regular file or a folder",
                &"skipped",
            ));
        }
    }
    runs.push(given);
    while !level.is_empty() {
        // Each folder's files come back sorted, from the thread that read it.
        let read = everybyte_core::par::map(&level, |dir| {
            read_folder(root, dir).map(|(mut files, dirs)| {
                files.retain(|f| keep(f));
                files.sort_unstable();
                (files, dirs)
            })
        });
        let mut next = Vec::new();
        for (dir, r) in level.iter().zip(read) {
            match r {
                Ok((files, dirs)) => {
                    runs.push(files);
                    next.extend(dirs);
                }
                // Each shard reports the folders that hash to it, so shards merge to one count.
                Err(e) if keep(dir) => errors.push(everybyte_core::rules::unreadable(
                    shown_or_root(dir),
                    "cannot list the folder",
                    &e,
                )),
                Err(_) => {}
            }
        }
        level = next;
    }
    // Sorted runs, one per folder, put in the order of their first paths: joined, they are
    // usually sorted already (folders whose files interleave, `a/` and `a/b/`, need a sort).
    runs.retain(|r| !r.is_empty());
    runs.sort_unstable_by(|a, b| a[0].cmp(&b[0]));
    let mut out = Vec::with_capacity(runs.iter().map(Vec::len).sum());
    for run in runs {
        out.extend(run);
    }
    if !out.is_sorted() {
        out.sort_unstable();
    }
    out.dedup();
    (out, errors)
}

/// Entries a dataset walk leaves out: hidden ones (a name starting with `.`) and `lost+found`,
/// the file system's own folder at a mount point (readable by root only, never data).
fn skipped(name: &[u8]) -> bool {
    name.first() == Some(&b'.') || name == b"lost+found"
}

/// `dir/name`, or `name` alone in the root, in one allocation of the right size.
fn child(dir: &OsStr, name: &[u8]) -> Rel {
    let dir = dir.as_bytes();
    let mut v = Vec::with_capacity(dir.len() + 1 + name.len());
    if !dir.is_empty() {
        v.extend_from_slice(dir);
        if !dir.ends_with(b"/") {
            v.push(b'/');
        }
    }
    v.extend_from_slice(name);
    OsString::from_vec(v).into_boxed_os_str()
}

/// The files and the sub-folders of the folder `rel` under `root`, hidden ones left out. The
/// type comes from the directory entry, so no file is stat-ed (except on a file system that
/// leaves the type out).
#[cfg(target_os = "linux")]
fn read_folder(root: &Path, rel: &OsStr) -> std::io::Result<(Vec<Rel>, Vec<Rel>)> {
    use rustix::fs::{FileType, Mode, OFlags, RawDir};
    let fd = rustix::fs::open(
        root.join(rel),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    // Entries are read straight out of the getdents buffer: no allocation per entry beyond
    // the path kept. 32 KiB holds any entry (names are at most 255 bytes).
    let mut buf = Vec::with_capacity(32 << 10);
    let mut entries = RawDir::new(&fd, buf.spare_capacity_mut());
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if skipped(name) {
            continue;
        }
        let t = match entry.file_type() {
            FileType::Unknown => match rustix::fs::statat(
                &fd,
                entry.file_name(),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            ) {
                Ok(st) => FileType::from_raw_mode(st.st_mode),
                // Removed since the folder was read: not there to scan.
                Err(rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(e.into()),
            },
            t => t,
        };
        match t {
            FileType::RegularFile => files.push(child(rel, name)),
            FileType::Directory => dirs.push(child(rel, name)),
            _ => {}
        }
    }
    Ok((files, dirs))
}

/// The files and the sub-folders of the folder `rel` under `root`, hidden ones left out.
#[cfg(not(target_os = "linux"))]
fn read_folder(root: &Path, rel: &OsStr) -> std::io::Result<(Vec<Rel>, Vec<Rel>)> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        if skipped(name.as_bytes()) {
            continue;
        }
        let t = entry.file_type()?;
        if t.is_file() {
            files.push(child(rel, name.as_bytes()));
        } else if t.is_dir() {
            dirs.push(child(rel, name.as_bytes()));
        }
    }
    Ok((files, dirs))
}

/// Scans files (walking folders) on all cores.
pub fn scan(paths: &[PathBuf], root: &Path, opts: &ScanOptions) -> ScanReport {
    let started = std::time::Instant::now();
    let (files, errors) = list_files(paths, root, opts.shard);
    let mut report = scan_files(
        root,
        files,
        &ScanOptions {
            shard: None,
            ..opts.clone()
        },
    );
    report.findings.splice(0..0, errors);
    report.summary.seconds = started.elapsed().as_secs_f64();
    report
}

/// Scans files already listed relative to `root`, such as the files a project walk found;
/// `opts.shard` keeps only that shard of them.
#[allow(clippy::too_many_lines)] // per-file checks, then the per-dataset summaries
pub fn scan_files(root: &Path, mut files: Vec<Rel>, opts: &ScanOptions) -> ScanReport {
    let started = std::time::Instant::now();
    if let Some((k, n)) = opts.shard {
        files.retain(|rel| shard_of(rel.as_bytes(), n) == k - 1);
    }
    if let Some(p) = &opts.progress {
        p.total_files.store(files.len() as u64, Ordering::Relaxed);
    }
    // Each thread folds its files into its own partial report; the partials are joined once.
    let partials = everybyte_core::par::fold_finish(
        &files,
        || Partial::new(opts.hash),
        |part, i, rel| {
            let r = check_file(root, rel, opts, &mut part.scratch, &mut part.folder);
            part.add(i, r, opts.progress.as_deref());
        },
        |mut part| {
            part.flush_progress(opts.progress.as_deref());
            part.keys.sort_unstable();
            part
        },
    );

    let mut report = ScanReport::default();
    // Colour mode → the indices of the files in it (paths are looked up only for the report).
    let mut modes: BTreeMap<(&'static str, bool), Vec<usize>> = BTreeMap::new();
    // (size, CRC-32, file index) of every non-empty file.
    let mut keys: Vec<(u64, u32, usize)> = Vec::new();
    let mut kinds = [0u64; Kind::ALL.len()];
    let mut records: Vec<(usize, FileRecord)> = Vec::new();
    for mut part in partials {
        report.summary.files += part.files;
        report.summary.bytes += part.bytes;
        report.findings.append(&mut part.findings);
        for (k, n) in kinds.iter_mut().zip(part.kinds) {
            *k += n;
        }
        for (m, mut idx) in part.modes {
            modes.entry(m).or_default().append(&mut idx);
        }
        keys.append(&mut part.keys);
        records.append(&mut part.records);
    }
    for idx in modes.values_mut() {
        idx.sort_unstable();
    }
    // Each thread's records and keys are sorted, so these stable sorts only merge the runs.
    records.sort_by_key(|(i, _)| *i);
    for (k, n) in Kind::ALL.iter().zip(kinds) {
        if n > 0 {
            report.summary.kinds.insert(k.name(), n);
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
            let list: Vec<String> = idx.iter().map(|&i| shown(&files[i])).collect();
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
    // Candidates share size and CRC-32; BLAKE3 confirms them. The keys are one sorted run per
    // thread: the stable sort merges runs, where the unstable one would sort from scratch.
    #[allow(clippy::stable_sort_primitive)]
    keys.sort();
    let mut by_hash: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for group in keys.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        if group.len() < 2 {
            continue;
        }
        for &(_, _, i) in group {
            let rel = &files[i];
            let known = records
                .binary_search_by_key(&i, |(j, _)| *j)
                .ok()
                .map(|at| records[at].1.blake3.clone())
                .filter(|h| !h.is_empty());
            if let Some(h) = known.or_else(|| blake3_file(&root.join(&**rel)).ok()) {
                by_hash.entry(h).or_default().push(shown(rel));
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
    report.files = records
        .into_iter()
        .map(|(i, mut r)| {
            r.path = shown(&files[i]);
            r
        })
        .collect();
    report.summary.seconds = started.elapsed().as_secs_f64();
    report
}

/// What one thread gathered from the files it scanned.
struct Partial {
    /// The read buffer, reused from file to file.
    scratch: Vec<u8>,
    folder: FolderCache,
    findings: Vec<Finding>,
    /// Whether to keep `records` (for a manifest).
    keep_records: bool,
    /// The records of the files read (without their paths, which are the listing's).
    records: Vec<(usize, FileRecord)>,
    files: u64,
    bytes: u64,
    kinds: [u64; Kind::ALL.len()],
    modes: BTreeMap<(&'static str, bool), Vec<usize>>,
    keys: Vec<(u64, u32, usize)>,
    /// Files and bytes done but not yet added to the shared progress counters.
    unreported: (u64, u64),
}

impl Partial {
    fn new(keep_records: bool) -> Self {
        Partial {
            keep_records,
            scratch: Vec::new(),
            folder: FolderCache::default(),
            findings: Vec::new(),
            records: Vec::new(),
            files: 0,
            bytes: 0,
            kinds: [0; Kind::ALL.len()],
            modes: BTreeMap::new(),
            keys: Vec::new(),
            unreported: (0, 0),
        }
    }

    fn add(&mut self, i: usize, r: FileResult, progress: Option<&Progress>) {
        self.findings.extend(r.findings);
        self.kinds[r.kind as usize] += 1;
        if let Some(m) = r.mode {
            self.modes.entry(m).or_default().push(i);
        }
        if let Some(rec) = r.record {
            if rec.size > 0
                && let Some((size, crc)) = r.key
            {
                self.keys.push((size, crc, i));
            }
            self.unreported.1 += rec.size;
            self.files += 1;
            self.bytes += rec.size;
            if self.keep_records {
                self.records.push((i, rec));
            }
        }
        self.unreported.0 += 1;
        // The shared counters are touched every 64 files or 16 MiB, not per file: two
        // threads bumping one cache line per small file cost more than the file's checks.
        if self.unreported.0 >= 64 || self.unreported.1 >= 16 << 20 {
            self.flush_progress(progress);
        }
    }

    fn flush_progress(&mut self, progress: Option<&Progress>) {
        if let Some(p) = progress {
            p.files.fetch_add(self.unreported.0, Ordering::Relaxed);
            p.bytes.fetch_add(self.unreported.1, Ordering::Relaxed);
        }
        self.unreported = (0, 0);
    }
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
/// The folder of the last file opened, held open so that the next file in it is opened by its
/// name (`openat`): the kernel then looks up one path component instead of all of them, which
/// is most of the cost of opening a small file. Files come sorted, so a thread's files share
/// their folder run after run.
#[derive(Default)]
struct FolderCache {
    /// The folder held, as the relative path's bytes before its last slash.
    dir: Vec<u8>,
    fd: Option<rustix::fd::OwnedFd>,
}

impl FolderCache {
    /// Opens `rel` under `root`.
    fn open(&mut self, root: &Path, rel: &OsStr) -> std::io::Result<std::fs::File> {
        use rustix::fs::{Mode, OFlags};
        let bytes = rel.as_bytes();
        // The folder is the part before the last slash (none: the root itself).
        let (parent, name) = match memchr::memrchr(b'/', bytes) {
            Some(0) => (&b"/"[..], &bytes[1..]),
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (&b""[..], bytes),
        };
        if name.is_empty() {
            return std::fs::File::open(root.join(rel));
        }
        if self.fd.is_none() || self.dir != parent {
            // O_PATH needs only search permission on the folder, as opening by full path does.
            #[cfg(target_os = "linux")]
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            #[cfg(not(target_os = "linux"))]
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let dir = root.join(OsStr::from_bytes(parent));
            self.fd = rustix::fs::open(&dir, flags, Mode::empty()).ok();
            parent.clone_into(&mut self.dir);
        }
        match &self.fd {
            Some(fd) => rustix::fs::openat(
                fd,
                OsStr::from_bytes(name),
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map(std::fs::File::from)
            .map_err(std::io::Error::from),
            None => std::fs::File::open(root.join(rel)),
        }
    }
}

/// Reads `file` on from `buf[..n]` into `buf` (whose length is its usable, already zeroed
/// capacity: it is zeroed when it grows, not per file), up to `limit` bytes in all. Stops at
/// the end of the file, at `limit`, or after a short read that leaves `complete` true of the
/// bytes so far. Returns how many bytes `buf` holds and whether the end of the file was seen
/// (or `limit` reached).
///
/// A short read from a regular file is its end, so when the format's own closing bytes end
/// the buffer (a JPEG's EOI, a PNG's IEND), the last read, which would return nothing, is
/// skipped: two system calls per small file instead of three. Should a file system ever
/// return a short read before the end, the caller reads on before reporting the file as
/// broken (see [`check_file`]), so no finding rests on a partial read.
fn read_on(
    file: &mut impl Read,
    buf: &mut Vec<u8>,
    mut n: usize,
    limit: usize,
    complete: impl Fn(&[u8]) -> bool,
) -> std::io::Result<(usize, bool)> {
    loop {
        if n >= limit {
            return Ok((n, true));
        }
        if n == buf.len() {
            let grow = buf.len().max(64 << 10).min(limit - n);
            buf.resize(n + grow, 0);
        }
        let end = buf.len().min(limit);
        match file.read(&mut buf[n..end]) {
            Ok(0) => return Ok((n, true)),
            Ok(k) => {
                n += k;
                if n < end && complete(&buf[..n]) {
                    return Ok((n, false));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[allow(clippy::too_many_lines)] // one branch per kind
fn check_file(
    root: &Path,
    rel_path: &OsStr,
    opts: &ScanOptions,
    scratch: &mut Vec<u8>,
    folder: &mut FolderCache,
) -> FileResult {
    let shown_rel = rel_path.to_string_lossy();
    let rel: &str = &shown_rel;
    // The full path, for the readers that open the file again (tables, arrays, hashing).
    let path = || root.join(rel_path);
    let mut out = FileResult {
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
    let mut file = match folder.open(root, rel_path) {
        Ok(f) => f,
        Err(e) => {
            out.findings.push(unreadable(&e));
            return out;
        }
    };
    let max_image = usize::try_from(MAX_IMAGE_BYTES).unwrap_or(usize::MAX);
    // An image without a manifest to write: open, read, close, as the read floor does (see
    // `read_on`). Otherwise the size and mtime come from one fstat.
    // `whole`: how many bytes of the file `scratch` holds, when it holds it all.
    let mut whole = None;
    // A read that stopped at the format's closing bytes, before seeing the end of the file.
    let mut stopped_early = false;
    let (size, mtime) = if ext_kind.is_some_and(is_image) && !opts.hash {
        match read_on(&mut file, scratch, 0, max_image, image::looks_complete) {
            Ok((n, eof)) => {
                whole = Some(n);
                stopped_early = !eof;
                (n as u64, 0)
            }
            Err(e) => {
                out.findings.push(unreadable(&e));
                return out;
            }
        }
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
            path: String::new(),
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
    if whole.is_none()
        && (ext_kind.is_some_and(is_image) && size <= MAX_IMAGE_BYTES || size <= 64 << 10)
    {
        // The size is known: reading exactly that much is the whole file.
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        match read_on(&mut file, scratch, 0, size, |_| false) {
            Ok((n, _)) => whole = Some(n),
            Err(e) => {
                out.findings.push(unreadable(&e));
                return out;
            }
        }
    }
    let mut head_buf = [0u8; 64];
    let head: &[u8] = match whole {
        Some(n) => &scratch[..n.min(64)],
        None => match file.read(&mut head_buf) {
            Ok(n) => &head_buf[..n],
            Err(e) => {
                out.findings.push(unreadable(&e));
                return out;
            }
        },
    };
    let sniffed = sniff(head);
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
        match whole {
            Some(n) => blake3::hash(&scratch[..n]).to_hex().to_string(),
            None => match blake3_file(&path()) {
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
    out.key = match whole {
        Some(n) => Some((size, crc32fast::hash(&scratch[..n]))),
        None => crc32_file(&path()).ok().map(|c| (size, c)),
    };
    out.record = Some(FileRecord {
        path: String::new(),
        size,
        mtime,
        blake3: hash,
    });

    match kind {
        Kind::Jpeg | Kind::Png | Kind::Gif | Kind::Webp | Kind::Bmp => {
            let Some(mut n) = whole else {
                return out;
            };
            let mut checked = image::check(kind, &scratch[..n]);
            if stopped_early && (checked.is_err() || opts.decode) {
                // Confirm with a read to the end of the file before reporting anything.
                match read_on(&mut file, scratch, n, max_image, |_| false) {
                    Ok((m, _)) if m > n => {
                        n = m;
                        checked = image::check(kind, &scratch[..n]);
                        if let Some(r) = &mut out.record {
                            r.size = n as u64;
                        }
                        out.key = Some((n as u64, crc32fast::hash(&scratch[..n])));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        out.findings.push(unreadable(&e));
                        return out;
                    }
                }
            }
            let bytes = &scratch[..n];
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
        Kind::Npy => check_npy(&path(), size, &at, &mut out.findings),
        Kind::Safetensors => check_safetensors(&path(), size, &at, &mut out.findings),
        Kind::Csv | Kind::Tsv => {
            let delim = if kind == Kind::Tsv { b'\t' } else { b',' };
            match table::scan_file(&path(), delim) {
                Ok(t) => table_findings(&t, rel, &mut out.findings),
                Err(e) => out.findings.push(unreadable(&e)),
            }
        }
        Kind::Jsonl => match std::fs::File::open(path()).and_then(table::scan_jsonl) {
            Ok(t) => table_findings(&t, rel, &mut out.findings),
            Err(e) => out.findings.push(unreadable(&e)),
        },
        Kind::Other => {}
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_read_from_the_file_name() {
        assert_eq!(by_extension("a/b/photo.JPG"), Some(Kind::Jpeg));
        assert_eq!(by_extension("x.jfif"), Some(Kind::Jpeg));
        assert_eq!(by_extension("weights.safetensors"), Some(Kind::Safetensors));
        assert_eq!(by_extension("t.NDJSON"), Some(Kind::Jsonl));
        assert_eq!(by_extension("dir.jpg/readme"), None);
        assert_eq!(by_extension("noext"), None);
        assert_eq!(by_extension("trailing."), None);
        assert_eq!(by_extension("x.longerthansafetensors"), None);
        assert_eq!(by_extension("é.png"), Some(Kind::Png));
        for (i, k) in Kind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }

    /// Hands out its bytes a few at a time, as a file system may.
    struct Dribble<'a>(&'a [u8], usize);

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn reading_stops_early_only_at_closing_bytes() {
        let data = b"\xFF\xD8 first part \xFF\xD9 and more after";
        let mut buf = Vec::new();
        // Short reads that never end in a closing marker: read to the end.
        let (n, eof) = read_on(&mut Dribble(data, 5), &mut buf, 0, 1 << 20, |_| false).unwrap();
        assert_eq!((&buf[..n], eof), (&data[..], true));
        // A short read ending where `complete` holds stops there, not at the end.
        let stop = |b: &[u8]| b.ends_with(b"\xFF\xD9");
        let (n, eof) = read_on(&mut Dribble(data, 4), &mut buf, 0, 1 << 20, stop).unwrap();
        assert_eq!((&buf[..n], eof), (&data[..16], false));
        // Reading on from there reaches the end.
        let mut rest = Dribble(&data[16..], 7);
        let (m, eof) = read_on(&mut rest, &mut buf, n, 1 << 20, |_| false).unwrap();
        assert_eq!((&buf[..m], eof), (&data[..], true));
        // The limit caps the bytes read, and larger files grow the buffer.
        let big = vec![7u8; 200 << 10];
        let (n, eof) = read_on(&mut Dribble(&big, 1 << 20), &mut buf, 0, 150 << 10, |_| {
            false
        })
        .unwrap();
        assert_eq!((n, eof), (150 << 10, true));
        let (n, _) = read_on(&mut &big[..], &mut buf, 0, 1 << 20, |_| false).unwrap();
        assert_eq!(n, big.len());
    }

    #[test]
    fn folder_cache_opens_across_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/x"), "ax").unwrap();
        std::fs::write(root.join("a/b/y"), "aby").unwrap();
        let mut cache = FolderCache::default();
        let read = |c: &mut FolderCache, rel: &str| {
            let mut s = String::new();
            c.open(root, OsStr::new(rel))?.read_to_string(&mut s)?;
            std::io::Result::Ok(s)
        };
        std::fs::write(root.join("top"), "top").unwrap();
        assert_eq!(read(&mut cache, "a/x").unwrap(), "ax");
        assert_eq!(read(&mut cache, "a/b/y").unwrap(), "aby");
        assert_eq!(read(&mut cache, "a/x").unwrap(), "ax");
        assert_eq!(read(&mut cache, "top").unwrap(), "top");
        let missing = read(&mut cache, "a/nope").unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        // A folder that does not exist falls back to opening by path, with its error.
        let gone = read(&mut cache, "gone/z").unwrap_err();
        assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
        // An absolute path (a file named outside the root) is opened as it is.
        let abs = root.join("a/b/y");
        assert_eq!(read(&mut cache, abs.to_str().unwrap()).unwrap(), "aby");
    }

    #[test]
    fn listing_is_sorted_by_path_skips_hidden_and_links() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for f in [
            "a/x",
            "a/c/y",
            "a/z",
            "a-b/w",
            "a.jpg",
            ".hidden/h",
            "a/.h",
            "b/d/e/f",
            "lost+found/#1234",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f).unwrap();
        }
        std::os::unix::fs::symlink(root.join("a/x"), root.join("a/link")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("dirlink")).unwrap();
        let (files, errors) = list_files(&[root.to_path_buf()], root, None);
        assert!(errors.is_empty());
        let rels: Vec<&str> = files.iter().map(|r| r.to_str().unwrap()).collect();
        assert_eq!(rels, ["a-b/w", "a.jpg", "a/c/y", "a/x", "a/z", "b/d/e/f"]);
        // Files named directly are kept, relative to the root given.
        let (files, _) = list_files(&[root.join("a/x"), root.join("b")], root, None);
        let rels: Vec<&str> = files.iter().map(|r| r.to_str().unwrap()).collect();
        assert_eq!(rels, ["a/x", "b/d/e/f"]);
        // The root itself named, or "." as the root: the same relative paths.
        let (files, _) = list_files(&[PathBuf::from(".")], Path::new("."), None);
        assert!(files.iter().all(|r| !r.as_bytes().starts_with(b"./")));
        // What cannot be listed is an error, not an empty folder.
        assert!(read_folder(root, OsStr::new("a.jpg")).is_err());
        assert!(read_folder(root, OsStr::new("gone")).is_err());
    }

    #[test]
    fn names_that_are_not_utf8_are_read_and_shown_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let name = OsStr::from_bytes(b"caf\xe9");
        std::fs::create_dir(root.join(name)).unwrap();
        std::fs::write(root.join(name).join(name), b"").unwrap();
        let r = scan(&[root.to_path_buf()], root, &ScanOptions::default());
        let found: Vec<(&str, &str)> = r
            .findings
            .iter()
            .map(|f| (f.code.as_str(), f.location.path.as_str()))
            .collect();
        assert_eq!(found, [("DATA001", "caf\u{fffd}/caf\u{fffd}")]);
    }

    #[test]
    fn a_fifo_named_is_reported_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("pipe.jpg");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        // Would block forever if it were opened for reading.
        let r = scan(&[fifo], tmp.path(), &ScanOptions::default());
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].code, "IO001");
        assert!(r.findings[0].message.contains("not a regular file"));
        assert_eq!(r.summary.files, 0);
    }
}
