//! Opening and reading a file the way the read floor does: opened from its held folder, read
//! into a reused buffer, stopped at the format's closing bytes.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The most bytes of an image read and walked.
pub(crate) const MAX_IMAGE_BYTES: u64 = 512 << 20;

/// The folder of the last file opened, held open so that the next file in it is opened by its
/// name (`openat`): the kernel then looks up one path component instead of all of them, which
/// is most of the cost of opening a small file. Files come sorted, so a thread's files share
/// their folder run after run.
#[derive(Default)]
pub(crate) struct FolderCache {
    /// The folder held, as the relative path's bytes before its last slash.
    dir: Vec<u8>,
    fd: Option<rustix::fd::OwnedFd>,
}

impl FolderCache {
    /// Opens `rel` under `root`.
    pub(crate) fn open(&mut self, root: &Path, rel: &OsStr) -> std::io::Result<std::fs::File> {
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
/// broken (see [`super::file::check_file`]), so no finding rests on a partial read.
pub(crate) fn read_on(
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
