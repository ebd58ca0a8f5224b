//! Following a Python traceback line by line: frames, the final exception, chained causes.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};
use crate::line::{rank_tag, strip_decorations};
use crate::rules::python_exception::{PYTHON_EXCEPTION, advice};

/// A traceback longer than this is abandoned (interleaved output, not a traceback).
const MAX_LINES: u32 = 5_000;
/// A traceback read without its `Traceback (most recent call last):` line (pasted from its
/// first frame, or a `SyntaxError`'s, which has none) is abandoned after this many lines
/// without a frame.
const HEADLESS_GAP: u32 = 12;

static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    // Curly quotes: a traceback pasted through an editor or a chat.
    // faulthandler writes `File "x", line 3 in f`, without the comma.
    Regex::new(r#"^\s*File ["“”]([^"“”]+)["“”], line (\d+)(?:,? in (.+))?"#).expect("valid regex")
});
static EXCEPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?::\s?(.*))?$")
        .expect("valid regex")
});

#[derive(Clone, Debug)]
pub struct Frame {
    pub file: String,
    pub line: u64,
    pub func: String,
}

/// An exception that ended a traceback, not yet reported.
#[derive(Debug)]
pub struct Pending {
    line_no: u64,
    text: String,
    name: String,
    message: String,
    frame: Option<Frame>,
    /// Already reported by a more specific rule on the same line.
    reported: bool,
    cause: Option<Box<Pending>>,
}

#[derive(Debug)]
pub struct Open {
    rank: Option<String>,
    frame: Option<Frame>,
    lines: u32,
    cause: Option<Box<Pending>>,
    /// Opened by a frame, not by `Traceback (most recent call last):`: lines since the last
    /// frame, and only a name that reads as an exception's ends it.
    headless: Option<u32>,
    /// How far the last frame line was indented: a traceback quoted inside a block
    /// (torchelastic's `Root Cause` summary) ends on an exception indented less than its
    /// frames, not at the margin.
    frame_indent: usize,
}

#[derive(Debug, Default)]
pub enum Mode {
    /// Only candidate lines are read.
    #[default]
    Fast,
    /// Inside a traceback.
    Open(Open),
    /// A traceback ended; is another chained to it?
    After {
        pending: Pending,
        waited: u32,
        rank: Option<String>,
    },
    /// `During handling of the above exception…`: waiting for the next traceback.
    Chained {
        cause: Pending,
        waited: u32,
        rank: Option<String>,
    },
}

impl Mode {
    pub fn is_fast(&self) -> bool {
        matches!(self, Mode::Fast)
    }
}

fn exception_name(s: &str) -> Option<(String, String)> {
    let c = EXCEPTION.captures(s)?;
    let name = &c[1];
    let last = name.rsplit('.').next().unwrap_or(name);
    // Exception classes are CamelCase; log levels (INFO:) and prose are not.
    let camel = last.starts_with(|ch: char| ch.is_ascii_uppercase())
        && last.chars().any(|ch| ch.is_ascii_lowercase());
    camel.then(|| {
        (
            name.to_owned(),
            c.get(2).map_or("", |m| m.as_str()).trim().to_owned(),
        )
    })
}

/// Whether a name reads as an exception class's (`ValueError`, `torch.OutOfMemoryError`,
/// `KeyboardInterrupt`, `StopIteration`, `BackendCompilerFailed`), not as any CamelCase word
/// before a colon (`Epoch: 3`, a bare `Warning: …` or `Error: …`).
fn reads_as_exception(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    last == "Exception"
        || EXCEPTION_ENDINGS
            .iter()
            .any(|end| last.len() > end.len() && last.ends_with(end))
}

/// How exception classes' names end.
const EXCEPTION_ENDINGS: &[&str] = &[
    "Error",
    "Exception",
    "Interrupt",
    "Exit",
    "Iteration",
    "Warning",
    "Failure",
    "Failed",
    "Fault",
];

fn frame(c: &regex::Captures<'_>) -> Frame {
    Frame {
        file: c[1].to_owned(),
        line: c[2].parse().unwrap_or(0),
        func: c
            .get(3)
            .map_or("<module>", |m| m.as_str())
            .trim()
            .to_owned(),
    }
}

fn is_traceback_start(s: &str) -> bool {
    s.trim_start()
        .starts_with("Traceback (most recent call last)")
        // torchelastic's summary: `  traceback : Traceback (most recent call last):`, the
        // header ending the line (not a one-line traceback flattened into a message).
        || s.contains(": Traceback (most recent call last)")
            && s.trim_end().ends_with("Traceback (most recent call last):")
}

fn is_chain_marker(s: &str) -> bool {
    s.contains("During handling of the above exception")
        || s.contains("The above exception was the direct cause")
}

/// Advances the traceback state over one line. `hits` are the specific rules' diagnoses of
/// this line; a final exception they already explain gets the innermost frame added to them
/// instead of a LOG015 of its own. Returns LOG015 hits to report, with their line numbers.
#[allow(clippy::too_many_lines)] // one state machine, read top to bottom
pub fn step(
    mode: &mut Mode,
    line: &str,
    line_no: u64,
    hits: &mut [Hit],
    out: &mut Vec<(u64, String, Hit)>,
) {
    let tag = rank_tag(line).map(str::to_owned);
    let body = strip_decorations(line);
    match std::mem::take(mode) {
        Mode::Fast => {
            if is_traceback_start(body) {
                *mode = Mode::Open(Open {
                    rank: tag,
                    frame: None,
                    lines: 0,
                    cause: None,
                    headless: None,
                    frame_indent: 0,
                });
            } else if let Some(c) = FRAME.captures(body) {
                *mode = Mode::Open(Open {
                    rank: tag,
                    frame: Some(frame(&c)),
                    lines: 0,
                    cause: None,
                    headless: Some(0),
                    frame_indent: body.len() - body.trim_start().len(),
                });
            }
        }
        Mode::Open(mut open) => {
            if tag != open.rank {
                // A frame without a header is not worth waiting for across other ranks'
                // output: their lines count toward giving it up, and their traceback
                // replaces it.
                if let Some(gap) = &mut open.headless {
                    *gap += 1;
                    if *gap > HEADLESS_GAP || is_traceback_start(body) {
                        step(mode, line, line_no, hits, out);
                        return;
                    }
                }
                *mode = Mode::Open(open);
                return;
            }
            open.lines += 1;
            if open.lines > MAX_LINES {
                return; // abandoned: back to Fast
            }
            if is_traceback_start(body) {
                *mode = Mode::Open(Open {
                    rank: tag,
                    frame: None,
                    lines: 0,
                    cause: open.cause,
                    headless: None,
                    frame_indent: 0,
                });
                return;
            }
            if let Some(c) = FRAME.captures(body) {
                open.frame = Some(frame(&c));
                open.frame_indent = body.len() - body.trim_start().len();
                if open.headless.is_some() {
                    open.headless = Some(0);
                }
                *mode = Mode::Open(open);
                return;
            }
            if let Some(gap) = &mut open.headless {
                *gap += 1;
                if *gap > HEADLESS_GAP {
                    // Not a traceback after all: this line may start one.
                    step(mode, line, line_no, hits, out);
                    return;
                }
            }
            let indent = body.len() - body.trim_start().len();
            let quoted_exception = indent > 0
                && indent < open.frame_indent
                && exception_name(body.trim()).is_some_and(|(name, _)| reads_as_exception(&name));
            if (indent > 0 && !quoted_exception) || body.trim().is_empty() {
                *mode = Mode::Open(open);
                return;
            }
            let Some((name, message)) = exception_name(body.trim())
                .filter(|(name, _)| open.headless.is_none() || reads_as_exception(name))
            else {
                *mode = Mode::Open(open);
                return;
            };
            if let Some(f) = &open.frame {
                for h in hits.iter_mut() {
                    h.message.push_str(&format!(
                        " (raised in {}:{}, in {})",
                        f.file, f.line, f.func
                    ));
                    h.data
                        .push(("frame", format!("{}:{}", f.file, f.line).into()));
                }
            }
            *mode = Mode::After {
                pending: Pending {
                    line_no,
                    text: line.to_owned(),
                    name,
                    message,
                    frame: open.frame,
                    reported: !hits.is_empty(),
                    cause: open.cause,
                },
                waited: 0,
                rank: tag,
            };
        }
        Mode::After {
            pending,
            waited,
            rank,
        } => {
            if tag != rank {
                *mode = Mode::After {
                    pending,
                    waited,
                    rank,
                };
            } else if is_chain_marker(body) {
                *mode = Mode::Chained {
                    cause: pending,
                    waited: 0,
                    rank,
                };
            } else if body.trim().is_empty() && waited < 2 {
                *mode = Mode::After {
                    pending,
                    waited: waited + 1,
                    rank,
                };
            } else {
                emit(pending, out);
                // This line may itself start a traceback.
                step(mode, line, line_no, hits, out);
            }
        }
        Mode::Chained {
            cause,
            waited,
            rank,
        } => {
            if tag != rank {
                *mode = Mode::Chained {
                    cause,
                    waited,
                    rank,
                };
            } else if is_traceback_start(body) {
                *mode = Mode::Open(Open {
                    rank,
                    frame: None,
                    lines: 0,
                    cause: Some(Box::new(cause)),
                    headless: None,
                    frame_indent: 0,
                });
            } else if body.trim().is_empty() && waited < 3 {
                *mode = Mode::Chained {
                    cause,
                    waited: waited + 1,
                    rank,
                };
            } else {
                emit(cause, out);
                step(mode, line, line_no, hits, out);
            }
        }
    }
}

/// Reports what is still pending at the end of the input.
pub fn finish(mode: Mode, out: &mut Vec<(u64, String, Hit)>) {
    match mode {
        Mode::After { pending, .. } => emit(pending, out),
        Mode::Chained { cause, .. } => emit(cause, out),
        Mode::Fast | Mode::Open(_) => {}
    }
}

fn emit(p: Pending, out: &mut Vec<(u64, String, Hit)>) {
    if p.reported {
        return;
    }
    let at = p.text.len() - strip_decorations(&p.text).len();
    let mut message = if p.message.is_empty() {
        p.name.clone()
    } else {
        format!("{}: {}", p.name, p.message)
    };
    if message.len() > 300 {
        let mut cut = 300;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    if let Some(f) = &p.frame {
        message.push_str(&format!(
            " — raised in {}:{}, in {}",
            f.file, f.line, f.func
        ));
    }
    // torchrun's summary that a child failed is never the failure itself.
    let role = if p.name.ends_with("ChildFailedError") {
        Role::KnockOn
    } else {
        Role::Consequence
    };
    let mut hit = Hit::new(&PYTHON_EXCEPTION, at, message, advice(&p.name, &p.message))
        .role(role)
        .data("exception", p.name.as_str());
    if let Some(f) = &p.frame {
        hit = hit
            .data("file", f.file.as_str())
            .data("line", f.line)
            .data("function", f.func.as_str());
    }
    let mut cause = p.cause;
    while let Some(c) = cause {
        let what = if c.message.is_empty() {
            c.name.clone()
        } else {
            format!("{}: {}", c.name, c.message)
        };
        hit.related
            .push((c.line_no, format!("raised while handling {what}")));
        cause = c.cause;
    }
    out.push((p.line_no, p.text, hit));
}
