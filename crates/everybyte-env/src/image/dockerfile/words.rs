//! Words of an instruction: flags, quoted words, `ARG`/`ENV` assignments and variable
//! substitution.

use std::collections::BTreeMap;

use super::{Flag, Text};

/// Splits leading `--name[=value]` words off `rest`.
pub(super) fn split_flags(rest: &Text, escape: char) -> (Vec<Flag>, Text) {
    let mut flags = Vec::new();
    let mut rest = rest.clone();
    loop {
        let s = rest.as_str();
        if !s.starts_with("--") {
            break;
        }
        let (word, end) = read_word(s, escape);
        if word == "--" {
            break;
        }
        let pos = rest.start();
        let body = &word[2..];
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (body.to_owned(), None),
        };
        flags.push(Flag { name, value, pos });
        rest = rest.slice(end, rest.len()).trim();
    }
    (flags, rest)
}

/// Reads one whitespace-delimited word, removing quotes and escapes; returns it and the byte
/// offset where it ends.
pub(super) fn read_word(s: &str, escape: char) -> (String, usize) {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"')
                if c == escape && chars.peek().is_some_and(|&(_, n)| n == '"' || n == escape) =>
            {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            None if c == ' ' || c == '\t' => return (out, i),
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == escape => {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            _ => out.push(c),
        }
    }
    (out, s.len())
}

/// Splits on blanks without removing quotes, keeping positions (for `FROM`, `ADD`, `COPY`).
pub fn split_words(t: &Text) -> Vec<Text> {
    let s = t.as_str();
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c == ' ' || c == '\t', start) {
            (true, Some(b)) => {
                out.push(t.slice(b, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(b) = start {
        out.push(t.slice(b, s.len()));
    }
    out
}

/// `NAME=value` pairs of an `ARG` or `ENV` (quotes removed). With `legacy_env`, `ENV NAME
/// value with spaces` is read as one pair.
pub fn assignments(t: &Text, escape: char, legacy_env: bool) -> Vec<(String, Option<String>)> {
    let mut words = Vec::new();
    let mut s = t.as_str().trim_start_matches([' ', '\t']);
    while !s.is_empty() {
        let (w, end) = read_word(s, escape);
        words.push(w);
        s = s[end..].trim_start_matches([' ', '\t']);
    }
    if legacy_env && words.first().is_some_and(|w| !w.contains('=')) {
        let mut it = words.into_iter();
        let name = it.next().unwrap_or_default();
        let value: Vec<String> = it.collect();
        return vec![(name, Some(value.join(" ")))];
    }
    words
        .into_iter()
        .filter(|w| !w.is_empty())
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (w, None),
        })
        .collect()
}

/// Substitutes `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}` and
/// `${VAR+alt}` as BuildKit does in `FROM` and other instructions; `escape` before `$` keeps
/// it literal. Returns the result and the names that had no value.
pub fn expand(word: &str, vars: &BTreeMap<String, String>, escape: char) -> (String, Vec<String>) {
    let mut missing = Vec::new();
    let out = expand_into(word, vars, escape, &mut missing, 0);
    (out, missing)
}

fn expand_into(
    word: &str,
    vars: &BTreeMap<String, String>,
    escape: char,
    missing: &mut Vec<String>,
    depth: usize,
) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        if c == escape && after.starts_with('$') {
            out.push('$');
            rest = &after[1..];
        } else if c == '$' && after.starts_with('{') && depth < 16 {
            let Some(close) = matching_brace(&after[1..]) else {
                out.push_str(rest);
                break;
            };
            let inner = &after[1..=close];
            rest = &after[close + 2..];
            out.push_str(&braced(inner, vars, escape, missing, depth));
        } else if c == '$' && after.starts_with(|n: char| n.is_ascii_alphabetic() || n == '_') {
            let len = after
                .find(|n: char| !(n.is_ascii_alphanumeric() || n == '_'))
                .unwrap_or(after.len());
            let name = &after[..len];
            match vars.get(name) {
                Some(v) => out.push_str(v),
                None => missing.push(name.to_owned()),
            }
            rest = &after[len..];
        } else {
            out.push(c);
            rest = after;
        }
    }
    out
}

/// The byte offset of the `}` that closes a `${`, given the text after the `{`.
fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn braced(
    inner: &str,
    vars: &BTreeMap<String, String>,
    escape: char,
    missing: &mut Vec<String>,
    depth: usize,
) -> String {
    let len = inner
        .find(|n: char| !(n.is_ascii_alphanumeric() || n == '_'))
        .unwrap_or(inner.len());
    let (name, op) = inner.split_at(len);
    let value = vars.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let mut word = |w: &str| expand_into(w, vars, escape, missing, depth + 1);
    if let Some(w) = op.strip_prefix(":-") {
        return if set_nonempty {
            value.cloned().unwrap_or_default()
        } else {
            word(w)
        };
    }
    if let Some(w) = op.strip_prefix(":+") {
        return if set_nonempty { word(w) } else { String::new() };
    }
    if let Some(w) = op.strip_prefix('-') {
        return value.cloned().unwrap_or_else(|| word(w));
    }
    if let Some(w) = op.strip_prefix('+') {
        return if value.is_some() {
            word(w)
        } else {
            String::new()
        };
    }
    if let Some(v) = value {
        v.clone()
    } else {
        missing.push(name.to_owned());
        String::new()
    }
}
