//! The table pass's facts judged: the table as a whole (encoding, ragged rows), then each
//! column in order (the scan itself is `crate::table`).

use std::path::Path;

use everybyte_core::Finding;

use super::Kind;
use super::file::FileResult;
use crate::facts::{ContainerFault, Fact, Facts};
use crate::table::TableScan;

/// Scans a CSV, TSV or JSON Lines file, through its gzip or zstd compression where it has
/// one, and judges it; a compressed stream that breaks is judged up to the break, then
/// reported.
pub(crate) fn check(kind: Kind, path: &Path, facts: &mut Facts, out: &mut FileResult) {
    let delim = if kind == Kind::Tsv { b'\t' } else { b',' };
    let opened = std::fs::File::open(path).and_then(crate::compress::open);
    let (reader, codec, slot) = match opened {
        Ok(o) => o,
        Err(e) => return out.unreadable(&facts.rel, &e),
    };
    let scanned = match (kind, codec) {
        (Kind::Jsonl, _) => crate::table::scan_jsonl(reader),
        // A plain CSV/TSV is split at line boundaries and scanned on all cores.
        (_, None) => {
            drop(reader);
            crate::table::scan_file(path, delim)
        }
        (_, Some(_)) => crate::table::scan(reader, delim),
    };
    let mut table = match scanned {
        Ok(t) => t,
        Err(e) => return out.unreadable(&facts.rel, &e),
    };
    let rows = table.rows;
    let broke = slot.borrow_mut().take();
    // The line the break cut in two is the break's, not a line the writer got wrong.
    if broke.is_some() && kind == Kind::Jsonl && table.ragged.count > 0 && table.last_line > 0 {
        if table.ragged.first_line == table.last_line {
            table.ragged = crate::table::Seen::default();
        } else {
            table.ragged.count -= 1;
        }
    }
    judge(table, facts, &mut out.findings);
    if let Some(b) = broke {
        facts.fact = Fact::Container(ContainerFault {
            format: b.codec.name(),
            message: format!(
                "{} after {} bytes of content ({rows} rows read; the rest is lost)",
                b.message, b.after
            ),
            line: None,
        });
        crate::rules::judge(facts, &mut out.findings);
    }
}

/// Judges a scanned table, then its columns one by one.
pub(crate) fn judge(mut table: TableScan, facts: &mut Facts, findings: &mut Vec<Finding>) {
    let gaps = table.key_gaps.take();
    facts.fact = Fact::Table(table);
    crate::rules::judge(facts, findings);
    if let Some(gaps) = gaps {
        let table = std::mem::replace(&mut facts.fact, Fact::Fields(gaps));
        crate::rules::judge(facts, findings);
        facts.fact = table;
    }
    if let Fact::Table(table) = std::mem::take(&mut facts.fact) {
        for c in table.columns {
            facts.fact = Fact::Column(c);
            crate::rules::judge(facts, findings);
        }
    }
}
