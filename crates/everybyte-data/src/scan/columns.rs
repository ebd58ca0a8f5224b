//! The columnar pass: a Parquet or Arrow IPC file read column by column (`crate::columnar`),
//! its columns judged as a table's are, its breaks and its statistics; its schema kept for the
//! dataset's check across files.

use std::path::Path;

use super::Kind;
use super::file::FileResult;
use crate::facts::{ContainerFault, Fact, Facts};

/// Reads and judges a columnar file.
pub(crate) fn check(kind: Kind, path: &Path, facts: &mut Facts, out: &mut FileResult) {
    let format = if kind == Kind::Parquet {
        "Parquet"
    } else {
        "Arrow IPC"
    };
    // The readers are other projects' code over hostile bytes: a panic in one is this file's
    // fault, reported, not the end of the scan.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match kind {
        Kind::Parquet => crate::columnar::scan_parquet(path),
        _ => crate::columnar::scan_arrow(path),
    }));
    let scan = match read {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return out.unreadable(&facts.rel, &e),
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            crate::columnar::ColumnarScan {
                fault: Some(format!("the {format} reader gave up on the file: {why}")),
                ..Default::default()
            }
        }
    };
    if let Some(fault) = scan.fault {
        facts.fact = Fact::Container(ContainerFault {
            format,
            message: if scan.rows > 0 {
                format!("{fault}; {} rows read before it", scan.rows)
            } else {
                fault
            },
            line: None,
        });
        crate::rules::judge(facts, &mut out.findings);
    }
    if !scan.stats.is_empty() {
        facts.fact = Fact::Statistics(scan.stats);
        crate::rules::judge(facts, &mut out.findings);
    }
    for c in scan.columns {
        facts.fact = Fact::Column(c);
        crate::rules::judge(facts, &mut out.findings);
    }
    if !scan.schema.is_empty() {
        out.schema = Some(super::file::Columnar {
            schema: scan.schema,
            rows: scan.rows,
        });
    }
}
