//! Heredocs: the openers of a shell-form line and the bodies that follow the instruction.

use super::text::column;
use super::{Heredoc, Pos, Text};

pub(super) struct Marker {
    name: String,
    strip_tabs: bool,
    quoted: bool,
    pos: Pos,
}

/// The heredoc openers (`<<EOF`, `<<-EOF`, `<<"EOF"`) of a shell-form line, in order. Like
/// BuildKit, only words that begin with `<<` (after an optional file descriptor) count.
pub(super) fn heredoc_markers(text: &Text) -> Vec<Marker> {
    let bytes = text.as_str().as_bytes();
    let mut out = Vec::new();
    let mut quote: Option<u8> = None;
    let mut at = 0;
    while at < bytes.len() {
        let ch = bytes[at];
        if let Some(q) = quote {
            if ch == b'\\' && q == b'"' {
                at += 1;
            } else if ch == q {
                quote = None;
            }
            at += 1;
            continue;
        }
        if ch == b'\\' {
            at += 2;
            continue;
        }
        if ch == b'"' || ch == b'\'' {
            quote = Some(ch);
            at += 1;
            continue;
        }
        if ch == b'<' && bytes.get(at + 1) == Some(&b'<') && bytes.get(at + 2) != Some(&b'<') {
            let mut word = at;
            while word > 0 && bytes[word - 1].is_ascii_digit() {
                word -= 1;
            }
            let word_start = word == 0 || matches!(bytes[word - 1], b' ' | b'\t');
            if word_start && let Some((m, end)) = marker_at(text, at) {
                out.push(m);
                at = end;
                continue;
            }
            at += 2;
            continue;
        }
        at += 1;
    }
    out
}

fn marker_at(t: &Text, at: usize) -> Option<(Marker, usize)> {
    let s = t.as_str();
    let mut i = at + 2;
    let strip_tabs = s[i..].starts_with('-');
    if strip_tabs {
        i += 1;
    }
    let rest = &s[i..];
    let (name, quoted, len) = if let Some(q @ ('"' | '\'')) = rest.chars().next() {
        let close = rest[1..].find(q)?;
        (rest[1..=close].to_owned(), true, close + 2)
    } else {
        let len = rest
            .find(|c: char| c.is_whitespace() || "<>|&;()'\"".contains(c))
            .unwrap_or(rest.len());
        (rest[..len].to_owned(), false, len)
    };
    if name.is_empty() {
        return None;
    }
    Some((
        Marker {
            name,
            strip_tabs,
            quoted,
            pos: t.pos(at),
        },
        i + len,
    ))
}

pub(super) fn read_heredoc(m: Marker, lines: &[&str], next: &mut usize) -> Heredoc {
    let mut body = Text::at("", Pos::new(*next + 1, 1));
    let mut terminated = false;
    while let Some(line) = lines.get(*next) {
        let n = *next + 1;
        *next += 1;
        let kept = if m.strip_tabs {
            line.trim_start_matches('\t')
        } else {
            line
        };
        if kept == m.name {
            terminated = true;
            break;
        }
        let col = column(line, line.len() - kept.len());
        body.push_str(kept, Pos::new(n, col));
        body.push_char('\n', Pos::new(n, col + kept.chars().count()));
    }
    Heredoc {
        name: m.name,
        strip_tabs: m.strip_tabs,
        quoted: m.quoted,
        marker: m.pos,
        body,
        terminated,
    }
}
