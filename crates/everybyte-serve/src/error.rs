//! The crate's errors. Each variant carries the path, input or address it concerns, and its
//! message is the one the server or the load generator prints.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a request failed; each transport maps it to its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400 / INVALID_ARGUMENT
    Invalid,
    /// 404 / NOT_FOUND
    NotFound,
    /// 503 / UNAVAILABLE: the queue is full, or the server is not ready or draining.
    Unavailable,
    /// 500 / INTERNAL
    Internal,
}

/// A request's failure, as both transports answer it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InferError {
    pub kind: ErrorKind,
    pub message: String,
}

impl InferError {
    pub fn invalid(m: impl Into<String>) -> Self {
        InferError {
            kind: ErrorKind::Invalid,
            message: m.into(),
        }
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        InferError {
            kind: ErrorKind::NotFound,
            message: m.into(),
        }
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        InferError {
            kind: ErrorKind::Unavailable,
            message: m.into(),
        }
    }
    pub fn internal(m: impl Into<String>) -> Self {
        InferError {
            kind: ErrorKind::Internal,
            message: m.into(),
        }
    }
}

/// Why a tensor's shape, length or values are not what its datatype needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TensorError {
    #[error("shape {shape:?} has a negative dimension")]
    NegativeDimension { shape: Vec<i64> },
    #[error("shape {shape:?} has more elements than memory can hold")]
    TooManyElements { shape: Vec<i64> },
    #[error("shape {shape:?} of {datatype} needs more than the request limit of {limit} bytes")]
    OverLimit {
        shape: Vec<i64>,
        datatype: &'static str,
        limit: usize,
    },
    #[error("input {input}: {got} bytes of data, but shape {shape:?} of {datatype} needs {needed}")]
    Length {
        input: String,
        got: usize,
        shape: Vec<i64>,
        datatype: &'static str,
        needed: usize,
    },
    #[error("more values than the shape holds")]
    TooManyValues,
    #[error("has {got} values in `data` but its shape holds {count}")]
    ValueCount { got: usize, count: usize },
    #[error("element {index} ({value}) is not a {ty}")]
    NotInteger {
        index: usize,
        value: String,
        ty: &'static str,
    },
    #[error("element {index} ({value}) is not true or false")]
    NotBool { index: usize, value: String },
    #[error("element {index} ({value}) is not a number")]
    NotNumber { index: usize, value: String },
    #[error("element {index} ({value}) is not a string")]
    NotString { index: usize, value: String },
    #[error("element {index} is too long")]
    TooLong { index: usize },
    #[error(
        "{datatype} cannot be sent as JSON here; send it as binary data (the binary tensor extension)"
    )]
    BinaryInput { datatype: &'static str },
    #[error(
        "{datatype} outputs are returned as binary data only: request them with \"binary_data\": true"
    )]
    BinaryOutput { datatype: &'static str },
}

/// Why the model repository cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{}: cannot read the model repository: {source}", root.display())]
    Root {
        root: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no version directory with a model.onnx (expected {}/1/model.onnx)", dir.display(), dir.display())]
    NoVersion { dir: PathBuf },
    #[error("{}: no models (expected NAME/1/model.onnx under it)", root.display())]
    NoModels { root: PathBuf },
    #[error("{}: no model named {name} (it has {})", root.display(), have.join(", "))]
    NotInRepository {
        root: PathBuf,
        name: String,
        have: Vec<String>,
    },
    #[error("{}: {error}", path.display())]
    Pbtxt { path: PathBuf, error: PbtxtError },
    #[error("{}: {error}", path.display())]
    Toml {
        path: PathBuf,
        error: toml::de::Error,
    },
    #[error("{}: queue must be between 1 and {max} requests", dir.display())]
    Queue { dir: PathBuf, max: usize },
    #[error("{}: {why}", path.display())]
    Plan { path: PathBuf, why: String },
    #[error("{}: a batching delay of {micros} µs is over the {max_seconds} s this server allows", dir.display())]
    Delay {
        dir: PathBuf,
        micros: u128,
        max_seconds: u64,
    },
    #[error("{}: max batch is at most {max}", dir.display())]
    MaxBatch { dir: PathBuf, max: usize },
}

/// Why a `config.pbtxt` cannot be read: the message after its path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PbtxtError {
    #[error("unterminated string")]
    UnterminatedString,
    #[error("unexpected character at byte {0}")]
    Unexpected(usize),
    #[error("expected '{expected}' at byte {at}")]
    Expected { expected: char, at: usize },
    #[error("nested too deeply")]
    TooDeep,
    #[error("unterminated list")]
    UnterminatedList,
    #[error("unterminated message")]
    UnterminatedMessage,
    #[error("{key}: {value} is not a non-negative integer")]
    NotInteger { key: String, value: String },
    #[error("{key}: expected a number")]
    NotNumber { key: String },
}

/// Why ONNX Runtime or a model cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: not a loadable ONNX Runtime library: {error}", library.display())]
    Library {
        library: PathBuf,
        error: ort::LoadDynamicError,
    },
    #[error("ONNX Runtime environment: {0}")]
    Environment(ort::Error),
    #[error("{}: ONNX Runtime cannot load it: {error}", path.display())]
    Model { path: PathBuf, error: ort::Error },
    #[error("{}: cannot run on {device}: {error}", path.display())]
    Device {
        path: PathBuf,
        device: String,
        error: ort::Error,
    },
    #[error("{}: {kind} {name} is a {ty}, not a tensor; only tensor inputs and outputs can be served", path.display())]
    NotTensor {
        path: PathBuf,
        kind: &'static str,
        name: String,
        ty: String,
    },
    #[error("{}: {kind} {name} has element type {ty}, which the KServe v2 protocol's fixed-size datatypes do not carry", path.display())]
    ElementType {
        path: PathBuf,
        kind: &'static str,
        name: String,
        ty: String,
    },
    #[error("{}: max batch {max_batch} is configured, but the model cannot be batched along its first dimension: {why}; set max-batch = 0", path.display())]
    Unbatchable {
        path: PathBuf,
        max_batch: usize,
        why: Unbatchable,
    },
    #[error("{}: max batch {max_batch} is configured, but the model does not batch along its first dimension: {why}; set max-batch = 0", path.display())]
    NotBatching {
        path: PathBuf,
        max_batch: usize,
        why: String,
    },
}

/// Why a model cannot be batched along its first dimension, from its declared shapes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unbatchable {
    #[error("{name} is a scalar")]
    Scalar { name: String },
    #[error("{name} has a fixed first dimension ({dim}) in shape {shape:?}")]
    FixedFirst {
        name: String,
        dim: i64,
        shape: Vec<i64>,
    },
    #[error("{name}'s first dimension is {symbol}, another's is {other}")]
    Symbols {
        name: String,
        symbol: String,
        other: String,
    },
}

/// Why an engine could not run a batch; every request of the batch fails with it.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{input}: BYTES inputs are not supported")]
    BytesInput { input: String },
    #[error("input {input}: {error}")]
    Input { input: String, error: ort::Error },
    #[error("input {input}: {got} bytes for a tensor of {len}")]
    InputLength {
        input: String,
        got: usize,
        len: usize,
    },
    #[error("ONNX Runtime: {0}")]
    Runtime(ort::Error),
    #[error("the model produced no output {output}")]
    MissingOutput { output: String },
    #[error("output {output}: {error}")]
    Output { output: String, error: ort::Error },
    #[error(
        "output {output} has shape {shape:?}, not {rows} rows: the model cannot be batched (set max-batch = 0)"
    )]
    Unbatched {
        output: String,
        shape: Vec<i64>,
        rows: usize,
    },
    /// An engine's own failure, in its words.
    #[error("{0}")]
    Other(String),
}

/// Why `everybyte serve` could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Library(#[from] crate::onnx::LibraryNotFound),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("model {model}: {from} {device}: {why}; looked at: {}", looked.join("; "))]
    NoGpu {
        model: String,
        /// Where the device was asked for: `--device`, or the model's `everybyte.toml`.
        from: &'static str,
        device: String,
        why: String,
        looked: Vec<String>,
    },
    #[error("model {model}: {why}")]
    Plan { model: String, why: String },
    #[error("model {model}: cannot start its worker thread")]
    Worker {
        model: String,
        source: std::io::Error,
    },
    #[error("starting the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("{flag} {addr}: cannot listen")]
    Listen {
        flag: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("cannot install the SIGTERM handler")]
    Signal(#[source] std::io::Error),
}

/// Why a `--duration`, `--shape` or `--fill` argument of `everybyte bench` is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{input}: not a duration (10s, 500ms, 2m, 1h)")]
    Duration { input: String },
    #[error("--shape {input}: expected NAME=D1,D2,…")]
    ShapeForm { input: String },
    #[error("--shape {input}: dimensions must be non-negative integers")]
    ShapeDims { input: String },
    #[error("--fill {input}: expected NAME=VALUE")]
    FillForm { input: String },
    #[error("--fill {input}: {value} is not a number")]
    FillValue { input: String, value: String },
}

/// Why `everybyte bench` could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the model metadata lists no inputs")]
    NoInputs,
    #[error("an input without a name")]
    UnnamedInput,
    #[error("input {input}: unknown datatype {datatype:?}")]
    Datatype { input: String, datatype: String },
    #[error("--shape {input}: {given:?} does not fit the model's {model:?}")]
    ShapeMismatch {
        input: String,
        given: Vec<i64>,
        model: Vec<i64>,
    },
    #[error(
        "input {input} has dynamic dimensions {model:?}: give them with --shape {input}={example}"
    )]
    DynamicShape {
        input: String,
        model: Vec<i64>,
        example: String,
    },
    #[error(transparent)]
    Shape(#[from] TensorError),
    #[error("input {input}: {datatype} inputs cannot be synthesized")]
    Unsynthesizable { input: String, datatype: String },
    #[error("input {input}: shape {shape:?} is over 1 GiB per request")]
    TooLarge { input: String, shape: Vec<i64> },
    #[error("{url}: give the server as http://HOST:PORT (REST) or grpc://HOST:PORT")]
    Scheme { url: String },
    #[error("{base}: not a URL")]
    Url {
        base: String,
        source: hyper::http::uri::InvalidUri,
    },
    #[error(transparent)]
    Uri(#[from] hyper::http::uri::InvalidUri),
    #[error("{uri}: cannot connect")]
    Connect {
        uri: String,
        source: hyper_util::client::legacy::Error,
    },
    #[error(transparent)]
    Body(#[from] hyper::Error),
    #[error("{uri}: {status}: {body}")]
    Status {
        uri: String,
        status: hyper::StatusCode,
        body: String,
    },
    #[error("{uri}: not KServe v2 model metadata")]
    Metadata {
        uri: String,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("--json applies to HTTP only")]
    JsonOverGrpc,
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
    #[error("{url}: cannot connect")]
    GrpcConnect {
        url: String,
        source: tonic::transport::Error,
    },
    #[error("{url}: model {model}: {message}")]
    GrpcMetadata {
        url: String,
        model: String,
        message: String,
    },
    #[error("--rate {0}: expected a positive number of requests per second")]
    Rate(f64),
    #[error("give --rate (open loop) or --concurrency (closed loop), not both")]
    RateAndConcurrency,
    #[error("--concurrency 0: expected at least 1")]
    ZeroConcurrency,
    #[error("starting the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the first request failed ({0}); check the model and --shape")]
    FirstRequest(String),
}

/// Why one request of a benchmark failed: the kind it is counted under in the report
/// (`connect`, `io`, `http 503`, `grpc Unavailable`, `timeout`).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("request: {0}")]
    Request(hyper::http::Error),
    #[error("connect")]
    Connect,
    #[error("io")]
    Io,
    #[error("http {0}")]
    Http(u16),
    #[error("grpc {0:?}")]
    Grpc(tonic::Code),
    #[error("timeout")]
    Timeout,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn errors_cross_threads() {
        is_send_sync::<ServeError>();
        is_send_sync::<BenchError>();
        is_send_sync::<EngineError>();
        is_send_sync::<InferError>();
    }
}
