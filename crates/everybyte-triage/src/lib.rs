//! Log triage: a streaming reader that turns raw logs (training output, `dmesg`, `kubectl
//! describe`, NCCL and driver messages) into incidents, in order, each with a diagnosis that
//! carries the numbers and the next command to run.
//!
//! The reader finds candidate lines with one multi-pattern search over whole buffers, so the
//! cost per byte is close to that of `grep`, and it holds only one buffer and the incidents in
//! memory, whatever the size of the log.

mod demangle;
mod env;
mod hit;
mod line;
pub mod rules;
mod scan;
mod sink;
mod traceback;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use everybyte_core::config::TriageOptions;
use everybyte_core::{ContextItem, FileKind, Finding};

pub use rules::RULES;
pub use scan::{Scanner, trigger_words};

/// The outcome of triaging one log.
#[derive(Debug, Default)]
pub struct TriageResult {
    pub findings: Vec<Finding>,
    pub context: Vec<ContextItem>,
    /// Lines read (a final line without a newline counts).
    pub lines: u64,
    /// Bytes read, after decompression.
    pub bytes: u64,
    /// Incidents beyond `max_incidents`, counted but not kept.
    pub dropped: u64,
}

/// An input that could not be read to the end.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct ReadError {
    pub path: String,
    pub source: io::Error,
    /// What was diagnosed before the error.
    pub partial: Box<TriageResult>,
}

/// Triages a stream, decompressing it first when it starts with the gzip magic bytes.
/// `name` is what findings print as the path.
pub fn triage_reader<R: Read>(
    reader: R,
    name: &str,
    opts: &TriageOptions,
) -> Result<TriageResult, ReadError> {
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    let is_gzip = match buffered.fill_buf() {
        Ok(head) => head.starts_with(&[0x1f, 0x8b]),
        Err(source) => {
            return Err(ReadError {
                path: name.to_owned(),
                source,
                partial: Box::default(),
            });
        }
    };
    let mut scanner = Scanner::new(name, opts);
    let result = if is_gzip {
        scanner.read_all(flate2::read::MultiGzDecoder::new(buffered))
    } else {
        scanner.read_all(buffered)
    };
    match result {
        Ok(()) => Ok(scanner.finish()),
        Err(source) => Err(ReadError {
            path: name.to_owned(),
            source,
            partial: Box::new(scanner.finish()),
        }),
    }
}

/// Triages a file (plain or gzip-compressed).
pub fn triage_file(
    path: &Path,
    name: &str,
    opts: &TriageOptions,
) -> Result<TriageResult, ReadError> {
    let file = File::open(path).map_err(|source| ReadError {
        path: name.to_owned(),
        source,
        partial: Box::default(),
    })?;
    triage_reader(file, name, opts)
}

/// What triaging several inputs gives: one report, and notes for standard error (incidents
/// counted but not kept).
#[derive(Debug, Default)]
pub struct Triaged {
    pub report: everybyte_core::Report,
    pub notes: Vec<String>,
}

/// Triages each input in turn: a path, or `-` for standard input (standard input alone when
/// there is none). An input that cannot be read to the end keeps what was diagnosed before
/// the error and adds IO001.
pub fn triage_inputs(inputs: &[std::path::PathBuf], opts: &TriageOptions) -> Triaged {
    let stdin = [std::path::PathBuf::from("-")];
    let inputs = if inputs.is_empty() {
        &stdin[..]
    } else {
        inputs
    };
    let mut out = Triaged::default();
    for input in inputs {
        let (name, result) = if input.as_os_str() == "-" {
            let name = "<stdin>";
            (
                name.to_owned(),
                triage_reader(io::stdin().lock(), name, opts),
            )
        } else {
            let name = input.display().to_string();
            let r = triage_file(input, &name, opts);
            (name, r)
        };
        let report = &mut out.report;
        report.inputs.push(name.clone());
        match result {
            Ok(r) => {
                report.findings.extend(r.findings);
                report.context.extend(r.context);
                if r.dropped > 0 {
                    out.notes.push(format!(
                        "{name}: {} further incidents not kept (triage.max-incidents)",
                        r.dropped
                    ));
                }
            }
            Err(err) => {
                report.findings.extend(err.partial.findings);
                report
                    .findings
                    .push(everybyte_core::rules::unreadable_io(&name, &err.source));
            }
        }
    }
    out
}

/// Triage's part of the audit: every log the project holds.
pub fn audit(input: &everybyte_core::Audit, report: &mut everybyte_core::Report) {
    let opts = &input.config.options.triage;
    for file in input.project.files_of(FileKind::Log) {
        match triage_file(&file.path, &file.rel, opts) {
            Ok(r) => {
                report.findings.extend(r.findings);
                report.context.extend(r.context);
            }
            Err(err) => {
                report.findings.extend(err.partial.findings);
                report
                    .findings
                    .push(everybyte_core::rules::unreadable_io(&file.rel, &err.source));
            }
        }
    }
}

/// Why `mem explain` has nothing to explain.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("{name}: cannot read")]
    Read { name: String, source: io::Error },
    #[error(
        "{name}: no CUDA out-of-memory message found (expected PyTorch's `CUDA out of memory. Tried to allocate …`)"
    )]
    NoOom { name: String },
}

/// Diagnoses a CUDA out-of-memory message: `message` is the text itself or a file holding
/// it; standard input when absent. Returns the name findings carry and the diagnosis.
pub fn explain_oom(
    message: Option<&str>,
    opts: &TriageOptions,
) -> Result<(String, TriageResult), ExplainError> {
    let (name, text) = match message {
        Some(m) if Path::new(m).is_file() => {
            let text = std::fs::read_to_string(m).map_err(|source| ExplainError::Read {
                name: m.to_owned(),
                source,
            })?;
            (m.to_owned(), text)
        }
        Some(m) => ("<message>".to_owned(), m.to_owned()),
        None => {
            let mut t = String::new();
            io::stdin()
                .read_to_string(&mut t)
                .map_err(|source| ExplainError::Read {
                    name: "<stdin>".to_owned(),
                    source,
                })?;
            ("<stdin>".to_owned(), t)
        }
    };
    let r = triage_reader(text.as_bytes(), &name, opts).map_err(|e| ExplainError::Read {
        name: name.clone(),
        source: e.source,
    })?;
    if r.findings.iter().any(is_cuda_oom) {
        Ok((name, r))
    } else {
        Err(ExplainError::NoOom { name })
    }
}

/// Whether a finding is a CUDA out-of-memory error (either cause).
pub fn is_cuda_oom(finding: &Finding) -> bool {
    finding.code == rules::cuda_oom::CUDA_OOM_CAPACITY.code
        || finding.code == rules::cuda_oom::CUDA_OOM_FRAGMENTATION.code
}

/// The area's rule prefixes and the title reports give its findings.
pub static AREA: everybyte_core::Area = everybyte_core::Area {
    prefixes: &["LOG"],
    title: "triage: crash logs",
};
