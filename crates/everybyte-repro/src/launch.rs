//! What a project's launchers set before Python starts, and which scripts they run: shell and
//! Slurm scripts, Makefiles, Dockerfiles (`ENV`, `CMD`, `ENTRYPOINT`, `RUN`), Kubernetes and
//! Compose files (`env:`, `environment:`, `command:`, `args:`), `.env` files. And the torch
//! version the project pins, which some rules depend on.

use std::path::Path;

/// An environment variable a launcher sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvSetting {
    pub var: String,
    pub value: String,
    /// The launcher's path relative to the project root, and the line.
    pub file: String,
    pub line: u64,
}

impl EnvSetting {
    /// `run.sh:3`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// What a launch line starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `python path/to/train.py`, as written.
    Script(String),
    /// `python -m pkg.train`.
    Module(String),
    /// `python "$SCRIPT"`: some Python program we cannot name.
    Unknown,
}

/// One line that starts Python, with the variables set on that line only.
#[derive(Clone, Debug)]
pub struct Run {
    pub target: Target,
    /// The launcher's path relative to the project root.
    pub file: String,
    pub line: u64,
    pub inline_env: Vec<EnvSetting>,
    /// The words after the program: its options.
    pub args: Vec<String>,
}

impl Run {
    /// `run.sh:3`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// A launcher file.
#[derive(Clone, Debug, Default)]
pub struct Launcher {
    pub file: String,
    /// Variables set for everything the launcher runs.
    pub env: Vec<EnvSetting>,
    pub runs: Vec<Run>,
    /// It sets the environment of every program in the project (a Dockerfile's `ENV`, `.env`),
    /// not only of those it runs.
    pub global: bool,
}

/// The kind of launcher a file is, by its name; `None` for files that launch nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LauncherKind {
    Shell,
    Make,
    Docker,
    Yaml,
    DotEnv,
    /// A README's shell code blocks: the commands the project documents.
    Readme,
}

// Names are lowercased before comparing extensions.
#[allow(clippy::case_sensitive_file_extension_comparisons)]
pub fn launcher_kind(rel: &str) -> Option<LauncherKind> {
    let name = rel.rsplit('/').next().unwrap_or(rel).to_ascii_lowercase();
    if name.ends_with(".sh")
        || name.ends_with(".bash")
        || name.ends_with(".slurm")
        || name.ends_with(".sbatch")
        || name.ends_with(".pbs")
    {
        Some(LauncherKind::Shell)
    } else if name == "makefile" || name == "gnumakefile" || name.ends_with(".mk") {
        Some(LauncherKind::Make)
    } else if name == "dockerfile"
        || name.starts_with("dockerfile.")
        || name.ends_with(".dockerfile")
        || name == "containerfile"
    {
        Some(LauncherKind::Docker)
    } else if name.ends_with(".yaml") || name.ends_with(".yml") {
        Some(LauncherKind::Yaml)
    } else if name == ".env" || name.ends_with(".env") {
        Some(LauncherKind::DotEnv)
    } else if name.starts_with("readme") && (name.ends_with(".md") || name.ends_with(".rst")) {
        Some(LauncherKind::Readme)
    } else {
        None
    }
}

fn valid_var(v: &str) -> bool {
    !v.is_empty()
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !v.starts_with(|c: char| c.is_ascii_digit())
}

fn unquote(v: &str) -> String {
    v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned()
}

/// `A=B` as a shell word.
fn assignment(word: &str) -> Option<(String, String)> {
    let (k, v) = word.split_once('=')?;
    valid_var(k).then(|| (k.to_owned(), unquote(v)))
}

/// Shell words, quotes kept together (not a full shell: enough to find `A=B` and the program).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, c) if c.is_whitespace() || c == ';' || c == '&' || c == '|' || c == '(' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                if matches!(c, ';' | '&' | '|' | '(') {
                    out.push(c.to_string());
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Python interpreters and launchers that take the script or module after their options.
fn is_python(w: &str) -> bool {
    let base = w.rsplit('/').next().unwrap_or(w);
    base == "python"
        || base == "python3"
        || base
            .strip_prefix("python3.")
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit()))
}

fn is_launcher(w: &str) -> bool {
    let base = w.rsplit('/').next().unwrap_or(w);
    matches!(
        base,
        "torchrun" | "deepspeed" | "accelerate" | "composer" | "lightning"
    )
}

/// The Python program a command line starts, and the words after it.
fn target_args(ws: &[String]) -> Option<(Target, Vec<String>)> {
    let (t, at) = target_at(ws)?;
    let args = ws[at + 1..]
        .iter()
        .take_while(|w| !matches!(w.as_str(), ";" | "&" | "|" | "(" | ">" | "2>&1"))
        .cloned()
        .collect();
    Some((t, args))
}

/// The program a command line starts and the index of the word that names it.
fn target_at(ws: &[String]) -> Option<(Target, usize)> {
    let start = ws.iter().position(|w| is_python(w) || is_launcher(w))?;
    let mut i = start + 1;
    while i < ws.len() {
        let w = &ws[i];
        if matches!(w.as_str(), ";" | "&" | "|") {
            break;
        }
        if w == "-m" {
            let m = ws.get(i + 1)?;
            if m.starts_with("torch.distributed") || m == "accelerate.commands.launch" {
                i += 2;
                continue;
            }
            return Some((Target::Module(m.clone()), i + 1));
        }
        let plain = w.trim_start_matches("./");
        if std::path::Path::new(plain)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("py"))
            && !w.starts_with('-')
        {
            return Some((Target::Script(plain.to_owned()), i));
        }
        if w.starts_with('$') && !ws[i - 1].starts_with('-') {
            return Some((Target::Unknown, i));
        }
        i += 1;
    }
    None
}

/// Joins `\`-continued lines; yields (first line number, text without comments).
fn logical_lines(text: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut first = 0;
    for (i, raw) in text.lines().enumerate() {
        let l = strip_comment(raw);
        if cur.is_empty() {
            first = i as u64 + 1;
        }
        if let Some(head) = l.trim_end().strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
            continue;
        }
        cur.push_str(l);
        out.push((first, std::mem::take(&mut cur)));
    }
    if !cur.is_empty() {
        out.push((first, cur));
    }
    out
}

/// Drops a `#` comment that is not inside quotes (a `#SBATCH` line is kept whole).
fn strip_comment(l: &str) -> &str {
    if l.trim_start().starts_with("#SBATCH") {
        return l;
    }
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in l.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev.is_whitespace() => return &l[..i],
            _ => {}
        }
        prev = c;
    }
    l
}

/// A shell script, a Slurm script or a Makefile's recipes.
fn shell(file: &str, text: &str, out: &mut Launcher) {
    let mut plain: Vec<EnvSetting> = Vec::new();
    for (line, l) in logical_lines(text) {
        let t = l.trim_start_matches(['\t', ' ', '@', '-']);
        let set = |var: &str, value: String| EnvSetting {
            var: var.to_owned(),
            value,
            file: file.to_owned(),
            line,
        };
        if let Some(rest) = t.strip_prefix("#SBATCH") {
            // `--export=ALL,A=B` passes A to the job.
            for w in words(rest) {
                if let Some(list) = w.strip_prefix("--export=") {
                    for item in list.split(',') {
                        if let Some((k, v)) = assignment(item) {
                            out.env.push(set(&k, v));
                        }
                    }
                }
            }
            continue;
        }
        let ws = words(t);
        let Some(first) = ws.first() else { continue };
        if first == "export" || first == "declare" && ws.get(1).is_some_and(|w| w == "-x") {
            for w in ws.iter().skip(1).filter(|w| !w.starts_with('-')) {
                if let Some((k, v)) = assignment(w) {
                    out.env.push(set(&k, v));
                } else if valid_var(w) {
                    // `export A` after `A=...`.
                    if let Some(p) = plain.iter().rev().find(|p| p.var == *w) {
                        out.env.push(p.clone());
                    } else {
                        out.env.push(set(w, String::new()));
                    }
                }
            }
            continue;
        }
        // Leading `A=B C=D cmd` sets A and C for cmd only; `A=B` alone is a shell variable.
        let inline: Vec<(String, String)> = ws.iter().map_while(|w| assignment(w)).collect();
        if inline.len() == ws.len() {
            for (k, v) in inline {
                plain.push(set(&k, v));
            }
            continue;
        }
        let rest = &ws[inline.len()..];
        if let Some((target, args)) = target_args(rest) {
            out.runs.push(Run {
                target,
                file: file.to_owned(),
                line,
                inline_env: inline.into_iter().map(|(k, v)| set(&k, v)).collect(),
                args,
            });
        }
    }
}

fn makefile(file: &str, text: &str, out: &mut Launcher) {
    // `export A = B` at top level exports to every recipe; recipes are shell.
    let mut recipes = String::new();
    for l in text.lines() {
        if l.starts_with('\t') {
            recipes.push_str(l);
            recipes.push('\n');
        } else if let Some(rest) = l.trim().strip_prefix("export ") {
            let fixed = rest
                .replace(" = ", "=")
                .replace(" := ", "=")
                .replace(" ?= ", "=");
            recipes.push_str(&format!("export {fixed}\n"));
        } else {
            recipes.push('\n');
        }
    }
    shell(file, &recipes, out);
}

fn dockerfile(file: &str, text: &str, out: &mut Launcher) {
    out.global = true;
    for (line, l) in logical_lines(text) {
        let t = l.trim();
        let (instr, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let set = |var: &str, value: String| EnvSetting {
            var: var.to_owned(),
            value,
            file: file.to_owned(),
            line,
        };
        match instr.to_ascii_uppercase().as_str() {
            "ENV" => {
                let ws = words(rest);
                if ws.iter().any(|w| w.contains('=')) {
                    for w in &ws {
                        if let Some((k, v)) = assignment(w) {
                            out.env.push(set(&k, v));
                        }
                    }
                } else if let Some(k) = ws.first().filter(|k| valid_var(k)) {
                    out.env.push(set(k, ws[1..].join(" ")));
                }
            }
            "CMD" | "ENTRYPOINT" | "RUN" => {
                let cmd = if rest.trim_start().starts_with('[') {
                    rest.replace(['[', ']', ','], " ")
                } else {
                    rest.to_owned()
                };
                let ws = words(&cmd);
                let inline: Vec<(String, String)> =
                    ws.iter().map_while(|w| assignment(w)).collect();
                if let Some((target, args)) = target_args(&ws[inline.len()..]) {
                    out.runs.push(Run {
                        target,
                        file: file.to_owned(),
                        line,
                        inline_env: inline.into_iter().map(|(k, v)| set(&k, v)).collect(),
                        args,
                    });
                }
            }
            _ => {}
        }
    }
}

/// Kubernetes and Compose files, read by lines: `- name: A` then `value: B`; Compose's
/// `environment:` as a map or a list of `A=B`; `command:` / `args:` that start Python.
fn yaml(file: &str, text: &str, out: &mut Launcher) {
    let lines: Vec<&str> = text.lines().collect();
    let mut in_environment: Option<usize> = None;
    let mut command = String::new();
    let mut command_line = 0;
    for (i, raw) in lines.iter().enumerate() {
        let line = i as u64 + 1;
        let indent = raw.len() - raw.trim_start().len();
        let t = strip_comment(raw).trim();
        let set = |var: &str, value: String| EnvSetting {
            var: var.to_owned(),
            value,
            file: file.to_owned(),
            line,
        };
        if let Some(env_indent) = in_environment {
            if t.is_empty() {
                continue;
            }
            if indent <= env_indent && !t.starts_with('-') || indent < env_indent {
                in_environment = None;
            } else {
                let item = t.trim_start_matches('-').trim();
                if let Some((k, v)) = item.split_once('=').or_else(|| item.split_once(": ")) {
                    let k = unquote(k);
                    if valid_var(&k) {
                        out.env.push(set(&k, unquote(v)));
                    }
                }
                continue;
            }
        }
        if t == "environment:" {
            in_environment = Some(indent);
            continue;
        }
        if let Some(name) = t.strip_prefix("- name:") {
            let name = unquote(name);
            if !valid_var(&name) {
                continue;
            }
            // `value:` on one of the next lines of the same item.
            for next in lines.iter().skip(i + 1).take(3) {
                let n = next.trim();
                if n.starts_with("- ") {
                    break;
                }
                if let Some(v) = n.strip_prefix("value:") {
                    out.env.push(set(&name, unquote(v)));
                    break;
                }
            }
            continue;
        }
        for key in ["command:", "args:", "- command:", "- args:"] {
            if let Some(rest) = t.strip_prefix(key) {
                if command.is_empty() {
                    command_line = line;
                }
                command.push(' ');
                command.push_str(&rest.replace(['[', ']', ','], " "));
                // A block list follows: `- python`, `- train.py`.
                for next in lines.iter().skip(i + 1) {
                    let n = next.trim();
                    match n.strip_prefix("- ") {
                        Some(item) if !item.contains(": ") => {
                            command.push(' ');
                            command.push_str(item);
                        }
                        _ => break,
                    }
                }
            }
        }
    }
    // Multi-line `|` scripts: every line that starts Python.
    for (line, l) in logical_lines(text) {
        let ws = words(l.trim().trim_start_matches("- "));
        if let Some((target, args)) = target_args(&ws).filter(|(t, _)| *t != Target::Unknown) {
            out.runs.push(Run {
                target,
                file: file.to_owned(),
                line,
                inline_env: Vec::new(),
                args,
            });
        }
    }
    if out.runs.is_empty()
        && let Some((target, args)) = target_args(&words(&command))
    {
        out.runs.push(Run {
            target,
            file: file.to_owned(),
            line: command_line,
            inline_env: Vec::new(),
            args,
        });
    }
    if out.runs.is_empty() && !out.env.is_empty() {
        // Variables for a container whose command we cannot read apply to the image's
        // programs.
        out.global = true;
    }
}

fn dotenv(file: &str, text: &str, out: &mut Launcher) {
    out.global = true;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim().trim_start_matches("export ").trim();
        if let Some((k, v)) = assignment(t) {
            out.env.push(EnvSetting {
                var: k,
                value: v,
                file: file.to_owned(),
                line: i as u64 + 1,
            });
        }
    }
}

/// The fenced code blocks of a README (shell or unlabelled), and `$ `-prompted lines, read
/// as a shell script: the commands a user is told to run. Other lines keep their numbers as
/// blank lines.
fn readme(file: &str, text: &str, out: &mut Launcher) {
    let mut script = String::new();
    let mut fence: Option<bool> = None;
    for l in text.lines() {
        let t = l.trim_start();
        if let Some(lang) = t.strip_prefix("```") {
            fence = if fence.is_some() {
                None
            } else {
                let lang = lang.trim().to_ascii_lowercase();
                Some(matches!(
                    lang.as_str(),
                    "" | "sh" | "bash" | "shell" | "console" | "zsh"
                ))
            };
            script.push('\n');
            continue;
        }
        match fence {
            Some(true) => script.push_str(t.strip_prefix("$ ").unwrap_or(t)),
            None if t.starts_with("$ ") => script.push_str(&t[2..]),
            _ => {}
        }
        script.push('\n');
    }
    shell(file, &script, out);
}

/// Reads one launcher; `None` when it neither sets a variable nor starts Python.
pub fn read(rel: &str, text: &str) -> Option<Launcher> {
    let kind = launcher_kind(rel)?;
    let mut out = Launcher {
        file: rel.to_owned(),
        ..Launcher::default()
    };
    match kind {
        LauncherKind::Shell => shell(rel, text, &mut out),
        LauncherKind::Make => makefile(rel, text, &mut out),
        LauncherKind::Docker => dockerfile(rel, text, &mut out),
        LauncherKind::Yaml => yaml(rel, text, &mut out),
        LauncherKind::DotEnv => dotenv(rel, text, &mut out),
        LauncherKind::Readme => readme(rel, text, &mut out),
    }
    (!out.env.is_empty() || !out.runs.is_empty()).then_some(out)
}

/// The torch version a project pins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchPin {
    /// The lowest version the pin allows (major, minor).
    pub min: (u32, u32),
    /// `torch==2.4.1`, `torch>=2.1`, `pytorch/pytorch:2.3.0-cuda12.1…`.
    pub text: String,
    pub file: String,
    pub line: u64,
}

impl TorchPin {
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

fn version(v: &str) -> Option<(u32, u32)> {
    let v = v.trim().trim_start_matches(['"', '\'', 'v']);
    let mut parts = v.split(['.', '+', '-', ' ', ',', '"', '\'', ';']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// A torch requirement in one line: `torch==2.1.0`, `torch>=2.10,<3`, `"torch~=2.4"`,
/// `pip install torch==2.3.1`, `- pytorch=2.1`, `FROM pytorch/pytorch:2.3.0-…`.
fn torch_in_line(l: &str) -> Option<(u32, u32)> {
    if let Some(rest) = l.split("pytorch/pytorch:").nth(1) {
        return version(rest);
    }
    let lower = l.to_ascii_lowercase();
    for name in ["torch", "pytorch"] {
        let mut from = 0;
        while let Some(found) = lower[from..].find(name) {
            let at = from + found;
            from = at + name.len();
            let before = lower[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/')
            {
                continue;
            }
            let rest = lower[from..].trim_start();
            for op in ["==", "~=", ">=", "==="] {
                if let Some(v) = rest.strip_prefix(op) {
                    return version(v.trim_start_matches('='));
                }
            }
            // conda's `pytorch=2.1`
            if let Some(v) = rest.strip_prefix('=') {
                return version(v);
            }
        }
    }
    None
}

/// The torch pin of a requirements, lock, pyproject, setup.py, environment or Dockerfile.
#[allow(clippy::case_sensitive_file_extension_comparisons)] // lowercased first
pub fn torch_pin(rel: &str, text: &str) -> Option<TorchPin> {
    let name = rel.rsplit('/').next().unwrap_or(rel).to_ascii_lowercase();
    let lock = name.ends_with(".lock") || name.starts_with("pylock");
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if t.starts_with('#') {
            continue;
        }
        let pin = if lock {
            // `name = "torch"` then `version = "2.5.1"`.
            (t == "name = \"torch\"")
                .then(|| {
                    lines[i + 1..]
                        .iter()
                        .take(3)
                        .find_map(|n| n.trim().strip_prefix("version = ").and_then(version))
                })
                .flatten()
        } else {
            torch_in_line(t)
        };
        if let Some(min) = pin {
            return Some(TorchPin {
                min,
                text: t.chars().take(80).collect(),
                file: rel.to_owned(),
                line: i as u64 + 1,
            });
        }
    }
    None
}

/// Whether a file can hold a torch pin.
#[allow(clippy::case_sensitive_file_extension_comparisons)] // lowercased first
pub fn may_pin_torch(rel: &str) -> bool {
    let name = Path::new(rel)
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    (name.starts_with("requirements") || name.starts_with("constraints"))
        && (name.ends_with(".txt") || name.ends_with(".in"))
        || matches!(
            name.as_str(),
            "pyproject.toml"
                | "setup.py"
                | "setup.cfg"
                | "environment.yml"
                | "environment.yaml"
                | "uv.lock"
                | "poetry.lock"
                | "pdm.lock"
        )
        || name.starts_with("pylock")
        || launcher_kind(rel) == Some(LauncherKind::Docker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_exports_inline_variables_and_targets() {
        let l = read(
            "scripts/run.sh",
            "#!/bin/bash\n#SBATCH --export=ALL,PYTHONHASHSEED=0\nexport CUBLAS_WORKSPACE_CONFIG=:4096:8 # for determinism\nSEED=1\nexport SEED\nOMP_NUM_THREADS=4 torchrun --nproc_per_node=8 \\\n   train.py --seed $SEED\npython -m pkg.eval\n",
        )
        .unwrap();
        let vars: Vec<&str> = l.env.iter().map(|e| e.var.as_str()).collect();
        assert_eq!(vars, ["PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG", "SEED"]);
        assert_eq!(l.env[1].value, ":4096:8");
        assert_eq!(l.runs.len(), 2);
        assert_eq!(l.runs[0].target, Target::Script("train.py".into()));
        assert_eq!(l.runs[0].line, 6);
        assert_eq!(l.runs[0].inline_env[0].var, "OMP_NUM_THREADS");
        assert_eq!(l.runs[1].target, Target::Module("pkg.eval".into()));
        assert!(!l.global);
    }

    #[test]
    #[allow(clippy::many_single_char_names)] // one launcher of each kind
    fn dockerfile_kubernetes_compose_makefile_and_dotenv() {
        let d = read(
            "Dockerfile",
            "FROM pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime\nENV CUBLAS_WORKSPACE_CONFIG=:4096:8 PYTHONHASHSEED=0\nENV LEGACY value\nCMD [\"python\", \"-u\", \"src/train.py\"]\n",
        )
        .unwrap();
        assert!(d.global);
        assert_eq!(d.env.len(), 3);
        assert_eq!(d.runs[0].target, Target::Script("src/train.py".into()));
        assert_eq!(
            torch_pin("Dockerfile", "FROM pytorch/pytorch:2.3.0-cuda12.1\n")
                .unwrap()
                .min,
            (2, 3)
        );
        let k = read(
            "k8s/job.yaml",
            "spec:\n  containers:\n  - name: t\n    command: [\"torchrun\", \"--nproc_per_node=8\", \"train.py\"]\n    env:\n    - name: CUBLAS_WORKSPACE_CONFIG\n      value: \":4096:8\"\n",
        )
        .unwrap();
        assert_eq!(k.env[0].var, "CUBLAS_WORKSPACE_CONFIG");
        assert_eq!(k.env[0].value, ":4096:8");
        assert_eq!(k.runs[0].target, Target::Script("train.py".into()));
        let c = read(
            "docker-compose.yml",
            "services:\n  train:\n    environment:\n      - PYTHONHASHSEED=0\n      CUBLAS_WORKSPACE_CONFIG: \":16:8\"\n    image: x\n",
        )
        .unwrap();
        let vars: Vec<&str> = c.env.iter().map(|e| e.var.as_str()).collect();
        assert_eq!(vars, ["PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG"]);
        assert!(c.global);
        let m = read(
            "Makefile",
            "export PYTHONHASHSEED = 0\ntrain:\n\tCUBLAS_WORKSPACE_CONFIG=:4096:8 python train.py\n",
        )
        .unwrap();
        assert_eq!(m.env[0].var, "PYTHONHASHSEED");
        assert_eq!(m.runs[0].inline_env[0].var, "CUBLAS_WORKSPACE_CONFIG");
        let e = read(".env", "# comment\nPYTHONHASHSEED=0\n").unwrap();
        assert!(e.global && e.env[0].line == 2);
        assert!(read("notes.yaml", "a: 1\n").is_none());
    }

    #[test]
    fn torch_pins() {
        let p = |rel: &str, t: &str| torch_pin(rel, t).map(|p| p.min);
        assert_eq!(
            p("requirements.txt", "numpy\ntorch==2.1.0+cu121\n"),
            Some((2, 1))
        );
        assert_eq!(p("requirements.txt", "torchvision==0.20\n"), None);
        assert_eq!(p("requirements.txt", "torch>=2.10,<3\n"), Some((2, 10)));
        assert_eq!(p("requirements.txt", "torch\n"), None);
        assert_eq!(
            p(
                "pyproject.toml",
                "dependencies = [\"torch~=2.4\", \"numpy\"]\n"
            ),
            Some((2, 4))
        );
        assert_eq!(p("environment.yml", "  - pytorch=1.13\n"), Some((1, 13)));
        assert_eq!(
            p(
                "uv.lock",
                "[[package]]\nname = \"torch\"\nversion = \"2.5.1\"\n"
            ),
            Some((2, 5))
        );
        assert_eq!(
            p("Dockerfile", "RUN pip install torch==2.2.2\n"),
            Some((2, 2))
        );
    }
}
