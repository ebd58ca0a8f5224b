//! Repro over a project: every Python module parsed once, the programs found, each linted as
//! it runs, and every gap reported once at the line where it arises.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use everybyte_core::{Audit, ContextItem, FileKind, Finding, Report};

use crate::model::Script;
use crate::program::{Entry, EntryReason, Module, Project};

/// The largest non-Python file read for launchers and pins.
const MAX_TEXT: u64 = 1 << 20;

/// A file of the project to read: where it is, its path relative to the root, what to print.
pub struct Source {
    pub path: PathBuf,
    pub rel: String,
    pub display: String,
}

/// Reads one Python file; an unreadable one is IO001.
fn parse(f: &Source) -> Result<Script, Box<Finding>> {
    match std::fs::read(&f.path) {
        Ok(bytes) => Script::parse(&String::from_utf8_lossy(&bytes)).map_err(|e| {
            Box::new(everybyte_core::rules::unreadable(
                &f.display,
                "cannot parse",
                &e,
            ))
        }),
        Err(e) => Err(Box::new(everybyte_core::rules::unreadable_io(
            &f.display, &e,
        ))),
    }
}

/// Reads and parses a project's files. With `only` (relative paths of Python files), only
/// those and the project modules they import, transitively, are parsed: a file is linted in
/// time that depends on its program, not on the size of the repository around it.
pub fn load(
    python: Vec<Source>,
    others: &[Source],
    only: Option<&[String]>,
) -> (Project, Vec<Finding>) {
    let mut errors = Vec::new();
    let texts = read_texts(others);
    let Some(only) = only else {
        let mut modules = Vec::new();
        for f in python {
            match parse(&f) {
                Ok(script) => modules.push(Module {
                    rel: f.rel,
                    display: f.display,
                    script,
                }),
                Err(e) => errors.push(*e),
            }
        }
        return (Project::new(modules, &texts), errors);
    };
    let modules = python
        .iter()
        .map(|f| Module {
            rel: f.rel.clone(),
            display: f.display.clone(),
            script: Script::default(),
        })
        .collect();
    let mut project = Project::new(modules, &texts);
    let mut queue: Vec<usize> = only
        .iter()
        .filter_map(|rel| python.iter().position(|f| f.rel == *rel))
        .collect();
    let mut parsed = vec![false; python.len()];
    while let Some(m) = queue.pop() {
        if std::mem::replace(&mut parsed[m], true) {
            continue;
        }
        match parse(&python[m]) {
            Ok(script) => project.modules[m].script = script,
            Err(e) => errors.push(*e),
        }
        queue.extend(project.imports_of(m).into_iter().filter(|i| !parsed[*i]));
    }
    (project, errors)
}

/// The launchers, pins, manifests and packaging files among the other files, read as text.
fn read_texts(others: &[Source]) -> Vec<(String, String)> {
    others
        .iter()
        .filter(|f| {
            crate::launch::launcher_kind(&f.rel).is_some()
                || crate::launch::may_pin_torch(&f.rel)
                || crate::program::is_manifest(&f.rel)
                || f.rel.ends_with("pyproject.toml")
        })
        .filter(|f| std::fs::metadata(&f.path).is_ok_and(|m| m.len() <= MAX_TEXT))
        .filter_map(|f| {
            let text = std::fs::read(&f.path).ok()?;
            Some((f.rel.clone(), String::from_utf8_lossy(&text).into_owned()))
        })
        .collect()
}

/// The findings of the given programs of a project, each gap once: a gap in a module that
/// several programs run is one finding, at its line, for the first program, with every
/// program it affects in `data.programs`.
pub fn lint_entries(project: &Project, entries: &[Entry]) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut at: BTreeMap<(String, String, Option<u64>, Option<u64>), usize> = BTreeMap::new();
    for entry in entries {
        let script = project.link(entry);
        let env = project.env_for(entry.module);
        let runs = project.runs_of(entry.module);
        let found = crate::lint_program(&crate::ProgramInputs {
            script: &script,
            env: &env,
            runs: &runs,
            torch: project.torch.as_ref(),
            manifests: &project.manifests,
        });
        let program = &project.modules[entry.module].display;
        for mut f in found {
            let key = (
                f.code.clone(),
                f.location.path.clone(),
                f.location.line,
                f.location.column,
            );
            if let Some(&i) = at.get(&key) {
                if let Some(serde_json::Value::Array(list)) = out[i].data.get_mut("programs") {
                    list.push(program.as_str().into());
                }
                continue;
            }
            f = f
                .with_data("program", program.as_str())
                .with_data("programs", vec![serde_json::Value::from(program.as_str())]);
            if f.location.path != *program && !f.message.contains(program.as_str()) {
                f.message.push_str(&format!(" (in the run of {program})"));
            }
            at.insert(key, out.len());
            out.push(f);
        }
    }
    everybyte_core::finding::sort_findings(&mut out);
    out
}

/// What the lint took from outside the programs' code: each variable a launcher sets for a
/// program that the rules read, and the torch version the project pins.
pub fn program_context(project: &Project, entries: &[Entry]) -> Vec<ContextItem> {
    let mut out: Vec<ContextItem> = Vec::new();
    for entry in entries {
        let program = &project.modules[entry.module].display;
        for e in project.env_for(entry.module) {
            if !matches!(e.var.as_str(), "CUBLAS_WORKSPACE_CONFIG" | "PYTHONHASHSEED") {
                continue;
            }
            let item = ContextItem {
                path: e.file.clone(),
                key: e.var.clone(),
                value: format!("{} for {program}", e.value),
                line: Some(e.line),
            };
            if !out.contains(&item) {
                out.push(item);
            }
        }
    }
    if let (Some(pin), false) = (&project.torch, entries.is_empty()) {
        out.push(ContextItem {
            path: pin.file.clone(),
            key: "torch".into(),
            value: format!(
                "{}.{} or later ({}): version-dependent REPRO rules judge by it",
                pin.min.0, pin.min.1, pin.text
            ),
            line: Some(pin.line),
        });
    }
    out
}

/// What `repro lint` found in its paths, and the files it read.
#[derive(Debug, Default)]
pub struct Linted {
    pub findings: Vec<Finding>,
    pub inputs: Vec<String>,
    /// Launcher variables and the torch pin the rules took into account.
    pub context: Vec<ContextItem>,
}

/// Why `repro lint` cannot lint a path.
#[derive(Debug, thiserror::Error)]
pub enum LintPathError {
    #[error("{}: no such file or directory", .0.display())]
    NotFound(PathBuf),
    #[error("{}: cannot walk", .path.display())]
    Walk {
        path: PathBuf,
        source: ignore::Error,
    },
}

/// The project a file belongs to: the nearest folder above it with a `pyproject.toml`,
/// `setup.py`, `setup.cfg` or `.git`; the file's own folder when there is none.
pub fn project_root(file: &Path) -> PathBuf {
    let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
    let own = abs.parent().map(Path::to_owned).unwrap_or_default();
    let mut dir = Some(own.as_path());
    while let Some(d) = dir {
        if ["pyproject.toml", "setup.py", "setup.cfg", ".git"]
            .iter()
            .any(|m| d.join(m).exists())
        {
            return d.to_owned();
        }
        dir = d.parent();
    }
    own
}

/// Lints a project walked at `root`; `named`: lint only the program each of these files
/// starts (relative paths), otherwise every program.
fn lint_root(
    root: &Path,
    shown_root: &Path,
    exclude: &[String],
    named: &[String],
    out: &mut Linted,
) -> Result<(), LintPathError> {
    let walked = everybyte_core::discover::discover(root, exclude).map_err(|source| {
        LintPathError::Walk {
            path: root.to_owned(),
            source,
        }
    })?;
    let show = |rel: &str| {
        if shown_root == Path::new(".") || shown_root.as_os_str().is_empty() {
            rel.to_owned()
        } else {
            shown_root.join(rel).display().to_string()
        }
    };
    let (mut python, others) = split(&walked, &show);
    // A named file the walk skipped (ignored by .gitignore) is still read.
    for rel in named {
        if !python.iter().any(|s| s.rel == *rel) {
            python.push(Source {
                path: root.join(rel),
                rel: rel.clone(),
                display: show(rel),
            });
        }
    }
    let only = (!named.is_empty()).then_some(named);
    let (project, errors) = load(python, &others, only);
    out.findings.extend(errors);
    let entries: Vec<Entry> = if named.is_empty() {
        project.entries()
    } else {
        named
            .iter()
            .filter_map(|rel| project.modules.iter().position(|m| m.rel == *rel))
            .map(|module| Entry {
                module,
                reason: EntryReason::Named,
                roots: Vec::new(),
            })
            .collect()
    };
    out.findings.extend(lint_entries(&project, &entries));
    out.context.extend(program_context(&project, &entries));
    // The files read: every module, or those of the named programs.
    let read: Vec<usize> = if named.is_empty() {
        (0..project.modules.len()).collect()
    } else {
        entries
            .iter()
            .flat_map(|e| project.closure(e.module))
            .collect()
    };
    out.inputs
        .extend(read.into_iter().map(|i| project.modules[i].display.clone()));
    Ok(())
}

/// Lints the given Python files and folders (the current folder when none is given). A
/// folder is a project: its programs are found and linted as they run. A file is the program
/// it starts, read with the project around it (found from the nearest `pyproject.toml`,
/// `setup.py`, `setup.cfg` or `.git` above it).
pub fn lint_paths(roots: &[PathBuf], exclude: &[String]) -> Result<Linted, LintPathError> {
    let here = [PathBuf::from(".")];
    let roots = if roots.is_empty() { &here[..] } else { roots };
    let mut out = Linted::default();
    for root in roots {
        if root.is_file() {
            let project = project_root(root);
            let abs = std::path::absolute(root).unwrap_or_else(|_| root.clone());
            let rel = abs
                .strip_prefix(&project)
                .unwrap_or(&abs)
                .to_string_lossy()
                .replace('\\', "/");
            // Show paths as the user wrote them: the project folder relative to the file.
            let depth = rel.matches('/').count();
            let mut shown = root.parent().map(Path::to_owned).unwrap_or_default();
            for _ in 0..depth {
                shown = shown.join("..");
            }
            let shown = if depth == 0 {
                root.parent().map(Path::to_owned).unwrap_or_default()
            } else {
                normalise(&shown)
            };
            let mut linted = Linted::default();
            lint_root(&project, &shown, exclude, &[rel], &mut linted)?;
            out.findings.extend(linted.findings);
            out.inputs.extend(linted.inputs);
            out.context.extend(linted.context);
            continue;
        }
        if !root.is_dir() {
            return Err(LintPathError::NotFound(root.clone()));
        }
        lint_root(root, root, exclude, &[], &mut out)?;
    }
    Ok(out)
}

/// `a/b/../..` to `.`, `a/b/..` to `a`: lexically, as the user would write it.
fn normalise(p: &Path) -> PathBuf {
    let mut parts: Vec<std::path::Component<'_>> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir
                if matches!(parts.last(), Some(std::path::Component::Normal(_))) =>
            {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        PathBuf::from(".")
    } else {
        parts.iter().collect()
    }
}

/// Repro's part of the audit: the project's programs, each linted as it runs.
pub fn audit(input: &Audit, report: &mut Report) {
    let project = input.project;
    let (python, others) = split(project, &|rel: &str| rel.to_owned());
    let (p, errors) = load(python, &others, None);
    report.findings.extend(errors);
    let entries = p.entries();
    report.findings.extend(lint_entries(&p, &entries));
    report.context.extend(program_context(&p, &entries));
}

/// A walked project's files as sources: the Python modules (stubs aside), and the others
/// (launchers, pins, manifests among them), with `.env`, which the walk skips as hidden.
fn split(
    project: &everybyte_core::discover::Project,
    show: &dyn Fn(&str) -> String,
) -> (Vec<Source>, Vec<Source>) {
    let mut python = Vec::new();
    let mut others = Vec::new();
    for f in &project.files {
        let s = Source {
            path: f.path.clone(),
            rel: f.rel.clone(),
            display: show(&f.rel),
        };
        if f.kind == FileKind::PythonSource && !is_stub(&f.rel) {
            python.push(s);
        } else {
            others.push(s);
        }
    }
    let dotenv = project.root.join(".env");
    if dotenv.is_file() {
        others.push(Source {
            path: dotenv,
            rel: ".env".into(),
            display: show(".env"),
        });
    }
    (python, others)
}

/// A type stub (`.pyi`): declarations, not code that runs.
fn is_stub(rel: &str) -> bool {
    Path::new(rel)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pyi"))
}
