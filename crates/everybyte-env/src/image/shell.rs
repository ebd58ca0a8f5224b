//! Enough of a POSIX shell parser to read `RUN` commands: words with quotes removed,
//! command and process substitutions, pipelines, lists (`&&`, `||`, `;`, `&`, newlines),
//! redirections, shell heredocs, comments, `VAR=value` prefixes, wrappers (`sudo`, `env`,
//! `nohup`, …) and scripts handed to `sh -c`. Every word keeps the physical position of each
//! of its bytes, so findings point into the Dockerfile.

use super::dockerfile::{Pos, Text};

/// How deep substitutions and `sh -c` scripts are followed.
const MAX_DEPTH: usize = 12;

/// A shell word after quote removal. Substitutions stay in `text` as written (`$(curl …)`)
/// and are parsed into `subs`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    pub text: Text,
    /// Where the word starts in the file (its opening quote, if quoted).
    pub start: Pos,
    pub subs: Vec<Sub>,
    /// Whether the word contains an expansion (`$VAR`, `${…}`, a substitution).
    pub dynamic: bool,
}

impl Word {
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// The last path component (`/usr/bin/python3` → `python3`).
    pub fn basename(&self) -> &str {
        let s = self.as_str();
        s.rsplit('/').next().unwrap_or(s)
    }

    /// A word made of literal text (an exec-form argument).
    pub fn literal(text: Text, start: Pos) -> Word {
        Word {
            text,
            start,
            subs: Vec::new(),
            dynamic: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubKind {
    /// `$(…)`
    Command,
    /// `` `…` ``
    Backtick,
    /// `<(…)`
    ProcessIn,
    /// `>(…)`
    ProcessOut,
}

/// A substitution inside a word, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sub {
    pub kind: SubKind,
    pub script: Script,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub op: &'static str,
    pub target: Option<Word>,
}

/// A simple command: `argv` after `VAR=value` prefixes and wrappers are taken off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    pub argv: Vec<Word>,
    pub assigns: Vec<Word>,
    pub redirects: Vec<Redirect>,
    /// Words taken off the front that are not part of `argv` (`sudo -E`, `env`).
    pub prefix: Vec<Word>,
    /// The script of `sh -c SCRIPT` (or `su -c SCRIPT`), parsed.
    pub nested: Option<Box<Script>>,
}

impl Command {
    /// The command name without its directory.
    pub fn name(&self) -> &str {
        self.argv.first().map_or("", Word::basename)
    }

    pub fn args(&self) -> &[Word] {
        self.argv.get(1..).unwrap_or_default()
    }

    /// Every word of the command, in order.
    pub fn words(&self) -> impl Iterator<Item = &Word> {
        self.assigns
            .iter()
            .chain(self.prefix.iter())
            .chain(self.argv.iter())
            .chain(self.redirects.iter().filter_map(|r| r.target.as_ref()))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pipeline {
    pub commands: Vec<Command>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub pipelines: Vec<Pipeline>,
}

impl Script {
    pub fn parse(t: &Text) -> Script {
        parse_at(t, 0)
    }

    /// A script of one command made of literal words (an exec-form `RUN`).
    pub fn exec(words: Vec<Word>) -> Script {
        let command = finish(words, Vec::new(), 0);
        Script {
            pipelines: command
                .into_iter()
                .map(|c| Pipeline { commands: vec![c] })
                .collect(),
        }
    }

    /// Every pipeline, nested ones included, in the order they run: the substitutions of a
    /// pipeline's words, the pipeline, then the scripts its commands hand to `sh -c`.
    pub fn all_pipelines(&self) -> Vec<&Pipeline> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Pipeline>) {
        for p in &self.pipelines {
            for c in &p.commands {
                for w in c.words() {
                    for s in &w.subs {
                        s.script.collect(out);
                    }
                }
            }
            out.push(p);
            for c in &p.commands {
                if let Some(n) = &c.nested {
                    n.collect(out);
                }
            }
        }
    }

    /// Every command, nested ones included, in the order they run.
    pub fn all_commands(&self) -> Vec<&Command> {
        self.all_pipelines()
            .into_iter()
            .flat_map(|p| p.commands.iter())
            .collect()
    }
}

fn parse_at(t: &Text, depth: usize) -> Script {
    if depth > MAX_DEPTH {
        return Script::default();
    }
    let toks = Lexer {
        t,
        b: t.as_str().as_bytes(),
        i: 0,
        depth,
        pending: Vec::new(),
        toks: Vec::new(),
    }
    .run();
    build(toks, depth)
}

#[derive(Debug)]
enum Tok {
    Word(Word, usize),
    Op(&'static str),
}

struct Lexer<'a> {
    t: &'a Text,
    b: &'a [u8],
    i: usize,
    depth: usize,
    /// Shell heredocs opened on the current line: (delimiter, strip tabs).
    pending: Vec<(String, bool)>,
    toks: Vec<Tok>,
}

const OPS: [&str; 21] = [
    "&&", "||", ";;", "|&", "<<<", "<<-", "<<", ">>", "<&", ">&", "&>>", "&>", "<>", ">|", ";",
    "&", "|", "(", ")", "<", ">",
];

fn is_redirect(op: &str) -> bool {
    op.starts_with('<') || op.starts_with('>') || op.starts_with("&>")
}

impl Lexer<'_> {
    fn run(mut self) -> Vec<Tok> {
        while self.i < self.b.len() {
            let c = self.b[self.i];
            match c {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\\' if self.b.get(self.i + 1) == Some(&b'\n') => self.i += 2,
                b'\n' => {
                    self.toks.push(Tok::Op("\n"));
                    self.i += 1;
                    self.skip_heredoc_bodies();
                }
                b'#' => {
                    while self.i < self.b.len() && self.b[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b'<' | b'>' if self.b.get(self.i + 1) == Some(&b'(') => {
                    let w = self.word();
                    self.toks.push(w);
                }
                b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>' => self.operator(),
                _ => {
                    let w = self.word();
                    self.toks.push(w);
                }
            }
        }
        self.toks
    }

    fn operator(&mut self) {
        let rest = &self.b[self.i..];
        let op = OPS
            .iter()
            .find(|op| rest.starts_with(op.as_bytes()))
            .copied()
            .unwrap_or(";");
        let at = self.i;
        self.i += op.len().max(1);
        if is_redirect(op) {
            // `2>&1`: a number right before a redirection is its file descriptor.
            if let Some(Tok::Word(w, end)) = self.toks.last()
                && *end == at
                && !w.as_str().is_empty()
                && w.as_str().bytes().all(|b| b.is_ascii_digit())
            {
                self.toks.pop();
            }
        }
        self.toks.push(Tok::Op(op));
        if op == "<<" || op == "<<-" {
            while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t') {
                self.i += 1;
            }
            if self.i < self.b.len() && !b";&|()<>\n".contains(&self.b[self.i]) {
                let tok = self.word();
                if let Tok::Word(w, _) = &tok {
                    self.pending.push((w.as_str().to_owned(), op == "<<-"));
                }
                self.toks.push(tok);
            }
        }
    }

    /// Skips the bodies of heredocs opened on the line that just ended.
    fn skip_heredoc_bodies(&mut self) {
        for (delim, strip) in std::mem::take(&mut self.pending) {
            while self.i < self.b.len() {
                let end = self.b[self.i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.b.len(), |p| self.i + p);
                let line = &self.t.as_str()[self.i..end];
                let line = if strip {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                self.i = (end + 1).min(self.b.len());
                if line.trim_end_matches('\r') == delim {
                    break;
                }
            }
        }
    }

    /// Reads one word starting at `self.i`.
    fn word(&mut self) -> Tok {
        let start = self.i;
        let mut w = Word {
            text: Text::at("", self.t.pos(start)),
            start: self.t.pos(start),
            ..Word::default()
        };
        if matches!(self.b[self.i], b'<' | b'>') {
            let kind = if self.b[self.i] == b'<' {
                SubKind::ProcessIn
            } else {
                SubKind::ProcessOut
            };
            self.substitution(&mut w, kind, 2, b')');
        }
        while self.i < self.b.len() {
            let c = self.b[self.i];
            match c {
                b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>' => break,
                b'\\' => {
                    if self.b.get(self.i + 1) == Some(&b'\n') {
                        self.i += 2;
                    } else {
                        self.i += 1;
                        self.push_char(&mut w);
                    }
                }
                b'\'' => {
                    self.i += 1;
                    while self.i < self.b.len() && self.b[self.i] != b'\'' {
                        self.push_char(&mut w);
                    }
                    self.i += 1;
                }
                b'"' => {
                    self.i += 1;
                    self.double_quoted(&mut w);
                }
                b'$' | b'`' => self.dollar(&mut w),
                _ => self.push_char(&mut w),
            }
        }
        let end = self.i.min(self.b.len());
        Tok::Word(w, end)
    }

    fn double_quoted(&mut self, w: &mut Word) {
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return;
                }
                b'\\' => match self.b.get(self.i + 1) {
                    Some(b'\n') => self.i += 2,
                    Some(b'$' | b'`' | b'"' | b'\\') => {
                        self.i += 1;
                        self.push_char(w);
                    }
                    _ => self.push_char(w),
                },
                b'$' | b'`' => self.dollar(w),
                _ => self.push_char(w),
            }
        }
    }

    /// `$(…)`, `` `…` ``, `${…}`, `$NAME`, or a lone `$`.
    fn dollar(&mut self, w: &mut Word) {
        let next = self.b.get(self.i + 1).copied();
        if self.b[self.i] == b'`' {
            self.substitution(w, SubKind::Backtick, 1, b'`');
        } else if next == Some(b'(') {
            self.substitution(w, SubKind::Command, 2, b')');
        } else if next == Some(b'{') {
            let end = skip_until(self.b, self.i + 2, b'}', 0).unwrap_or(self.b.len());
            self.copy_raw(w, end);
            w.dynamic = true;
        } else if next.is_some_and(|n| n.is_ascii_alphanumeric() || b"_@*#?$!-".contains(&n)) {
            let mut end = self.i + 2;
            if next.is_some_and(|n| n.is_ascii_alphabetic() || n == b'_') {
                while end < self.b.len()
                    && (self.b[end].is_ascii_alphanumeric() || self.b[end] == b'_')
                {
                    end += 1;
                }
            }
            self.copy_raw(w, end);
            w.dynamic = true;
        } else {
            self.push_char(w);
        }
    }

    /// A substitution whose body starts `open` bytes after `self.i` and ends at `close`.
    fn substitution(&mut self, w: &mut Word, kind: SubKind, open: usize, close: u8) {
        let body_start = self.i + open;
        let body_end = if close == b'`' {
            skip_backtick(self.b, body_start)
        } else {
            skip_until(self.b, body_start, b')', 0)
        };
        let (body_end, end) = match body_end {
            Some(e) => (e, e + 1),
            None => (self.b.len(), self.b.len()),
        };
        let body = self.t.slice(body_start, body_end);
        w.subs.push(Sub {
            kind,
            script: parse_at(&body, self.depth + 1),
        });
        w.dynamic = true;
        self.copy_raw(w, end);
    }

    /// Copies bytes `self.i..end` into the word as written.
    fn copy_raw(&mut self, w: &mut Word, end: usize) {
        let end = end.min(self.b.len());
        while self.i < end {
            self.push_char(w);
        }
    }

    /// Pushes the character at `self.i` and advances past it.
    fn push_char(&mut self, w: &mut Word) {
        let Some(c) = self.t.as_str().get(self.i..).and_then(|s| s.chars().next()) else {
            self.i += 1;
            return;
        };
        w.text.push_from(c, self.t, self.i);
        self.i += c.len_utf8();
    }
}

/// The offset of the `close` (`)` or `}`) that ends a construct whose body starts at `i`,
/// skipping quotes and nested constructs.
fn skip_until(b: &[u8], mut i: usize, close: u8, depth: usize) -> Option<usize> {
    if depth > 64 {
        return None;
    }
    let open = if close == b')' { b'(' } else { b'{' };
    let mut level = 0usize;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'\'' if close == b')' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
            }
            b'"' => i = skip_dq(b, i + 1, depth)?,
            b'`' => i = skip_backtick(b, i + 1)?,
            b'$' if matches!(b.get(i + 1), Some(b'(' | b'{')) => {
                let inner = if b[i + 1] == b'(' { b')' } else { b'}' };
                i = skip_until(b, i + 2, inner, depth + 1)?;
            }
            c if c == open => level += 1,
            c if c == close => {
                if level == 0 {
                    return Some(i);
                }
                level -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset of the `"` that closes a double-quoted string whose body starts at `i`.
fn skip_dq(b: &[u8], mut i: usize, depth: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'"' => return Some(i),
            b'`' => i = skip_backtick(b, i + 1)?,
            b'$' if matches!(b.get(i + 1), Some(b'(' | b'{')) => {
                let inner = if b[i + 1] == b'(' { b')' } else { b'}' };
                i = skip_until(b, i + 2, inner, depth + 1)?;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn skip_backtick(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'`' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Groups tokens into pipelines of commands.
fn build(toks: Vec<Tok>, depth: usize) -> Script {
    let mut script = Script::default();
    let mut pipeline = Pipeline::default();
    let mut words: Vec<Word> = Vec::new();
    let mut redirects: Vec<Redirect> = Vec::new();
    let mut target_for: Option<usize> = None;
    let end_command = |words: &mut Vec<Word>, redirects: &mut Vec<Redirect>, p: &mut Pipeline| {
        let (w, r) = (std::mem::take(words), std::mem::take(redirects));
        if let Some(c) = finish(w, r, depth) {
            p.commands.push(c);
        }
    };
    for tok in toks {
        match tok {
            Tok::Word(w, _) => match target_for.take() {
                Some(r) => {
                    if let Some(red) = redirects.get_mut(r) {
                        red.target = Some(w);
                    }
                }
                None => words.push(w),
            },
            Tok::Op(op) if is_redirect(op) => {
                redirects.push(Redirect { op, target: None });
                target_for = Some(redirects.len() - 1);
            }
            Tok::Op("|" | "|&") => {
                target_for = None;
                end_command(&mut words, &mut redirects, &mut pipeline);
            }
            Tok::Op(_) => {
                target_for = None;
                end_command(&mut words, &mut redirects, &mut pipeline);
                if !pipeline.commands.is_empty() {
                    script.pipelines.push(std::mem::take(&mut pipeline));
                }
            }
        }
    }
    end_command(&mut words, &mut redirects, &mut pipeline);
    if !pipeline.commands.is_empty() {
        script.pipelines.push(pipeline);
    }
    script
}

const RESERVED: [&str; 14] = [
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "esac", "in",
];
pub const SHELLS: [&str; 8] = ["sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "busybox"];

fn is_assignment(s: &str) -> bool {
    let Some((name, _)) = s.split_once('=') else {
        return false;
    };
    let name = name.strip_suffix('+').unwrap_or(name);
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Turns raw words into a command: drops reserved words, takes `VAR=value` prefixes and
/// wrappers off, and parses the script of `sh -c`.
fn finish(words: Vec<Word>, redirects: Vec<Redirect>, depth: usize) -> Option<Command> {
    let mut words = std::collections::VecDeque::from(words);
    while words
        .front()
        .is_some_and(|w| RESERVED.contains(&w.as_str()))
    {
        words.pop_front();
    }
    if words
        .front()
        .is_some_and(|w| matches!(w.as_str(), "for" | "select" | "case" | "function"))
    {
        return None;
    }
    let mut cmd = Command {
        redirects,
        ..Command::default()
    };
    loop {
        while words.front().is_some_and(|w| is_assignment(w.as_str())) {
            cmd.assigns.extend(words.pop_front());
        }
        let Some(first) = words.front() else { break };
        let with_value: &[&str] = match first.basename() {
            "sudo" => &[
                "-u", "-g", "-p", "-C", "-h", "-r", "-t", "-U", "-D", "-R", "-T",
            ],
            "env" => &["-u", "-C", "-S", "--unset", "--chdir"],
            "nice" => &["-n", "--adjustment"],
            "timeout" => &["-s", "--signal", "-k", "--kill-after"],
            "stdbuf" => &["-i", "-o", "-e"],
            "nohup" | "exec" | "command" | "time" | "eatmydata" | "tini" | "dumb-init" => &[],
            _ => break,
        };
        let wrapper = first.basename().to_owned();
        cmd.prefix.extend(words.pop_front());
        while let Some(w) = words.front() {
            let s = w.as_str();
            if s == "--" {
                cmd.prefix.extend(words.pop_front());
                break;
            }
            if !s.starts_with('-') || s == "-" {
                break;
            }
            let takes = with_value.contains(&s);
            cmd.prefix.extend(words.pop_front());
            if takes {
                cmd.prefix.extend(words.pop_front());
            }
        }
        if wrapper == "timeout" && words.front().is_some() {
            cmd.prefix.extend(words.pop_front());
        }
    }
    cmd.argv = words.into();
    if cmd.argv.is_empty() && cmd.redirects.is_empty() && cmd.assigns.is_empty() {
        return None;
    }
    if let Some(script) = dash_c_script(&cmd) {
        let script = parse_at(&script.text, depth + 1);
        cmd.nested = Some(Box::new(script));
    }
    Some(cmd)
}

/// The script argument of `sh -c SCRIPT` / `bash -ec SCRIPT` / `su -c SCRIPT`.
pub fn dash_c_script(cmd: &Command) -> Option<&Word> {
    let name = cmd.name();
    let args = cmd.args();
    if name == "su" || name == "runuser" {
        let i = args.iter().position(|w| w.as_str() == "-c")?;
        return args.get(i + 1);
    }
    let args = if name == "busybox" {
        if !args.first().is_some_and(|w| SHELLS.contains(&w.as_str())) {
            return None;
        }
        &args[1..]
    } else {
        args
    };
    if !SHELLS.contains(&name) {
        return None;
    }
    let mut has_c = false;
    let mut i = 0;
    while let Some(w) = args.get(i) {
        let s = w.as_str();
        if s == "--" {
            i += 1;
            break;
        }
        if (s.starts_with('-') || s.starts_with('+')) && s.len() > 1 {
            if matches!(s, "-o" | "+o" | "-O" | "+O" | "--rcfile" | "--init-file") {
                i += 1;
            } else if !s.starts_with("--") && s.contains('c') {
                has_c = true;
            }
            i += 1;
            continue;
        }
        break;
    }
    if has_c { args.get(i) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Script {
        Script::parse(&Text::at(s, Pos::new(1, 1)))
    }

    fn argvs(s: &Script) -> Vec<Vec<String>> {
        s.all_commands()
            .iter()
            .map(|c| c.argv.iter().map(|w| w.as_str().to_owned()).collect())
            .collect()
    }

    #[test]
    fn lists_pipelines_and_quotes() {
        let s = parse(
            "apt-get update && curl -fsSL 'https://a b' | sudo -E bash - ; FOO=1 env X=2 pip \"install\" x\\ y # c",
        );
        assert_eq!(s.pipelines.len(), 3);
        assert_eq!(s.pipelines[1].commands.len(), 2);
        assert_eq!(
            argvs(&s),
            [
                vec!["apt-get", "update"],
                vec!["curl", "-fsSL", "https://a b"],
                vec!["bash", "-"],
                vec!["pip", "install", "x y"],
            ]
        );
        let curl = &s.pipelines[1].commands[0];
        assert_eq!(curl.argv[2].start, Pos::new(1, 30));
        assert_eq!(curl.argv[2].text.start(), Pos::new(1, 31));
    }

    #[test]
    fn substitutions_are_parsed() {
        let s = parse(
            "sh -c \"$(curl -fsSL https://x/i.sh)\" && bash <(wget -qO- https://y) && echo `date`",
        );
        let cmds = argvs(&s);
        assert!(cmds.contains(&vec![
            "curl".to_owned(),
            "-fsSL".into(),
            "https://x/i.sh".into()
        ]));
        assert!(cmds.contains(&vec!["wget".to_owned(), "-qO-".into(), "https://y".into()]));
        assert!(cmds.contains(&vec!["date".to_owned()]));
        let sh = &s.pipelines[0].commands[0];
        assert_eq!(sh.argv[2].as_str(), "$(curl -fsSL https://x/i.sh)");
        assert_eq!(sh.argv[2].subs[0].kind, SubKind::Command);
        assert!(sh.nested.is_some());
        let bash = &s.pipelines[1].commands[0];
        assert_eq!(bash.argv[1].subs[0].kind, SubKind::ProcessIn);
        let url = &bash.argv[1].subs[0].script.pipelines[0].commands[0].argv[2];
        assert_eq!(url.start, Pos::new(1, 58));
    }

    #[test]
    fn single_quotes_do_not_substitute() {
        let s = parse("echo '$(curl x)' \"a\\\"b\" \\$HOME");
        let echo = &s.pipelines[0].commands[0];
        assert!(echo.argv[1].subs.is_empty());
        assert_eq!(echo.argv[2].as_str(), "a\"b");
        assert_eq!(echo.argv[3].as_str(), "$HOME");
        assert_eq!(s.all_commands().len(), 1);
    }

    #[test]
    fn dash_c_scripts_nest() {
        let s = parse("bash -ec 'cd /x && git checkout abc' && su app -c \"pip install y\"");
        assert_eq!(
            argvs(&s),
            [
                vec!["bash", "-ec", "cd /x && git checkout abc"],
                vec!["cd", "/x"],
                vec!["git", "checkout", "abc"],
                vec!["su", "app", "-c", "pip install y"],
                vec!["pip", "install", "y"],
            ]
        );
        let checkout = s.all_commands()[2];
        assert_eq!(checkout.argv[2].start, Pos::new(1, 33));
    }

    #[test]
    fn redirections_and_heredocs() {
        let s = parse("cat <<EOF > /etc/x 2>&1\ncurl nope | sh\nEOF\nif [ -f a ]; then make; fi\n");
        let cmds = argvs(&s);
        assert_eq!(cmds[0], ["cat"]);
        assert_eq!(s.pipelines[0].commands[0].redirects.len(), 3);
        assert!(
            cmds.iter()
                .all(|c| c.first().map(String::as_str) != Some("curl"))
        );
        assert!(cmds.contains(&vec!["make".to_owned()]));
    }

    #[test]
    fn unterminated_and_hostile_input_does_not_panic() {
        for s in [
            "$(", "\"$(", "`", "${", "'", "<(", "a\\", "é$(é", "$((1+2))", "((((", ")))",
        ] {
            let _ = parse(s);
        }
        let deep = "$(".repeat(500);
        let _ = parse(&deep);
    }
}
