//! A file listing written once (`data list`) and read by each shard (`data scan --files`), so
//! that N shards on N machines do not walk the same tree N times.
//!
//! The format is text, one path a line, relative to the dataset's root, in the walk's order,
//! after one header line: `# everybyte data list: 1234 files`. A path's bytes are written as
//! the file system has them; a backslash, a newline and a carriage return are escaped (`\\`,
//! `\n`, `\r`), and so is a `#` that starts a path (`\#`), so that every line is one path.

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use super::{Rel, shard_of};

const HEADER: &str = "# everybyte data list: ";

/// Writes `files` as a listing.
pub fn write_list(out: &mut dyn Write, files: &[Rel]) -> io::Result<()> {
    writeln!(out, "{HEADER}{} files", files.len())?;
    let mut line = Vec::new();
    for f in files {
        line.clear();
        escape(f.as_bytes(), &mut line);
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

fn escape(path: &[u8], out: &mut Vec<u8>) {
    if path.first() == Some(&b'#') {
        out.push(b'\\');
    }
    for &b in path {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// The path a listing's line holds, or `None` for a line no listing writes (a stray escape).
fn unescape(line: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(line.len());
    let mut it = line.iter();
    while let Some(&b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match it.next()? {
            b'\\' => b'\\',
            b'n' => b'\n',
            b'r' => b'\r',
            b'#' => b'#',
            _ => return None,
        });
    }
    Some(out)
}

/// The number of files a listing's header announces, or `None` when the first line is not a
/// listing's header.
pub fn listed_count(path: &Path) -> io::Result<Option<u64>> {
    let mut first = String::new();
    io::BufReader::new(std::fs::File::open(path)?).read_line(&mut first)?;
    Ok(first
        .strip_prefix(HEADER)
        .and_then(|rest| rest.trim_end().strip_suffix(" files"))
        .and_then(|n| n.parse().ok()))
}

/// Reads a listing, streaming: only the paths of shard `shard` (K of N, by the same hash as
/// the walk, so a sharded scan of a listing covers the same files as a sharded walk) are kept
/// in memory. The paths come back sorted, as the walk returns them.
pub fn read_list(path: &Path, shard: Option<(u64, u64)>) -> io::Result<Vec<Rel>> {
    let bad = |line: u64, what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}:{line}: {what}", path.display()),
        )
    };
    let mut r = io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut buf = Vec::new();
    let mut files = Vec::new();
    let mut line = 0u64;
    let mut announced = None;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line += 1;
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if line == 1 {
            announced = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.strip_prefix(HEADER))
                .and_then(|t| t.strip_suffix(" files"))
                .and_then(|n| n.parse::<u64>().ok());
            if announced.is_none() {
                return Err(bad(
                    1,
                    "not a file listing (write one with `everybyte data list DIR -o FILE`)",
                ));
            }
            continue;
        }
        if text.is_empty() || text.first() == Some(&b'#') {
            continue;
        }
        let rel = unescape(text).ok_or_else(|| bad(line, "a backslash escapes nothing"))?;
        if rel.first() == Some(&b'/') || rel.split(|&b| b == b'/').any(|c| c == b"..") {
            return Err(bad(
                line,
                "the path leaves the dataset's root (absolute or with `..`)",
            ));
        }
        if shard.is_none_or(|(k, n)| shard_of(&rel, n) == k) {
            files.push(OsString::from_vec(rel).into_boxed_os_str());
        }
    }
    let total = line.saturating_sub(1);
    if announced != Some(total) {
        return Err(bad(
            line,
            &format!(
                "the header announces {} files but {total} follow: the listing was cut short or edited",
                announced.unwrap_or(0)
            ),
        ));
    }
    if !files.is_sorted() {
        files.sort_unstable();
    }
    files.dedup();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(b: &[u8]) -> Rel {
        OsString::from_vec(b.to_vec()).into_boxed_os_str()
    }

    #[test]
    fn odd_names_come_back_as_written_and_shards_partition_them() {
        let files = vec![
            rel(b"#hash.jpg"),
            rel(b"a/b\\c.png"),
            rel(b"a/new\nline.csv"),
            rel(b"a/\xff\xfe.bin"),
            rel(b"z.npy"),
        ];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("files.lst");
        let mut out = Vec::new();
        write_list(&mut out, &files).unwrap();
        std::fs::write(&p, &out).unwrap();
        assert_eq!(listed_count(&p).unwrap(), Some(5));
        let mut sorted = files.clone();
        sorted.sort();
        assert_eq!(read_list(&p, None).unwrap(), sorted);
        let mut union: Vec<Rel> = (0..3)
            .flat_map(|k| read_list(&p, Some((k, 3))).unwrap())
            .collect();
        union.sort();
        assert_eq!(union, sorted);
    }

    #[test]
    fn a_cut_or_foreign_listing_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("files.lst");
        std::fs::write(&p, "# everybyte data list: 3 files\na\nb\n").unwrap();
        let e = read_list(&p, None).unwrap_err().to_string();
        assert!(e.contains("announces 3 files but 2 follow"), "{e}");
        std::fs::write(&p, "a\nb\n").unwrap();
        let e = read_list(&p, None).unwrap_err().to_string();
        assert!(e.contains("files.lst:1: not a file listing"), "{e}");
        std::fs::write(&p, "# everybyte data list: 1 files\n../etc/passwd\n").unwrap();
        let e = read_list(&p, None).unwrap_err().to_string();
        assert!(e.contains(":2: the path leaves"), "{e}");
    }
}
