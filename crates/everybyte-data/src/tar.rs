//! Tar archives read as a stream of members, as WebDataset reads its shards: each 512-byte
//! header's checksum, its size (octal or base-256), GNU long names and pax `path` records, the
//! member's data, the end-of-archive blocks. The caller gets each regular member whole (up to
//! a limit) and decides what to check in it.
//!
//! Memory: one member's data at a time (the caller's buffer), whatever the archive's size.

use std::io::{self, Read};

use crate::compress::read_full;

/// What the walk found wrong with the archive itself; it stops there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarBreak {
    pub message: String,
}

/// One regular member, as handed to the caller.
pub struct Member<'a> {
    pub name: &'a str,
    /// Its bytes, when it is at most the limit (`None`: larger, read through unchecked).
    pub data: Option<&'a [u8]>,
    pub size: u64,
    /// The byte offset of its header in the (uncompressed) archive.
    pub offset: u64,
}

/// The most bytes of one member kept whole for its checks.
pub const MAX_MEMBER: u64 = 512 << 20;

/// The most bytes a GNU long name or a pax header may hold.
const MAX_META: u64 = 1 << 20;

/// Sizes above this are a corrupted field, not a member (2^62 bytes).
const MAX_SIZE: u64 = 1 << 62;

/// Walks the archive `r`, calling `each` for every regular member in order. Returns the
/// number of members and what broke the walk, if anything did.
pub fn walk<R: Read>(
    mut r: R,
    buf: &mut Vec<u8>,
    mut each: impl FnMut(Member<'_>),
) -> io::Result<(u64, Option<TarBreak>)> {
    let mut offset: u64 = 0;
    let mut members = 0u64;
    let mut long_name: Option<String> = None;
    let mut pax_path: Option<String> = None;
    let mut pax_size: Option<u64> = None;
    let mut header = [0u8; 512];
    let brk = |message: String| Some(TarBreak { message });
    loop {
        let got = read_full(&mut r, &mut header)?;
        if got == 0 {
            return if offset == 0 {
                Ok((
                    members,
                    brk("the archive is empty (no header, no end-of-archive blocks)".to_owned()),
                ))
            } else {
                Ok((
                    members,
                    brk(format!(
                        "the archive ends at byte {offset} without its end-of-archive blocks: cut short at a member's boundary, so members after it may be lost"
                    )),
                ))
            };
        }
        if got < 512 {
            return Ok((
                members,
                brk(format!(
                    "the archive ends {got} bytes into the header at byte {offset} (cut short)"
                )),
            ));
        }
        if header.iter().all(|&b| b == 0) {
            // The end: a second zero block should follow (what comes after is padding).
            return Ok((members, None));
        }
        let size = match size_of(&header, offset) {
            Ok(size) => size,
            Err(message) => return Ok((members, brk(message))),
        };
        let typeflag = header[156];
        // A pax header's `size` (for members of 8 GiB and more) overrides the field.
        let size = pax_size.take().unwrap_or(size);
        if let Err(message) = size_fits(size, typeflag, offset) {
            return Ok((members, brk(message)));
        }
        let name = long_name
            .take()
            .or_else(|| pax_path.take())
            .unwrap_or_else(|| header_name(&header));
        let data_at = offset + 512;
        let padded = size.div_ceil(512) * 512;
        let regular = matches!(typeflag, b'0' | 0 | b'7');
        let meta = matches!(typeflag, b'L' | b'x');
        let keep = size <= MAX_MEMBER && (regular || meta);
        buf.clear();
        // Read as the bytes come, never allocated ahead from the size field: a header that
        // claims 512 MiB in a 1 KiB file costs 1 KiB.
        let read = if keep {
            (&mut r).take(size).read_to_end(buf)? as u64
        } else {
            skip(&mut r, size)?
        };
        if read < size {
            return Ok((
                members,
                brk(format!(
                    "member `{name}` at byte {offset} is cut short: {read} of its {size} bytes are there"
                )),
            ));
        }
        skip(&mut r, padded - size)?;
        match typeflag {
            b'L' => {
                long_name = Some(
                    String::from_utf8_lossy(buf)
                        .trim_end_matches('\0')
                        .to_owned(),
                );
            }
            b'x' => {
                pax_path = pax_record(buf, "path");
                pax_size = pax_record(buf, "size").and_then(|s| s.parse().ok());
            }
            _ if regular => {
                members += 1;
                each(Member {
                    name: &name,
                    data: keep.then_some(&buf[..]),
                    size,
                    offset,
                });
            }
            _ => {}
        }
        offset = data_at + padded;
    }
}

/// The member's size from a header whose checksum holds, or what is wrong with it.
fn size_of(header: &[u8; 512], offset: u64) -> Result<u64, String> {
    let stored = octal(&header[148..156]);
    let (unsigned, signed) = checksums(header);
    if stored.is_none_or(|s| s != unsigned && s != signed) {
        return Err(format!(
            "the header at byte {offset} fails its checksum ({} stored, {unsigned} computed): not a tar header, or a corrupted one",
            stored.map_or_else(|| "none".to_owned(), |s| s.to_string())
        ));
    }
    number(&header[124..136])
        .ok_or_else(|| format!("the header at byte {offset} has no readable size field"))
}

/// A size no file system holds, or a long-name or pax header larger than any: a corrupted
/// header, described.
fn size_fits(size: u64, typeflag: u8, offset: u64) -> Result<(), String> {
    if size > MAX_SIZE {
        return Err(format!(
            "the header at byte {offset} gives a size of {size} bytes, more than any file system holds"
        ));
    }
    if matches!(typeflag, b'L' | b'x') && size > MAX_META {
        return Err(format!(
            "the long-name or pax header at byte {offset} claims {size} bytes (at most {MAX_META} are read): a corrupted header"
        ));
    }
    Ok(())
}

/// The member's name: the ustar prefix, a slash and the name field.
fn header_name(h: &[u8; 512]) -> String {
    let field = |b: &[u8]| {
        let end = memchr::memchr(0, b).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let name = field(&h[..100]);
    // POSIX ustar (`ustar\0`) has a name prefix; GNU tar's `ustar  ` keeps times there.
    if h[257..263] == *b"ustar\0" {
        let prefix = field(&h[345..500]);
        if !prefix.is_empty() {
            return format!("{prefix}/{name}");
        }
    }
    name
}

/// A pax extended header's `key` (`"LEN key=value\n"` records).
fn pax_record(data: &[u8], key: &str) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    text.lines().find_map(|rec| {
        let (_, kv) = rec.split_once(' ')?;
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_owned())
    })
}

/// The header's checksum computed with the checksum field as spaces, over unsigned and over
/// signed bytes (some old writers summed signed chars).
fn checksums(h: &[u8; 512]) -> (u64, u64) {
    let mut unsigned = 0u64;
    let mut signed = 0i64;
    for (i, &b) in h.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b.cast_signed());
    }
    (unsigned, signed.max(0) as u64)
}

/// An octal field (spaces and NULs around it).
fn octal(b: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(b).ok()?;
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// A numeric field: octal, or GNU's base-256 (the high bit of the first byte set).
fn number(b: &[u8]) -> Option<u64> {
    if b[0] & 0x80 != 0 {
        let mut v: u64 = u64::from(b[0] & 0x7f);
        for &x in &b[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(x))?;
        }
        return Some(v);
    }
    octal(b)
}

/// Reads and drops `n` bytes; returns how many there were.
fn skip(r: &mut impl Read, n: u64) -> io::Result<u64> {
    io::copy(&mut r.take(n), &mut io::sink())
}

/// WebDataset's split of a member name into the sample's key and the member's extension: the
/// key is the path up to the first dot of the file name (`a/n01_0003.seg.png` is sample
/// `a/n01_0003`, extension `seg.png`).
pub fn key_and_extension(name: &str) -> (&str, &str) {
    let base_at = name.rfind('/').map_or(0, |i| i + 1);
    match name[base_at..].find('.') {
        Some(dot) => (&name[..base_at + dot], &name[base_at + dot + 1..]),
        None => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, size: u64, typeflag: u8) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = typeflag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        let (sum, _) = checksums(&h);
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in members {
            out.extend(header(name, data.len() as u64, b'0'));
            out.extend(*data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend([0u8; 1024]);
        out
    }

    fn names(a: &[u8]) -> (Vec<String>, Option<TarBreak>) {
        let mut got = Vec::new();
        let (_, b) = walk(a, &mut Vec::new(), |m| got.push(m.name.to_owned())).unwrap();
        (got, b)
    }

    #[test]
    fn members_come_in_order_and_breaks_are_named() {
        let a = archive(&[
            ("s1.jpg", b"abc"),
            ("s1.cls", b"3"),
            ("s2.jpg", &[7u8; 600]),
        ]);
        assert_eq!(
            names(&a),
            (
                vec!["s1.jpg".into(), "s1.cls".into(), "s2.jpg".into()],
                None
            )
        );
        // Cut inside the last member's data.
        let (got, b) = names(&a[..512 * 5 + 100]);
        assert_eq!(got, ["s1.jpg", "s1.cls"]);
        assert!(
            b.unwrap()
                .message
                .contains("`s2.jpg` at byte 2048 is cut short: 100 of its 600")
        );
        // Cut at a member boundary: no end blocks.
        let (got, b) = names(&a[..512 * 4]);
        assert_eq!(got.len(), 2);
        assert!(
            b.unwrap()
                .message
                .contains("without its end-of-archive blocks")
        );
        // A corrupted header.
        let mut bad = a.clone();
        bad[1024 + 5] ^= 0x20;
        let (got, b) = names(&bad);
        assert_eq!(got.len(), 1);
        assert!(b.unwrap().message.contains("fails its checksum"));
    }

    #[test]
    fn a_size_field_is_not_trusted_for_memory() {
        // 500 MiB claimed, 100 bytes there: cut short, and the buffer holds what was read.
        let mut a = header("big.jpg", 500 << 20, b'0').to_vec();
        a.extend([1u8; 100]);
        let mut buf = Vec::new();
        let (_, b) = walk(&a[..], &mut buf, |_| {}).unwrap();
        assert!(b.unwrap().message.contains("100 of its 524288000 bytes"));
        assert!(buf.capacity() < 1 << 20, "{}", buf.capacity());
        // A base-256 size of 2^64-1: a corrupted header, not an overflow.
        let mut h = header("x", 0, b'0');
        h[124..136].copy_from_slice(&[
            0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]);
        h[148..156].copy_from_slice(b"        ");
        let (sum, _) = checksums(&h);
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let (_, b) = walk(&h[..], &mut Vec::new(), |_| {}).unwrap();
        assert!(
            b.unwrap()
                .message
                .contains("more than any file system holds")
        );
    }

    #[test]
    fn long_names_and_keys() {
        let long = format!("{}/sample.jpg", "d".repeat(120));
        let mut a = Vec::new();
        a.extend(header("././@LongLink", long.len() as u64 + 1, b'L'));
        a.extend(long.as_bytes());
        a.push(0);
        a.resize(a.len().div_ceil(512) * 512, 0);
        a.extend(archive(&[("short.txt", b"x")]));
        // The long name applies to the next header.
        let mut data = a[..1024].to_vec();
        data.extend(header("truncated-name", 1, b'0'));
        data.extend([b'x']);
        data.resize(data.len().div_ceil(512) * 512, 0);
        data.extend([0u8; 1024]);
        assert_eq!(names(&data).0, [long]);
        assert_eq!(
            key_and_extension("a.b/n01_3.seg.png"),
            ("a.b/n01_3", "seg.png")
        );
        assert_eq!(key_and_extension("README"), ("README", ""));
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), Some(256));
    }
}
