use std::ffi::OsStr;
use std::io::Read;

use super::read::{FolderCache, read_on};
use super::walk::read_folder;
use super::*;

#[test]
fn extensions_are_read_from_the_file_name() {
    assert_eq!(by_extension("a/b/photo.JPG"), Some(Kind::Jpeg));
    assert_eq!(by_extension("x.jfif"), Some(Kind::Jpeg));
    assert_eq!(by_extension("weights.safetensors"), Some(Kind::Safetensors));
    assert_eq!(by_extension("t.NDJSON"), Some(Kind::Jsonl));
    assert_eq!(by_extension("dir.jpg/readme"), None);
    assert_eq!(by_extension("noext"), None);
    assert_eq!(by_extension("trailing."), None);
    assert_eq!(by_extension("x.longerthansafetensors"), None);
    assert_eq!(by_extension("é.png"), Some(Kind::Png));
    for (i, k) in Kind::ALL.iter().enumerate() {
        assert_eq!(*k as usize, i);
    }
}

/// Hands out its bytes a few at a time, as a file system may.
struct Dribble<'a>(&'a [u8], usize);

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(self.1).min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn reading_stops_early_only_at_closing_bytes() {
    let data = b"\xFF\xD8 first part \xFF\xD9 and more after";
    let mut buf = Vec::new();
    // Short reads that never end in a closing marker: read to the end.
    let (n, eof) = read_on(&mut Dribble(data, 5), &mut buf, 0, 1 << 20, |_| false).unwrap();
    assert_eq!((&buf[..n], eof), (&data[..], true));
    // A short read ending where `complete` holds stops there, not at the end.
    let stop = |b: &[u8]| b.ends_with(b"\xFF\xD9");
    let (n, eof) = read_on(&mut Dribble(data, 4), &mut buf, 0, 1 << 20, stop).unwrap();
    assert_eq!((&buf[..n], eof), (&data[..16], false));
    // Reading on from there reaches the end.
    let mut rest = Dribble(&data[16..], 7);
    let (m, eof) = read_on(&mut rest, &mut buf, n, 1 << 20, |_| false).unwrap();
    assert_eq!((&buf[..m], eof), (&data[..], true));
    // The limit caps the bytes read, and larger files grow the buffer.
    let big = vec![7u8; 200 << 10];
    let (n, eof) = read_on(&mut Dribble(&big, 1 << 20), &mut buf, 0, 150 << 10, |_| {
        false
    })
    .unwrap();
    assert_eq!((n, eof), (150 << 10, true));
    let (n, _) = read_on(&mut &big[..], &mut buf, 0, 1 << 20, |_| false).unwrap();
    assert_eq!(n, big.len());
}

#[test]
fn folder_cache_opens_across_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("a/x"), "ax").unwrap();
    std::fs::write(root.join("a/b/y"), "aby").unwrap();
    let mut cache = FolderCache::default();
    let read = |c: &mut FolderCache, rel: &str| {
        let mut s = String::new();
        c.open(root, OsStr::new(rel))?.read_to_string(&mut s)?;
        std::io::Result::Ok(s)
    };
    std::fs::write(root.join("top"), "top").unwrap();
    assert_eq!(read(&mut cache, "a/x").unwrap(), "ax");
    assert_eq!(read(&mut cache, "a/b/y").unwrap(), "aby");
    assert_eq!(read(&mut cache, "a/x").unwrap(), "ax");
    assert_eq!(read(&mut cache, "top").unwrap(), "top");
    let missing = read(&mut cache, "a/nope").unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    // A folder that does not exist falls back to opening by path, with its error.
    let gone = read(&mut cache, "gone/z").unwrap_err();
    assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
    // An absolute path (a file named outside the root) is opened as it is.
    let abs = root.join("a/b/y");
    assert_eq!(read(&mut cache, abs.to_str().unwrap()).unwrap(), "aby");
}

#[test]
fn listing_is_sorted_by_path_skips_hidden_and_links() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for f in [
        "a/x",
        "a/c/y",
        "a/z",
        "a-b/w",
        "a.jpg",
        ".hidden/h",
        "a/.h",
        "b/d/e/f",
        "lost+found/#1234",
    ] {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, f).unwrap();
    }
    std::os::unix::fs::symlink(root.join("a/x"), root.join("a/link")).unwrap();
    std::os::unix::fs::symlink(root.join("a"), root.join("dirlink")).unwrap();
    let (files, errors) = list_files(&[root.to_path_buf()], root, None);
    assert!(errors.is_empty());
    let rels: Vec<&str> = files.iter().map(|r| r.to_str().unwrap()).collect();
    assert_eq!(rels, ["a-b/w", "a.jpg", "a/c/y", "a/x", "a/z", "b/d/e/f"]);
    // Files named directly are kept, relative to the root given.
    let (files, _) = list_files(&[root.join("a/x"), root.join("b")], root, None);
    let rels: Vec<&str> = files.iter().map(|r| r.to_str().unwrap()).collect();
    assert_eq!(rels, ["a/x", "b/d/e/f"]);
    // The root itself named, or "." as the root: the same relative paths.
    let (files, _) = list_files(&[PathBuf::from(".")], Path::new("."), None);
    assert!(files.iter().all(|r| !r.as_bytes().starts_with(b"./")));
    // What cannot be listed is an error, not an empty folder.
    assert!(read_folder(root, OsStr::new("a.jpg")).is_err());
    assert!(read_folder(root, OsStr::new("gone")).is_err());
}

#[test]
fn names_that_are_not_utf8_are_read_and_shown_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let name = OsStr::from_bytes(b"caf\xe9");
    std::fs::create_dir(root.join(name)).unwrap();
    std::fs::write(root.join(name).join(name), b"").unwrap();
    let r = scan(&[root.to_path_buf()], root, &ScanOptions::default());
    let found: Vec<(&str, &str)> = r
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.location.path.as_str()))
        .collect();
    assert_eq!(found, [("DATA001", "caf\u{fffd}/caf\u{fffd}")]);
}

#[test]
fn a_fifo_named_is_reported_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("pipe.jpg");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
    )
    .unwrap();
    // Would block forever if it were opened for reading.
    let r = scan(&[fifo], tmp.path(), &ScanOptions::default());
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].code, "IO001");
    assert!(r.findings[0].message.contains("not a regular file"));
    assert_eq!(r.summary.files, 0);
}

#[test]
fn the_summary_line_gives_counts_rates_and_kinds() {
    let mut kinds = BTreeMap::new();
    kinds.insert("JPEG", 3);
    kinds.insert("CSV", 1);
    let s = Summary {
        files: 4,
        bytes: 2_000_000,
        kinds,
        seconds: 0.5,
    };
    assert_eq!(
        s.describe(),
        format!(
            "scanned 4 files, {} in 0.50 s (8 files/s, 4.0 MB/s): 1 CSV, 3 JPEG",
            everybyte_core::bytesize::format_bytes(2_000_000)
        )
    );
    assert!(
        Summary::default()
            .describe()
            .ends_with("0.00 s (0 files/s, 0.0 MB/s): ")
    );
}
