//! The fields of a file's records followed record by record (a JSON Lines object's keys, a
//! `tf.train.Example`'s features, a WebDataset sample's members), for the fields some records
//! lack ([`crate::facts::FieldGaps`], judged by DATA015). Memory: one entry per distinct field
//! name, whatever the number of records.

use std::collections::HashMap;

use crate::facts::{FieldGap, FieldGaps};

/// How a record is named in a finding (`line 4`, `sample n01_0003`), and its line where
/// records are lines.
pub type Label = (String, Option<u64>);

/// The most distinct fields followed: a file whose records each have their own keys (a JSON
/// object used as a map) has no fields that "most records have", and following them all
/// would cost fields × records.
pub const MAX_FIELDS: usize = 1024;

#[derive(Debug, Default)]
pub struct FieldTracker {
    /// More than [`MAX_FIELDS`] distinct fields were seen: nothing is followed any more.
    gave_up: bool,
    /// Records ended so far.
    records: u64,
    /// The first record's label: every record before a field's first appearance lacked it.
    first: Option<Label>,
    index: HashMap<String, usize>,
    names: Vec<String>,
    /// Per field: the last record (numbered from 1) that had it.
    last: Vec<u64>,
    /// Per field: the records without it and the first of them.
    missing: Vec<(u64, Option<Label>)>,
    /// The field after the last one noted: records usually hold their fields in one order,
    /// so the next name is tried there before it is hashed.
    cursor: usize,
}

impl FieldTracker {
    /// Notes that the record being read has the field `name`.
    pub fn field(&mut self, name: &str) {
        if self.gave_up {
            return;
        }
        let current = self.records + 1;
        let i = if self.names.get(self.cursor).is_some_and(|n| n == name) {
            self.cursor
        } else if let Some(&i) = self.index.get(name) {
            i
        } else {
            if self.names.len() >= MAX_FIELDS {
                self.give_up();
                return;
            }
            let i = self.names.len();
            self.index.insert(name.to_owned(), i);
            self.names.push(name.to_owned());
            self.last.push(0);
            let before = self.records;
            self.missing
                .push((before, (before > 0).then(|| self.first.clone()).flatten()));
            i
        };
        self.last[i] = current;
        self.cursor = i + 1;
    }

    /// Ends the record being read; `label` names it, called only when it is needed.
    pub fn end_record(&mut self, label: impl FnOnce() -> Label) {
        self.records += 1;
        self.cursor = 0;
        let now = self.records;
        let needed = self.first.is_none()
            || self
                .last
                .iter()
                .zip(&self.missing)
                .any(|(last, (_, first))| *last != now && first.is_none());
        let made = needed.then(label);
        if self.first.is_none() {
            self.first.clone_from(&made);
        }
        for (last, (count, first)) in self.last.iter().zip(&mut self.missing) {
            if *last != now {
                *count += 1;
                if first.is_none() {
                    first.clone_from(&made);
                }
            }
        }
    }

    fn give_up(&mut self) {
        self.gave_up = true;
        self.index = HashMap::new();
        self.names = Vec::new();
        self.last = Vec::new();
        self.missing = Vec::new();
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// The fields some records lack, in first-seen order.
    pub fn gaps(&self, unit: &'static str, field: &'static str) -> FieldGaps {
        let gaps = self
            .names
            .iter()
            .zip(&self.missing)
            .filter(|(_, (n, _))| *n > 0)
            .map(|(name, (n, first))| {
                let (first, line) = first.clone().unwrap_or_default();
                FieldGap {
                    name: name.clone(),
                    present: self.records - n,
                    missing: *n,
                    first,
                    line,
                }
            })
            .collect();
        FieldGaps {
            unit,
            field,
            records: self.records,
            gaps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_that_each_have_their_own_fields_are_not_followed() {
        let mut t = FieldTracker::default();
        for i in 0..(MAX_FIELDS + 10) {
            t.field(&format!("key{i}"));
            t.end_record(|| (format!("line {i}"), None));
        }
        assert_eq!(t.gaps("line", "key").gaps, []);
    }

    #[test]
    fn a_field_first_seen_late_was_missing_from_the_first_record() {
        let mut t = FieldTracker::default();
        for (i, fields) in [&["a"][..], &["a", "b"], &["b"], &["a", "b"]]
            .iter()
            .enumerate()
        {
            for f in *fields {
                t.field(f);
            }
            t.end_record(|| (format!("record {i}"), Some(i as u64 + 10)));
        }
        let g = t.gaps("record", "feature");
        assert_eq!(g.records, 4);
        let got: Vec<(&str, u64, u64, &str, Option<u64>)> = g
            .gaps
            .iter()
            .map(|x| {
                (
                    x.name.as_str(),
                    x.present,
                    x.missing,
                    x.first.as_str(),
                    x.line,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a", 3, 1, "record 2", Some(12)),
                ("b", 3, 1, "record 0", Some(10))
            ]
        );
    }
}
