//! The errors of this crate, each carrying the input it concerns: a Python source that cannot
//! be parsed, a `torch.save` archive or a tensor in it that cannot be read, a file whose
//! tensors cannot be compared, a `repro run` that cannot go on.
//!
//! Each `Display` is the whole message the command line prints, the words of the underlying
//! error included; `source()` gives that underlying error to inspect. Print one or the other,
//! not the chain, or its words appear twice.

use std::error::Error as StdError;
use std::io;
use std::path::PathBuf;

use everybyte_core::safetensors::SafetensorsError;
use everybyte_data::error::NpyError;
use everybyte_mem::pickle::PickleError;

/// Why a file could not be read as Python.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// Why the zip archive of a `torch.save` file cannot be listed. `at` is a byte offset into
/// the archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    #[error("no zip end-of-central-directory record: not a torch.save zip")]
    NoEndRecord,
    /// A field at `at` lies past the end of the file.
    #[error("truncated")]
    Truncated { at: usize },
    #[error("truncated zip64 locator")]
    TruncatedLocator,
    #[error("zip64 locator missing")]
    LocatorMissing { at: usize },
    /// The zip64 end record's offset does not fit this machine's addresses.
    #[error("bad offset")]
    BadRecordOffset(u64),
    #[error("zip64 end record missing")]
    EndRecordMissing { at: usize },
    #[error("bad central directory offset")]
    BadDirectoryOffset(u64),
    #[error("central directory entry expected at byte {at}")]
    DirectoryEntry { at: usize },
    /// An entry's name runs past the end of the file.
    #[error("truncated name")]
    TruncatedName { at: usize },
    #[error("bad local offset")]
    BadLocalOffset { name: String, offset: u64 },
    #[error("{name}: local header missing")]
    LocalHeaderMissing { name: String, at: usize },
    #[error("bad size")]
    BadSize { name: String, size: u64 },
    /// An entry whose `size` bytes from `offset` run past the end of the file.
    #[error("{name}: data runs past the end of the file")]
    DataPastEnd {
        name: String,
        offset: usize,
        size: usize,
    },
}

/// A tensor of a checkpoint's pickle that cannot be rebuilt; `name` is its path through the
/// pickle's dicts, lists and tuples (`state_dict.layer.weight`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TorchTensorError {
    #[error("{name}: tensor without a storage")]
    NoStorage { name: String },
    #[error("{name}: unrecognised storage reference")]
    StorageReference { name: String },
    #[error("{name}: storage type {storage} is not compared")]
    StorageType { name: String, storage: String },
    #[error("{name}: malformed tensor arguments")]
    Arguments { name: String },
    #[error("{name}: storage {key} is missing from the archive")]
    MissingStorage { name: String, key: String },
    #[error("{name}: shape {shape:?} with strides {stride:?} does not fit its storage")]
    DoesNotFit {
        name: String,
        shape: Vec<i64>,
        stride: Vec<i64>,
    },
    #[error("{name}: a view reaches past its storage")]
    PastStorage { name: String },
}

/// Why a `torch.save` file's tensors cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Zip(#[from] ZipError),
    #[error("no data.pkl in the archive: not a torch.save file")]
    NoPickle,
    /// `data.pkl`, at `name` in the archive, is deflated.
    #[error("data.pkl is compressed; torch.save stores it uncompressed")]
    CompressedPickle { name: String },
    #[error("{name}: compressed storage")]
    CompressedStorage { name: String },
    #[error("data.pkl: {0}")]
    Pickle(#[source] PickleError),
    /// The first tensor that cannot be rebuilt, in pickle order.
    #[error(transparent)]
    Tensor(#[from] TorchTensorError),
}

/// Why one copy of an output cannot be read as tensors (`.npy`, `.safetensors`, a `torch.save`
/// checkpoint) to be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TensorFileError {
    #[error("{0}")]
    Npy(#[from] NpyError),
    /// A multi-byte big-endian array (`>f4`); `size` is its item size.
    #[error("big-endian arrays are not compared")]
    BigEndian { size: usize },
    /// A numpy dtype kind other than float, integer or bool (`c`, `U`, `O`...).
    #[error("dtype kind {0} is not compared element-wise")]
    DtypeKind(char),
    /// An offset into the file that does not fit this machine's addresses.
    #[error("bad offset")]
    BadOffset(u64),
    #[error("{0}")]
    Safetensors(#[from] SafetensorsError),
    #[error("{name}: dtype {dtype} is not compared")]
    SafetensorsDtype { name: String, dtype: String },
    /// A safetensors tensor whose bytes end past the end of the file.
    #[error("tensor past the end")]
    PastEnd { name: String },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Why `repro run` stopped before it could compare the runs.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no command: give it after --, e.g. everybyte repro run -- python train.py")]
    NoCommand,
    /// `-n` below 2.
    #[error("-n {0}: at least 2 runs are needed to compare")]
    TooFewRuns(usize),
    /// An `--outputs` pattern that is not a glob.
    #[error("--outputs {pattern}: {source}")]
    Pattern {
        pattern: String,
        #[source]
        source: globset::Error,
    },
    /// A run's directory in the store.
    #[error("{}: cannot create: {source}", path.display())]
    CreateRunDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The caller's step before a run (recording the environment) failed.
    #[error("{source}")]
    Before {
        run: usize,
        dir: PathBuf,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// A run's `stdout.log` or `stderr.log`.
    #[error("{source}")]
    CreateLog {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The command cannot be started; `program` is its first word.
    #[error("{program}: cannot run: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    /// The directory an output is copied into.
    #[error("{source}")]
    CreateOutputDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An output, relative to the working directory, that cannot be copied aside.
    #[error("{output}: cannot copy: {source}")]
    Copy {
        output: String,
        to: PathBuf,
        #[source]
        source: io::Error,
    },
}
