//! A small, bounds-checked reader of the parts of an ELF object that decide whether it will
//! load: its class and machine, `DT_NEEDED`, `DT_SONAME`, `DT_RPATH`, `DT_RUNPATH`, and the
//! GNU symbol-version sections (`.gnu.version_r`: versions it needs from each library;
//! `.gnu.version_d`: versions it defines). Every offset read from the file is checked, so a
//! truncated or hostile file gives an error, never a panic.

use std::fmt;

/// Why a file could not be read as ELF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file")]
    NotElf,
    #[error("unsupported ELF class or byte order")]
    Unsupported,
    #[error("truncated or malformed ELF: {0}")]
    Malformed(&'static str),
}

/// 32- or 64-bit, and the machine: objects of another kind are skipped when resolving, as
/// the dynamic loader skips them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind {
    pub class64: bool,
    pub little_endian: bool,
    pub machine: u16,
}

impl Kind {
    pub const X86_64: u16 = 62;
    pub const AARCH64: u16 = 183;
    pub const I386: u16 = 3;

    pub fn machine_name(&self) -> &'static str {
        match self.machine {
            Self::X86_64 => "x86-64",
            Self::AARCH64 => "aarch64",
            Self::I386 => "i386",
            40 => "arm",
            243 => "riscv",
            21 => "ppc64",
            22 => "s390",
            _ => "other",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ELF{} {}",
            if self.class64 { 64 } else { 32 },
            self.machine_name()
        )
    }
}

/// A version the object needs from one library (`.gnu.version_r`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionNeed {
    pub file: String,
    pub versions: Vec<String>,
}

/// What the loader cares about in one ELF object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicInfo {
    pub kind: Option<Kind>,
    /// `ET_EXEC`, `ET_DYN`, …
    pub elf_type: u16,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    pub version_needs: Vec<VersionNeed>,
    pub version_defs: Vec<String>,
    /// Whether the object has a dynamic section at all (static binaries and objects do not).
    pub is_dynamic: bool,
    /// Whether it names a program interpreter (`PT_INTERP`): an executable, not a library.
    pub has_interp: bool,
}

const SHT_DYNAMIC: u32 = 6;
const PT_INTERP: u32 = 3;
const SHT_GNU_VERDEF: u32 = 0x6fff_fffd;
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;

/// Whether bytes start like an ELF file.
pub fn is_elf(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
}

/// An object's bytes, read in its byte order and class.
struct Reader<'a> {
    data: &'a [u8],
    le: bool,
    c64: bool,
}

impl Reader<'_> {
    fn bytes(&self, off: u64, len: u64) -> Result<&[u8], ElfError> {
        let end = off
            .checked_add(len)
            .ok_or(ElfError::Malformed("offset overflow"))?;
        let a = usize::try_from(off).map_err(|_| ElfError::Malformed("offset"))?;
        let b = usize::try_from(end).map_err(|_| ElfError::Malformed("offset"))?;
        self.data
            .get(a..b)
            .ok_or(ElfError::Malformed("offset beyond end of file"))
    }
    fn u16(&self, off: u64) -> Result<u16, ElfError> {
        let b = self.bytes(off, 2)?;
        let a = [b[0], b[1]];
        Ok(if self.le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    }
    fn u32(&self, off: u64) -> Result<u32, ElfError> {
        let b = self.bytes(off, 4)?;
        let a = [b[0], b[1], b[2], b[3]];
        Ok(if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }
    fn u64(&self, off: u64) -> Result<u64, ElfError> {
        let b = self.bytes(off, 8)?;
        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        Ok(if self.le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        })
    }
    /// A word: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, off: u64) -> Result<u64, ElfError> {
        if self.c64 {
            self.u64(off)
        } else {
            self.u32(off).map(u64::from)
        }
    }
    fn cstr(&self, off: u64) -> Result<String, ElfError> {
        let rest = usize::try_from(off)
            .ok()
            .and_then(|a| self.data.get(a..))
            .ok_or(ElfError::Malformed("string beyond end of file"))?;
        let end = memchr_zero(rest).ok_or(ElfError::Malformed("unterminated string"))?;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }
}

fn memchr_zero(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == 0)
}

struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    entsize: u64,
}

/// Reads the dynamic-linking facts of an ELF object from its bytes.
pub fn parse(data: &[u8]) -> Result<DynamicInfo, ElfError> {
    let (le, c64) = ident(data)?;
    let r = Reader { data, le, c64 };
    parse_with(&r)
}

/// (little-endian, 64-bit) from the ELF identification bytes.
pub(crate) fn ident(data: &[u8]) -> Result<(bool, bool), ElfError> {
    if !is_elf(data) {
        return Err(ElfError::NotElf);
    }
    let c64 = match data.get(4) {
        Some(2) => true,
        Some(1) => false,
        _ => return Err(ElfError::Unsupported),
    };
    let le = match data.get(5) {
        Some(1) => true,
        Some(2) => false,
        _ => return Err(ElfError::Unsupported),
    };
    Ok((le, c64))
}

fn section_table(r: &Reader<'_>) -> Result<(u64, u16, u16), ElfError> {
    if r.c64 {
        Ok((r.u64(0x28)?, r.u16(0x3a)?, r.u16(0x3c)?))
    } else {
        Ok((u64::from(r.u32(0x20)?), r.u16(0x2e)?, r.u16(0x30)?))
    }
}

fn program_table(r: &Reader<'_>) -> Result<(u64, u16, u16), ElfError> {
    if r.c64 {
        Ok((r.u64(0x20)?, r.u16(0x36)?, r.u16(0x38)?))
    } else {
        Ok((u64::from(r.u32(0x1c)?), r.u16(0x2a)?, r.u16(0x2c)?))
    }
}

/// Where the program header that names an interpreter (`PT_INTERP`) is. A table that cannot
/// be read counts as none.
fn interp_header(r: &Reader<'_>) -> Option<u64> {
    let (phoff, phentsize, phnum) = program_table(r).ok()?;
    if phoff == 0 || phentsize < 4 {
        return None;
    }
    (0..u64::from(phnum)).find_map(|i| {
        let at = phoff.checked_add(i * u64::from(phentsize))?;
        (r.u32(at).ok()? == PT_INTERP).then_some(at)
    })
}

/// Whether a program header names an interpreter.
fn has_interp(r: &Reader<'_>) -> bool {
    interp_header(r).is_some()
}

/// The program interpreter (dynamic loader) an executable names, `/lib64/ld-linux-x86-64.so.2`,
/// from its bytes (the first few kilobytes hold it in practice); `None` for a library, a
/// static program, or bytes that do not reach it.
pub fn interpreter(data: &[u8]) -> Option<String> {
    let (le, c64) = ident(data).ok()?;
    let r = Reader { data, le, c64 };
    let at = interp_header(&r)?;
    let offset = if c64 {
        r.u64(at + 8).ok()?
    } else {
        u64::from(r.u32(at + 4).ok()?)
    };
    r.cstr(offset).ok()
}

fn read_sections(
    r: &Reader<'_>,
    shoff: u64,
    shentsize: u16,
    shnum: u16,
) -> Result<Vec<Section>, ElfError> {
    let min_entsize = if r.c64 { 0x40 } else { 0x28 };
    if u64::from(shentsize) < min_entsize {
        return Err(ElfError::Malformed("section header size"));
    }
    let mut sections = Vec::with_capacity(usize::from(shnum));
    for i in 0..u64::from(shnum) {
        let base = shoff
            .checked_add(i * u64::from(shentsize))
            .ok_or(ElfError::Malformed("section header offset"))?;
        let s = if r.c64 {
            Section {
                kind: r.u32(base + 4)?,
                offset: r.u64(base + 0x18)?,
                size: r.u64(base + 0x20)?,
                link: r.u32(base + 0x28)?,
                info: r.u32(base + 0x2c)?,
                entsize: r.u64(base + 0x38)?,
            }
        } else {
            Section {
                kind: r.u32(base + 4)?,
                offset: u64::from(r.u32(base + 0x10)?),
                size: u64::from(r.u32(base + 0x14)?),
                link: r.u32(base + 0x18)?,
                info: r.u32(base + 0x1c)?,
                entsize: u64::from(r.u32(base + 0x24)?),
            }
        };
        sections.push(s);
    }
    Ok(sections)
}

#[allow(clippy::too_many_lines)] // one pass over the sections, read top to bottom
fn parse_with(r: &Reader<'_>) -> Result<DynamicInfo, ElfError> {
    let c64 = r.c64;
    let elf_type = r.u16(16)?;
    let machine = r.u16(18)?;
    let (shoff, shentsize, shnum) = section_table(r)?;
    let mut info = DynamicInfo {
        kind: Some(Kind {
            class64: c64,
            little_endian: r.le,
            machine,
        }),
        elf_type,
        has_interp: has_interp(r),
        ..DynamicInfo::default()
    };
    if shoff == 0 || shnum == 0 {
        return Ok(info);
    }
    let sections = read_sections(r, shoff, shentsize, shnum)?;
    let strtab = |link: u32| -> Result<&Section, ElfError> {
        sections
            .get(link as usize)
            .ok_or(ElfError::Malformed("string table index"))
    };
    let string_at = |tab: &Section, off: u64| -> Result<String, ElfError> {
        if off >= tab.size {
            return Err(ElfError::Malformed("string offset beyond its table"));
        }
        r.cstr(tab.offset + off)
    };
    for s in &sections {
        match s.kind {
            SHT_DYNAMIC => {
                info.is_dynamic = true;
                let strs = strtab(s.link)?;
                let ent = if s.entsize == 0 {
                    if c64 { 16 } else { 8 }
                } else {
                    s.entsize
                };
                let word = if c64 { 8 } else { 4 };
                let count = s.size / ent;
                for i in 0..count {
                    let at = s.offset + i * ent;
                    let tag = r.word(at)?;
                    let val = r.word(at + word)?;
                    match tag {
                        DT_NULL => break,
                        DT_NEEDED => info.needed.push(string_at(strs, val)?),
                        DT_SONAME => info.soname = Some(string_at(strs, val)?),
                        DT_RPATH => info.rpath.extend(split_path(&string_at(strs, val)?)),
                        DT_RUNPATH => info.runpath.extend(split_path(&string_at(strs, val)?)),
                        _ => {}
                    }
                }
            }
            SHT_GNU_VERNEED => {
                let strs = strtab(s.link)?;
                let mut at = s.offset;
                for _ in 0..s.info.min(10_000) {
                    // Elf_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32
                    let cnt = r.u16(at + 2)?;
                    let file = string_at(strs, u64::from(r.u32(at + 4)?))?;
                    let aux = u64::from(r.u32(at + 8)?);
                    let next = u64::from(r.u32(at + 12)?);
                    let mut versions = Vec::new();
                    let mut a = at
                        .checked_add(aux)
                        .ok_or(ElfError::Malformed("verneed aux"))?;
                    for _ in 0..cnt.min(10_000) {
                        // Elf_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32
                        versions.push(string_at(strs, u64::from(r.u32(a + 8)?))?);
                        let n = u64::from(r.u32(a + 12)?);
                        if n == 0 {
                            break;
                        }
                        a = a
                            .checked_add(n)
                            .ok_or(ElfError::Malformed("vernaux next"))?;
                    }
                    info.version_needs.push(VersionNeed { file, versions });
                    if next == 0 {
                        break;
                    }
                    at = at
                        .checked_add(next)
                        .ok_or(ElfError::Malformed("verneed next"))?;
                }
            }
            SHT_GNU_VERDEF => {
                let strs = strtab(s.link)?;
                let mut at = s.offset;
                for _ in 0..s.info.min(10_000) {
                    // Elf_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16,
                    // vd_hash u32, vd_aux u32, vd_next u32; the first aux names the version.
                    let flags = r.u16(at + 2)?;
                    let aux = u64::from(r.u32(at + 12)?);
                    let next = u64::from(r.u32(at + 16)?);
                    let a = at
                        .checked_add(aux)
                        .ok_or(ElfError::Malformed("verdef aux"))?;
                    let name = string_at(strs, u64::from(r.u32(a)?))?;
                    // VER_FLG_BASE names the file itself, not a version.
                    if flags & 1 == 0 {
                        info.version_defs.push(name);
                    }
                    if next == 0 {
                        break;
                    }
                    at = at
                        .checked_add(next)
                        .ok_or(ElfError::Malformed("verdef next"))?;
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

fn split_path(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(':').filter(|p| !p.is_empty()).map(str::to_owned)
}

/// Orders versions like `GLIBC_2.34` by family then numerically (`2.9 < 2.10`).
pub fn version_key(v: &str) -> (String, Vec<u64>) {
    let (family, num) = v.rsplit_once('_').unwrap_or((v, ""));
    let parts = num.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    (family.to_owned(), parts)
}

/// The newest version of `family` (e.g. `GLIBC`) in a list.
pub fn newest<'a>(
    versions: impl IntoIterator<Item = &'a String>,
    family: &str,
) -> Option<&'a String> {
    versions
        .into_iter()
        .filter(|v| {
            v.strip_prefix(family).is_some_and(|r| {
                r.starts_with('_') && r[1..].starts_with(|c: char| c.is_ascii_digit())
            })
        })
        .max_by_key(|v| version_key(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_an_executables_loader_from_its_first_bytes() {
        let Ok(data) = std::fs::read("/bin/sh") else {
            return;
        };
        let loader = interpreter(&data[..4096.min(data.len())]).unwrap();
        assert!(
            loader.contains("ld-linux") || loader.contains("ld-musl"),
            "{loader}"
        );
        // A library names none; bytes cut before the header table give none, not a panic.
        if let Ok(libm) = std::fs::read("/lib/x86_64-linux-gnu/libm.so.6") {
            assert_eq!(interpreter(&libm), None);
        }
        assert_eq!(interpreter(&data[..40]), None);
        assert_eq!(interpreter(b"#!/bin/sh"), None);
    }

    #[test]
    fn reads_the_system_libc() {
        let Ok(data) = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6") else {
            return;
        };
        let info = parse(&data).unwrap();
        assert_eq!(info.soname.as_deref(), Some("libc.so.6"));
        assert!(newest(&info.version_defs, "GLIBC").is_some());
    }

    #[test]
    fn truncations_are_errors_not_panics() {
        let Ok(data) = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6") else {
            return;
        };
        for cut in [0, 4, 5, 16, 63, 64, 1000, data.len() / 2, data.len() - 1] {
            let _ = parse(&data[..cut]);
        }
        let mut flipped = data.clone();
        for i in (0..flipped.len()).step_by(997) {
            flipped[i] ^= 0xff;
            let _ = parse(&flipped);
        }
        assert_eq!(parse(b"not elf"), Err(ElfError::NotElf));
    }

    #[test]
    fn version_ordering_is_numeric() {
        let v: Vec<String> = [
            "GLIBC_2.9",
            "GLIBC_2.34",
            "GLIBC_2.2.5",
            "GLIBC_PRIVATE",
            "GLIBCXX_3.4.30",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(newest(&v, "GLIBC").map(String::as_str), Some("GLIBC_2.34"));
        assert_eq!(
            newest(&v, "GLIBCXX").map(String::as_str),
            Some("GLIBCXX_3.4.30")
        );
    }
}
