//! Collects hits into findings: merges repeats, links kills to their causes, caps the count.

use std::collections::HashMap;

use everybyte_core::{Finding, Location, Related};

use crate::hit::{Hit, Role};
use crate::line::column;

/// Repeats of one key further apart than this many lines are separate incidents.
const REPEAT_WINDOW: u64 = 100_000;
/// A kill this close after an OOM kill is the same event told twice (`Reason: OOMKilled`
/// followed by `Exit Code: 137`).
const SAME_EVENT_LINES: u64 = 3;

struct Entry {
    finding: Finding,
    /// How many data keys the hit that wrote the message carried.
    detail: usize,
    count: u64,
    last_line: u64,
}

struct Cause {
    index: usize,
    line: u64,
    label: &'static str,
    kills_itself: bool,
}

/// A finding that another one explains: reported, for the whole story, at info level and
/// marked (`data.knock_on`), so counts of failures count its cause alone.
fn mark_knock_on(finding: &mut Finding) {
    finding.severity = everybyte_core::Severity::Info;
    finding.data.insert("knock_on".into(), true.into());
}

pub struct Sink {
    path: String,
    entries: Vec<Entry>,
    by_key: HashMap<String, usize>,
    last_cause: Option<Cause>,
    link_window: u64,
    max: usize,
    pub dropped: u64,
}

impl Sink {
    pub fn new(path: &str, link_window: u64, max: usize) -> Self {
        Sink {
            path: path.to_owned(),
            entries: Vec::new(),
            by_key: HashMap::new(),
            last_cause: None,
            link_window,
            max,
            dropped: 0,
        }
    }

    pub fn push(&mut self, mut hit: Hit, line_no: u64, line: &str) {
        if let Role::KillOrCause(label) = hit.role {
            let linked = self
                .last_cause
                .as_ref()
                .is_some_and(|c| line_no.saturating_sub(c.line) <= self.link_window);
            hit.role = if linked {
                Role::Kill
            } else {
                Role::Cause(label)
            };
        }
        if let Some(key) = &hit.key
            && let Some(&i) = self.by_key.get(key)
        {
            let e = &mut self.entries[i];
            if line_no.saturating_sub(e.last_line) <= REPEAT_WINDOW {
                // The same event told twice (the kernel's `oom-kill:` summary, then `Killed
                // process … anon-rss`): the more detailed telling writes the message, and it
                // is not a repeat.
                // Another rule's telling of the event (a driver's prose after its Xid line)
                // is counted, never rewrites the message.
                if hit.data.len() > e.detail && hit.rule.code == e.finding.code {
                    e.detail = hit.data.len();
                    e.finding.message = hit.message;
                    for (k, v) in hit.data {
                        e.finding.data.insert(k.to_owned(), v);
                    }
                } else {
                    e.count += 1;
                    e.last_line = line_no;
                }
                return;
            }
        }
        // A kill right after an OOM kill is the same event (status line then exit code).
        if hit.role == Role::Kill
            && let Some(c) = &self.last_cause
            && c.kills_itself
            && line_no.saturating_sub(c.line) <= SAME_EVENT_LINES
        {
            let e = &mut self.entries[c.index];
            for (k, v) in hit.data {
                e.finding.data.entry(format!("kill_{k}")).or_insert(v);
            }
            return;
        }
        if self.entries.len() >= self.max {
            self.dropped += 1;
            return;
        }
        let mut finding = Finding::new(
            hit.rule,
            Location::line(self.path.clone(), line_no, column(line, hit.anchor)),
            hit.message,
        );
        if !hit.help.is_empty() {
            finding.help = Some(hit.help);
        }
        for (k, v) in hit.data {
            finding.data.insert(k.to_owned(), v);
        }
        for (l, message) in hit.related {
            finding.related.push(Related {
                location: Location::line(self.path.clone(), l, 1),
                message,
            });
        }
        if matches!(hit.role, Role::Kill | Role::KnockOn)
            && let Some(c) = &self.last_cause
            && line_no.saturating_sub(c.line) <= self.link_window
        {
            finding
                .message
                .push_str(&format!(" — after the {} at line {}", c.label, c.line));
            finding.related.push(Related {
                location: Location::line(self.path.clone(), c.line, 1),
                message: format!("the {} that preceded this termination", c.label),
            });
            finding.data.insert("after_line".into(), c.line.into());
            mark_knock_on(&mut finding);
        } else if hit.role == Role::KnockOn {
            mark_knock_on(&mut finding);
        }
        let index = self.entries.len();
        let detail = finding.data.len();
        match hit.role {
            Role::Cause(label) | Role::CauseAndKill(label) => {
                self.last_cause = Some(Cause {
                    index,
                    line: line_no,
                    label,
                    kills_itself: matches!(hit.role, Role::CauseAndKill(_)),
                });
            }
            Role::Kill | Role::KnockOn | Role::None | Role::KillOrCause(_) => {}
        }
        if let Some(key) = hit.key {
            self.by_key.insert(key, index);
        }
        self.entries.push(Entry {
            finding,
            detail,
            count: 1,
            last_line: line_no,
        });
    }

    pub fn finish(self) -> (Vec<Finding>, u64) {
        let findings = self
            .entries
            .into_iter()
            .map(|mut e| {
                if e.count > 1 {
                    e.finding.message.push_str(&format!(
                        " (seen {} times, last at line {})",
                        e.count, e.last_line
                    ));
                    e.finding.data.insert("count".into(), e.count.into());
                    e.finding
                        .data
                        .insert("last_line".into(), e.last_line.into());
                }
                e.finding
            })
            .collect();
        (findings, self.dropped)
    }
}
