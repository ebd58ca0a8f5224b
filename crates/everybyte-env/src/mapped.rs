//! A file's bytes as the ELF readers see them: mapped read-only, so that reading the symbol
//! table of a 1 GiB `libtorch_cuda.so` touches only the pages of the tables looked at, with
//! no copy and no buffer to fill. A torch CUDA venv has about 40 MB of `.dynsym` and `.dynstr`
//! across its objects; read into buffers, copying them was most of the check's time.
//!
//! The `unsafe` here is the mapping itself: its bytes are only valid while no one truncates
//! or rewrites the file. Installed packages are not written while they are checked; a file
//! truncated under the check would stop it with SIGBUS, as it would `ld.so` or `import`.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The bytes of one file: mapped, or owned (an empty file, or bytes from memory).
pub enum FileBytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Default for FileBytes {
    fn default() -> Self {
        FileBytes::Owned(Vec::new())
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Owned(v) => v,
        }
    }
}

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileBytes({} bytes)", self.len())
    }
}

/// Maps the file at `path` read-only. An empty file (which cannot be mapped) has no bytes.
pub fn map(path: &Path) -> std::io::Result<FileBytes> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(FileBytes::default());
    }
    // SAFETY: read-only and private; see the module's note on files changed while mapped.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    Ok(FileBytes::Mapped(map))
}

/// Files mapped once and shared between threads and readers (the dynamic section's and the
/// symbol table's), kept mapped until the check ends; one that cannot be opened is `None`.
#[derive(Default)]
pub struct Files {
    map: Mutex<HashMap<PathBuf, Option<Arc<FileBytes>>>>,
}

impl Files {
    pub fn get(&self, path: &Path) -> Option<Arc<FileBytes>> {
        if let Some(v) = everybyte_core::par::lock(&self.map).get(path) {
            return v.clone();
        }
        let bytes = map(path).ok().map(Arc::new);
        everybyte_core::par::lock(&self.map).insert(path.to_owned(), bytes.clone());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_file_and_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("a");
        let empty = dir.path().join("b");
        std::fs::write(&full, b"\x7fELF rest").unwrap();
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(&map(&full).unwrap()[..4], b"\x7fELF");
        assert!(map(&empty).unwrap().is_empty());
        assert!(map(&dir.path().join("missing")).is_err());
    }
}
