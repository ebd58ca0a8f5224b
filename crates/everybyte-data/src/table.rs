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
    pub(crate) fn add(&mut self, line: u64) {
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
    /// Counted by row of a columnar file (Parquet, Arrow), not by line of a text one: `na`
    /// then holds the column's nulls.
    pub by_row: bool,
    /// The type a columnar file declares (`int`, `float`, `string`): it is the column's type,
    /// whatever its values (all nulls, say).
    pub declared: Option<&'static str>,
}

impl Column {
    /// `int`, `float` or `string`: numeric when at least 80% of present values parse.
    pub fn inferred(&self) -> &'static str {
        if let Some(t) = self.declared {
            return t;
        }
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
    /// JSON Lines: the keys some objects lack.
    pub key_gaps: Option<crate::facts::FieldGaps>,
    /// JSON Lines: the last line read.
    pub last_line: u64,
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
    let is_float = is_int || is_decimal(body);
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

/// `digits[.digits][e[+-]digits]` or `.digits…`, without a sign (the caller strips it): what
/// `str::parse::<f64>` accepts for finite decimal numbers, checked without converting.
fn is_decimal(b: &[u8]) -> bool {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int = digits(&mut i);
    let mut frac = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac = digits(&mut i);
    }
    if int + frac == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
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

impl Seen {
    /// Adds a later part's counts, its lines shifted by `offset`.
    fn merge(&mut self, other: Seen, offset: u64) {
        if other.count > 0 {
            if self.count == 0 {
                self.first_line = other.first_line + offset;
            }
            self.count += other.count;
        }
    }
}

impl Column {
    fn merge(&mut self, o: &Column, offset: u64) {
        self.values += o.values;
        self.ints += o.ints;
        self.floats += o.floats;
        self.nan.merge(o.nan, offset);
        self.inf.merge(o.inf, offset);
        self.empty.merge(o.empty, offset);
        self.na.merge(o.na, offset);
        self.not_int.merge(o.not_int, offset);
        self.not_float.merge(o.not_float, offset);
    }
}

/// One part of a file without quotes, scanned on its own: lines counted from 1 within it.
struct Part {
    lines: u64,
    rows: u64,
    columns: Vec<Column>,
    ragged: Seen,
    ragged_fields: usize,
    crlf: u64,
    lf: u64,
    has_quote: bool,
}

fn scan_part(data: &[u8], delimiter: u8, width: usize) -> Part {
    let mut p = Part {
        lines: 0,
        rows: 0,
        columns: vec![Column::default(); width],
        ragged: Seen::default(),
        ragged_fields: 0,
        crlf: 0,
        lf: 0,
        has_quote: memchr::memchr(b'"', data).is_some(),
    };
    if p.has_quote {
        return p;
    }
    let mut pos = 0;
    while pos < data.len() {
        let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i);
        let mut line = &data[pos..end];
        p.lines += 1;
        if end < data.len() {
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
                p.crlf += 1;
            } else {
                p.lf += 1;
            }
        }
        pos = end + 1;
        if line.is_empty() {
            continue;
        }
        p.rows += 1;
        let mut fields = 0;
        for (i, field) in line.split(|&b| b == delimiter).enumerate() {
            if let Some(col) = p.columns.get_mut(i) {
                classify(col, field, p.lines);
            }
            fields = i + 1;
        }
        if fields != width {
            if p.ragged.count == 0 {
                p.ragged_fields = fields;
            }
            p.ragged.add(p.lines);
        }
    }
    p
}

/// Scans a CSV/TSV file. Large files without quote characters are split at line boundaries
/// and scanned on all cores; others (and any file with a quote) are scanned in one stream.
#[allow(clippy::many_single_char_names)]
pub fn scan_file(path: &std::path::Path, delimiter: u8) -> io::Result<TableScan> {
    use std::os::unix::fs::FileExt;
    const PART: u64 = 8 << 20;
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len < 2 * PART {
        return scan(file, delimiter);
    }
    let mut head = vec![0u8; 1 << 16];
    let n = file.read_at(&mut head, 0)?;
    head.truncate(n);
    let Some(nl) = memchr::memchr(b'\n', &head) else {
        return scan(file, delimiter);
    };
    let header = scan(&head[..=nl], delimiter)?;
    let width = header.columns.len();
    let body_start = nl as u64 + 1;
    // Part boundaries, each moved forward to just after a newline.
    let mut bounds = vec![body_start];
    let mut at = body_start + PART;
    let mut probe = vec![0u8; 1 << 16];
    while at < len {
        let n = file.read_at(&mut probe, at)?;
        match memchr::memchr(b'\n', &probe[..n]) {
            Some(i) => {
                bounds.push(at + i as u64 + 1);
                at += i as u64 + 1 + PART;
            }
            None if n == 0 => break,
            None => at += n as u64,
        }
    }
    if bounds.last().is_some_and(|&b| b < len) {
        bounds.push(len);
    }
    let parts: Vec<(u64, u64)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let results: Vec<io::Result<Part>> =
        everybyte_core::par::map_with(&parts, Vec::new, |buf, &(a, b)| {
            buf.resize(usize::try_from(b - a).unwrap_or(0), 0);
            file.read_exact_at(buf, a)
                .map(|()| scan_part(buf, delimiter, width))
        });
    let mut out = TableScan {
        delimiter,
        columns: header.columns,
        bom: header.bom,
        ..TableScan::default()
    };
    out.crlf_lines = header.crlf_lines;
    out.lf_lines = header.lf_lines;
    let mut offset = 1; // the header line
    for r in results {
        let p = r?;
        if p.has_quote {
            // Quotes can hide delimiters and newlines: only a stream reads them right.
            return scan(std::fs::File::open(path)?, delimiter);
        }
        out.rows += p.rows;
        for (c, pc) in out.columns.iter_mut().zip(&p.columns) {
            c.merge(pc, offset);
        }
        if out.ragged.count == 0 && p.ragged.count > 0 {
            out.ragged_fields = p.ragged_fields;
        }
        out.ragged.merge(p.ragged, offset);
        out.crlf_lines += p.crlf;
        out.lf_lines += p.lf;
        offset += p.lines;
    }
    Ok(out)
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
    fn parallel_parts_agree_with_the_stream() {
        let mut csv = String::from("a,b,c\n");
        for i in 0..1_200_000u64 {
            let b = match i {
                5 => "NaN".to_owned(),
                700_001 => "inf".to_owned(),
                900_000 => String::new(),
                _ => format!("{}.25", i % 97),
            };
            if i == 1_000_000 {
                csv.push_str("1,2\r\n");
            } else {
                csv.push_str(&format!("{i},{b},x{i}\n"));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.csv");
        std::fs::write(&p, &csv).unwrap();
        assert!(
            csv.len() > 16 << 20,
            "the file must be large enough to be split"
        );
        let fast = scan_file(&p, b',').unwrap();
        let slow = scan(csv.as_bytes(), b',').unwrap();
        assert_eq!(fast, slow);
        assert_eq!(fast.columns[1].nan.first_line, 7);
        assert_eq!(fast.columns[1].inf.first_line, 700_003);
        assert_eq!(fast.ragged.first_line, 1_000_002);
        assert_eq!(fast.crlf_lines, 1);
        // A quote anywhere sends the file to the stream reader.
        std::fs::write(&p, csv.replacen("x5\n", "\"x,5\"\n", 1)).unwrap();
        assert_eq!(scan_file(&p, b',').unwrap().ragged.count, 1);
    }

    #[test]
    fn decimal_syntax() {
        for ok in ["1", "1.", ".5", "1.5e3", "2E-7", "10e+2"] {
            assert!(super::is_decimal(ok.as_bytes()), "{ok}");
        }
        for bad in ["", ".", "e5", "1e", "1.2.3", "12,5", "0x10", "1_000", "--1"] {
            assert!(!super::is_decimal(bad.as_bytes()), "{bad}");
        }
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
    if memchr::memmem::find(line, b"NaN").is_none()
        && memchr::memmem::find(line, b"Infinity").is_none()
    {
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
    let mut keys = crate::fields::FieldTracker::default();
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
        let parsed: Option<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_slice(&python_json_tokens(content)).ok();
        let Some(obj) = parsed else {
            if out.ragged.count == 0 {
                out.ragged_fields = 0;
            }
            out.ragged.add(line);
            continue;
        };
        for (k, v) in obj {
            keys.field(&k);
            let i = *index.entry(k.clone()).or_insert_with(|| {
                out.columns.push(Column {
                    name: k,
                    ..Column::default()
                });
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
        keys.end_record(|| (format!("line {line}"), Some(line)));
    }
    out.key_gaps = Some(keys.gaps("line", "key"));
    out.last_line = line;
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
        assert_eq!(t.key_gaps.unwrap().gaps, []);
    }

    #[test]
    fn keys_some_objects_lack() {
        let text = "{\"a\": 1}\n{\"a\": 2, \"b\": 1}\n\n{\"b\": 3}\n{\"a\": 4, \"b\": 5}\n";
        let gaps = super::scan_jsonl(text.as_bytes())
            .unwrap()
            .key_gaps
            .unwrap();
        assert_eq!(gaps.records, 4);
        let got: Vec<(&str, u64, u64, Option<u64>)> = gaps
            .gaps
            .iter()
            .map(|g| (g.name.as_str(), g.present, g.missing, g.line))
            .collect();
        assert_eq!(got, [("a", 3, 1, Some(4)), ("b", 3, 1, Some(1))]);
    }
}
