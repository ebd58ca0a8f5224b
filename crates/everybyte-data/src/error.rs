//! The data area's errors. Each variant carries the path or the input it concerns; the
//! messages are the ones the commands print.

use std::io;
use std::path::PathBuf;

/// An error of a data command: a manifest that cannot be read or merged, an argument that
/// does not parse, a pack that fails.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file that cannot be read (a manifest).
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file that is not a manifest this version writes.
    #[error("{}: not an everybyte manifest", path.display())]
    NotAManifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Two shard manifests disagree about one file.
    #[error("{path} appears in two manifests with different content")]
    Conflict { path: String },
    /// A `--size` that is not `WIDTHxHEIGHT`.
    #[error("--size {0}: expected WIDTHxHEIGHT, e.g. 224x224")]
    Size(String),
    /// A `--nan-policy` that is none of the policies.
    #[error("`{0}`: expected error, drop-row or fill=VALUE")]
    NanPolicy(String),
    #[error(transparent)]
    Pack(#[from] PackError),
}

/// A `data pack` that failed, with the file (and where it applies, the line and column).
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}:{line}: column `{column}`: {problem}")]
    Cell {
        path: PathBuf,
        line: u64,
        column: String,
        problem: String,
    },
    #[error("{path}: {problem}")]
    Input { path: PathBuf, problem: String },
}

/// What is wrong with a `.npy` file's header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    #[error("no \\x93NUMPY magic")]
    NoMagic,
    #[error("truncated header")]
    Truncated,
    #[error("unknown format version {0}")]
    Version(u8),
    #[error("header longer than the file (truncated)")]
    HeaderPastEnd,
    #[error("header has no '{0}'")]
    Missing(&'static str),
    #[error("shape entry `{0}` is not a number")]
    ShapeEntry(String),
    #[error("dtype `{0}` is not a plain numeric type")]
    Dtype(String),
    #[error("{0} overflows")]
    Overflow(&'static str),
    #[error(
        "shape {shape:?} × {itemsize} bytes = {need} bytes of data, but the file holds {have}{}",
        if have < need { " (truncated)" } else { "" }
    )]
    Size {
        shape: Vec<u64>,
        itemsize: usize,
        need: u64,
        have: u64,
    },
}

/// Why a full decode of an image failed (`data scan --decode`).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The `image` crate's decoder refused the file.
    #[error(transparent)]
    Image(#[from] image::ImageError),
    /// The JPEG decoder, in its lenient mode, refused the file.
    #[error("{0}")]
    Jpeg(String),
    /// The JPEG decoder in strict mode (as libjpeg judges) refused the file.
    #[error("strict decoding fails: {0}")]
    Strict(String),
    #[error("the decoder found no frame")]
    NoFrame,
    #[error("decodes to {width}x{height}, the header says {header_width}x{header_height}")]
    Dimensions {
        width: u64,
        height: u64,
        header_width: u64,
        header_height: u64,
    },
}
