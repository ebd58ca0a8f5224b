//! Shards: a scan split across machines by a hash of each file's relative path.

/// FNV-1a of the path: a shard assignment stable across machines and runs.
pub fn shard_of(rel: impl AsRef<[u8]>, n: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in rel.as_ref() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % n
}
