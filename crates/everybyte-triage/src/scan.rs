//! The streaming scanner: one multi-pattern search over whole buffers finds candidate lines;
//! only those are decoded and diagnosed. Inside a traceback every line is read.

use std::io::{self, Read};
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use everybyte_core::config::TriageOptions;

use crate::TriageResult;
use crate::env::{self, EnvFacts};
use crate::hit::Hit;
use crate::rules::{DETECTORS, Detect, Memory};
use crate::sink::Sink;
use crate::traceback::{self, Mode};

/// Bit of the traceback trigger and of the environment trigger in a pattern's mask; the
/// detectors take bits 0..DETECTORS.len().
const TRACEBACK_BIT: u32 = 30;
const ENV_BIT: u32 = 31;

struct Triggers {
    words: Vec<&'static str>,
    ac: AhoCorasick,
    /// For each pattern, the detectors (bits) it wakes.
    masks: Vec<u32>,
}

static TRIGGERS: LazyLock<Triggers> = LazyLock::new(|| {
    let mut words: Vec<(&'static str, u32)> = Vec::new();
    for (i, d) in DETECTORS.iter().enumerate() {
        for t in d.triggers {
            words.push((t, 1 << i));
        }
    }
    words.push(("Traceback (most recent call last)", 1 << TRACEBACK_BIT));
    // A frame (`File "x.py", line 3`, with straight or curly quotes): a traceback pasted from
    // its first frame, or a SyntaxError's, which has no header.
    words.push((", line ", 1 << TRACEBACK_BIT));
    for t in env::TRIGGERS {
        words.push((t, 1 << ENV_BIT));
    }
    // One pattern per distinct word, its mask the union of the detectors that use it.
    let mut patterns: Vec<&'static str> = Vec::new();
    let mut masks: Vec<u32> = Vec::new();
    for (w, m) in words {
        if let Some(i) = patterns.iter().position(|p| *p == w) {
            masks[i] |= m;
        } else {
            patterns.push(w);
            masks.push(m);
        }
    }
    let ac = AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostFirst)
        .build(&patterns)
        .expect("trigger patterns build");
    Triggers {
        words: patterns,
        ac,
        masks,
    }
});

/// The words (matched case-sensitively) that make a line a candidate for diagnosis. The
/// benchmark hands the same words to `grep -E -c`.
pub fn trigger_words() -> &'static [&'static str] {
    &TRIGGERS.words
}

/// Reads a log and diagnoses it. Feed it bytes with [`Scanner::read_all`], then call
/// [`Scanner::finish`].
pub struct Scanner {
    path: String,
    max_line: usize,
    sink: Sink,
    env: EnvFacts,
    mode: Mode,
    /// Newlines consumed so far: the current line's number is `lines + 1`.
    lines: u64,
    bytes: u64,
    /// Inside an over-long line whose head was already diagnosed.
    skipping: bool,
    hits: Vec<Hit>,
    tb_out: Vec<(u64, String, Hit)>,
    /// What the tracking detectors remember across lines.
    memory: Memory,
    /// Hits waiting for the lines after theirs (`Hit::follow`): while any waits, every line
    /// is read.
    held: Vec<Held>,
}

struct Held {
    line: u64,
    text: String,
    hit: Hit,
    left: u8,
}

impl Scanner {
    pub fn new(path: &str, opts: &TriageOptions) -> Self {
        LazyLock::force(&TRIGGERS);
        Scanner {
            path: path.to_owned(),
            max_line: opts.max_line_bytes.max(256),
            sink: Sink::new(path, opts.link_window, opts.max_incidents),
            env: EnvFacts::default(),
            mode: Mode::Fast,
            lines: 0,
            bytes: 0,
            skipping: false,
            hits: Vec::new(),
            tb_out: Vec::new(),
            memory: Memory::default(),
            held: Vec::new(),
        }
    }

    /// Reads `reader` to its end. Memory is one buffer of at most `max_line_bytes` (and at
    /// least 1 MiB), whatever the input's size or line lengths.
    pub fn read_all<R: Read>(&mut self, mut reader: R) -> io::Result<()> {
        let cap = self.max_line.max(1 << 20);
        let mut buf = vec![0u8; cap];
        let mut filled = 0;
        loop {
            let n = match reader.read(&mut buf[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                if filled > 0 {
                    self.feed(&buf[..filled], true);
                }
                return Ok(());
            }
            self.bytes += n as u64;
            filled += n;
            if let Some(last_nl) =
                memchr::memrchr(b'\n', &buf[filled - n..filled]).map(|i| i + filled - n)
            {
                self.feed(&buf[..=last_nl], false);
                buf.copy_within(last_nl + 1..filled, 0);
                filled -= last_nl + 1;
            } else if filled == buf.len() {
                // A line longer than the buffer: diagnose its head, skip the rest.
                self.feed(&buf[..filled], true);
                self.skipping = true;
                filled = 0;
            }
        }
    }

    /// Processes complete lines. `open_end`: the last line has no newline (end of input, or a
    /// cut over-long line).
    fn feed(&mut self, chunk: &[u8], open_end: bool) {
        let mut pos = 0;
        if self.skipping {
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    // The cut line was already counted when its head was read.
                    pos = i + 1;
                    self.skipping = false;
                }
                None => return,
            }
        }
        let t = &*TRIGGERS;
        while pos < chunk.len() {
            if self.mode.is_fast() && self.held.is_empty() {
                let Some(m) = t.ac.find(&chunk[pos..]) else {
                    self.lines += count_newlines(&chunk[pos..]);
                    if open_end && chunk.last() != Some(&b'\n') {
                        self.lines += 1;
                    }
                    return;
                };
                let at = pos + m.start();
                let start = memchr::memrchr(b'\n', &chunk[pos..at]).map_or(pos, |i| pos + i + 1);
                self.lines += count_newlines(&chunk[pos..start]);
                let end = memchr::memchr(b'\n', &chunk[at..]).map_or(chunk.len(), |i| at + i);
                self.line(&chunk[start..end]);
                self.lines += 1;
                pos = end + 1;
            } else {
                let end = memchr::memchr(b'\n', &chunk[pos..]).map_or(chunk.len(), |i| pos + i);
                self.line(&chunk[pos..end]);
                self.lines += 1;
                pos = end + 1;
            }
        }
    }

    fn line(&mut self, raw: &[u8]) {
        let raw = &raw[..raw.len().min(self.max_line)];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let t = &*TRIGGERS;
        let mut mask = 0u32;
        for m in t.ac.find_iter(raw) {
            mask |= t.masks[m.pattern().as_usize()];
        }
        if mask == 0 && self.mode.is_fast() && self.held.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(raw);
        let line_no = self.lines + 1;
        self.hits.clear();
        for (i, d) in DETECTORS.iter().enumerate() {
            if mask & (1 << i) != 0 {
                match d.detect {
                    Detect::Line(f) => f(&text, &mut self.hits),
                    Detect::Tracking(f) => f(&text, line_no, &mut self.memory, &mut self.hits),
                }
            }
        }
        if mask & (1 << ENV_BIT) != 0 {
            self.env.observe(&text, line_no);
        }
        if !self.mode.is_fast() || mask & (1 << TRACEBACK_BIT) != 0 {
            traceback::step(
                &mut self.mode,
                &text,
                line_no,
                &mut self.hits,
                &mut self.tb_out,
            );
            for (l, t, hit) in self.tb_out.drain(..) {
                self.sink.push(hit, l, &t);
            }
        }
        let mut waiting = Vec::new();
        for mut hit in self.hits.drain(..) {
            match hit.follow.take() {
                Some((_, 0)) | None => self.sink.push(hit, line_no, &text),
                Some((f, left)) => {
                    hit.follow = Some((f, left));
                    waiting.push(Held {
                        line: line_no,
                        text: text.clone().into_owned(),
                        hit,
                        left,
                    });
                }
            }
        }
        // This line completes the hits that wait for it, reported after this line's own
        // (a `what():` line's CUDA error is the cause its abort follows).
        for mut h in std::mem::take(&mut self.held) {
            let done = match h.hit.follow {
                Some((f, _)) => f(&mut h.hit, &text),
                None => true,
            };
            h.left = h.left.saturating_sub(1);
            if done || h.left == 0 {
                h.hit.follow = None;
                self.sink.push(h.hit, h.line, &h.text);
            } else {
                self.held.push(h);
            }
        }
        self.held.extend(waiting);
    }

    pub fn finish(mut self) -> TriageResult {
        for h in std::mem::take(&mut self.held) {
            self.sink.push(h.hit, h.line, &h.text);
        }
        traceback::finish(std::mem::take(&mut self.mode), &mut self.tb_out);
        for (l, t, hit) in self.tb_out.drain(..) {
            self.sink.push(hit, l, &t);
        }
        for (l, t, hit) in std::mem::take(&mut self.memory).finish() {
            self.sink.push(hit, l, &t);
        }
        let (mut findings, dropped) = self.sink.finish();
        findings.sort_by_key(|f| f.location.line);
        TriageResult {
            findings,
            context: self.env.into_items(&self.path),
            lines: self.lines,
            bytes: self.bytes,
            dropped,
        }
    }
}

// The plain loop vectorises; a byte-counting crate would not be faster here.
#[allow(clippy::naive_bytecount)]
fn count_newlines(s: &[u8]) -> u64 {
    s.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn trigger_words_stay_on_the_simd_path() {
        // aho-corasick's Teddy prefilter takes at most 64 patterns; past that the scan of
        // every byte of a log slows to a third (bench/triage.sh shows it).
        assert!(
            super::trigger_words().len() <= 64,
            "{} trigger words",
            super::trigger_words().len()
        );
    }
}
