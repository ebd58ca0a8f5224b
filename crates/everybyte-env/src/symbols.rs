//! The dynamic symbol table of an ELF object (`.dynsym` and its string table): the symbols it
//! needs from the libraries it loads, and the ones it offers them. With `RTLD_NOW`, the way
//! Python opens an extension module, every strong undefined symbol must be defined by an
//! object in the load's scope, or the import fails with `undefined symbol: …`.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::elf::ElfError;
use crate::mapped::{FileBytes, Files};

const SHT_DYNSYM: u32 = 11;
const SHT_HASH: u32 = 5;
const SHT_GNU_HASH: u32 = 0x6fff_fff6;
const SHN_UNDEF: u16 = 0;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const STB_GNU_UNIQUE: u8 = 10;
const STV_HIDDEN: u8 = 2;
const STV_INTERNAL: u8 = 1;

/// The dynamic symbols of one object.
#[derive(Debug, Default, Clone)]
pub struct Symbols {
    /// Strong (non-weak) undefined symbols: each must be found in the load's scope.
    pub undefined: Vec<String>,
    /// How definitions are looked up: through the object's own hash table, as the loader
    /// does (the cost follows the lookups, not the size of the table), or a set built from
    /// the table when it has none.
    lookup: Lookup,
    le: bool,
    c64: bool,
    /// The file's bytes, and where its `.dynsym` and `.dynstr` lie in them.
    data: Arc<FileBytes>,
    syms: Range<usize>,
    strs: Range<usize>,
    ent: u64,
}

#[derive(Debug, Default, Clone)]
enum Lookup {
    #[default]
    None,
    Gnu {
        nbuckets: u32,
        symoffset: u32,
        bloom_shift: u32,
        /// Bloom words, buckets and chains, decoded.
        bloom: Vec<u64>,
        buckets: Vec<u32>,
        chains: Vec<u32>,
    },
    SysV {
        buckets: Vec<u32>,
        chains: Vec<u32>,
    },
    Set(HashSet<Box<[u8]>>),
}

impl Symbols {
    fn syms(&self) -> &[u8] {
        self.data.get(self.syms.clone()).unwrap_or_default()
    }

    fn strs(&self) -> &[u8] {
        self.data.get(self.strs.clone()).unwrap_or_default()
    }

    /// Whether its definitions can be looked up at all (it has a dynamic symbol table).
    pub fn is_known(&self) -> bool {
        !matches!(self.lookup, Lookup::None)
    }

    /// Whether the object exports a definition of `name` (global, weak or unique binding;
    /// default or protected visibility).
    pub fn defines(&self, name: &str) -> bool {
        let name = name.as_bytes();
        match &self.lookup {
            Lookup::None => false,
            Lookup::Set(set) => set.contains(name),
            Lookup::Gnu {
                nbuckets,
                symoffset,
                bloom_shift,
                bloom,
                buckets,
                chains,
            } => {
                let h = gnu_hash(name);
                if !bloom.is_empty() {
                    let bits: u32 = if self.c64 { 64 } else { 32 };
                    let word = bloom[((h / bits) as usize) % bloom.len()];
                    let mask = (1u64 << (h % bits))
                        | (1u64 << (h.checked_shr(*bloom_shift).unwrap_or(0) % bits));
                    if word & mask != mask {
                        return false;
                    }
                }
                let Some(&start) = buckets.get((h % nbuckets) as usize) else {
                    return false;
                };
                if start < *symoffset {
                    return false;
                }
                let mut i = start;
                loop {
                    let Some(&c) = chains.get((i - symoffset) as usize) else {
                        return false;
                    };
                    if (c | 1) == (h | 1) && self.defined_at(i, name) {
                        return true;
                    }
                    if c & 1 == 1 {
                        return false;
                    }
                    let Some(next) = i.checked_add(1) else {
                        return false;
                    };
                    i = next;
                }
            }
            Lookup::SysV { buckets, chains } => {
                if buckets.is_empty() {
                    return false;
                }
                let h = sysv_hash(name);
                let mut i = buckets[(h as usize) % buckets.len()];
                for _ in 0..chains.len() {
                    if i == 0 {
                        return false;
                    }
                    if self.defined_at(i, name) {
                        return true;
                    }
                    let Some(&n) = chains.get(i as usize) else {
                        return false;
                    };
                    i = n;
                }
                false
            }
        }
    }

    /// The names of the symbols `wanted` (info, other, section index) accepts; a name is
    /// read only for those.
    fn scan(&self, wanted: impl Fn(u8, u8, u16) -> bool) -> Result<Vec<&[u8]>, ElfError> {
        let mut out = Vec::new();
        if self.ent == 0 {
            return Ok(out);
        }
        // Entry 0 is the null symbol.
        let (syms, strs) = (self.syms(), self.strs());
        for k in 1..syms.len() as u64 / self.ent {
            let (name_off, info, other, shndx) = entry(syms, k * self.ent, self.c64, self.le)?;
            if wanted(info, other, shndx) {
                let name = cstr_bytes(strs, name_off)?;
                if !name.is_empty() {
                    out.push(name);
                }
            }
        }
        Ok(out)
    }

    /// Whether symbol `i` is an exported definition named `name`.
    fn defined_at(&self, i: u32, name: &[u8]) -> bool {
        match entry(self.syms(), u64::from(i) * self.ent, self.c64, self.le) {
            Ok((name_off, info, other, shndx)) => {
                shndx != SHN_UNDEF
                    && exported(info, other)
                    && cstr_bytes(self.strs(), name_off).is_ok_and(|n| n == name)
            }
            Err(_) => false,
        }
    }
}

fn exported(info: u8, other: u8) -> bool {
    matches!(info >> 4, STB_GLOBAL | STB_WEAK | STB_GNU_UNIQUE)
        && !matches!(other & 3, STV_HIDDEN | STV_INTERNAL)
}

/// One `Elf_Sym`: (name offset, info, other, section index).
fn entry(syms: &[u8], at: u64, c64: bool, le: bool) -> Result<(u32, u8, u8, u16), ElfError> {
    let s = Bytes { b: syms, le };
    if c64 {
        Ok((s.u32(at)?, s.u8(at + 4)?, s.u8(at + 5)?, s.u16(at + 6)?))
    } else {
        Ok((s.u32(at)?, s.u8(at + 12)?, s.u8(at + 13)?, s.u16(at + 14)?))
    }
}

/// The GNU hash of a symbol name (`DT_GNU_HASH`).
fn gnu_hash(name: &[u8]) -> u32 {
    name.iter().fold(5381u32, |h, &c| {
        h.wrapping_mul(33).wrapping_add(u32::from(c))
    })
}

/// The System V ELF hash of a symbol name (`DT_HASH`).
fn sysv_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

/// The section tables hold a size read from the file: a hostile one is refused, not
/// allocated.
const MAX_TABLE: u64 = 512 << 20;

/// Reads the dynamic symbols of the file at `path` through a read-only mapping: only the
/// pages of its header, section headers and the tables looked at are touched.
pub fn read(path: &Path) -> std::io::Result<Result<Symbols, ElfError>> {
    Ok(parse(&Arc::new(crate::mapped::map(path)?)))
}

/// [`read`] on bytes already in memory.
pub fn parse_bytes(data: &[u8]) -> Result<Symbols, ElfError> {
    parse(&Arc::new(FileBytes::Owned(data.to_vec())))
}

/// The range of `n` bytes from `off`, cut at the end of the file; a hostile size is refused,
/// not trusted.
fn span(len: usize, off: u64, n: u64) -> Range<usize> {
    let a = usize::try_from(off).unwrap_or(usize::MAX).min(len);
    let b = a
        .saturating_add(usize::try_from(n.min(MAX_TABLE)).unwrap_or(usize::MAX))
        .min(len);
    a..b
}

fn parse(data: &Arc<FileBytes>) -> Result<Symbols, ElfError> {
    let bytes: &[u8] = data;
    let read = |off: u64, n: u64| -> &[u8] { &bytes[span(bytes.len(), off, n)] };
    let head = read(0, 64);
    let (le, c64) = crate::elf::ident(head)?;
    let h = Bytes { b: head, le };
    let (shoff, shentsize, shnum) = if c64 {
        (h.u64(0x28)?, h.u16(0x3a)?, h.u16(0x3c)?)
    } else {
        (u64::from(h.u32(0x20)?), h.u16(0x2e)?, h.u16(0x30)?)
    };
    let min_ent = if c64 { 0x40 } else { 0x28 };
    if shoff == 0 || shnum == 0 || u64::from(shentsize) < min_ent {
        return Ok(Symbols::default());
    }
    let table = read(shoff, u64::from(shentsize) * u64::from(shnum));
    let t = Bytes { b: table, le };
    // (offset, size, link) of a section header
    let section = |i: u64| -> Result<(u32, u64, u64, u32, u64), ElfError> {
        let base = i * u64::from(shentsize);
        Ok(if c64 {
            (
                t.u32(base + 4)?,
                t.u64(base + 0x18)?,
                t.u64(base + 0x20)?,
                t.u32(base + 0x28)?,
                t.u64(base + 0x38)?,
            )
        } else {
            (
                t.u32(base + 4)?,
                u64::from(t.u32(base + 0x10)?),
                u64::from(t.u32(base + 0x14)?),
                t.u32(base + 0x18)?,
                u64::from(t.u32(base + 0x24)?),
            )
        })
    };
    let mut out = Symbols {
        le,
        c64,
        data: Arc::clone(data),
        ..Symbols::default()
    };
    let mut dynsym_index = None;
    let mut hashes: Vec<(u32, u64, u64, u32)> = Vec::new();
    for i in 0..u64::from(shnum) {
        let (kind, off, size, link, entsize) = section(i)?;
        match kind {
            SHT_DYNSYM if dynsym_index.is_none() => {
                dynsym_index = Some(i);
                let (_, str_off, str_size, _, _) = section(u64::from(link))?;
                if size > MAX_TABLE || str_size > MAX_TABLE {
                    return Err(ElfError::Malformed("symbol table size"));
                }
                out.syms = span(bytes.len(), off, size);
                out.strs = span(bytes.len(), str_off, str_size);
                out.ent = if entsize == 0 {
                    if c64 { 24 } else { 16 }
                } else {
                    entsize
                };
            }
            SHT_GNU_HASH | SHT_HASH => hashes.push((kind, off, size, link)),
            _ => {}
        }
    }
    let Some(dynsym_index) = dynsym_index else {
        return Ok(out);
    };
    // An entry is 24 or 16 bytes; a file that claims a larger one is not trusted further.
    if out.ent < if c64 { 24 } else { 16 } || out.ent > 64 {
        return Err(ElfError::Malformed("symbol entry size"));
    }
    out.undefined = out
        .scan(|info, _, shndx| shndx == SHN_UNDEF && info >> 4 == STB_GLOBAL)?
        .into_iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    out.undefined.sort_unstable();
    out.undefined.dedup();
    // The GNU table if there is one for this symbol table, else the System V one.
    hashes.sort_by_key(|(kind, ..)| u32::from(*kind != SHT_GNU_HASH));
    for (kind, off, size, link) in hashes {
        if u64::from(link) != dynsym_index || size > MAX_TABLE {
            continue;
        }
        // A table cut short is skipped: the next one, or the set below, answers.
        if let Ok(Some(lookup)) = decode_hash(kind, read(off, size), c64, le) {
            out.lookup = lookup;
            return Ok(out);
        }
    }
    // No hash table: a set of the exported names.
    let set = out
        .scan(|info, other, shndx| shndx != SHN_UNDEF && exported(info, other))?
        .into_iter()
        .map(Into::into)
        .collect();
    out.lookup = Lookup::Set(set);
    Ok(out)
}

/// A `.gnu.hash` or `.hash` section, decoded; `None` when it is empty or cut short.
fn decode_hash(kind: u32, data: &[u8], c64: bool, le: bool) -> Result<Option<Lookup>, ElfError> {
    let b = Bytes { b: data, le };
    let words = |from: u64, n: u64| -> Result<Vec<u32>, ElfError> {
        (0..n).map(|j| b.u32(from + 4 * j)).collect()
    };
    if kind != SHT_GNU_HASH {
        let (nbucket, nchain) = (b.u32(0)?, b.u32(4)?);
        let buckets = words(8, u64::from(nbucket))?;
        let chains = words(8 + 4 * u64::from(nbucket), u64::from(nchain))?;
        return Ok(Some(Lookup::SysV { buckets, chains }));
    }
    let (nbuckets, symoffset, bloom_size, bloom_shift) =
        (b.u32(0)?, b.u32(4)?, b.u32(8)?, b.u32(12)?);
    let word = if c64 { 8 } else { 4 };
    let bloom_at = 16u64;
    let buckets_at = bloom_at + u64::from(bloom_size) * word;
    let chains_at = buckets_at + 4 * u64::from(nbuckets);
    if nbuckets == 0 || chains_at > data.len() as u64 {
        return Ok(None);
    }
    let bloom = (0..u64::from(bloom_size))
        .map(|j| {
            if c64 {
                b.u64(bloom_at + 8 * j)
            } else {
                b.u32(bloom_at + 4 * j).map(u64::from)
            }
        })
        .collect::<Result<Vec<u64>, _>>()?;
    let buckets = words(buckets_at, u64::from(nbuckets))?;
    let chains = words(chains_at, (data.len() as u64 - chains_at) / 4)?;
    Ok(Some(Lookup::Gnu {
        nbuckets,
        symoffset,
        bloom_shift,
        bloom,
        buckets,
        chains,
    }))
}

fn cstr_bytes(strs: &[u8], off: u32) -> Result<&[u8], ElfError> {
    let rest = strs
        .get(off as usize..)
        .ok_or(ElfError::Malformed("symbol name offset"))?;
    let end = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or(ElfError::Malformed("unterminated symbol name"))?;
    Ok(&rest[..end])
}

/// An integer from its bytes in the file's byte order.
macro_rules! endian {
    ($le:expr, $t:ty, $a:expr) => {
        if $le {
            <$t>::from_le_bytes($a)
        } else {
            <$t>::from_be_bytes($a)
        }
    };
}

struct Bytes<'a> {
    b: &'a [u8],
    le: bool,
}

impl Bytes<'_> {
    fn get<const N: usize>(&self, off: u64) -> Result<[u8; N], ElfError> {
        let start = usize::try_from(off).map_err(|_| ElfError::Malformed("offset"))?;
        self.b
            .get(start..start.saturating_add(N))
            .and_then(|s| s.try_into().ok())
            .ok_or(ElfError::Malformed("offset beyond its table"))
    }
    fn u8(&self, off: u64) -> Result<u8, ElfError> {
        Ok(self.get::<1>(off)?[0])
    }
    fn u16(&self, off: u64) -> Result<u16, ElfError> {
        let a = self.get(off)?;
        Ok(endian!(self.le, u16, a))
    }
    fn u32(&self, off: u64) -> Result<u32, ElfError> {
        let a = self.get(off)?;
        Ok(endian!(self.le, u32, a))
    }
    fn u64(&self, off: u64) -> Result<u64, ElfError> {
        let a = self.get(off)?;
        Ok(endian!(self.le, u64, a))
    }
}

/// Symbol tables read once and shared between threads; an unreadable one is `None`.
#[derive(Default)]
pub struct SymbolCache {
    files: Arc<Files>,
    map: Mutex<HashMap<PathBuf, Option<Arc<Symbols>>>>,
}

impl SymbolCache {
    /// A cache that reads the files `files` has mapped (those of an [`InfoCache`]).
    ///
    /// [`InfoCache`]: crate::resolve::InfoCache
    pub fn sharing(files: &Arc<Files>) -> SymbolCache {
        SymbolCache {
            files: Arc::clone(files),
            map: Mutex::default(),
        }
    }

    pub fn get(&self, path: &Path) -> Option<Arc<Symbols>> {
        if let Some(v) = everybyte_core::par::lock(&self.map).get(path) {
            return v.clone();
        }
        let parsed = self
            .files
            .get(path)
            .and_then(|bytes| parse(&bytes).ok())
            .map(Arc::new);
        everybyte_core::par::lock(&self.map).insert(path.to_owned(), parsed.clone());
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_libc_defines_malloc_and_needs_the_loader() {
        let p = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
        if !p.exists() {
            return;
        }
        let s = read(p).unwrap().unwrap();
        assert!(s.defines("malloc") && s.defines("printf"));
        assert!(!s.defines("PyInit_libc") && !s.defines("mallocx"));
        assert!(
            s.undefined.iter().any(|u| u.starts_with("_dl_")),
            "{:?}",
            s.undefined
        );
    }

    #[test]
    fn hostile_bytes_are_errors_not_panics() {
        let Ok(data) = std::fs::read("/lib/x86_64-linux-gnu/libm.so.6") else {
            return;
        };
        let from = |d: &[u8]| {
            if let Ok(s) = parse_bytes(d) {
                for name in ["malloc", "sin", "PyInit_x", ""] {
                    let _ = s.defines(name);
                }
            }
        };
        for cut in [0, 5, 64, 1000, data.len() / 2, data.len() - 1] {
            from(&data[..cut]);
        }
        let mut flipped = data.clone();
        for i in (0..flipped.len()).step_by(1009) {
            flipped[i] ^= 0xa5;
        }
        from(&flipped);
    }
}
