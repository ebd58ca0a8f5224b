//! Log triage: a streaming reader that turns raw logs (training output, `dmesg`, `kubectl
//! describe`, NCCL and driver messages) into incidents, in order, each with a diagnosis that
//! carries the numbers and the next command to run.
//!
//! The reader finds candidate lines with one multi-pattern search over whole buffers, so the
//! cost per byte is close to that of `grep`, and it holds only one buffer and the incidents in
//! memory, whatever the size of the log.

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

/// Whether a finding is a CUDA out-of-memory error (either cause).
pub fn is_cuda_oom(finding: &Finding) -> bool {
    finding.code == rules::cuda_oom::CUDA_OOM_CAPACITY.code
        || finding.code == rules::cuda_oom::CUDA_OOM_FRAGMENTATION.code
}
