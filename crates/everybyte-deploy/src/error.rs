//! The errors of the deploy area. Each variant carries the path or option it concerns, and its
//! message says everything (the cause included), as `everybyte` prints it.

use std::path::PathBuf;

use crate::yaml::MAX_DEPTH;

/// A YAML stream that cannot be read as documents.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// Block nesting past the limit, found before parsing.
    #[error("line {line}: nested deeper than {MAX_DEPTH} levels")]
    NestedAt { line: usize },
    /// Flow nesting past the limit, found while parsing.
    #[error("nested deeper than {MAX_DEPTH} levels")]
    Nested,
    /// What the YAML parser refused.
    #[error("line {line}: {info}")]
    Syntax { line: usize, info: String },
    /// A document that is not a mapping (a list, a bare value).
    #[error("line {line}: document {index} is not a mapping, so not a Kubernetes object")]
    NotAnObject { line: u64, index: usize },
    /// A field of a workload with the wrong shape (`spec: 5`).
    #[error("line {line}: {what}")]
    Shape { line: u64, what: String },
}

impl YamlError {
    /// The line (1-based) the error is on, where it has one.
    pub fn line(&self) -> Option<u64> {
        match self {
            YamlError::NestedAt { line } | YamlError::Syntax { line, .. } => {
                u64::try_from(*line).ok()
            }
            YamlError::NotAnObject { line, .. } | YamlError::Shape { line, .. } => Some(*line),
            YamlError::Nested => None,
        }
    }
}

/// What `everybyte profile` and `everybyte deploy` can fail on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `deploy serve` was asked for a manifest the API server (or a user) could not run.
    #[error("{what}: {why}")]
    ServeManifest { what: String, why: String },
    /// A file that cannot be read (a manifest, a profile record).
    #[error("{}: cannot read: {err}", path.display())]
    Read { path: PathBuf, err: std::io::Error },
    /// A manifest whose YAML does not parse.
    #[error("{}: {err}", path.display())]
    Manifest { path: PathBuf, err: YamlError },
    /// A `--profile` file that is not what `everybyte profile -o` writes.
    #[error("{}: not an everybyte profile record: {err}", path.display())]
    ProfileRecord {
        path: PathBuf,
        err: serde_json::Error,
    },
    #[error("--headroom {value}: expected a factor of at least 1.0")]
    Headroom { value: f64 },
    #[error("--bench {}: cannot read: {err}", path.display())]
    BenchRead { path: PathBuf, err: std::io::Error },
    #[error("--bench {}: not a report of everybyte bench --format json", path.display())]
    BenchReport { path: PathBuf },
    #[error("--model {}: cannot read: {err}", path.display())]
    ModelRead { path: PathBuf, err: std::io::Error },
    /// A path given to `deploy lint` that is neither a file nor a folder.
    #[error("{}: no such file or directory", path.display())]
    NotFound { path: PathBuf },
    /// A folder given to `deploy lint` that cannot be walked.
    #[error("{}: cannot walk: {err}", path.display())]
    Walk { path: PathBuf, err: ignore::Error },
    /// A patched manifest that cannot be written back.
    #[error("{}: cannot write: {err}", path.display())]
    Write { path: PathBuf, err: std::io::Error },
    /// `profile -o FILE` that cannot be written.
    #[error("{}: cannot write the profile: {err}", path.display())]
    WriteProfile { path: PathBuf, err: std::io::Error },
    #[error("--interval {value}: expected at least 0.005 seconds")]
    Interval { value: f64 },
    /// `--after-ready` or `--timeout` that is not a duration.
    #[error("{flag} {value}: expected a non-negative number of seconds")]
    Seconds { flag: &'static str, value: f64 },
    #[error("--ready-log {pattern}: not a regex: {err}")]
    ReadyLog { pattern: String, err: regex::Error },
    #[error("--ready-url {url}: expected http://HOST:PORT/PATH")]
    ReadyUrl { url: String },
    #[error("--syscalls works with --ready-url, not --ready-log")]
    SyscallsWithReadyLog,
    #[error("no command: give it after --, e.g. everybyte profile -- python serve.py")]
    NoCommand,
    /// The workload's program cannot be started.
    #[error("{program}: cannot run: {err}")]
    Spawn {
        program: String,
        err: std::io::Error,
    },
    /// Waiting for the workload failed.
    #[error("{err}")]
    Wait { err: std::io::Error },
    #[error("no command to trace")]
    NoTraceCommand,
    #[error("{program}: cannot run under ptrace: {err}")]
    TraceSpawn {
        program: String,
        err: std::io::Error,
    },
    #[error("waiting for the traced process failed")]
    TraceWait,
    #[error(
        "{program}: did not stop for tracing (ptrace may be forbidden here: kernel.yama.ptrace_scope, seccomp, or a container without CAP_SYS_PTRACE)"
    )]
    TraceForbidden { program: String },
    #[error("--syscall-counter bpf: {why}")]
    Bpf { why: String },
    #[error("--syscalls is implemented for x86-64 Linux only")]
    TraceUnsupported,
    #[error("process {pid}: no such process (it has exited, or the id is wrong)")]
    ProcessGone { pid: u32 },
    #[error(
        "process {pid} belongs to user {uid}: profiling another user's process needs root or CAP_SYS_PTRACE (or run everybyte as that user)"
    )]
    NotOurs { pid: u32, uid: u32 },
    #[error("process {pid}: cannot attach to count its system calls: {why}")]
    AttachRefused { pid: u32, why: String },
    #[error("process {pid} is everybyte itself")]
    AttachSelf { pid: u32 },
}
