//! Source lines around findings, for the reports that quote them. A file is read once, as a
//! stream, only as far as the last line wanted (and never more than [`READ_LIMIT`] bytes, so a
//! finding deep in a 50 GB log costs nothing); a file with a NUL byte among the quoted lines
//! is binary and quoted not at all.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Lines before and after the finding's line.
pub const CONTEXT: u64 = 2;
/// The most bytes read from one file to reach the lines wanted.
pub const READ_LIMIT: u64 = 64 << 20;
/// The most characters of one line that are kept.
pub const LINE_LIMIT: usize = 240;

/// One quoted line: its number and text (cut at [`LINE_LIMIT`] characters, with `…`).
pub type Line = (u64, String);

/// The lines around each of `wanted` (1-based) in `path` (relative to `root` unless
/// absolute), [`CONTEXT`] either side; a wanted line past the end or past [`READ_LIMIT`] gets
/// none. Empty when the file cannot be read or is binary.
pub fn around(root: Option<&Path>, path: &str, wanted: &BTreeSet<u64>) -> BTreeMap<u64, Vec<Line>> {
    let file = match root {
        Some(r) => r.join(path),
        None => Path::new(path).to_owned(),
    };
    if !std::fs::metadata(&file).is_ok_and(|m| m.is_file()) || wanted.is_empty() {
        return BTreeMap::new();
    }
    let Ok(f) = std::fs::File::open(&file) else {
        return BTreeMap::new();
    };
    let keep = |n: u64| {
        wanted
            .range(n.saturating_sub(CONTEXT)..=n + CONTEXT)
            .next()
            .is_some()
    };
    let last = wanted.last().copied().unwrap_or(0) + CONTEXT;
    let mut reader = BufReader::with_capacity(64 << 10, f);
    let mut lines: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let (mut n, mut read, mut current) = (1u64, 0u64, Vec::new());
    let mut binary = false;
    while n <= last && read < READ_LIMIT {
        let Ok(buf) = reader.fill_buf() else {
            return BTreeMap::new();
        };
        if buf.is_empty() {
            break;
        }
        let end = buf.iter().position(|&b| b == b'\n');
        let chunk = &buf[..end.unwrap_or(buf.len())];
        if keep(n) {
            // Enough bytes for LINE_LIMIT characters of any script.
            let space = (LINE_LIMIT * 4 + 4).saturating_sub(current.len());
            current.extend_from_slice(&chunk[..chunk.len().min(space)]);
            binary |= chunk.contains(&0);
        }
        let used = end.map_or(buf.len(), |e| e + 1);
        reader.consume(used);
        read += used as u64;
        if end.is_some() {
            if keep(n) {
                lines.insert(n, std::mem::take(&mut current));
            }
            n += 1;
        }
    }
    // A last line without a newline, unless reading stopped at the limit inside it (it would
    // be quoted as if it ended there).
    if !current.is_empty() && keep(n) && read < READ_LIMIT {
        lines.insert(n, current);
    }
    if binary {
        return BTreeMap::new();
    }
    let text: BTreeMap<u64, String> = lines
        .into_iter()
        .map(|(n, b)| {
            let s = String::from_utf8_lossy(&b);
            let s = s.trim_end_matches(['\r', '\n']);
            let cut: String = s.chars().take(LINE_LIMIT).collect();
            let cut = if cut.len() < s.len() {
                cut + "…"
            } else {
                cut
            };
            (n, cut)
        })
        .collect();
    wanted
        .iter()
        .filter(|l| text.contains_key(l))
        .map(|&l| {
            let window = text
                .range(l.saturating_sub(CONTEXT)..=l + CONTEXT)
                .map(|(n, s)| (*n, s.clone()))
                .collect();
            (l, window)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_the_lines_around_each_wanted_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = (1..=10).fold(String::new(), |mut t, i| {
            t += &format!("line {i}\n");
            t
        });
        std::fs::write(dir.path().join("a.txt"), &text).unwrap();
        let q = around(Some(dir.path()), "a.txt", &BTreeSet::from([1, 6, 10, 12]));
        assert_eq!(q[&1].iter().map(|l| l.0).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(
            q[&6].iter().map(|l| l.0).collect::<Vec<_>>(),
            [4, 5, 6, 7, 8]
        );
        assert_eq!(q[&6][2].1, "line 6");
        assert_eq!(q[&10].iter().map(|l| l.0).collect::<Vec<_>>(), [8, 9, 10]);
        assert!(!q.contains_key(&12), "past the end");
        // No newline at the end, CRLF, a very long line, a binary file, a missing file.
        std::fs::write(
            dir.path().join("b.txt"),
            format!("a\r\n{}", "x".repeat(5000)),
        )
        .unwrap();
        let q = around(Some(dir.path()), "b.txt", &BTreeSet::from([1, 2]));
        assert_eq!(q[&1][0].1, "a");
        assert_eq!(q[&2][1].1.chars().count(), LINE_LIMIT + 1);
        std::fs::write(dir.path().join("c.bin"), b"\x00\x01\nzz\n").unwrap();
        assert!(around(Some(dir.path()), "c.bin", &BTreeSet::from([1])).is_empty());
        assert!(around(Some(dir.path()), "nope", &BTreeSet::from([1])).is_empty());
        assert!(around(Some(dir.path()), ".", &BTreeSet::from([1])).is_empty());
    }
}
