//! A Dockerfile parser that keeps the physical position of every byte.
//!
//! It follows BuildKit's reading of a Dockerfile: parser directives at the top (`# syntax=`,
//! `# escape=`), comments, line continuations with the escape character (comment and empty
//! lines inside a continuation are dropped), case-insensitive keywords, flags (`--from=…`),
//! exec (JSON) form against shell form, heredocs (`<<EOF`, `<<-EOF`, quoted delimiters) whose
//! bodies follow the instruction, global `ARG`s and their substitution in `FROM`, and stages.
//!
//! Text that spans continued lines is joined as BuildKit joins it, but every byte keeps the
//! line and column it came from, so a token found anywhere in an instruction is reported where
//! it is in the file. Parsing never fails: malformed input gives a best-effort result.

use std::collections::BTreeMap;

/// A 1-based physical position: line, and column counted in characters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub fn new(line: usize, col: usize) -> Self {
        Pos { line, col }
    }
}

/// A string whose every byte remembers its physical position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    s: String,
    pos: Vec<Pos>,
    end: Pos,
}

impl Text {
    /// Text of one physical line (or a part of it) starting at `start`.
    pub fn at(s: &str, start: Pos) -> Self {
        let mut t = Text {
            end: start,
            ..Text::default()
        };
        t.push_str(s, start);
        t
    }

    /// Appends `s`, whose characters sit on one line from `start` on.
    pub fn push_str(&mut self, s: &str, start: Pos) {
        let mut col = start.col;
        for c in s.chars() {
            self.push_char(c, Pos::new(start.line, col));
            col += 1;
        }
        self.end = Pos::new(start.line, col);
    }

    /// Appends one character that comes from `p`.
    pub fn push_char(&mut self, c: char, p: Pos) {
        self.s.push(c);
        self.pos.extend(std::iter::repeat_n(p, c.len_utf8()));
        self.end = Pos::new(p.line, p.col + 1);
    }

    /// Appends a character with the position of byte `off` of `from`.
    pub fn push_from(&mut self, c: char, from: &Text, off: usize) {
        self.push_char(c, from.pos(off));
    }

    pub fn as_str(&self) -> &str {
        &self.s
    }

    pub fn len(&self) -> usize {
        self.s.len()
    }

    pub fn is_empty(&self) -> bool {
        self.s.is_empty()
    }

    /// The position of byte `off`; the position just past the end for `off >= len`.
    pub fn pos(&self, off: usize) -> Pos {
        self.pos.get(off).copied().unwrap_or(self.end)
    }

    /// The position of the first byte.
    pub fn start(&self) -> Pos {
        self.pos(0)
    }

    /// The bytes `from..to` (clamped, snapped back to character boundaries).
    #[must_use]
    pub fn slice(&self, from: usize, to: usize) -> Text {
        let to = floor_boundary(&self.s, to.min(self.s.len()));
        let from = floor_boundary(&self.s, from.min(to));
        Text {
            s: self.s[from..to].to_owned(),
            pos: self.pos[from..to].to_vec(),
            end: if to < self.s.len() {
                self.pos(to)
            } else {
                self.end
            },
        }
    }

    /// Without leading and trailing spaces and tabs.
    #[must_use]
    pub fn trim(&self) -> Text {
        let start = self.s.len() - self.s.trim_start_matches([' ', '\t']).len();
        let end = self.s.trim_end_matches([' ', '\t']).len();
        if start >= end {
            return Text::at("", self.pos(start));
        }
        self.slice(start, end)
    }

    fn truncate(&mut self, len: usize) {
        let len = floor_boundary(&self.s, len.min(self.s.len()));
        self.end = self.pos(len);
        self.s.truncate(len);
        self.pos.truncate(len);
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The character column (1-based) of byte `off` of `line`.
fn column(line: &str, off: usize) -> usize {
    line.get(..off).map_or(1, |p| p.chars().count() + 1)
}

/// A `--name=value` flag of an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
    /// Where the flag (its `--`) starts.
    pub pos: Pos,
}

/// One string of an exec-form (JSON array) instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonString {
    /// The decoded string; each byte has the position of the source character it came from.
    pub text: Text,
    /// Where the opening quote is.
    pub pos: Pos,
}

/// The arguments of an instruction after its flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Args {
    /// Shell form: the joined text, as the shell would receive it.
    Shell(Text),
    /// Exec form: `["executable", "arg", …]`.
    Exec(Vec<JsonString>),
}

/// A heredoc that belongs to an instruction: `RUN <<EOF` … `EOF`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// `<<-EOF`: leading tabs are stripped from the body and the terminator.
    pub strip_tabs: bool,
    /// `<<"EOF"` or `<<'EOF'`: the body is not expanded.
    pub quoted: bool,
    /// Where `<<` is in the instruction.
    pub marker: Pos,
    /// The body, every line with its newline.
    pub body: Text,
    /// Whether the terminator line was found before the end of the file.
    pub terminated: bool,
}

/// One instruction, its continuation lines joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// The keyword in upper case (`RUN`).
    pub keyword: String,
    /// Where the keyword starts.
    pub pos: Pos,
    pub flags: Vec<Flag>,
    pub args: Args,
    pub heredocs: Vec<Heredoc>,
    /// The stage the instruction belongs to (`None` before the first `FROM`).
    pub stage: Option<usize>,
}

impl Instruction {
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The shell-form text, if the instruction is in shell form.
    pub fn shell(&self) -> Option<&Text> {
        match &self.args {
            Args::Shell(t) => Some(t),
            Args::Exec(_) => None,
        }
    }
}

/// What a stage is built on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`.
    Scratch,
    /// An earlier stage of the same Dockerfile, by index.
    Stage(usize),
    /// An image from a registry.
    Image,
}

/// A build stage: one `FROM` and the instructions up to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    /// The name after `AS`, lower-cased as BuildKit compares it.
    pub name: Option<String>,
    /// The index of the `FROM` instruction.
    pub instruction: usize,
    /// The image token as written (`python:${PY}`), if any.
    pub image: Option<Text>,
    /// The image after substitution of global `ARG`s (`python:3.10-slim`).
    pub resolved: String,
    /// Variables the image uses that have no value (no default, not declared).
    pub unresolved: Vec<String>,
    pub base: Base,
}

/// A parsed Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character: `\` unless `# escape=` says otherwise.
    pub escape: char,
    /// The `# syntax=` directive, if any.
    pub syntax: Option<String>,
    pub instructions: Vec<Instruction>,
    pub stages: Vec<Stage>,
    /// `ARG`s declared before the first `FROM`, with their defaults after substitution.
    pub global_args: Vec<(String, Option<String>)>,
}

/// Keywords whose arguments may be a JSON array.
const EXEC_FORM: [&str; 8] = [
    "RUN",
    "CMD",
    "ENTRYPOINT",
    "SHELL",
    "COPY",
    "ADD",
    "VOLUME",
    "HEALTHCHECK",
];
/// Keywords that take `--flags` before their arguments.
const FLAGGED: [&str; 5] = ["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"];
/// Keywords whose shell form may open heredocs.
const HEREDOC: [&str; 3] = ["RUN", "COPY", "ADD"];

impl Dockerfile {
    /// Parses a Dockerfile. Never fails.
    pub fn parse(source: &str) -> Dockerfile {
        let source = source.strip_prefix('\u{feff}').unwrap_or(source);
        let lines: Vec<&str> = source
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        let mut df = Dockerfile {
            escape: '\\',
            syntax: None,
            instructions: Vec::new(),
            stages: Vec::new(),
            global_args: Vec::new(),
        };
        let mut i = df.directives(&lines);
        let mut globals: BTreeMap<String, String> = BTreeMap::new();
        while i < lines.len() {
            let line = lines[i];
            let body = line.trim_start_matches([' ', '\t']);
            if body.is_empty() || body.starts_with('#') {
                i += 1;
                continue;
            }
            let mut text = Text::at(body, Pos::new(i + 1, column(line, line.len() - body.len())));
            i += 1;
            while df.strip_continuation(&mut text) {
                while i < lines.len() {
                    let t = lines[i].trim_start_matches([' ', '\t']);
                    if t.is_empty() || t.starts_with('#') {
                        i += 1;
                    } else {
                        break;
                    }
                }
                let Some(next) = lines.get(i) else { break };
                text.push_str(next, Pos::new(i + 1, 1));
                i += 1;
            }
            let ins = df.instruction(&text, &lines, &mut i);
            let idx = df.instructions.len();
            match ins.keyword.as_str() {
                "FROM" => df.stage(&ins, idx, &globals),
                "ARG" if df.stages.is_empty() => {
                    if let Some(t) = ins.shell() {
                        for (name, value) in assignments(t, df.escape, false) {
                            let value = value.map(|v| expand(&v, &globals, df.escape).0);
                            if let Some(v) = &value {
                                globals.insert(name.clone(), v.clone());
                            }
                            df.global_args.push((name, value));
                        }
                    }
                }
                _ => {}
            }
            let mut ins = ins;
            ins.stage = df.stages.len().checked_sub(1);
            df.instructions.push(ins);
        }
        df
    }

    /// Reads the parser directives at the top; returns the index of the first other line.
    fn directives(&mut self, lines: &[&str]) -> usize {
        let mut seen: Vec<String> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim_start_matches([' ', '\t']).strip_prefix('#') else {
                return i;
            };
            let Some((key, value)) = rest.split_once('=') else {
                return i;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            let well_formed = !key.is_empty()
                && key.chars().all(|c| c.is_ascii_alphanumeric())
                && key.starts_with(|c: char| c.is_ascii_alphabetic());
            if !well_formed || seen.contains(&key) {
                return i;
            }
            match key.as_str() {
                "escape" => match value {
                    "\\" => self.escape = '\\',
                    "`" => self.escape = '`',
                    _ => return i,
                },
                "syntax" => self.syntax = Some(value.to_owned()),
                "check" => {}
                _ => return i,
            }
            seen.push(key);
        }
        lines.len()
    }

    /// Removes a trailing escape character (and the blanks after it); says whether it was there.
    fn strip_continuation(&self, text: &mut Text) -> bool {
        let trimmed = text.as_str().trim_end_matches([' ', '\t']);
        match trimmed.strip_suffix(self.escape) {
            Some(kept) => {
                let len = kept.len();
                text.truncate(len);
                true
            }
            None => false,
        }
    }

    /// Splits a joined instruction into keyword, flags and arguments, and reads its heredocs
    /// from the lines that follow (advancing `next`).
    fn instruction(&self, text: &Text, lines: &[&str], next: &mut usize) -> Instruction {
        let s = text.as_str();
        let kw_end = s.find([' ', '\t']).unwrap_or(s.len());
        let keyword = s[..kw_end].to_ascii_uppercase();
        let mut rest = text.slice(kw_end, s.len()).trim();
        let mut flags = Vec::new();
        if FLAGGED.contains(&keyword.as_str()) {
            (flags, rest) = split_flags(&rest, self.escape);
        }
        let mut heredocs = Vec::new();
        let exec = EXEC_FORM
            .contains(&keyword.as_str())
            .then(|| parse_json_array(&rest))
            .flatten();
        let args = if let Some(items) = exec {
            Args::Exec(items)
        } else {
            if HEREDOC.contains(&keyword.as_str()) {
                for m in heredoc_markers(&rest) {
                    heredocs.push(read_heredoc(m, lines, next));
                }
            }
            Args::Shell(rest)
        };
        Instruction {
            keyword,
            pos: text.start(),
            flags,
            args,
            heredocs,
            stage: None,
        }
    }

    fn stage(&mut self, ins: &Instruction, idx: usize, globals: &BTreeMap<String, String>) {
        let words = ins.shell().map(split_words).unwrap_or_default();
        let image = words.first().cloned();
        let name = match words.as_slice() {
            [_, kw, name, ..] if kw.as_str().eq_ignore_ascii_case("as") => {
                Some(name.as_str().to_ascii_lowercase())
            }
            _ => None,
        };
        let (resolved, unresolved) = image
            .as_ref()
            .map(|t| expand(t.as_str(), globals, self.escape))
            .unwrap_or_default();
        let base = if resolved.eq_ignore_ascii_case("scratch") {
            Base::Scratch
        } else if let Some(prev) = self.stage_named(&resolved) {
            Base::Stage(prev)
        } else {
            Base::Image
        };
        self.stages.push(Stage {
            index: self.stages.len(),
            name,
            instruction: idx,
            image,
            resolved,
            unresolved,
            base,
        });
    }

    /// The earlier stage called `name` (case-insensitive), if any.
    pub fn stage_named(&self, name: &str) -> Option<usize> {
        self.stages
            .iter()
            .rev()
            .find(|s| {
                s.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .map(|s| s.index)
    }

    /// What `COPY --from=VALUE` (or `--mount=from=VALUE`) in stage `current` names: an
    /// earlier stage by name or index, or otherwise an image.
    pub fn from_stage(&self, value: &str, current: Option<usize>) -> Option<usize> {
        let limit = current.unwrap_or(self.stages.len());
        if let Ok(n) = value.parse::<usize>() {
            return (n < limit).then_some(n);
        }
        self.stages
            .iter()
            .take(limit)
            .rev()
            .find(|s| {
                s.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(value))
            })
            .map(|s| s.index)
    }

    /// The global `ARG` defaults.
    pub fn global_vars(&self) -> BTreeMap<String, String> {
        self.global_args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect()
    }

    /// The variables (`ARG`s and `ENV`s of the stage, `ENV`s inherited from a parent stage)
    /// in effect just before instruction `idx`.
    pub fn vars_at(&self, idx: usize) -> BTreeMap<String, String> {
        match self.instructions.get(idx).and_then(|i| i.stage) {
            Some(stage) => self.stage_vars(stage, idx, 0).0,
            None => self.global_vars(),
        }
    }

    /// (all variables, `ENV` variables only) of `stage` before instruction `until`.
    fn stage_vars(
        &self,
        stage: usize,
        until: usize,
        depth: usize,
    ) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let Some(st) = self.stages.get(stage) else {
            return Default::default();
        };
        let mut env = match st.base {
            Base::Stage(parent) if parent < stage && depth < 64 => {
                self.stage_vars(parent, usize::MAX, depth + 1).1
            }
            _ => BTreeMap::new(),
        };
        let mut all = env.clone();
        let globals = self.global_vars();
        for (i, ins) in self
            .instructions
            .iter()
            .enumerate()
            .skip(st.instruction + 1)
        {
            if i >= until || ins.stage != Some(stage) {
                break;
            }
            let Some(t) = ins.shell() else { continue };
            match ins.keyword.as_str() {
                "ARG" => {
                    for (k, v) in assignments(t, self.escape, false) {
                        let v = match v {
                            Some(v) => Some(expand(&v, &all, self.escape).0),
                            None => globals.get(&k).cloned(),
                        };
                        if let Some(v) = v {
                            all.insert(k, v);
                        }
                    }
                }
                "ENV" => {
                    for (k, v) in assignments(t, self.escape, true) {
                        let v = expand(&v.unwrap_or_default(), &all, self.escape).0;
                        all.insert(k.clone(), v.clone());
                        env.insert(k, v);
                    }
                }
                _ => {}
            }
        }
        (all, env)
    }
}

/// Splits leading `--name[=value]` words off `rest`.
fn split_flags(rest: &Text, escape: char) -> (Vec<Flag>, Text) {
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
fn read_word(s: &str, escape: char) -> (String, usize) {
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

/// Parses `["a", "b"]` with the position of every decoded character.
fn parse_json_array(t: &Text) -> Option<Vec<JsonString>> {
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

struct Marker {
    name: String,
    strip_tabs: bool,
    quoted: bool,
    pos: Pos,
}

/// The heredoc openers (`<<EOF`, `<<-EOF`, `<<"EOF"`) of a shell-form line, in order. Like
/// BuildKit, only words that begin with `<<` (after an optional file descriptor) count.
fn heredoc_markers(text: &Text) -> Vec<Marker> {
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

fn read_heredoc(m: Marker, lines: &[&str], next: &mut usize) -> Heredoc {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: usize, col: usize) -> Pos {
        Pos::new(line, col)
    }

    fn shell(ins: &Instruction) -> &Text {
        ins.shell()
            .unwrap_or_else(|| panic!("{ins:?} is not shell form"))
    }

    #[test]
    fn continuation_keeps_physical_positions() {
        let df = Dockerfile::parse(
            "FROM alpine\n\nRUN apt-get update \\\n    # a comment inside\n\n  && pip install torch\n",
        );
        assert_eq!(df.instructions.len(), 2);
        let run = &df.instructions[1];
        assert_eq!(run.keyword, "RUN");
        assert_eq!(run.pos, p(3, 1));
        let t = shell(run);
        assert_eq!(t.as_str(), "apt-get update   && pip install torch");
        let torch = t.as_str().find("torch").unwrap_or(0);
        assert_eq!(t.pos(torch), p(6, 18));
        assert_eq!(t.start(), p(3, 5));
    }

    #[test]
    fn keywords_are_case_insensitive_and_indented() {
        let df = Dockerfile::parse("  from alpine:3.19 as Build\n\trun echo hi\n");
        assert_eq!(df.instructions[0].keyword, "FROM");
        assert_eq!(df.instructions[0].pos, p(1, 3));
        assert_eq!(df.instructions[1].keyword, "RUN");
        assert_eq!(df.instructions[1].pos, p(2, 2));
        assert_eq!(df.stages[0].name.as_deref(), Some("build"));
    }

    #[test]
    fn escape_directive_switches_to_backtick() {
        let src = "# escape=`\n# syntax=docker/dockerfile:1\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir C:\\ `\n    && echo done\nCOPY a\\b c\\\n";
        let df = Dockerfile::parse(src);
        assert_eq!(df.escape, '`');
        assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(df.instructions.len(), 3);
        let run = shell(&df.instructions[1]);
        assert_eq!(run.as_str(), "dir C:\\     && echo done");
        let done = run.as_str().find("done").unwrap_or(0);
        assert_eq!(run.pos(done), p(5, 13));
        // A trailing backslash is an ordinary character under the backtick escape.
        assert_eq!(shell(&df.instructions[2]).as_str(), "a\\b c\\");
    }

    #[test]
    fn directives_stop_at_the_first_other_line() {
        let df = Dockerfile::parse("# a comment\n# escape=`\nFROM alpine\nRUN a \\\n b\n");
        assert_eq!(df.escape, '\\');
        assert_eq!(shell(&df.instructions[1]).as_str(), "a  b");
    }

    #[test]
    fn heredoc_body_belongs_to_the_instruction() {
        let src = "FROM alpine\nRUN <<EOF\nset -e\ncurl -fsSL https://x.sh | sh\nEOF\nRUN <<-\"END\" bash\n\techo $HOME\n\tEND\nCOPY <<A <<B /etc/\none\nA\ntwo\nB\nRUN echo after\n";
        let df = Dockerfile::parse(src);
        let kws: Vec<&str> = df.instructions.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(kws, ["FROM", "RUN", "RUN", "COPY", "RUN"]);
        let h = &df.instructions[1].heredocs[0];
        assert_eq!(h.name, "EOF");
        assert!(h.terminated && !h.quoted && !h.strip_tabs);
        assert_eq!(h.body.as_str(), "set -e\ncurl -fsSL https://x.sh | sh\n");
        let curl = h.body.as_str().find("curl").unwrap_or(0);
        assert_eq!(h.body.pos(curl), p(4, 1));
        assert_eq!(h.marker, p(2, 5));
        let h = &df.instructions[2].heredocs[0];
        assert!(h.quoted && h.strip_tabs);
        assert_eq!(h.body.as_str(), "echo $HOME\n");
        assert_eq!(h.body.start(), p(7, 2));
        let copy = &df.instructions[3].heredocs;
        assert_eq!(copy.len(), 2);
        assert_eq!(copy[0].body.as_str(), "one\n");
        assert_eq!(copy[1].body.as_str(), "two\n");
        assert_eq!(df.instructions[4].pos, p(14, 1));
    }

    #[test]
    fn here_strings_and_glued_markers_are_not_heredocs() {
        let df = Dockerfile::parse("FROM a\nRUN cat <<< hi && cat<<X\nRUN echo '<<EOF'\n");
        assert!(df.instructions[1].heredocs.is_empty());
        assert!(df.instructions[2].heredocs.is_empty());
        assert_eq!(df.instructions.len(), 3);
    }

    #[test]
    fn global_args_substitute_into_from() {
        let src = "ARG PY=3.10-slim\nARG BASE=python:${PY}\nARG REG\nFROM ${BASE} AS a\nFROM python:$PY\nFROM ${REG:-docker.io}/library/python:${PY}\nFROM ${REG}/x\nARG PY=ignored\n";
        let df = Dockerfile::parse(src);
        assert_eq!(df.stages[0].resolved, "python:3.10-slim");
        assert_eq!(df.stages[1].resolved, "python:3.10-slim");
        assert_eq!(df.stages[2].resolved, "docker.io/library/python:3.10-slim");
        assert_eq!(df.stages[3].resolved, "/x");
        assert_eq!(df.stages[3].unresolved, ["REG"]);
        assert_eq!(
            df.global_args,
            [
                ("PY".to_owned(), Some("3.10-slim".to_owned())),
                ("BASE".to_owned(), Some("python:3.10-slim".to_owned())),
                ("REG".to_owned(), None),
            ]
        );
        let image = df.stages[1].image.clone().unwrap_or_default();
        assert_eq!(image.as_str(), "python:$PY");
        assert_eq!(image.start(), p(5, 6));
    }

    #[test]
    fn expansion_forms() {
        let vars: BTreeMap<String, String> = [("A", "1"), ("E", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let e = |s: &str| expand(s, &vars, '\\').0;
        assert_eq!(e("${A:-x}${E:-y}${U:-z}"), "1yz");
        assert_eq!(e("${E-y}${U-z}"), "z");
        assert_eq!(e("${A:+p}${E:+q}${E+r}${U+s}"), "pr");
        assert_eq!(e("\\$A-$A"), "$A-1");
        assert_eq!(e("${U:-${A}}"), "1");
    }

    #[test]
    fn stages_and_references() {
        let src = "FROM golang:1.22 AS Build\nFROM build AS test\nFROM scratch\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\nCOPY --from=ghcr.io/x/y:1 /c /c\n";
        let df = Dockerfile::parse(src);
        assert_eq!(df.stages.len(), 3);
        assert_eq!(df.stages[0].base, Base::Image);
        assert_eq!(df.stages[1].base, Base::Stage(0));
        assert_eq!(df.stages[2].base, Base::Scratch);
        assert_eq!(df.instructions[3].stage, Some(2));
        let from = |i: usize| {
            let v = df.instructions[i]
                .flag("from")
                .and_then(|f| f.value.clone());
            df.from_stage(&v.unwrap_or_default(), df.instructions[i].stage)
        };
        assert_eq!(from(3), Some(0));
        assert_eq!(from(4), Some(0));
        assert_eq!(from(5), None);
    }

    #[test]
    fn exec_form_and_flags() {
        let src = "FROM --platform=$BUILDPLATFORM alpine\nRUN --mount=type=cache,target=/root/.cache [\"pip\", \"install\", \"t\\u00e9st\", \"a\\\"b\"]\nCMD [\"broken\"\nADD --checksum=sha256:ab https://x/y.tgz /y\n";
        let df = Dockerfile::parse(src);
        assert_eq!(df.instructions[0].flags[0].name, "platform");
        assert_eq!(df.stages[0].resolved, "alpine");
        let run = &df.instructions[1];
        assert_eq!(
            run.flags[0].value.as_deref(),
            Some("type=cache,target=/root/.cache")
        );
        let Args::Exec(items) = &run.args else {
            panic!("not exec form: {run:?}")
        };
        let words: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(words, ["pip", "install", "tést", "a\"b"]);
        assert_eq!(items[1].pos, p(2, 52));
        assert_eq!(items[3].text.pos(1), p(2, 78));
        assert_eq!(items[3].text.pos(2), p(2, 80));
        assert!(matches!(df.instructions[2].args, Args::Shell(_)));
        let add = &df.instructions[3];
        assert_eq!(
            add.flag("checksum").and_then(|f| f.value.as_deref()),
            Some("sha256:ab")
        );
        assert_eq!(shell(add).start(), p(4, 26));
    }

    #[test]
    fn stage_variables() {
        let src = "ARG SHA=abc\nFROM a AS one\nARG SHA\nENV X=1 Y=\"two words\"\nARG L=${X}-x\nRUN true\nFROM one\nENV Z $X more\nRUN true\n";
        let df = Dockerfile::parse(src);
        let v = df.vars_at(5);
        assert_eq!(v.get("SHA").map(String::as_str), Some("abc"));
        assert_eq!(v.get("Y").map(String::as_str), Some("two words"));
        assert_eq!(v.get("L").map(String::as_str), Some("1-x"));
        let v = df.vars_at(8);
        assert_eq!(v.get("SHA"), None);
        assert_eq!(v.get("Z").map(String::as_str), Some("1 more"));
    }

    #[test]
    fn crlf_bom_and_unterminated_input() {
        let df = Dockerfile::parse("\u{feff}FROM a\r\nRUN x \\\r\n");
        assert_eq!(df.instructions.len(), 2);
        assert_eq!(shell(&df.instructions[1]).as_str(), "x");
        let df = Dockerfile::parse("FROM a\nRUN <<EOF\nno end");
        assert!(!df.instructions[1].heredocs[0].terminated);
        let df = Dockerfile::parse("");
        assert!(df.instructions.is_empty());
    }
}
