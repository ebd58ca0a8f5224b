//! The exec (JSON array) form of an instruction, decoded with positions.

use super::{JsonString, Text};

/// Parses `["a", "b"]` with the position of every decoded character.
pub(super) fn parse_json_array(t: &Text) -> Option<Vec<JsonString>> {
    let s = t.as_str();
    let b = s.as_bytes();
    let ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    let mut i = 0;
    ws(&mut i);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    let mut items = Vec::new();
    ws(&mut i);
    if b.get(i) == Some(&b']') {
        i += 1;
    } else {
        loop {
            ws(&mut i);
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let (item, end) = json_string(t, i)?;
            items.push(item);
            i = end;
            ws(&mut i);
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b']') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    ws(&mut i);
    (i == b.len()).then_some(items)
}

/// Decodes the JSON string whose opening quote is at byte `start`; returns it and the offset
/// after the closing quote.
fn json_string(t: &Text, start: usize) -> Option<(JsonString, usize)> {
    let s = t.as_str();
    let mut text = Text::at("", t.pos(start + 1));
    let mut chars = s
        .get(start + 1..)?
        .char_indices()
        .map(|(i, c)| (i + start + 1, c));
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                return Some((
                    JsonString {
                        text,
                        pos: t.pos(start),
                    },
                    i + 1,
                ));
            }
            '\\' => {
                let (_, e) = chars.next()?;
                let decoded = match e {
                    '"' | '\\' | '/' => e,
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => {
                        let mut code = 0u32;
                        for _ in 0..4 {
                            code = code * 16 + chars.next()?.1.to_digit(16)?;
                        }
                        char::from_u32(code).unwrap_or('\u{fffd}')
                    }
                    _ => return None,
                };
                text.push_from(decoded, t, i);
            }
            c if (c as u32) < 0x20 => return None,
            c => text.push_from(c, t, i),
        }
    }
    None
}
