//! Collects hits into findings: merges repeats, links kills to their causes, caps the count.

use std::collections::HashMap;

use everybyte_core::{Finding, Location, Related};

use crate::hit::{Hit, Role};
use crate::line::column;
use crate::rules::python_exception::PYTHON_EXCEPTION;

/// Repeats of one key further apart than this many lines are separate incidents.
const REPEAT_WINDOW: u64 = 100_000;
/// A kill this close after an OOM kill is the same event told twice (`Reason: OOMKilled`
/// followed by `Exit Code: 137`).
const SAME_EVENT_LINES: u64 = 3;
/// An exception this close after a failure another rule names is that failure's consequence
/// (a DataLoader's `worker exited unexpectedly` after its bus error).
const CONSEQUENCE_LINES: u64 = 60;
/// A SIGKILL this close before the kernel's OOM-kill report is that kill (a shell's `Killed`
/// pasted above the `dmesg` lines that explain it).
const KILL_BEFORE_CAUSE_LINES: u64 = 50;
/// An exception whose message runs on into a failure another rule names on the next lines
/// carries that failure (`AssertionError:` then `The NVIDIA driver on your system is too old`).
const CARRIED_LINES: u64 = 3;

struct Entry {
    finding: Finding,
    /// How many data keys the hit that wrote the message carried.
    detail: usize,
    count: u64,
    last_line: u64,
    role: Role,
    /// Explained by a cause already (linked, or a knock-on by nature).
    explained: bool,
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

    /// An abort is knock-on when a cause came just before it, else a cause of its own.
    fn resolve(&self, role: Role, line_no: u64) -> Role {
        match role {
            Role::KillOrCause(label) => {
                let linked = self
                    .last_cause
                    .as_ref()
                    .is_some_and(|c| line_no.saturating_sub(c.line) <= self.link_window);
                if linked {
                    Role::Kill
                } else {
                    Role::Cause(label)
                }
            }
            other => other,
        }
    }

    /// Folds a hit into the incident its key already names, when close enough: returns the
    /// hit back when it starts an incident of its own.
    fn merge_repeat(&mut self, hit: Hit, line_no: u64) -> Option<Hit> {
        let Some(&i) = hit.key.as_ref().and_then(|k| self.by_key.get(k)) else {
            return Some(hit);
        };
        let e = &mut self.entries[i];
        if line_no.saturating_sub(e.last_line) > REPEAT_WINDOW {
            return Some(hit);
        }
        // The same event told twice (the kernel's `oom-kill:` summary, then `Killed process …
        // anon-rss`): the more detailed telling writes the message, and it is not a repeat.
        // Another rule's telling of the event (a driver's prose after its Xid line) is counted,
        // never rewrites the message.
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
        None
    }

    pub fn push(&mut self, mut hit: Hit, line_no: u64, line: &str) {
        hit.role = self.resolve(hit.role, line_no);
        let Some(hit) = self.merge_repeat(hit, line_no) else {
            return;
        };
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
        let window = if hit.role == Role::Consequence {
            CONSEQUENCE_LINES.min(self.link_window)
        } else {
            self.link_window
        };
        if matches!(hit.role, Role::Kill | Role::KnockOn | Role::Consequence)
            && let Some(c) = &self.last_cause
            && line_no.saturating_sub(c.line) <= window
        {
            finding
                .message
                .push_str(&format!(" — after the {} at line {}", c.label, c.line));
            finding.related.push(Related {
                location: Location::line(self.path.clone(), c.line, 1),
                message: if hit.role == Role::Consequence {
                    format!("the {} this follows from", c.label)
                } else {
                    format!("the {} that preceded this termination", c.label)
                },
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
            Role::Kill | Role::KnockOn | Role::Consequence | Role::None | Role::KillOrCause(_) => {}
        }
        if let Some(key) = hit.key {
            self.by_key.insert(key, index);
        }
        let explained = finding.data.contains_key("knock_on");
        self.entries.push(Entry {
            finding,
            detail,
            count: 1,
            last_line: line_no,
            role: hit.role,
            explained,
        });
    }

    /// Knock-on events that come before what explains them: a SIGKILL above the kernel's
    /// OOM-kill report, an exception whose message runs on into another rule's failure.
    fn link_backwards(&mut self) {
        for i in 0..self.entries.len() {
            if self.entries[i].explained {
                continue;
            }
            let line = self.entries[i].finding.location.line.unwrap_or(0);
            let is_kill = self.entries[i].role == Role::Kill
                && self.entries[i].finding.data.get("signal") == Some(&9.into());
            let is_exception = self.entries[i].finding.code == PYTHON_EXCEPTION.code;
            let explains = self.entries[i + 1..].iter().find(|e| {
                let at = e.finding.location.line.unwrap_or(0);
                // Entries reported at the end of the input (a tracker's) may sit earlier in
                // the log than this one: such a cause explains what follows it as it would
                // have during the scan, within the same windows.
                let gap = at.abs_diff(line);
                let before = at < line;
                let carried = if before {
                    gap <= CONSEQUENCE_LINES.min(self.link_window)
                        && matches!(e.role, Role::Cause(_) | Role::CauseAndKill(_))
                } else {
                    gap <= CARRIED_LINES
                };
                let kill_window = if before {
                    self.link_window
                } else {
                    KILL_BEFORE_CAUSE_LINES
                };
                !e.explained
                    && ((is_kill && matches!(e.role, Role::CauseAndKill(_)) && gap <= kill_window)
                        || (is_exception && e.finding.code != PYTHON_EXCEPTION.code && carried))
            });
            if let Some(e) = explains {
                let (at, what) = (
                    e.finding.location.line.unwrap_or(0),
                    format!(
                        "the {} this {} reports",
                        e.finding.code,
                        if is_kill { "kill" } else { "exception" }
                    ),
                );
                let f = &mut self.entries[i].finding;
                f.related.push(Related {
                    location: Location::line(self.path.clone(), at, 1),
                    message: what,
                });
                f.data.insert("explained_by_line".into(), at.into());
                mark_knock_on(f);
                self.entries[i].explained = true;
            }
        }
    }

    pub fn finish(mut self) -> (Vec<Finding>, u64) {
        self.link_backwards();
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
