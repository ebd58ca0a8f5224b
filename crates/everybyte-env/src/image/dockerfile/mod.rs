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

mod heredoc;
mod json;
#[cfg(test)]
mod tests;
mod text;
mod words;

use std::collections::BTreeMap;

use heredoc::{heredoc_markers, read_heredoc};
use json::parse_json_array;
use text::column;
pub use text::{Pos, Text};
use words::split_flags;
pub use words::{assignments, expand, split_words};

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
