//! `.npy` headers checked against the payload, and NaN/inf counts for floating-point data
//! (`.npy` arrays and `.safetensors` tensors, whose header `everybyte_core::safetensors`
//! reads), read in chunks.

use std::io::{self, Read};

use crate::error::NpyError;

/// The dtype of the elements: kind (`f`, `i`, `u`, `b`), size in bytes, little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtype {
    pub kind: char,
    pub size: usize,
    pub little: bool,
    /// bfloat16 (safetensors `BF16`).
    pub bf16: bool,
}

/// Counts of non-finite values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NonFinite {
    pub nan: u64,
    pub inf: u64,
    /// Index of the first non-finite element.
    pub first: Option<u64>,
}

impl NonFinite {
    pub fn total(&self) -> u64 {
        self.nan + self.inf
    }
}

/// Counts NaN and inf in a stream of elements of `dtype` (no-op for integer types).
pub fn count_nonfinite<R: Read>(mut r: R, dtype: Dtype, elements: u64) -> io::Result<NonFinite> {
    let mut out = NonFinite::default();
    if dtype.kind != 'f' || !matches!(dtype.size, 2 | 4 | 8) {
        return Ok(out);
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut index: u64 = 0;
    let mut carry = 0usize;
    while index < elements {
        let n = r.read(&mut buf[carry..])?;
        if n == 0 {
            break;
        }
        let have = carry + n;
        let whole = have / dtype.size * dtype.size;
        for chunk in buf[..whole].chunks_exact(dtype.size) {
            if index >= elements {
                break;
            }
            let (nan, inf) = classify(chunk, dtype);
            if nan || inf {
                out.first.get_or_insert(index);
                if nan { out.nan += 1 } else { out.inf += 1 }
            }
            index += 1;
        }
        buf.copy_within(whole..have, 0);
        carry = have - whole;
    }
    Ok(out)
}

fn classify(c: &[u8], d: Dtype) -> (bool, bool) {
    let bits = |n: usize| -> u64 {
        let mut v = 0u64;
        if d.little {
            for (i, b) in c[..n].iter().enumerate() {
                v |= u64::from(*b) << (8 * i);
            }
        } else {
            for b in &c[..n] {
                v = (v << 8) | u64::from(*b);
            }
        }
        v
    };
    let (exp_mask, mant_mask, v) = match d.size {
        2 if d.bf16 => (0x7F80, 0x007F, bits(2)),
        2 => (0x7C00, 0x03FF, bits(2)),
        4 => (0x7F80_0000, 0x007F_FFFF, bits(4)),
        _ => (0x7FF0_0000_0000_0000, 0x000F_FFFF_FFFF_FFFF, bits(8)),
    };
    let special = v & exp_mask == exp_mask;
    (special && v & mant_mask != 0, special && v & mant_mask == 0)
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Npy {
    pub dtype: Dtype,
    pub descr: String,
    pub shape: Vec<u64>,
    pub fortran: bool,
    /// Where the data starts.
    pub data_offset: u64,
    pub elements: u64,
}

/// Parses the `.npy` header (`\x93NUMPY`, version, header length, the header dict) and checks
/// `shape × itemsize` against the file's length.
pub fn npy_header(head: &[u8], file_len: u64) -> Result<Npy, NpyError> {
    if !head.starts_with(b"\x93NUMPY") {
        return Err(NpyError::NoMagic);
    }
    let major = *head.get(6).ok_or(NpyError::Truncated)?;
    let (hlen, start) = match major {
        1 => (
            usize::from(u16::from_le_bytes([
                *head.get(8).ok_or(NpyError::Truncated)?,
                *head.get(9).ok_or(NpyError::Truncated)?,
            ])),
            10,
        ),
        2 | 3 => {
            let b = head.get(8..12).ok_or(NpyError::Truncated)?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(NpyError::Version(v)),
    };
    let text = head
        .get(start..start + hlen)
        .ok_or(NpyError::HeaderPastEnd)?;
    let text = String::from_utf8_lossy(text);
    let descr = dict_str(&text, "descr").ok_or(NpyError::Missing("descr"))?;
    let fortran = text.contains("'fortran_order': True");
    let shape_text = text
        .split("'shape':")
        .nth(1)
        .and_then(|r| r.split_once('('))
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(s, _)| s)
        .ok_or(NpyError::Missing("shape"))?;
    let shape: Vec<u64> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| NpyError::ShapeEntry(s.to_owned()))
        })
        .collect::<Result<_, _>>()?;
    let dtype = parse_descr(&descr).ok_or_else(|| NpyError::Dtype(descr.clone()))?;
    let elements = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or(NpyError::Overflow("shape"))?;
    let data_offset = (start + hlen) as u64;
    let need = elements
        .checked_mul(dtype.size as u64)
        .ok_or(NpyError::Overflow("shape × itemsize"))?;
    let have = file_len.saturating_sub(data_offset);
    if have != need {
        return Err(NpyError::Size {
            shape,
            itemsize: dtype.size,
            need,
            have,
        });
    }
    Ok(Npy {
        dtype,
        descr,
        shape,
        fortran,
        data_offset,
        elements,
    })
}

fn dict_str(text: &str, key: &str) -> Option<String> {
    let after = text.split(&format!("'{key}':")).nth(1)?.trim_start();
    let q = after.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &after[q.len_utf8()..];
    Some(rest[..rest.find(q)?].to_owned())
}

fn parse_descr(d: &str) -> Option<Dtype> {
    let b = d.as_bytes();
    let (little, rest) = match b.first()? {
        b'<' | b'|' | b'=' => (true, &d[1..]),
        b'>' => (false, &d[1..]),
        _ => (true, d),
    };
    let kind = rest.chars().next()?;
    let size: usize = rest[kind.len_utf8()..].parse().ok()?;
    matches!(kind, 'f' | 'i' | 'u' | 'b' | 'c').then_some(Dtype {
        kind: if kind == 'c' { 'c' } else { kind },
        size,
        little,
        bf16: false,
    })
}

/// The element type of a safetensors dtype name (`F32`, `BF16`, …), for counting NaN and inf.
pub fn safetensors_dtype(s: &str) -> Option<Dtype> {
    let (kind, size, bf16) = match s {
        "F64" => ('f', 8, false),
        "F32" => ('f', 4, false),
        "F16" => ('f', 2, false),
        "BF16" => ('f', 2, true),
        "I64" => ('i', 8, false),
        "I32" => ('i', 4, false),
        "I16" => ('i', 2, false),
        "I8" => ('i', 1, false),
        "U64" => ('u', 8, false),
        "U32" => ('u', 4, false),
        "U16" => ('u', 2, false),
        "U8" => ('u', 1, false),
        "BOOL" => ('b', 1, false),
        "F8_E4M3" | "F8_E5M2" => ('q', 1, false),
        _ => return None,
    };
    Some(Dtype {
        kind,
        size,
        little: true,
        bf16,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(shape: &str, data: &[f32]) -> Vec<u8> {
        let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        let mut h = dict.into_bytes();
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(b' ');
        }
        h.push(b'\n');
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend_from_slice(&(h.len() as u16).to_le_bytes());
        v.extend(h);
        for x in data {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    }

    #[test]
    fn npy_checks_and_counts() {
        let f = npy(
            "(2, 3)",
            &[1.0, f32::NAN, 2.0, f32::INFINITY, f32::NEG_INFINITY, 0.0],
        );
        let h = npy_header(&f, f.len() as u64).unwrap();
        assert_eq!(h.shape, [2, 3]);
        let nf = count_nonfinite(&f[h.data_offset as usize..], h.dtype, h.elements).unwrap();
        assert_eq!((nf.nan, nf.inf, nf.first), (1, 2, Some(1)));
        assert!(
            npy_header(&f[..f.len() - 4], f.len() as u64 - 4)
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        let bad = npy("(2, 99999999999999999999)", &[]);
        assert!(npy_header(&bad, bad.len() as u64).is_err());
    }

    #[test]
    fn safetensors_layout() {
        let header = br#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]},"__metadata__":{"x":"y"}}"#;
        let mut f = (header.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(header);
        f.extend_from_slice(&1.0f32.to_le_bytes());
        f.extend_from_slice(&f32::NAN.to_le_bytes());
        f.extend_from_slice(&[0x80, 0x7f]); // bf16 +inf
        let h = everybyte_core::safetensors::parse_header(&f, f.len() as u64).unwrap();
        let (t, start) = (h.tensors, h.data_start);
        assert_eq!(t.len(), 2);
        let d = safetensors_dtype("F32").unwrap();
        let nf = count_nonfinite(&f[start as usize..start as usize + 8], d, 2).unwrap();
        assert_eq!(nf.nan, 1);
        let bf = count_nonfinite(
            &f[start as usize + 8..],
            safetensors_dtype("BF16").unwrap(),
            1,
        )
        .unwrap();
        assert_eq!(bf.inf, 1);
        assert!(
            everybyte_core::safetensors::parse_header(&f[..f.len() - 1], f.len() as u64 - 1)
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
    }
}
