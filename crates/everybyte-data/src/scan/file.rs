//! One file, from the open to its facts: read once (whole, when it is an image or small),
//! sized, sniffed, hashed, then handed to the pass of its kind.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;

use everybyte_core::Finding;

use super::read::{FolderCache, MAX_IMAGE_BYTES, read_on};
use super::{
    FileRecord, Kind, ScanOptions, arrays, by_extension, columns, hash, images, records, sniff,
    tables,
};
use crate::facts::{Fact, Facts, FileFacts};

/// What the scan of one file adds to its thread's partial report.
pub(crate) struct FileResult {
    pub record: Option<FileRecord>,
    /// The image's colour mode, and whether it has 16 bits per sample.
    pub mode: Option<(&'static str, bool)>,
    /// Size and CRC-32 of the content: equal keys are duplicate candidates.
    pub key: Option<(u64, u32)>,
    pub kind: Kind,
    pub findings: Vec<Finding>,
    /// A columnar file's columns and rows.
    pub schema: Option<Columnar>,
}

/// What the dataset's checks need of a columnar file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Columnar {
    /// Each column's name and type.
    pub schema: Vec<(String, String)>,
    /// The rows read.
    pub rows: u64,
}

impl FileResult {
    /// The IO001 finding for a read that failed.
    pub fn unreadable(&mut self, rel: &str, e: &std::io::Error) {
        self.findings
            .push(everybyte_core::rules::unreadable(rel, "cannot read", e));
    }
}

fn is_image(k: Kind) -> bool {
    matches!(
        k,
        Kind::Jpeg | Kind::Png | Kind::Gif | Kind::Webp | Kind::Bmp
    )
}

/// Scans the file `rel_path` under `root`. `scratch` is the thread's read buffer, `folder` its
/// held folder, `facts` its facts (refilled here).
pub(crate) fn check_file(
    root: &Path,
    rel_path: &OsStr,
    opts: &ScanOptions,
    scratch: &mut Vec<u8>,
    folder: &mut FolderCache,
    facts: &mut Facts,
) -> FileResult {
    let shown_rel = rel_path.to_string_lossy();
    let rel: &str = &shown_rel;
    facts.rel.clear();
    facts.rel.push_str(rel);
    facts.fact = Fact::Nothing;
    // The full path, for the readers that open the file again (tables, arrays, hashing).
    let path = || root.join(rel_path);
    let mut out = FileResult {
        record: None,
        key: None,
        kind: Kind::Other,
        findings: Vec::new(),
        mode: None,
        schema: None,
    };
    let ext_kind = by_extension(rel);
    let Opened {
        mut file,
        size,
        mtime,
        whole,
        stopped_early,
    } = match open_and_read(root, rel_path, ext_kind, opts, scratch, folder) {
        Ok(o) => o,
        Err(e) => {
            out.unreadable(rel, &e);
            return out;
        }
    };
    if size == 0 {
        facts.fact = Fact::File(FileFacts {
            size,
            sniffed: None,
            extension: ext_kind,
        });
        crate::rules::judge(facts, &mut out.findings);
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
    let mut head_buf = [0u8; 64];
    let head: &[u8] = match whole {
        Some(n) => &scratch[..n.min(64)],
        None => match file.read(&mut head_buf) {
            Ok(n) => &head_buf[..n],
            Err(e) => {
                out.unreadable(rel, &e);
                return out;
            }
        },
    };
    let sniffed = sniff(head);
    let kind = sniffed.or(ext_kind).unwrap_or(Kind::Other);
    out.kind = kind;
    facts.fact = Fact::File(FileFacts {
        size,
        sniffed,
        extension: ext_kind,
    });
    crate::rules::judge(facts, &mut out.findings);
    let hash = if opts.hash {
        match whole {
            Some(n) => blake3::hash(&scratch[..n]).to_hex().to_string(),
            None => match hash::blake3_file(&path()) {
                Ok(h) => h,
                Err(e) => {
                    out.unreadable(rel, &e);
                    return out;
                }
            },
        }
    } else {
        String::new()
    };
    out.key = match whole {
        Some(n) => Some((size, crc32fast::hash(&scratch[..n]))),
        // Hashed whole already, for the manifest: its BLAKE3 is the key.
        None if !hash.is_empty() => u32::from_str_radix(&hash[..8], 16).ok().map(|h| (size, h)),
        None => hash::crc32_ends(&path(), size).ok().map(|c| (size, c)),
    };
    out.record = Some(FileRecord {
        path: String::new(),
        size,
        mtime,
        blake3: hash,
    });

    let file = ReadSoFar {
        file: &mut file,
        scratch,
        whole,
        stopped_early,
    };
    pass(kind, &path(), size, file, opts, facts, &mut out);
    out
}

/// The file as opened and read by [`open_and_read`].
struct Opened {
    file: std::fs::File,
    size: u64,
    /// Seconds since the epoch (0 when not asked for: an image without a manifest).
    mtime: u64,
    /// How many bytes of the file the read buffer holds, when it holds it all.
    whole: Option<usize>,
    /// A read that stopped at the format's closing bytes, before seeing the end of the file.
    stopped_early: bool,
}

/// Opens the file and reads it whole when it is an image or small. An image without a
/// manifest to write: open, read, close, as the read floor does (see `read_on`). Otherwise the
/// size and mtime come from one fstat.
fn open_and_read(
    root: &Path,
    rel_path: &OsStr,
    ext_kind: Option<Kind>,
    opts: &ScanOptions,
    scratch: &mut Vec<u8>,
    folder: &mut FolderCache,
) -> std::io::Result<Opened> {
    let mut file = folder.open(root, rel_path)?;
    let max_image = usize::try_from(MAX_IMAGE_BYTES).unwrap_or(usize::MAX);
    if ext_kind.is_some_and(is_image) && !opts.hash {
        let (n, eof) = read_on(
            &mut file,
            scratch,
            0,
            max_image,
            crate::image::looks_complete,
        )?;
        return Ok(Opened {
            file,
            size: n as u64,
            mtime: 0,
            whole: Some(n),
            stopped_early: !eof,
        });
    }
    let m = file.metadata()?;
    let size = m.len();
    let mtime = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let mut whole = None;
    // An empty file is reported before anything is read.
    if size > 0 && (ext_kind.is_some_and(is_image) && size <= MAX_IMAGE_BYTES || size <= 64 << 10) {
        // The size is known: reading exactly that much is the whole file.
        let limit = usize::try_from(size).unwrap_or(usize::MAX);
        whole = Some(read_on(&mut file, scratch, 0, limit, |_| false)?.0);
    }
    Ok(Opened {
        file,
        size,
        mtime,
        whole,
        stopped_early: false,
    })
}

/// The file and the bytes of it read so far.
struct ReadSoFar<'a> {
    file: &'a mut std::fs::File,
    scratch: &'a mut Vec<u8>,
    whole: Option<usize>,
    stopped_early: bool,
}

/// Hands the file to the pass of its kind.
fn pass(
    kind: Kind,
    path: &Path,
    size: u64,
    read: ReadSoFar<'_>,
    opts: &ScanOptions,
    facts: &mut Facts,
    out: &mut FileResult,
) {
    match kind {
        Kind::Jpeg | Kind::Png | Kind::Gif | Kind::Webp | Kind::Bmp => {
            let ReadSoFar {
                file,
                scratch,
                whole,
                stopped_early,
            } = read;
            if let Some(n) = whole {
                let read = images::Read {
                    file,
                    scratch,
                    n,
                    stopped_early,
                };
                images::check(kind, read, opts, facts, out);
            }
        }
        Kind::Npy => arrays::check_npy(path, size, facts, &mut out.findings),
        Kind::Safetensors => arrays::check_safetensors(path, size, facts, &mut out.findings),
        Kind::Csv | Kind::Tsv | Kind::Jsonl => tables::check(kind, path, facts, out),
        Kind::TfRecord => records::check_tfrecord(path, facts, out),
        Kind::Tar => records::check_tar(path, size, facts, out),
        Kind::Parquet | Kind::Arrow => columns::check(kind, path, facts, out),
        Kind::Other => {}
    }
}
