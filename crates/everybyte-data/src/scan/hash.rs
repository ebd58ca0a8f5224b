//! Content hashes: BLAKE3 for manifests and confirmed duplicates, CRC-32 for the cheap
//! duplicate candidates.

use std::path::Path;

pub(crate) fn blake3_file(path: &Path) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    h.update_mmap(path)?;
    Ok(h.finalize().to_hex().to_string())
}

/// The bytes at each end of a large file that its duplicate key covers.
const ENDS: u64 = 64 << 10;

/// A duplicate candidate's key for a file too large to have been read whole: the CRC-32 of
/// its first and last 64 KiB. Equal keys (with equal sizes) are only candidates, which BLAKE3
/// confirms over the whole files, so the key needs no more: reading every large file a second
/// time for it would double the cost of scanning shards.
pub(crate) fn crc32_ends(path: &Path, size: u64) -> std::io::Result<u32> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path)?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; usize::try_from(ENDS).unwrap_or(1 << 16)];
    for at in [0, size.saturating_sub(ENDS)] {
        let n = f.read_at(&mut buf, at)?;
        h.update(&buf[..n]);
    }
    Ok(h.finalize())
}
