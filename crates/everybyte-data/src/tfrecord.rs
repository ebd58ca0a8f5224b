//! TFRecord files read record by record as TensorFlow's reader checks them: each record is a
//! little-endian u64 length, the masked CRC-32C of those 8 bytes, the data, and the masked
//! CRC-32C of the data. A length whose checksum fails ends the read (nothing after it can be
//! found); a data checksum that fails is counted and the read goes on. Where the records are
//! `tf.train.Example`s, their feature names are followed for the ones some records lack.
//!
//! Streaming: a record's data is read in 256 KiB pieces into the checksum; a record up to
//! 64 MiB is also kept whole, to read its feature names. Memory per thread: that buffer.

use std::io::{self, Read};

use crate::compress::read_full;

use crate::fields::FieldTracker;

/// TensorFlow's mask over a CRC-32C (a checksum of data that holds checksums).
pub fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Whether `head` starts like a TFRecord file: a length and its masked checksum.
pub fn sniff(head: &[u8]) -> bool {
    head.len() >= 12
        && head[8..12] == masked_crc(&head[..8]).to_le_bytes()
        // An all-zero length would make any zero-filled file a TFRecord.
        && head[..8] != [0; 8]
}

/// The most bytes of one record kept whole, to read its feature names.
const MAX_PARSED: u64 = 64 << 20;

/// What a read of a TFRecord stream found.
#[derive(Debug, Default)]
pub struct TfScan {
    /// Records read whole.
    pub records: u64,
    /// Data checksums that failed: how many, and the first (record index, byte offset).
    pub bad_data: u64,
    pub first_bad_data: Option<(u64, u64)>,
    /// Where the read had to stop, and why.
    pub stopped: Option<String>,
    /// Feature names per record, when every record read is a `tf.train.Example`.
    pub features: Option<FieldTracker>,
}

/// Reads `r` through, record by record.
pub fn scan<R: Read>(mut r: R) -> io::Result<TfScan> {
    let mut out = TfScan {
        features: Some(FieldTracker::default()),
        ..TfScan::default()
    };
    let mut offset: u64 = 0;
    let buf: &mut Vec<u8> = &mut Vec::new();
    // Allocated on the first record too large to keep whole.
    let mut piece = Vec::new();
    loop {
        let index = out.records + out.bad_data;
        let mut header = [0u8; 12];
        let got = read_full(&mut r, &mut header)?;
        if got == 0 {
            break;
        }
        if got < 12 {
            out.stopped = Some(format!(
                "record {index} (byte {offset}): the file ends {got} bytes into the record's 12-byte header (cut short)"
            ));
            break;
        }
        let len_bytes: [u8; 8] = header[..8].try_into().unwrap_or_default();
        let len = u64::from_le_bytes(len_bytes);
        let stored = u32::from_le_bytes(header[8..12].try_into().unwrap_or_default());
        if stored != masked_crc(&header[..8]) {
            out.stopped = Some(format!(
                "record {index} (byte {offset}): the length's checksum fails (0x{stored:08x} stored, 0x{:08x} computed): the rest of the file cannot be read",
                masked_crc(&header[..8])
            ));
            break;
        }
        // The data: read whole when small enough to parse (one copy, then its checksum),
        // else through the checksum in pieces.
        let keep = len <= MAX_PARSED;
        let mut crc = 0u32;
        if keep {
            // Read as the bytes come: a length that passes its checksum in a file that does
            // not hold the record costs what the file holds, not the length.
            buf.clear();
            let got = (&mut r).take(len).read_to_end(buf)? as u64;
            if got < len {
                out.stopped = Some(format!(
                    "record {index} (byte {offset}): the file ends {got} bytes into a {len}-byte record (cut short)"
                ));
                return Ok(out);
            }
            crc = crc32c::crc32c(buf);
        } else {
            piece.resize(256 << 10, 0);
            let mut left = len;
            while left > 0 {
                let want = usize::try_from(left.min(piece.len() as u64)).unwrap_or(piece.len());
                let n = read_full(&mut r, &mut piece[..want])?;
                crc = crc32c::crc32c_append(crc, &piece[..n]);
                left -= n as u64;
                if n < want {
                    out.stopped = Some(format!(
                        "record {index} (byte {offset}): the file ends {} bytes into a {len}-byte record (cut short)",
                        len - left
                    ));
                    return Ok(out);
                }
            }
        }
        let mut tail = [0u8; 4];
        let n = read_full(&mut r, &mut tail)?;
        if n < 4 {
            out.stopped = Some(format!(
                "record {index} (byte {offset}): the file ends inside the record's data checksum (cut short)"
            ));
            break;
        }
        let masked = crc.rotate_right(15).wrapping_add(0xa282_ead8);
        if u32::from_le_bytes(tail) == masked {
            out.records += 1;
            match (&mut out.features, keep) {
                (Some(t), true) => {
                    if example_features(buf, |name| t.field(name)) {
                        t.end_record(|| (format!("record {index}"), None));
                    } else {
                        // Not an Example: the records are something else; no feature names.
                        out.features = None;
                    }
                }
                (Some(_), false) => out.features = None,
                (None, _) => {}
            }
        } else {
            out.bad_data += 1;
            out.first_bad_data.get_or_insert((index, offset));
        }
        offset += 12 + len + 4;
    }
    Ok(out)
}

/// A protobuf varint at `*at`.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Calls `each` with every field of a protobuf message: its number and, for a
/// length-delimited value, its bytes (other wire types are skipped, with empty bytes). `false`
/// when the bytes are not a message or `each` refuses a field.
fn for_each_field(b: &[u8], mut each: impl FnMut(u64, &[u8]) -> bool) -> bool {
    let mut at = 0;
    while at < b.len() {
        let Some(key) = varint(b, &mut at) else {
            return false;
        };
        let next = match key & 7 {
            0 => varint(b, &mut at).map(|_| at),
            1 => at.checked_add(8),
            5 => at.checked_add(4),
            2 => varint(b, &mut at)
                .and_then(|len| usize::try_from(len).ok())
                .and_then(|len| at.checked_add(len)),
            _ => None,
        };
        let Some(end) = next.filter(|&e| e <= b.len()) else {
            return false;
        };
        let value = if key & 7 == 2 { &b[at..end] } else { &[][..] };
        if !each(key >> 3, value) {
            return false;
        }
        at = end;
    }
    true
}

/// Calls `name` with each feature name of a serialized `tf.train.Example`
/// (`Example.features` = 1, `Features.feature` = 1, a map whose entries hold the name as
/// field 1), without allocating; `false` when the record is not an Example.
pub fn example_features(record: &[u8], mut name: impl FnMut(&str)) -> bool {
    for_each_field(record, |n, features| {
        n == 1
            && for_each_field(features, |m, entry| {
                let mut found = false;
                m == 1
                    && for_each_field(entry, |k, key| {
                        if k == 1 {
                            match std::str::from_utf8(key) {
                                Ok(s) => {
                                    name(s);
                                    found = true;
                                }
                                Err(_) => return false,
                            }
                        }
                        true
                    })
                    && found
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(data: &[u8]) -> Vec<u8> {
        let len = (data.len() as u64).to_le_bytes();
        let mut out = len.to_vec();
        out.extend(masked_crc(&len).to_le_bytes());
        out.extend(data);
        out.extend(masked_crc(data).to_le_bytes());
        out
    }

    /// A `tf.train.Example` with these features (each an empty `Feature`).
    fn example(names: &[&str]) -> Vec<u8> {
        let mut features = Vec::new();
        for n in names {
            let mut entry = vec![0x0a, n.len() as u8];
            entry.extend(n.as_bytes());
            entry.extend([0x12, 0]);
            features.push(0x0a);
            features.push(entry.len() as u8);
            features.extend(entry);
        }
        let mut out = vec![0x0a, features.len() as u8];
        out.extend(features);
        out
    }

    #[test]
    fn the_crc_is_tensorflows() {
        // TensorFlow's own test vector for the masked CRC-32C of 32 zero bytes: crc32c is
        // 0x8a9136aa.
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
        let f = record(b"hello");
        assert!(sniff(&f));
        assert!(!sniff(&[0u8; 16]));
    }

    #[test]
    fn whole_bad_and_cut_records() {
        let mut f = Vec::new();
        for names in [&["image", "label"][..], &["image", "label"], &["image"]] {
            f.extend(record(&example(names)));
        }
        let s = scan(&f[..]).unwrap();
        assert_eq!((s.records, s.bad_data, s.stopped.as_deref()), (3, 0, None));
        let gaps = s.features.unwrap().gaps("record", "feature");
        assert_eq!(gaps.gaps.len(), 1);
        assert_eq!(
            (gaps.gaps[0].name.as_str(), gaps.gaps[0].first.as_str()),
            ("label", "record 2")
        );

        // A flipped data byte: counted, and the read goes on.
        let mut bad = f.clone();
        bad[14] ^= 1;
        let s = scan(&bad[..]).unwrap();
        assert_eq!(
            (s.records, s.bad_data, s.first_bad_data),
            (2, 1, Some((0, 0)))
        );

        // Cut inside the last record's data.
        let s = scan(&f[..f.len() - 6]).unwrap();
        assert_eq!(s.records, 2);
        assert!(s.stopped.unwrap().contains("bytes into a"));

        // A flipped length byte: the rest cannot be read.
        let mut bad = f.clone();
        bad[0] ^= 1;
        let s = scan(&bad[..]).unwrap();
        assert_eq!(s.records, 0);
        assert!(s.stopped.unwrap().contains("length's checksum fails"));

        // A length of 60 MiB whose checksum holds, in a 16-byte file: cut short, cheaply.
        let len = (60u64 << 20).to_le_bytes();
        let mut claim = len.to_vec();
        claim.extend(masked_crc(&len).to_le_bytes());
        claim.extend([0u8; 4]);
        let s = scan(&claim[..]).unwrap();
        assert!(
            s.stopped
                .unwrap()
                .contains("ends 4 bytes into a 62914560-byte record")
        );

        // Records that are not Examples: no feature names.
        let raw = [record(b"\xff\xff"), record(b"plain")].concat();
        assert!(scan(&raw[..]).unwrap().features.is_none());
    }
}
