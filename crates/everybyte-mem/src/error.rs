//! The errors of this crate, each carrying the input it concerns: a GPU log that is not one, a
//! model file that cannot be sized, a pickle or allocator snapshot that cannot be read, a watch
//! that cannot start. The words of each message are the ones the command line prints.

use std::fmt;
use std::path::PathBuf;

use everybyte_core::safetensors::SafetensorsError;

use crate::nvml::LIBRARY_ENV;
use crate::pickle::opcode_name;

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error(transparent)]
    AutoGpu(#[from] AutoGpuError),
}

/// Why a text is not an `nvidia-smi --format=csv` log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("empty log")]
    Empty,
    #[error("no memory.used or utilization.gpu column in the header: `{header}`")]
    NoColumns { header: String },
}

/// What a Hugging Face `config.json` lacks for counting the parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config has no {0}")]
pub struct ConfigError(pub &'static str);

/// Why an ONNX model's initializers cannot be counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnnxError {
    #[error("truncated varint at byte {0}")]
    TruncatedVarint(usize),
    #[error("varint longer than 10 bytes at byte {0}")]
    LongVarint(usize),
    #[error("truncated 64-bit field")]
    Truncated64,
    #[error("truncated 32-bit field")]
    Truncated32,
    #[error("length overflows")]
    LengthOverflow,
    #[error("field {field} of {len} bytes runs past the end (truncated)")]
    PastEnd { field: u64, len: usize },
    #[error("wire type {wire} at byte {at}: not a protobuf message")]
    WireType { wire: u8, at: usize },
    #[error("tensor dims overflow")]
    DimsOverflow,
    #[error("no graph (field 7): not an ONNX model")]
    NoGraph,
}

/// An optimizer name `mem budget` does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown optimizer `{0}` (adamw, adam, sgd, sgd-momentum, adafactor, adam-8bit)")]
pub struct UnknownOptimizer(pub String);

/// Why a model's size and shape cannot be read (`mem budget --model` / `--params`).
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("--params {0}: expected a count such as 7B, 1.3B or 350M")]
    Params(String),
    #[error("give --model FILE or --params N")]
    NoModel,
    #[error("{}: cannot read", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not JSON", .path.display())]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: {reason}", .path.display())]
    Onnx { path: PathBuf, reason: OnnxError },
    #[error("{}: {}", .path.display(), SafetensorsWords(.reason))]
    Safetensors {
        path: PathBuf,
        reason: Box<SafetensorsError>,
    },
    #[error("{}: {reason}", .path.display())]
    Config { path: PathBuf, reason: ConfigError },
}

/// A safetensors error in the words `mem budget` has always used for the common cases.
struct SafetensorsWords<'a>(&'a SafetensorsError);

impl fmt::Display for SafetensorsWords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SafetensorsError::Io(e) => write!(f, "cannot open: {e}"),
            SafetensorsError::TooShort => {
                write!(f, "not a safetensors file: shorter than 8 bytes")
            }
            SafetensorsError::ImplausibleLength(n) => {
                write!(f, "header length {n} is implausible")
            }
            SafetensorsError::NotJson(e) => write!(f, "the header is not JSON: {e}"),
            other => write!(f, "not a safetensors file: {other}"),
        }
    }
}

/// Why NVML is not available.
#[derive(Debug, thiserror::Error)]
pub enum NvmlError {
    /// No library could be opened: each name tried, with the loader's reason.
    #[error(
        "no NVIDIA driver library (NVML) on this machine; tried {}. libnvidia-ml.so.1 comes with the NVIDIA driver: install the driver, or in a container run with the NVIDIA container toolkit (docker run --gpus all) so the driver's libraries are mounted; if the library lives elsewhere, set {LIBRARY_ENV} to its path",
        Tried(.0)
    )]
    NotFound(Vec<(String, String)>),
    /// The library opened but lacks a required function (a very old or foreign library).
    #[error("{library} has no {symbol}: it is not NVML, or a driver older than any supported one")]
    Missing { library: String, symbol: String },
    /// An NVML call failed.
    #[error("NVML {call} failed: {message}")]
    Call { call: &'static str, message: String },
}

/// The libraries tried, `name (why); name (why)`.
struct Tried<'a>(&'a [(String, String)]);

impl fmt::Display for Tried<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, why)) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{name} ({why})")?;
        }
        Ok(())
    }
}

/// Why `gpu watch` cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("--interval {0}: expected a positive number of seconds")]
    Interval(f64),
    #[error("gpu watch reads the GPUs through NVML")]
    Load(#[source] NvmlError),
    #[error(
        "the NVIDIA driver ({library}) sees no GPU: check `nvidia-smi`, CUDA_VISIBLE_DEVICES does not apply here"
    )]
    NoGpu { library: String },
    #[error("{}: cannot create the CSV log", .path.display())]
    CreateCsv {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Nvml(#[from] NvmlError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why `--gpu auto` cannot read the card.
#[derive(Debug, thiserror::Error)]
pub enum AutoGpuError {
    #[error(
        "--gpu auto reads the card through NVML; or give its memory (--gpu 24GiB) or name (--gpu a100-80g)"
    )]
    Load(#[source] NvmlError),
    #[error("--gpu auto: GPU {index} does not exist (the driver sees {count})")]
    NoSuchGpu { index: u32, count: u32 },
    #[error(transparent)]
    Nvml(#[from] NvmlError),
}

/// What went wrong in a pickle, without the position.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PickleErrorKind {
    #[error("input is {size} bytes, more than the limit of {limit}")]
    InputTooLarge { size: usize, limit: usize },
    #[error("unknown opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    #[error("stream ends inside the opcode's argument (needs {needed} bytes, {left} left)")]
    Truncated { needed: u64, left: usize },
    #[error("stream ends without STOP")]
    NoStop,
    #[error("{0}")]
    BadArgument(String),
    #[error("stack is empty")]
    StackUnderflow,
    #[error("no MARK to pop to")]
    NoMark,
    #[error("{0} where the opcode needs {1}")]
    WrongType(&'static str, &'static str),
    #[error("memo key {0} was never stored")]
    MissingMemo(u64),
    #[error("more than {0} memo entries")]
    TooManyMemo(usize),
    #[error("more than {0} values")]
    TooManyValues(usize),
    #[error("more than {0} bytes of text and bytes once shared references are copied")]
    OutputTooLarge(usize),
    #[error("nesting deeper than {0} (or a self-referencing container)")]
    TooDeep(usize),
    #[error("integer of {0} bytes is longer than the limit")]
    LongTooLong(usize),
    #[error("STOP leaves {0} values on the stack instead of 1")]
    StackNotSingle(usize),
    #[error("{0} bytes after STOP")]
    TrailingBytes(usize),
}

/// An error at a byte offset of the pickle, with the opcode being read there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PickleError {
    /// Offset of the opcode in the input.
    pub offset: usize,
    /// The opcode byte, when the error belongs to one.
    pub opcode: Option<u8>,
    pub kind: PickleErrorKind,
}

impl fmt::Display for PickleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.opcode {
            Some(op) => write!(
                f,
                "pickle byte {} (opcode {}): {}",
                self.offset,
                opcode_name(op),
                self.kind
            ),
            None => write!(f, "pickle byte {}: {}", self.offset, self.kind),
        }
    }
}

/// Why a snapshot or summary could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a readable pickle: {0}")]
    Pickle(#[from] PickleError),
    #[error(
        "the snapshot is {article} {kind}, not a dict with `segments` or a list of segments",
        article = article(.0),
        kind = .0
    )]
    NotASnapshot(&'static str),
    #[error("{context} is {} {found}, not a dict", article(.found))]
    NotADict {
        context: String,
        found: &'static str,
    },
    #[error("{context}: missing key `{key}`")]
    MissingKey { context: String, key: &'static str },
    #[error("{context}: `{key}` is {} {found}, expected {expected}", article(.found))]
    WrongType {
        context: String,
        key: &'static str,
        found: &'static str,
        expected: &'static str,
    },
    #[error("{context}: unknown block state `{state}`")]
    UnknownState { context: String, state: String },
    #[error("memory summary: {0}")]
    Summary(String),
}

fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}
