//! A streaming CSV/TSV column scanner (RFC 4180 quoting): per column the inferred type and
//! the counts of NaN, inf, empty and NA-like cells and of values that fail the column's type,
//! each with the first line where it occurs; ragged rows, a byte-order mark, mixed line
//! endings. Memory is one buffer and one record, whatever the file's size.

use std::io::{self, BufRead, BufReader, Read};

/// A count with the line of its first occurrence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub count: u64,
    pub first_line: u64,
}

impl Seen {
    fn add(&mut self, line: u64) {
        if self.count == 0 {
            self.first_line = line;
        }
        self.count += 1;
    }
}

/// What one column holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub values: u64,
    pub ints: u64,
    pub floats: u64,
    pub nan: Seen,
    pub inf: Seen,
    pub empty: Seen,
    /// `NA`, `N/A`, `null`, `NULL`, `None`, `nil`, `-`.
    pub na: Seen,
    pub not_int: Seen,
    pub not_float: Seen,
}

impl Column {
    /// `int`, `float` or `string`: numeric when at least 80% of present values parse.
    pub fn inferred(&self) -> &'static str {
        let present = self.values - self.empty.count - self.na.count;
        if present == 0 {
            return "empty";
        }
        let numeric = self.floats + self.nan.count + self.inf.count;
        if numeric * 100 >= present * 80 {
            if self.ints == self.floats && self.nan.count + self.inf.count == 0 {
                "int"
            } else {
                "float"
            }
        } else {
            "string"
        }
    }

    /// Values that fail the inferred type (0 for strings).
    pub fn unparsable(&self) -> Seen {
        match self.inferred() {
            "float" => self.not_float,
            "int" => self.not_int,
            _ => Seen::default(),
        }
    }
}

/// The scan of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableScan {
    pub delimiter: u8,
    pub columns: Vec<Column>,
    pub rows: u64,
    pub ragged: Seen,
    /// Field count of the first ragged row.
    pub ragged_fields: usize,
    pub bom: bool,
    pub crlf_lines: u64,
    pub lf_lines: u64,
}

fn classify(col: &mut Column, raw: &[u8], line: u64) {
    col.values += 1;
    let v = trim(raw);
    if v.is_empty() {
        col.empty.add(line);
        return;
    }
    match v {
        b"NA" | b"N/A" | b"n/a" | b"NULL" | b"null" | b"None" | b"nil" | b"#N/A" | b"-" => {
            col.na.add(line);
            return;
        }
        _ => {}
    }
    let body = v
        .strip_prefix(b"-")
        .or_else(|| v.strip_prefix(b"+"))
        .unwrap_or(v);
    if body.eq_ignore_ascii_case(b"nan") {
        col.nan.add(line);
        col.not_int.add(line);
        return;
    }
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        col.inf.add(line);
        col.not_int.add(line);
        return;
    }
    let is_int = !body.is_empty() && body.iter().all(u8::is_ascii_digit);
    let is_float = is_int
        || std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(f64::is_finite);
    if is_int {
        col.ints += 1;
    } else {
        col.not_int.add(line);
    }
    if is_float {
        col.floats += 1;
    } else {
        col.not_float.add(line);
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    &b[s..e]
}

/// Byte-level facts a record reader notices on the way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextStats {
    pub bom: bool,
    pub crlf_lines: u64,
    pub lf_lines: u64,
}

/// Reads CSV/TSV records (RFC 4180 quoting: delimiters and newlines inside quotes, `""` for a
/// quote), calling `f(line, fields)` with the line each record starts on; `f` returns
/// `Ok(false)` to stop. Blank lines are skipped. One buffer and one record in memory.
pub fn for_each_record<R: Read>(
    reader: R,
    delimiter: u8,
    mut f: impl FnMut(u64, &[Vec<u8>]) -> io::Result<bool>,
) -> io::Result<TextStats> {
    let mut r = BufReader::with_capacity(1 << 20, reader);
    let mut stats = TextStats::default();
    let mut record: Vec<Vec<u8>> = Vec::new();
    let mut field = Vec::new();
    let mut line: u64 = 0;
    let mut record_line: u64 = 1;
    let mut in_quotes = false;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line += 1;
        let mut bytes = &buf[..];
        if line == 1
            && let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF")
        {
            stats.bom = true;
            bytes = rest;
        }
        let content = if let Some(c) = bytes.strip_suffix(b"\r\n") {
            stats.crlf_lines += 1;
            c
        } else if let Some(c) = bytes.strip_suffix(b"\n") {
            stats.lf_lines += 1;
            c
        } else {
            bytes
        };
        if !in_quotes {
            record_line = line;
        }
        let mut i = 0;
        while i < content.len() {
            let c = content[i];
            if in_quotes {
                if c == b'"' {
                    if content.get(i + 1) == Some(&b'"') {
                        field.push(b'"');
                        i += 1;
                    } else {
                        in_quotes = false;
                    }
                } else {
                    field.push(c);
                }
            } else if c == delimiter {
                record.push(std::mem::take(&mut field));
            } else if c == b'"' && trim(&field).is_empty() {
                field.clear();
                in_quotes = true;
            } else {
                field.push(c);
            }
            i += 1;
        }
        if in_quotes {
            field.extend_from_slice(&bytes[content.len()..]);
            continue;
        }
        record.push(std::mem::take(&mut field));
        let blank = record.len() == 1 && record[0].is_empty();
        if !blank && !f(record_line, &record)? {
            break;
        }
        record.clear();
    }
    if !record.is_empty() || !field.is_empty() {
        record.push(field);
        f(record_line, &record)?;
    }
    Ok(stats)
}

/// Scans a CSV (`,`) or TSV (`\t`) stream column by column.
pub fn scan<R: Read>(reader: R, delimiter: u8) -> io::Result<TableScan> {
    let mut out = TableScan {
        delimiter,
        ..TableScan::default()
    };
    let mut width: Option<usize> = None;
    let stats = for_each_record(reader, delimiter, |line, record| {
        match width {
            None => {
                out.columns = record
                    .iter()
                    .map(|f| Column {
                        name: String::from_utf8_lossy(trim(f)).into_owned(),
                        ..Column::default()
                    })
                    .collect();
                width = Some(record.len());
            }
            Some(w) => {
                out.rows += 1;
                if record.len() != w {
                    if out.ragged.count == 0 {
                        out.ragged_fields = record.len();
                    }
                    out.ragged.add(line);
                }
                for (col, value) in out.columns.iter_mut().zip(record) {
                    classify(col, value, line);
                }
            }
        }
        Ok(true)
    })?;
    out.bom = stats.bom;
    out.crlf_lines = stats.crlf_lines;
    out.lf_lines = stats.lf_lines;
    Ok(out)
}

/// A cell without surrounding whitespace.
pub fn trim_cell(raw: &[u8]) -> &[u8] {
    trim(raw)
}

/// Parses a cell as a number the way the scanner counts it: `NaN`/`inf` included.
pub fn parse_number(raw: &[u8]) -> Option<f64> {
    let v = trim(raw);
    let body = v
        .strip_prefix(b"-")
        .or_else(|| v.strip_prefix(b"+"))
        .unwrap_or(v);
    if body.eq_ignore_ascii_case(b"nan") {
        return Some(f64::NAN);
    }
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(if v.first() == Some(&b'-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_with_first_lines() {
        let csv = "\u{feff}a,b,c\n1,2.5,x\n2,NaN,y\n3,inf,\"quoted, with comma\"\r\n4,,z\n5,N/A,w\nbad,1e3,v\n6,7\n";
        let t = scan(csv.as_bytes(), b',').unwrap();
        assert!(t.bom);
        assert_eq!(t.rows, 7);
        assert_eq!(t.crlf_lines, 1);
        let b = &t.columns[1];
        assert_eq!(b.inferred(), "float");
        assert_eq!(
            b.nan,
            Seen {
                count: 1,
                first_line: 3
            }
        );
        assert_eq!(
            b.inf,
            Seen {
                count: 1,
                first_line: 4
            }
        );
        assert_eq!(
            b.empty,
            Seen {
                count: 1,
                first_line: 5
            }
        );
        assert_eq!(
            b.na,
            Seen {
                count: 1,
                first_line: 6
            }
        );
        let a = &t.columns[0];
        assert_eq!(a.inferred(), "int");
        assert_eq!(
            a.unparsable(),
            Seen {
                count: 1,
                first_line: 7
            }
        );
        assert_eq!(
            t.ragged,
            Seen {
                count: 1,
                first_line: 8
            }
        );
        assert_eq!(t.ragged_fields, 2);
        assert_eq!(t.columns[2].inferred(), "string");
    }

    #[test]
    fn quoted_newlines_keep_the_record_line() {
        let csv = "a,b\n\"multi\nline\",NaN\n1,2\n";
        let t = scan(csv.as_bytes(), b',').unwrap();
        assert_eq!(t.rows, 2);
        assert_eq!(t.columns[1].nan.first_line, 2);
        assert_eq!(t.ragged.count, 0);
    }
}

/// Replaces the bare `NaN`, `Infinity` and `-Infinity` tokens Python's `json` writes (not
/// valid JSON) with marker strings, outside string literals.
fn python_json_tokens(line: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memmem::find(line, b"NaN").is_none() && memchr::memmem::find(line, b"Infinity").is_none() {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = Vec::with_capacity(line.len() + 16);
    let mut in_str = false;
    let mut i = 0;
    while i < line.len() {
        let c = line[i];
        if in_str {
            out.push(c);
            if c == b'\\' {
                if let Some(&n) = line.get(i + 1) {
                    out.push(n);
                }
                i += 1;
            } else if c == b'"' {
                in_str = false;
            }
        } else if c == b'"' {
            in_str = true;
            out.push(c);
        } else if line[i..].starts_with(b"NaN") {
            out.extend_from_slice(b"\"\\u0000NaN\"");
            i += 2;
        } else if line[i..].starts_with(b"-Infinity") {
            out.extend_from_slice(b"\"\\u0000-inf\"");
            i += 8;
        } else if line[i..].starts_with(b"Infinity") {
            out.extend_from_slice(b"\"\\u0000inf\"");
            i += 7;
        } else {
            out.push(c);
        }
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// Scans JSON Lines: one object per line, a column per key (in first-seen order); `null`
/// counts as NA-like, `""` as empty, `NaN`/`Infinity` (as Python writes them) as NaN/inf.
/// Lines that are not JSON objects are counted as ragged.
pub fn scan_jsonl<R: Read>(reader: R) -> io::Result<TableScan> {
    let mut r = BufReader::with_capacity(1 << 20, reader);
    let mut out = TableScan::default();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line += 1;
        let content = trim(&buf);
        if content.is_empty() {
            continue;
        }
        out.rows += 1;
        let parsed: Option<serde_json::Map<String, serde_json::Value>> = serde_json::from_slice(&python_json_tokens(content)).ok();
        let Some(obj) = parsed else {
            if out.ragged.count == 0 {
                out.ragged_fields = 0;
            }
            out.ragged.add(line);
            continue;
        };
        for (k, v) in obj {
            let i = *index.entry(k.clone()).or_insert_with(|| {
                out.columns.push(Column { name: k, ..Column::default() });
                out.columns.len() - 1
            });
            let col = &mut out.columns[i];
            match v {
                serde_json::Value::Null => {
                    col.values += 1;
                    col.na.add(line);
                }
                serde_json::Value::String(s) => {
                    let raw = s.strip_prefix('\u{0}').unwrap_or(&s);
                    classify(col, raw.as_bytes(), line);
                }
                serde_json::Value::Number(n) => classify(col, n.to_string().as_bytes(), line),
                other => classify(col, other.to_string().as_bytes(), line),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod jsonl_tests {
    #[test]
    fn python_tokens_and_nulls() {
        let text = "{\"a\": 1.5, \"b\": \"x NaN y\"}\n{\"a\": NaN, \"b\": null}\n{\"a\": -Infinity, \"b\": \"\"}\nnot json\n";
        let t = super::scan_jsonl(text.as_bytes()).unwrap();
        assert_eq!(t.rows, 4);
        assert_eq!(t.ragged.first_line, 4);
        let a = &t.columns[0];
        assert_eq!((a.nan.count, a.nan.first_line, a.inf.count), (1, 2, 1));
        let b = &t.columns[1];
        assert_eq!((b.na.count, b.empty.count), (1, 1));
    }
}
