//! The parallel part of a scan: each thread folds the files it is handed (in guided chunks,
//! see `everybyte_core::par::fold_finish`) into its own partial report, and the partials are
//! joined once at the end. No lock and no shared counter per file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;

use everybyte_core::Finding;

use super::file::{Columnar, FileResult, check_file};
use super::read::FolderCache;
use super::{FileRecord, Kind, Progress, Rel, ScanOptions};
use crate::facts::Facts;

/// Colour mode (and whether 16 bits per sample) → the indices of the files in it.
pub(crate) type Modes = BTreeMap<(&'static str, bool), Vec<usize>>;

/// The partial reports of every thread, joined.
pub(crate) struct Joined {
    pub findings: Vec<Finding>,
    pub files: u64,
    pub bytes: u64,
    pub kinds: [u64; Kind::ALL.len()],
    /// Each mode's files, in listing order.
    pub modes: Modes,
    /// (size, CRC-32, file index) of every non-empty file, one sorted run per thread.
    pub keys: Vec<(u64, u32, usize)>,
    /// The records of the files read (paths not yet filled in), in listing order.
    pub records: Vec<(usize, FileRecord)>,
    /// The schemas of the columnar files, by file index.
    pub schemas: Vec<(usize, Columnar)>,
}

/// Scans `files` on all cores and joins what the threads found.
pub(crate) fn scan_all(root: &Path, files: &[Rel], opts: &ScanOptions) -> Joined {
    let partials = everybyte_core::par::fold_finish(
        files,
        || Partial::new(opts.hash),
        |part, i, rel| {
            let r = check_file(
                root,
                rel,
                opts,
                &mut part.scratch,
                &mut part.folder,
                &mut part.facts,
            );
            part.add(i, r, opts.progress.as_deref());
        },
        |mut part| {
            part.flush_progress(opts.progress.as_deref());
            part.keys.sort_unstable();
            part
        },
    );
    let mut out = Joined {
        findings: Vec::new(),
        files: 0,
        bytes: 0,
        kinds: [0; Kind::ALL.len()],
        modes: BTreeMap::new(),
        keys: Vec::new(),
        records: Vec::new(),
        schemas: Vec::new(),
    };
    for mut part in partials {
        out.schemas.append(&mut part.schemas);
        out.files += part.files;
        out.bytes += part.bytes;
        out.findings.append(&mut part.findings);
        for (k, n) in out.kinds.iter_mut().zip(part.kinds) {
            *k += n;
        }
        for (m, mut idx) in part.modes {
            out.modes.entry(m).or_default().append(&mut idx);
        }
        out.keys.append(&mut part.keys);
        out.records.append(&mut part.records);
    }
    for idx in out.modes.values_mut() {
        idx.sort_unstable();
    }
    // Each thread's records are sorted, so this stable sort only merges the runs.
    out.records.sort_by_key(|(i, _)| *i);
    out.schemas.sort_by_key(|(i, _)| *i);
    out
}

/// What one thread gathered from the files it scanned.
struct Partial {
    /// The read buffer, reused from file to file.
    scratch: Vec<u8>,
    folder: FolderCache,
    /// The facts the rules judge, reused from file to file.
    facts: Facts,
    findings: Vec<Finding>,
    /// Whether to keep `records` (for a manifest).
    keep_records: bool,
    /// The records of the files read (without their paths, which are the listing's).
    records: Vec<(usize, FileRecord)>,
    files: u64,
    bytes: u64,
    kinds: [u64; Kind::ALL.len()],
    modes: Modes,
    keys: Vec<(u64, u32, usize)>,
    schemas: Vec<(usize, Columnar)>,
    /// Files and bytes done but not yet added to the shared progress counters.
    unreported: (u64, u64),
}

impl Partial {
    fn new(keep_records: bool) -> Self {
        Partial {
            keep_records,
            scratch: Vec::new(),
            folder: FolderCache::default(),
            facts: Facts::default(),
            findings: Vec::new(),
            records: Vec::new(),
            files: 0,
            bytes: 0,
            kinds: [0; Kind::ALL.len()],
            modes: BTreeMap::new(),
            keys: Vec::new(),
            schemas: Vec::new(),
            unreported: (0, 0),
        }
    }

    fn add(&mut self, i: usize, r: FileResult, progress: Option<&Progress>) {
        self.findings.extend(r.findings);
        if let Some(s) = r.schema {
            self.schemas.push((i, s));
        }
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
