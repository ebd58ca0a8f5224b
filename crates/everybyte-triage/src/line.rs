//! Helpers over one log line.

/// Removes the decorations loggers put before a message — `[2023-10-27T14:22:01.442Z]`,
/// `[rank1]:`, `2024-01-02 03:04:05,678` — and returns the rest, keeping its indentation
/// (a traceback frame keeps its two leading spaces).
pub fn strip_decorations(line: &str) -> &str {
    let mut s = line;
    for _ in 0..6 {
        let before = s.len();
        if let Some(rest) = s.strip_prefix('[')
            && let Some(end) = rest.find(']')
            && end <= 64
        {
            s = &rest[end + 1..];
            s = s.strip_prefix(':').unwrap_or(s);
            s = s.strip_prefix(' ').unwrap_or(s);
        } else if let Some(len) = timestamp_len(s) {
            s = &s[len..];
            s = s.strip_prefix(' ').unwrap_or(s);
        }
        if s.len() == before {
            break;
        }
    }
    s
}

/// Length of a leading `YYYY-MM-DD[T ]HH:MM:SS[.,fraction][Z|±hh:mm]`.
fn timestamp_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|x| x.iter().all(u8::is_ascii_digit))
    };
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10))
    {
        return None;
    }
    let mut i = 10;
    if matches!(b.get(i), Some(b'T' | b' ')) && digits(i + 1..i + 3) && b.get(i + 3) == Some(&b':')
    {
        i += 9;
        while b
            .get(i)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'.' || *c == b',' || *c == b':')
        {
            i += 1;
        }
        if b.get(i) == Some(&b'Z') {
            i += 1;
        } else if matches!(b.get(i), Some(b'+' | b'-')) && digits(i + 1..i + 3) {
            i += 3;
            if b.get(i) == Some(&b':') {
                i += 1;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
    }
    s.get(..i).map(str::len)
}

/// The `[rankN]` tag torchrun puts before each line of a rank, if any.
pub fn rank_tag(line: &str) -> Option<&str> {
    let start = line.find("[rank")?;
    let end = start + line[start..].find(']')?;
    let tag = &line[start..=end];
    tag[5..tag.len() - 1]
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then_some(tag)
}

/// 1-based character column of a byte offset.
pub fn column(line: &str, byte: usize) -> u64 {
    let byte = byte.min(line.len());
    let mut b = byte;
    while !line.is_char_boundary(b) {
        b -= 1;
    }
    line[..b].chars().count() as u64 + 1
}

/// Byte offset of `needle` in `hay`, ASCII case-insensitively.
pub fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    hay.as_bytes()
        .windows(n.len())
        .position(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_timestamps_and_rank_tags() {
        assert_eq!(
            strip_decorations("[2023-10-27T14:22:01.443Z] torch.cuda.X"),
            "torch.cuda.X"
        );
        assert_eq!(
            strip_decorations("[rank1]:   File \"a.py\""),
            "  File \"a.py\""
        );
        assert_eq!(
            strip_decorations("2024-01-02 03:04:05,678 KeyError: 'x'"),
            "KeyError: 'x'"
        );
        assert_eq!(strip_decorations("2024-01-02T03:04:05+00:00 x"), "x");
        assert_eq!(strip_decorations("plain"), "plain");
        assert_eq!(strip_decorations("[unterminated"), "[unterminated");
        assert_eq!(rank_tag("[rank12]: x"), Some("[rank12]"));
        assert_eq!(rank_tag("[ranking]"), None);
        assert_eq!(column("é x", 2), 2);
        assert_eq!(column("é x", 3), 3);
    }
}
