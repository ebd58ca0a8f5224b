//! Writes that never leave a partial file under the final name.

use std::io::{self, Write};
use std::path::Path;

/// Writes `path` through a temporary file in the same directory, then renames it into place,
/// so a reader sees either the old file or the complete new one.
pub fn write_atomic<F>(path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".everybyte-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| with_path(&e, dir))?;
    {
        let mut buf = io::BufWriter::new(tmp.as_file_mut());
        write(&mut buf)?;
        buf.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| with_path(&e.error, path))?;
    Ok(())
}

fn with_path(err: &io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_keeps_old_one_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_atomic(&path, |w| w.write_all(b"first")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let err = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
    }
}
