//! What a detector reports for one line, before the sink turns it into a finding.

use everybyte_core::Rule;

/// How an incident relates to others: a kill is attributed to the cause before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    None,
    /// Something that gets a process killed (an OOM, a failed probe); the label names it.
    Cause(&'static str),
    /// A termination that a preceding cause explains.
    Kill,
    /// A kill that is its own cause (the kernel's OOM killer, `OOMKilled`).
    CauseAndKill(&'static str),
    /// A kill when a cause precedes it (within the link window), else itself a cause that
    /// later kills are linked to (`terminate called …` after a CUDA error, or before the
    /// shell's `Aborted`).
    KillOrCause(&'static str),
    /// Always the consequence of another failure, never a primary one (a launcher stopping
    /// the other ranks after one failed).
    KnockOn,
    /// A failure of its own unless a cause came just before it (an exception after a bus
    /// error, an NCCL timeout, a CUDA fault).
    Consequence,
}

/// Reads a line that follows a hit's own (every line, whether or not it holds a trigger
/// word) to complete the hit: a C++ exception's `what():`, a pod's `Message:`. Returns whether
/// the hit is complete.
pub type Follow = fn(&mut Hit, &str) -> bool;

/// One diagnosis of one line.
#[derive(Debug)]
pub struct Hit {
    pub rule: &'static Rule,
    /// Byte offset in the line where the evidence starts (becomes the column).
    pub anchor: usize,
    pub message: String,
    pub help: String,
    pub data: Vec<(&'static str, serde_json::Value)>,
    /// Hits with the same key close together are one incident, counted.
    pub key: Option<String>,
    pub role: Role,
    /// Earlier lines that explain this one: (line number, what it was).
    pub related: Vec<(u64, String)>,
    /// Read up to this many following lines with this function before reporting the hit.
    pub follow: Option<(Follow, u8)>,
}

impl Hit {
    pub fn new(
        rule: &'static Rule,
        anchor: usize,
        message: String,
        help: impl Into<String>,
    ) -> Self {
        Hit {
            rule,
            anchor,
            message,
            help: help.into(),
            data: Vec::new(),
            key: None,
            role: Role::None,
            related: Vec::new(),
            follow: None,
        }
    }

    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    #[must_use]
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Completes the hit from up to `lines` following lines before it is reported.
    #[must_use]
    pub fn follow(mut self, f: Follow, lines: u8) -> Self {
        self.follow = Some((f, lines));
        self
    }

    #[must_use]
    pub fn data(mut self, k: &'static str, v: impl Into<serde_json::Value>) -> Self {
        self.data.push((k, v.into()));
        self
    }
}
