//! Byte sizes as people and tools write them: `PyTorch`'s `12.50 GiB`, Kubernetes' `16Gi`,
//! `nvidia-smi`'s `23456 MiB`, and plain `512 bytes`.

use std::fmt;

const KIB: f64 = 1024.0;

/// Parses a size with an optional unit. Binary units (`KiB`, `Ki`, `MiB`, `Mi`, …) are powers
/// of 1024, decimal ones (`KB`, `k`, `MB`, `M`, `G`, …) powers of 1000; no unit means bytes.
/// Returns `None` for anything else, including negative, non-finite and overflowing values.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '+'))
        .unwrap_or(s.len());
    // "1e3" is a number but "12 EiB" is a unit: only treat e/E as exponent when digits follow.
    let (num, unit) = split_number(s, split);
    let value: f64 = num.parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let mult = unit_multiplier(unit.trim())?;
    let bytes = value * mult;
    if bytes > u64::MAX as f64 {
        return None;
    }
    Some(bytes.round() as u64)
}

/// A Kubernetes resource quantity (`16Gi`, `500M`, `1e9`, `500m`, `1.5`) as a number: bytes
/// for memory, cores for CPU. Kubernetes' own grammar: a decimal with an optional exponent or
/// one suffix (`n u m k M G T P E`, `Ki Mi Gi Ti Pi Ei`), no spaces, no `B`; so `16 GiB` and
/// `16GB`, which [`parse_bytes`] reads, are `None` here. `500m` memory is half a byte, as
/// Kubernetes reads it (a classic slip that rules should catch, not hide).
pub fn parse_quantity(text: &str) -> Option<f64> {
    let s = text.trim();
    let unit_at = s
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')))
        .unwrap_or(s.len());
    let (num, unit) = split_number(s, unit_at);
    let mult = match unit {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => KIB,
        "Mi" => KIB.powi(2),
        "Gi" => KIB.powi(3),
        "Ti" => KIB.powi(4),
        "Pi" => KIB.powi(5),
        "Ei" => KIB.powi(6),
        _ => return None,
    };
    let value: f64 = num.parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value * mult)
}

fn split_number(s: &str, split: usize) -> (&str, &str) {
    let (mut num, mut unit) = s.split_at(split);
    // Walk back over a trailing 'e'/'E' that belongs to a unit such as "EiB".
    while num.ends_with(['e', 'E', '+']) {
        let cut = num.len() - 1;
        unit = &s[cut..];
        num = &s[..cut];
    }
    (num, unit)
}

fn unit_multiplier(unit: &str) -> Option<f64> {
    let m = match unit {
        "" | "B" | "b" | "byte" | "bytes" => 1.0,
        "KiB" | "Ki" => KIB,
        "MiB" | "Mi" => KIB.powi(2),
        "GiB" | "Gi" => KIB.powi(3),
        "TiB" | "Ti" => KIB.powi(4),
        "PiB" | "Pi" => KIB.powi(5),
        "EiB" | "Ei" => KIB.powi(6),
        "k" | "K" | "kB" | "KB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        "T" | "TB" => 1e12,
        "P" | "PB" => 1e15,
        "E" | "EB" => 1e18,
        _ => return None,
    };
    Some(m)
}

/// Formats bytes in binary units with two decimals, the way `PyTorch` prints them
/// (`12.50 GiB`, `20.00 MiB`, `512 bytes`).
pub fn format_bytes(bytes: u64) -> String {
    Bytes(bytes).to_string()
}

/// Formats a signed difference of bytes (`-7.59 GiB`).
pub fn format_signed_bytes(bytes: i128) -> String {
    let mag = u64::try_from(bytes.unsigned_abs()).unwrap_or(u64::MAX);
    if bytes < 0 {
        format!("-{}", Bytes(mag))
    } else {
        Bytes(mag).to_string()
    }
}

/// A byte count that displays in binary units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        if self.0 < 1024 {
            write!(f, "{} bytes", self.0)
        } else if b < KIB.powi(2) {
            write!(f, "{:.2} KiB", b / KIB)
        } else if b < KIB.powi(3) {
            write!(f, "{:.2} MiB", b / KIB.powi(2))
        } else if b < KIB.powi(4) {
            write!(f, "{:.2} GiB", b / KIB.powi(3))
        } else {
            write!(f, "{:.2} TiB", b / KIB.powi(4))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_quantities() {
        assert_eq!(parse_quantity("16Gi"), Some(16.0 * KIB.powi(3)));
        assert_eq!(parse_quantity("500M"), Some(5e8));
        assert_eq!(parse_quantity("1e9"), Some(1e9));
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1.5"), Some(1.5));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("1E"), Some(1e18));
        assert_eq!(parse_quantity("16 GiB"), None);
        assert_eq!(parse_quantity("16GB"), None);
        assert_eq!(parse_quantity("-1Gi"), None);
        assert_eq!(parse_quantity("Gi"), None);
    }

    #[test]
    fn parses_the_forms_tools_print() {
        assert_eq!(parse_bytes("12.50 GiB"), Some(13_421_772_800));
        assert_eq!(parse_bytes("16Gi"), Some(17_179_869_184));
        assert_eq!(parse_bytes("512Mi"), Some(536_870_912));
        assert_eq!(parse_bytes("23456 MiB"), Some(23_456 * 1024 * 1024));
        assert_eq!(parse_bytes("20.00 MiB"), Some(20_971_520));
        assert_eq!(parse_bytes("0 bytes"), Some(0));
        assert_eq!(parse_bytes("2.00 KiB"), Some(2048));
        assert_eq!(parse_bytes("1.5G"), Some(1_500_000_000));
        assert_eq!(parse_bytes("100k"), Some(100_000));
        assert_eq!(parse_bytes("1e3"), Some(1000));
        assert_eq!(parse_bytes("1 EiB"), Some(1 << 60));
        assert_eq!(parse_bytes("4096"), Some(4096));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "GiB",
            "-1 GiB",
            "1 XB",
            "nan GiB",
            "1..2 GiB",
            "99999999999 EiB",
        ] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_like_pytorch() {
        assert_eq!(format_bytes(13_421_772_800), "12.50 GiB");
        assert_eq!(format_bytes(512), "512 bytes");
        assert_eq!(format_bytes(20_971_520), "20.00 MiB");
        assert_eq!(format_signed_bytes(-8_150_000_000), "-7.59 GiB");
    }
}
