//! The arguments of text and integer opcodes: memo keys, little-endian integers, Python
//! string literals and `raw-unicode-escape`.

use super::{PickleErrorKind, Value};

type Step<T> = Result<T, PickleErrorKind>;

pub(super) fn parse_memo_key(line: &str) -> Step<u64> {
    line.trim()
        .parse()
        .map_err(|_| PickleErrorKind::BadArgument(format!("{line:?} is not a memo key")))
}

/// A little-endian two's-complement integer, as `LONG1`/`LONG4` store it.
pub(super) fn long_from_le(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    let negative = b[b.len() - 1] & 0x80 != 0;
    if b.len() <= 8 {
        let fill = if negative { 0xff } else { 0 };
        let mut a = [fill; 8];
        a[..b.len()].copy_from_slice(b);
        return Value::Int(i64::from_le_bytes(a));
    }
    // Magnitude as little-endian bytes.
    let mut mag: Vec<u8> = b.to_vec();
    if negative {
        // Two's complement: invert and add one.
        let mut carry = true;
        for byte in &mut mag {
            *byte = !*byte;
            if carry {
                let (v, c) = byte.overflowing_add(1);
                *byte = v;
                carry = c;
            }
        }
    }
    let digits = decimal_digits(&mag);
    if digits.len() <= 18
        && let Ok(v) = digits.parse::<i64>()
    {
        return Value::Int(if negative { -v } else { v });
    }
    if negative {
        Value::BigInt(format!("-{digits}"))
    } else {
        Value::BigInt(digits)
    }
}

/// Decimal text of an unsigned little-endian magnitude.
fn decimal_digits(le: &[u8]) -> String {
    // Big-endian base-2^32 limbs, divided repeatedly by 10^9.
    let mut be: Vec<u8> = le.iter().rev().copied().collect();
    while !be.len().is_multiple_of(4) {
        be.insert(0, 0);
    }
    let mut limbs: Vec<u32> = be
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut chunks = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for limb in &mut limbs {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.first() == Some(&0) {
            limbs.remove(0);
        }
    }
    let Some((last, rest)) = chunks.split_last() else {
        return "0".to_string();
    };
    let mut s = last.to_string();
    for c in rest.iter().rev() {
        s.push_str(&format!("{c:09}"));
    }
    s
}

/// The bytes of a protocol 0 `STRING` argument: a quoted Python literal with simple escapes.
pub(super) fn python_string_literal(line: &str) -> Step<Vec<u8>> {
    let bad = || PickleErrorKind::BadArgument(format!("{line:?} is not a quoted string"));
    let inner = if line.len() >= 2
        && ((line.starts_with('\'') && line.ends_with('\''))
            || (line.starts_with('"') && line.ends_with('"')))
    {
        &line[1..line.len() - 1]
    } else {
        return Err(bad());
    };
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let esc = *b.get(i + 1).ok_or_else(bad)?;
        i += 2;
        match esc {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'0' => out.push(0),
            b'\\' | b'\'' | b'"' => out.push(esc),
            b'x' => {
                let hex = inner.get(i..i + 2).ok_or_else(bad)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            _ => {
                out.push(b'\\');
                out.push(esc);
            }
        }
    }
    Ok(out)
}

/// Decodes Python's `raw-unicode-escape` (protocol 0 `UNICODE`): Latin-1 bytes with
/// `\u` escapes with four hex digits and `\U` escapes with eight.
pub(super) fn raw_unicode_escape(b: &[u8]) -> Step<String> {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && matches!(b.get(i + 1), Some(b'u' | b'U')) {
            let n = if b[i + 1] == b'u' { 4 } else { 8 };
            let hex = b
                .get(i + 2..i + 2 + n)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
                .ok_or_else(|| {
                    PickleErrorKind::BadArgument("bad \\u escape in UNICODE".to_string())
                })?;
            out.push(hex);
            i += 2 + n;
        } else {
            out.push(char::from(b[i]));
            i += 1;
        }
    }
    Ok(out)
}
