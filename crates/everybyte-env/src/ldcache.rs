//! `/etc/ld.so.cache`, read directly (the `glibc-ld.so.cache1.1` format; the older
//! `ld.so-1.7.0` prefix is skipped), as the dynamic loader reads it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const HEADER: usize = 48;
const ENTRY: usize = 24;

/// Library name → paths, in cache order, for one kind of object.
#[derive(Debug, Default, Clone)]
pub struct LdCache {
    entries: HashMap<String, Vec<(i32, PathBuf)>>,
}

/// The flags ldconfig records for a 64-bit x86 or aarch64 libc6 library.
fn flags_for(machine: u16, class64: bool) -> Option<i32> {
    match (machine, class64) {
        (62, true) => Some(0x0303),
        (183, true) => Some(0x0a03),
        (3, false) => Some(0x0003),
        _ => None,
    }
}

impl LdCache {
    pub fn load(path: &Path) -> std::io::Result<LdCache> {
        let data = std::fs::read(path)?;
        Ok(Self::parse(&data))
    }

    /// Parses the cache; a malformed cache yields what could be read (possibly nothing).
    pub fn parse(data: &[u8]) -> LdCache {
        let mut cache = LdCache::default();
        let Some(base) = find(data, NEW_MAGIC) else {
            return cache;
        };
        let u32_at = |o: usize| {
            data.get(o..o + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let Some(nlibs) = u32_at(base + 20) else {
            return cache;
        };
        for i in 0..nlibs as usize {
            let at = base + HEADER + i * ENTRY;
            let (Some(flags), Some(key), Some(value)) =
                (u32_at(at), u32_at(at + 4), u32_at(at + 8))
            else {
                break;
            };
            // String offsets are relative to the new-format header.
            let (Some(name), Some(path)) = (
                cstr(data, base + key as usize),
                cstr(data, base + value as usize),
            ) else {
                continue;
            };
            cache
                .entries
                .entry(name)
                .or_default()
                .push((flags.cast_signed(), PathBuf::from(path)));
        }
        cache
    }

    /// The first path the cache gives for `name` that suits an object of this machine/class.
    pub fn lookup(&self, name: &str, machine: u16, class64: bool) -> Option<&Path> {
        let want = flags_for(machine, class64);
        self.entries
            .get(name)?
            .iter()
            .find(|(f, _)| want.is_none_or(|w| *f == w))
            .map(|(_, p)| p.as_path())
    }

    pub fn len(&self) -> usize {
        self.entries.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn cstr(data: &[u8], at: usize) -> Option<String> {
    let rest = data.get(at..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_hosts_cache() {
        let Ok(cache) = LdCache::load(Path::new("/etc/ld.so.cache")) else {
            return;
        };
        assert!(!cache.is_empty());
        let libc = cache.lookup("libc.so.6", 62, true);
        assert!(libc.is_some_and(|p| p.ends_with("libc.so.6")), "{libc:?}");
    }

    #[test]
    fn garbage_is_empty_not_a_panic() {
        assert!(LdCache::parse(b"").is_empty());
        let mut fake = NEW_MAGIC.to_vec();
        fake.extend_from_slice(&[0xff; 40]);
        assert!(LdCache::parse(&fake).is_empty());
    }
}
