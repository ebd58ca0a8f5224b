//! The container-image rules, one file each, and what they share: the parsed `RUN`
//! commands of a Dockerfile with the variables in effect, and readers for the commands the
//! rules look at (`curl`/`wget`, interpreters, `pip install`).

pub mod pip_install_without_lock;
pub mod remote_script_piped_to_shell;
pub mod unpinned_base_image;
pub mod unpinned_remote_fetch;

mod fetch;
mod pip;

use std::collections::BTreeMap;

use everybyte_core::{Finding, Location, Rule};

use super::dockerfile::{Args, Dockerfile, Heredoc, Instruction, Pos};
use super::shell::{Command, SHELLS, Script, Word};

/// One `RUN` instruction, parsed as the shell will run it.
pub struct Run<'a> {
    pub index: usize,
    pub ins: &'a Instruction,
    /// The command line, then the heredoc bodies that run as scripts.
    pub scripts: Vec<Script>,
    /// `ARG` and `ENV` values in effect.
    pub vars: BTreeMap<String, String>,
}

impl Run<'_> {
    /// Every command of the instruction in the order they run.
    pub fn commands(&self) -> Vec<&Command> {
        self.scripts.iter().flat_map(Script::all_commands).collect()
    }

    /// `word` with the build's variables substituted.
    pub fn expand(&self, word: &str) -> String {
        super::dockerfile::expand(word, &self.vars, '\\').0
    }
}

/// A Dockerfile with its `RUN`s parsed, and where findings go.
pub struct Context<'a> {
    pub display: &'a str,
    pub df: &'a Dockerfile,
    pub runs: Vec<Run<'a>>,
}

impl<'a> Context<'a> {
    pub fn new(display: &'a str, df: &'a Dockerfile) -> Self {
        let runs = df
            .instructions
            .iter()
            .enumerate()
            .filter(|(_, ins)| ins.keyword == "RUN")
            .map(|(index, ins)| Run {
                index,
                ins,
                scripts: run_scripts(ins),
                vars: df.vars_at(index),
            })
            .collect();
        Context { display, df, runs }
    }

    pub fn finding(&self, rule: &Rule, at: Pos, message: String, help: String) -> Finding {
        Finding::new(
            rule,
            Location::line(self.display, at.line as u64, at.col as u64),
            message,
        )
        .with_help(help)
    }
}

fn run_scripts(ins: &Instruction) -> Vec<Script> {
    match &ins.args {
        Args::Exec(items) => vec![Script::exec(
            items
                .iter()
                .map(|j| Word::literal(j.text.clone(), j.pos))
                .collect(),
        )],
        Args::Shell(t) => {
            let top = Script::parse(t);
            let bodies: Vec<Script> = ins
                .heredocs
                .iter()
                .filter(|h| heredoc_runs_as_script(&top, h))
                .map(|h| Script::parse(&h.body))
                .collect();
            std::iter::once(top).chain(bodies).collect()
        }
    }
}

/// Whether a heredoc body is a shell script: `RUN <<EOF` (without a non-shell `#!`), or the
/// standard input of a shell that reads its program from there (`RUN bash <<EOF`).
fn heredoc_runs_as_script(top: &Script, h: &Heredoc) -> bool {
    for cmd in top.all_commands() {
        let opens = cmd.redirects.iter().any(|r| {
            (r.op == "<<" || r.op == "<<-")
                && r.target.as_ref().is_some_and(|t| t.as_str() == h.name)
        });
        if !opens {
            continue;
        }
        if cmd.argv.is_empty() {
            let first = h.body.as_str().lines().next().unwrap_or("");
            return match first.strip_prefix("#!") {
                Some(shebang) => shebang
                    .split([' ', '/'])
                    .any(|part| SHELLS.contains(&part.trim())),
                None => true,
            };
        }
        return SHELLS.contains(&cmd.name()) && matches!(program(cmd), Some(Program::Stdin));
    }
    false
}

/// Where an interpreter gets its program.
pub enum Program<'a> {
    /// Standard input: `bash`, `sh -s`, `python -`.
    Stdin,
    /// An argument: `sh -c SCRIPT`, `python -c CODE`, `eval WORDS`.
    Inline(&'a Word),
    /// A script file: `bash install.sh`, `source FILE`, `bash <(…)`.
    File(&'a Word),
}

fn is_python(name: &str) -> bool {
    let rest = name
        .strip_prefix("python")
        .or_else(|| name.strip_prefix("pypy"));
    rest.is_some_and(|r| r.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Where `cmd` takes the program it runs, if it is an interpreter (a shell, Python, Perl,
/// Ruby, Node, `eval`, `source`).
pub fn program(cmd: &Command) -> Option<Program<'_>> {
    let name = cmd.name();
    let args = cmd.args();
    if name == "eval" {
        return args.first().map(Program::Inline);
    }
    if name == "source" || name == "." {
        return args.first().map(Program::File);
    }
    let (inline, with_value, stdin_flag): (&[char], &[&str], Option<char>) =
        if SHELLS.contains(&name) {
            (
                &['c'],
                &["-o", "+o", "-O", "+O", "--rcfile", "--init-file"],
                Some('s'),
            )
        } else if is_python(name) {
            (&['c'], &["-W", "-X", "--check-hash-based-pycs"], None)
        } else if matches!(name, "perl" | "ruby") {
            (&['e', 'E'], &["-I", "-M"], None)
        } else if matches!(name, "node" | "nodejs" | "deno" | "bun") {
            (&['e', 'p'], &["-r", "--require"], None)
        } else {
            return None;
        };
    let mut inline_next = false;
    let mut i = 0;
    while let Some(w) = args.get(i) {
        let s = w.as_str();
        if inline_next {
            return Some(Program::Inline(w));
        }
        if s == "-" || s == "/dev/stdin" {
            return Some(Program::Stdin);
        }
        if s == "--" {
            return Some(args.get(i + 1).map_or(Program::Stdin, |w| file_or_stdin(w)));
        }
        if matches!(s, "--eval" | "--print") {
            inline_next = true;
        } else if with_value.contains(&s) {
            i += 1;
        } else if s.starts_with("--") {
        } else if let Some(flags) = s.strip_prefix('-').or_else(|| s.strip_prefix('+')) {
            if is_python(name) && flags.starts_with('m') {
                return None;
            }
            if let Some(k) = flags.find(|c| inline.contains(&c)) {
                if k + 1 < flags.len() && !SHELLS.contains(&name) {
                    return Some(Program::Inline(w));
                }
                inline_next = true;
            } else if stdin_flag.is_some_and(|f| flags.contains(f)) {
                return Some(Program::Stdin);
            }
        } else {
            return Some(file_or_stdin(w));
        }
        i += 1;
    }
    if inline_next {
        return None;
    }
    Some(Program::Stdin)
}

fn file_or_stdin(w: &Word) -> Program<'_> {
    if matches!(w.as_str(), "-" | "/dev/stdin") {
        Program::Stdin
    } else {
        Program::File(w)
    }
}

/// Whether `s` is a full 40-hex git commit id.
pub fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `s` is `<64 hex>`.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
