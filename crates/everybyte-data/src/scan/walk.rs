//! The listing: folders read one level at a time on all cores with `getdents` (no file is
//! stat-ed), each folder's files sorted, the sorted runs joined into one sorted listing.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use everybyte_core::Finding;

use super::shard_of;

/// A listed file: its path relative to the scan's root (or the path as given, for a file
/// outside the root), bytes as the file system has them. One allocation per file, and the
/// file is opened from its folder (see `FolderCache`), so the listing keeps no full paths.
pub type Rel = Box<OsStr>;

/// `path` relative to `root`: a byte-prefix cut (the paths given start with the root as given),
/// falling back to `Path::strip_prefix`, then to the path itself.
pub(crate) fn relative(path: &Path, root: &Path) -> OsString {
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
pub(crate) fn shown(rel: &OsStr) -> String {
    rel.to_string_lossy().into_owned()
}

/// [`shown`], with the root itself (an empty relative path) shown as `.`.
pub(crate) fn shown_or_root(rel: &OsStr) -> String {
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
    let keep = |rel: &OsStr| shard.is_none_or(|(k, n)| shard_of(rel.as_bytes(), n) == k);
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
pub(crate) fn skipped(name: &[u8]) -> bool {
    name.first() == Some(&b'.') || name == b"lost+found"
}

/// `dir/name`, or `name` alone in the root, in one allocation of the right size.
pub(crate) fn child(dir: &OsStr, name: &[u8]) -> Rel {
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
pub(crate) fn read_folder(root: &Path, rel: &OsStr) -> std::io::Result<(Vec<Rel>, Vec<Rel>)> {
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
pub(crate) fn read_folder(root: &Path, rel: &OsStr) -> std::io::Result<(Vec<Rel>, Vec<Rel>)> {
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
