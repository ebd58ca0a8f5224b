//! The table pass's facts judged: the table as a whole (encoding, ragged rows), then each
//! column in order (the scan itself is `crate::table`).

use everybyte_core::Finding;

use crate::facts::{Fact, Facts};
use crate::table::TableScan;

/// Judges a scanned table, then its columns one by one.
pub(crate) fn judge(table: TableScan, facts: &mut Facts, findings: &mut Vec<Finding>) {
    facts.fact = Fact::Table(table);
    crate::rules::judge(facts, findings);
    if let Fact::Table(table) = std::mem::take(&mut facts.fact) {
        for c in table.columns {
            facts.fact = Fact::Column(c);
            crate::rules::judge(facts, findings);
        }
    }
}
