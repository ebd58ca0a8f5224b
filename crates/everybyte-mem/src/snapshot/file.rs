//! `mem snapshot FILE`: a pickled allocator snapshot or the text of `memory_summary()`, told
//! apart by the pickle's first byte.

use std::path::{Path, PathBuf};

use super::{SnapshotError, SnapshotReport, SummaryReport, read_memory_summary, read_snapshot};

/// What a snapshot file held.
#[derive(Debug)]
pub enum SnapshotFile {
    /// `torch.cuda.memory._snapshot()`, pickled: the segments and blocks.
    Allocator(SnapshotReport),
    /// The text of `torch.cuda.memory_summary()`: totals only, no segment layout.
    Summary(SummaryReport),
}

/// Why a snapshot file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotFileError {
    #[error("{}: cannot read", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a readable allocator snapshot", .path.display())]
    Snapshot {
        path: PathBuf,
        source: SnapshotError,
    },
    #[error("--svg {}: {} is the text of memory_summary(), which has no segment layout; draw the map from a pickled snapshot (torch.cuda.memory._dump_snapshot)", .svg.display(), .path.display())]
    NoLayout { path: PathBuf, svg: PathBuf },
    #[error("{}: neither a pickled allocator snapshot nor the text of torch.cuda.memory_summary()", .path.display())]
    Summary {
        path: PathBuf,
        source: SnapshotError,
    },
}

impl SnapshotFile {
    /// Reads a snapshot file; nothing in a pickle is executed. `svg`: the segment map is
    /// wanted there, which only a pickled snapshot has.
    pub fn read(path: &Path, svg: Option<&Path>) -> Result<SnapshotFile, SnapshotFileError> {
        let bytes = std::fs::read(path).map_err(|source| SnapshotFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        if bytes.first() == Some(&0x80) {
            read_snapshot(&bytes)
                .map(SnapshotFile::Allocator)
                .map_err(|source| SnapshotFileError::Snapshot {
                    path: path.to_owned(),
                    source,
                })
        } else if let Some(svg) = svg {
            Err(SnapshotFileError::NoLayout {
                path: path.to_owned(),
                svg: svg.to_owned(),
            })
        } else {
            read_memory_summary(&String::from_utf8_lossy(&bytes))
                .map(SnapshotFile::Summary)
                .map_err(|source| SnapshotFileError::Summary {
                    path: path.to_owned(),
                    source,
                })
        }
    }
}
