//! Structural checks of image files, byte by byte: JPEG marker by marker (a truncated file
//! has no EOI), PNG chunk by chunk with CRCs, and the GIF, WebP and BMP headers. No pixel is
//! decoded.

/// What the header says about the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageInfo {
    pub width: u64,
    pub height: u64,
    /// `RGB`, `grayscale`, `CMYK`, `palette`, `RGBA`, `grayscale+alpha`, `YCCK`.
    pub mode: &'static str,
    pub bits: u8,
}

/// A structural fault, with the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub offset: u64,
    pub what: String,
}

fn fault(offset: usize, what: impl Into<String>) -> Fault {
    Fault {
        offset: offset as u64,
        what: what.into(),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|x| u16::from_be_bytes([x[0], x[1]]))
}
fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
}
fn le16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|x| u16::from_le_bytes([x[0], x[1]]))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
}

/// The structural check for an image `kind`.
pub fn check(kind: crate::scan::Kind, b: &[u8]) -> Result<ImageInfo, Fault> {
    use crate::scan::Kind;
    match kind {
        Kind::Jpeg => jpeg(b),
        Kind::Png => png(b),
        Kind::Gif => gif(b),
        Kind::Webp => webp(b),
        _ => bmp(b),
    }
}

/// Whether `b` ends the way a complete image of its (sniffed) format ends: a JPEG's EOI
/// marker, a PNG's IEND chunk, a GIF's trailer, a RIFF or BMP size field equal to the length.
/// Not a validation: only the cue that reading may stop here.
pub fn looks_complete(b: &[u8]) -> bool {
    use crate::scan::Kind;
    let le32 = |at: usize| le32(b, at).map(|n| n as usize);
    match crate::scan::sniff(&b[..b.len().min(64)]) {
        Some(Kind::Jpeg) => b.ends_with(&[0xFF, 0xD9]),
        Some(Kind::Png) => b.ends_with(b"\0\0\0\0IEND\xAE\x42\x60\x82"),
        // The last data sub-block's terminator, then the trailer.
        Some(Kind::Gif) => b.ends_with(&[0x00, 0x3B]),
        Some(Kind::Webp) => le32(4).is_some_and(|n| n.checked_add(8) == Some(b.len())),
        Some(Kind::Bmp) => le32(2) == Some(b.len()),
        _ => false,
    }
}

#[allow(clippy::too_many_lines)] // one marker loop
/// Walks a JPEG: SOI, segments with lengths in bounds, a frame header with sane dimensions
/// before the first scan, entropy-coded data, and EOI.
pub fn jpeg(b: &[u8]) -> Result<ImageInfo, Fault> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Err(fault(0, "no SOI marker"));
    }
    let mut info: Option<ImageInfo> = None;
    let mut adobe_transform: Option<u8> = None;
    let mut pos = 2;
    loop {
        // Markers may be preceded by fill bytes (0xFF).
        if b.get(pos) != Some(&0xFF) {
            if pos >= b.len() {
                return Err(fault(pos, "file ends before the EOI marker (truncated)"));
            }
            return Err(fault(
                pos,
                format!("expected a marker, found byte {:#04x}", b[pos]),
            ));
        }
        while b.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&m) = b.get(pos) else {
            return Err(fault(pos, "file ends before the EOI marker (truncated)"));
        };
        pos += 1;
        match m {
            0xD9 => break,
            0xD8 => return Err(fault(pos - 2, "a second SOI marker")),
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len) = be16(b, pos) else {
            return Err(fault(pos, "file ends inside a segment header (truncated)"));
        };
        let len = usize::from(len);
        if len < 2 {
            return Err(fault(
                pos,
                format!("segment {m:#04x} has an impossible length {len}"),
            ));
        }
        let seg_end = pos + len;
        if seg_end > b.len() {
            return Err(fault(
                pos,
                format!(
                    "segment {m:#04x} of {len} bytes runs past the end of the file (truncated)"
                ),
            ));
        }
        let seg = &b[pos + 2..seg_end];
        match m {
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                let (Some(&bits), Some(h), Some(w), Some(&nc)) =
                    (seg.first(), be16(seg, 1), be16(seg, 3), seg.get(5))
                else {
                    return Err(fault(pos, "frame header too short"));
                };
                if w == 0 || h == 0 {
                    return Err(fault(pos, format!("frame header says {w}x{h}")));
                }
                let mode = match nc {
                    1 => "grayscale",
                    3 => "RGB",
                    4 => "CMYK",
                    _ => return Err(fault(pos, format!("frame header has {nc} components"))),
                };
                info = Some(ImageInfo {
                    width: u64::from(w),
                    height: u64::from(h),
                    mode,
                    bits,
                });
            }
            0xEE if seg.starts_with(b"Adobe") => adobe_transform = seg.get(11).copied(),
            0xDA => {
                if info.is_none() {
                    return Err(fault(pos, "scan before any frame header"));
                }
                // A file that ends with EOI is complete: 0xFFD9 cannot occur inside
                // entropy-coded data (0xFF is always stuffed or a restart marker there), so the
                // rest need not be walked byte by byte (--decode reads it all).
                if b.len() >= seg_end + 2 && b.ends_with(&[0xFF, 0xD9]) {
                    break;
                }
                // Otherwise walk the entropy-coded data to the next marker that is not a
                // stuffed 0xFF00 or a restart marker (trailing bytes after EOI, truncation).
                let mut p = seg_end;
                loop {
                    let Some(i) = memchr::memchr(0xFF, &b[p..]) else {
                        return Err(fault(
                            b.len(),
                            "file ends inside the image data, before the EOI marker (truncated)",
                        ));
                    };
                    p += i;
                    match b.get(p + 1) {
                        None => {
                            return Err(fault(
                                b.len(),
                                "file ends inside the image data, before the EOI marker (truncated)",
                            ));
                        }
                        Some(0x00 | 0xD0..=0xD7 | 0xFF) => p += 1,
                        Some(_) => break,
                    }
                }
                pos = p;
                continue;
            }
            _ => {}
        }
        pos = seg_end;
    }
    let mut info = info.ok_or_else(|| fault(pos, "EOI without a frame header"))?;
    if info.mode == "CMYK" && adobe_transform == Some(2) {
        info.mode = "YCCK";
    }
    Ok(info)
}

/// Walks a PNG: signature, IHDR first and sane, every chunk's CRC, at least one IDAT, IEND.
pub fn png(b: &[u8]) -> Result<ImageInfo, Fault> {
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !b.starts_with(SIG) {
        return Err(fault(0, "no PNG signature"));
    }
    let mut pos = SIG.len();
    let mut info: Option<ImageInfo> = None;
    let mut idat = false;
    loop {
        let (Some(len), Some(kind)) = (be32(b, pos), b.get(pos + 4..pos + 8)) else {
            return Err(fault(pos, "file ends before the IEND chunk (truncated)"));
        };
        let len = len as usize;
        let data_end = (pos + 8)
            .checked_add(len)
            .ok_or_else(|| fault(pos, "chunk length overflows"))?;
        let Some(crc) = be32(b, data_end) else {
            return Err(fault(
                pos,
                format!(
                    "chunk {} of {len} bytes runs past the end of the file (truncated)",
                    String::from_utf8_lossy(kind)
                ),
            ));
        };
        let computed = crc32fast::hash(&b[pos + 4..data_end]);
        let name = String::from_utf8_lossy(kind).into_owned();
        if computed != crc {
            return Err(fault(
                pos,
                format!(
                    "chunk {name} has a bad CRC ({crc:#010x} stored, {computed:#010x} computed)"
                ),
            ));
        }
        let data = &b[pos + 8..data_end];
        if info.is_none() && kind != b"IHDR" {
            return Err(fault(pos, format!("first chunk is {name}, not IHDR")));
        }
        match kind {
            b"IHDR" => {
                let (Some(w), Some(h), Some(&depth), Some(&ct)) =
                    (be32(data, 0), be32(data, 4), data.get(8), data.get(9))
                else {
                    return Err(fault(pos, "IHDR too short"));
                };
                if w == 0 || h == 0 || w > i32::MAX as u32 || h > i32::MAX as u32 {
                    return Err(fault(pos, format!("IHDR says {w}x{h}")));
                }
                let (mode, ok_depths): (&'static str, &[u8]) = match ct {
                    0 => ("grayscale", &[1, 2, 4, 8, 16]),
                    2 => ("RGB", &[8, 16]),
                    3 => ("palette", &[1, 2, 4, 8]),
                    4 => ("grayscale+alpha", &[8, 16]),
                    6 => ("RGBA", &[8, 16]),
                    _ => return Err(fault(pos, format!("IHDR colour type {ct} does not exist"))),
                };
                if !ok_depths.contains(&depth) {
                    return Err(fault(
                        pos,
                        format!("IHDR bit depth {depth} is invalid for colour type {ct}"),
                    ));
                }
                info = Some(ImageInfo {
                    width: u64::from(w),
                    height: u64::from(h),
                    mode,
                    bits: depth,
                });
            }
            b"IDAT" => idat = true,
            b"IEND" => break,
            _ => {}
        }
        pos = data_end + 4;
    }
    if !idat {
        return Err(fault(pos, "no IDAT chunk: the image has no pixel data"));
    }
    info.ok_or_else(|| fault(pos, "no IHDR"))
}

/// GIF: the header, the logical screen size, and the trailer byte.
pub fn gif(b: &[u8]) -> Result<ImageInfo, Fault> {
    if !(b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a")) {
        return Err(fault(0, "no GIF signature"));
    }
    let (Some(w), Some(h)) = (le16(b, 6), le16(b, 8)) else {
        return Err(fault(6, "header too short (truncated)"));
    };
    if w == 0 || h == 0 {
        return Err(fault(6, format!("logical screen is {w}x{h}")));
    }
    if b.last() != Some(&0x3B) {
        return Err(fault(b.len(), "no trailer byte at the end (truncated)"));
    }
    Ok(ImageInfo {
        width: u64::from(w),
        height: u64::from(h),
        mode: "palette",
        bits: 8,
    })
}

/// WebP: the RIFF size against the file's, and the VP8/VP8L/VP8X dimensions.
pub fn webp(b: &[u8]) -> Result<ImageInfo, Fault> {
    if !(b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP")) {
        return Err(fault(0, "no RIFF/WEBP signature"));
    }
    let riff = le32(b, 4).map_or(0, |v| v as usize);
    if riff + 8 > b.len() {
        return Err(fault(
            b.len(),
            format!(
                "RIFF says {} bytes, the file has {} (truncated)",
                riff + 8,
                b.len()
            ),
        ));
    }
    let chunk = b.get(12..16).unwrap_or_default();
    let (w, h) = match chunk {
        b"VP8X" => {
            let r24 = |at: usize| {
                b.get(at..at + 3)
                    .map(|x| u32::from_le_bytes([x[0], x[1], x[2], 0]) + 1)
            };
            (r24(24), r24(27))
        }
        b"VP8L" => {
            let bits = le32(b, 21);
            (
                bits.map(|v| (v & 0x3FFF) + 1),
                bits.map(|v| ((v >> 14) & 0x3FFF) + 1),
            )
        }
        b"VP8 " => {
            if b.get(23..26) != Some(&[0x9d, 0x01, 0x2a]) {
                return Err(fault(23, "VP8 frame without its start code"));
            }
            (
                le16(b, 26).map(|v| u32::from(v & 0x3FFF)),
                le16(b, 28).map(|v| u32::from(v & 0x3FFF)),
            )
        }
        _ => {
            return Err(fault(
                12,
                format!("unknown WebP chunk {}", String::from_utf8_lossy(chunk)),
            ));
        }
    };
    match (w, h) {
        (Some(w), Some(h)) if w > 0 && h > 0 => Ok(ImageInfo {
            width: u64::from(w),
            height: u64::from(h),
            mode: "RGB",
            bits: 8,
        }),
        _ => Err(fault(12, "no image dimensions (truncated)")),
    }
}

/// BMP: the size in the file header against the file's, and the DIB dimensions.
pub fn bmp(b: &[u8]) -> Result<ImageInfo, Fault> {
    if !b.starts_with(b"BM") {
        return Err(fault(0, "no BM signature"));
    }
    let declared = le32(b, 2).map_or(0, |v| v as usize);
    if declared > b.len() {
        return Err(fault(
            b.len(),
            format!(
                "header says {declared} bytes, the file has {} (truncated)",
                b.len()
            ),
        ));
    }
    let (Some(w), Some(h), Some(bpp)) = (le32(b, 18), le32(b, 22), le16(b, 28)) else {
        return Err(fault(14, "DIB header too short (truncated)"));
    };
    let (w, h) = (
        w.cast_signed().unsigned_abs(),
        h.cast_signed().unsigned_abs(),
    );
    if w == 0 || h == 0 {
        return Err(fault(18, format!("DIB header says {w}x{h}")));
    }
    let mode = match bpp {
        32 => "RGBA",
        1 | 4 | 8 => "palette",
        _ => "RGB",
    };
    Ok(ImageInfo {
        width: u64::from(w),
        height: u64::from(h),
        mode,
        bits: 8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(data);
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        v.extend_from_slice(&crc32fast::hash(&c).to_be_bytes());
        v
    }

    fn tiny_png() -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = 2u32.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&3u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        v.extend(chunk(b"IHDR", &ihdr));
        v.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1]));
        v.extend(chunk(b"IEND", &[]));
        v
    }

    #[test]
    fn complete_images_are_recognised_by_their_closing_bytes() {
        let png_file = tiny_png();
        assert!(looks_complete(&png_file));
        assert!(!looks_complete(&png_file[..png_file.len() - 1]));
        assert!(!looks_complete(&png_file[..20]));
        assert!(looks_complete(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\xFF\xD9"));
        assert!(!looks_complete(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\xFF"));
        assert!(looks_complete(b"GIF89a\x01\0\x01\0\0\0\0;"));
        assert!(!looks_complete(b"GIF89a\x01\0\x01\0\0\0\x07;"));
        let mut webp = b"RIFF\0\0\0\0WEBPVP8 ".to_vec();
        webp.extend_from_slice(&[0; 4]);
        let n = u32::try_from(webp.len() - 8).unwrap();
        webp[4..8].copy_from_slice(&n.to_le_bytes());
        assert!(looks_complete(&webp));
        assert!(!looks_complete(&webp[..webp.len() - 1]));
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&30u32.to_le_bytes());
        bmp.resize(30, 0);
        assert!(looks_complete(&bmp));
        assert!(!looks_complete(&bmp[..29]));
        // Not an image, or empty: never complete, so the reader goes on to the end.
        assert!(!looks_complete(b"a,b\n1,2\n"));
        assert!(!looks_complete(b""));
    }

    #[test]
    fn png_good_bad_crc_truncated() {
        let good = tiny_png();
        assert_eq!(
            png(&good).unwrap(),
            ImageInfo {
                width: 2,
                height: 3,
                mode: "RGB",
                bits: 8
            }
        );
        let mut bad = good.clone();
        bad[40] ^= 0xff;
        assert!(png(&bad).unwrap_err().what.contains("bad CRC"));
        for cut in 0..good.len() {
            assert!(png(&good[..cut]).is_err(), "cut at {cut} passed");
        }
    }

    fn tiny_jpeg() -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        v.extend_from_slice(&[0xFF, 0xE0, 0, 16]);
        v.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        v.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8, 0, 4, 0, 6, 1, 1, 0x11, 0]);
        v.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0]);
        v.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        v.extend_from_slice(&[0xFF, 0xD9]);
        v
    }

    #[test]
    fn jpeg_walk_and_truncation() {
        let good = tiny_jpeg();
        assert_eq!(
            jpeg(&good).unwrap(),
            ImageInfo {
                width: 6,
                height: 4,
                mode: "grayscale",
                bits: 8
            }
        );
        for cut in 0..good.len() {
            let e = jpeg(&good[..cut]).unwrap_err();
            assert!(!e.what.is_empty());
        }
        let mut zero = good.clone();
        zero[25] = 0; // height
        zero[26] = 0;
        assert!(jpeg(&zero).unwrap_err().what.contains("frame header says"));
    }

    #[test]
    fn never_panics_on_noise() {
        let mut rng = everybyte_core::rng::Rng::new(0x1234_5678);
        for len in 0..300 {
            let mut v = rng.bytes(len);
            for head in [
                &b"\xFF\xD8"[..],
                b"\x89PNG\r\n\x1a\n",
                b"GIF89a",
                b"RIFF\0\0\0\0WEBPVP8 ",
                b"BM",
            ] {
                v.splice(0..0, head.iter().copied());
                let _ = (jpeg(&v), png(&v), gif(&v), webp(&v), bmp(&v));
            }
        }
    }
}
