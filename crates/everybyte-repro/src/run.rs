//! `everybyte repro run`: the same command N times in fresh processes, each run's outputs
//! copied aside as it finishes, then every run compared with the first.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use serde::Serialize;

use crate::compare::{Difference, Tolerance, compare};
use crate::error::RunError;

/// What the step before each run (the caller's: recording the environment) fails with: an
/// error of the caller's own type, whose words become [`RunError::Before`]'s.
pub type BeforeError = Box<dyn std::error::Error + Send + Sync>;

pub struct RunOptions<'a> {
    pub command: &'a [String],
    pub runs: usize,
    /// Glob patterns of the outputs, relative to `cwd` (`out/*.npy`, `metrics.json`).
    pub outputs: &'a [String],
    pub tolerance: Tolerance,
    /// Where each run's outputs, logs and environment record are kept.
    pub store: PathBuf,
    pub cwd: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct RunRecord {
    pub run: usize,
    pub exit_code: Option<i32>,
    pub seconds: f64,
    /// Outputs this run wrote, relative to the working directory.
    pub outputs: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct OutputResult {
    pub output: String,
    /// The run compared with run 1, where the difference is.
    pub run: usize,
    pub difference: Option<Difference>,
}

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub command: Vec<String>,
    pub store: String,
    pub runs: Vec<RunRecord>,
    pub outputs: Vec<OutputResult>,
    pub reproducible: bool,
}

fn literal_prefix(pattern: &str) -> PathBuf {
    let mut p = PathBuf::new();
    for part in pattern.split('/') {
        if part.contains(['*', '?', '[', '{']) {
            break;
        }
        p.push(part);
    }
    p
}

fn walk(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 64 || dir.starts_with(skip) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => {
                let name = e.file_name();
                if name != ".git" && !p.starts_with(skip) {
                    walk(&p, skip, out, depth + 1);
                }
            }
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
}

/// Files under `cwd` matching the patterns, modified at or after `since`.
fn written(
    cwd: &Path,
    patterns: &[globset::GlobMatcher],
    raw: &[String],
    since: SystemTime,
    skip: &Path,
) -> Vec<String> {
    let mut found = Vec::new();
    for (pat, m) in raw.iter().zip(patterns) {
        let base = cwd.join(literal_prefix(pat));
        let mut files = Vec::new();
        if base.is_file() {
            files.push(base);
        } else {
            walk(&base, skip, &mut files, 0);
        }
        for f in files {
            let Ok(rel) = f.strip_prefix(cwd) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            let fresh = std::fs::metadata(&f)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if m.is_match(&rel) && fresh && !found.contains(&rel) {
                found.push(rel);
            }
        }
    }
    found.sort();
    found
}

#[allow(clippy::too_many_lines)] // run, copy aside, compare: one sequence
/// Runs the command `runs` times; `before` runs before each (to record the environment
/// beside it) with the run's directory in the store. An error of `before` stops the runs, as
/// [`RunError::Before`] with its words.
pub fn run(
    opts: &RunOptions<'_>,
    before: &mut dyn FnMut(usize, &Path) -> Result<(), BeforeError>,
) -> Result<RunReport, RunError> {
    if opts.command.is_empty() {
        return Err(RunError::NoCommand);
    }
    if opts.runs < 2 {
        return Err(RunError::TooFewRuns(opts.runs));
    }
    let matchers = opts
        .outputs
        .iter()
        .map(|p| {
            globset::GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|source| RunError::Pattern {
                    pattern: p.clone(),
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut records = Vec::new();
    for i in 1..=opts.runs {
        let dir = opts.store.join(format!("run-{i}"));
        std::fs::create_dir_all(&dir).map_err(|source| RunError::CreateRunDir {
            path: dir.clone(),
            source,
        })?;
        before(i, &dir).map_err(|source| RunError::Before {
            run: i,
            dir: dir.clone(),
            source,
        })?;
        let log = |name: &str| {
            let path = dir.join(name);
            std::fs::File::create(&path).map_err(|source| RunError::CreateLog { path, source })
        };
        let stdout = log("stdout.log")?;
        let stderr = log("stderr.log")?;
        // File times can be coarser than the clock: start a little in the past.
        let since = SystemTime::now() - std::time::Duration::from_millis(20);
        let t0 = Instant::now();
        let status = std::process::Command::new(&opts.command[0])
            .args(&opts.command[1..])
            .current_dir(&opts.cwd)
            .stdin(std::process::Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .status()
            .map_err(|source| RunError::Spawn {
                program: opts.command[0].clone(),
                source,
            })?;
        let seconds = t0.elapsed().as_secs_f64();
        let outputs = written(&opts.cwd, &matchers, opts.outputs, since, &opts.store);
        for rel in &outputs {
            let to = dir.join("outputs").join(rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|source| RunError::CreateOutputDir {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            if let Err(source) = std::fs::copy(opts.cwd.join(rel), &to) {
                return Err(RunError::Copy {
                    output: rel.clone(),
                    to,
                    source,
                });
            }
        }
        records.push(RunRecord {
            run: i,
            exit_code: status.code(),
            seconds,
            outputs,
        });
    }
    let mut names: Vec<String> = records.iter().flat_map(|r| r.outputs.clone()).collect();
    names.sort();
    names.dedup();
    let mut results = Vec::new();
    for name in &names {
        let first = opts.store.join("run-1/outputs").join(name);
        let mut result = OutputResult {
            output: name.clone(),
            run: 1,
            difference: None,
        };
        if records[0].outputs.contains(name) {
            for r in &records[1..] {
                let d = if r.outputs.contains(name) {
                    compare(
                        name,
                        &first,
                        &opts.store.join(format!("run-{}/outputs", r.run)).join(name),
                        opts.tolerance,
                    )
                } else {
                    Some(Difference::Missing { run: r.run })
                };
                if d.is_some() {
                    result.run = r.run;
                    result.difference = d;
                    break;
                }
            }
        } else {
            result.difference = Some(Difference::Missing { run: 1 });
        }
        results.push(result);
    }
    let ok_exits = records.iter().all(|r| r.exit_code == Some(0));
    let reproducible =
        ok_exits && !names.is_empty() && results.iter().all(|r| r.difference.is_none());
    Ok(RunReport {
        command: opts.command.to_vec(),
        store: opts.store.display().to_string(),
        runs: records,
        outputs: results,
        reproducible,
    })
}

impl RunReport {
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        for r in &self.runs {
            s.push_str(&format!(
                "run {}: exit {}, {:.2} s, {} output{}\n",
                r.run,
                r.exit_code
                    .map_or_else(|| "by signal".to_owned(), |c| c.to_string()),
                r.seconds,
                r.outputs.len(),
                if r.outputs.len() == 1 { "" } else { "s" }
            ));
        }
        if self.outputs.is_empty() {
            s.push_str("no output matched --outputs: nothing to compare\n");
        }
        for o in &self.outputs {
            match &o.difference {
                None => s.push_str(&format!("  same     {}\n", o.output)),
                Some(d) => s.push_str(&format!(
                    "  DIFFERS  {} (run 1 vs run {}): {}\n",
                    o.output,
                    o.run,
                    d.describe()
                )),
            }
        }
        s.push_str(&format!(
            "{}; runs kept in {}\n",
            if self.reproducible {
                "reproducible: every output matches"
            } else if self.runs.iter().any(|r| r.exit_code != Some(0)) {
                "NOT reproducible: a run failed (see its stderr.log)"
            } else {
                "NOT reproducible"
            },
            self.store
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefixes() {
        assert_eq!(literal_prefix("out/*.npy"), PathBuf::from("out"));
        assert_eq!(
            literal_prefix("metrics.json"),
            PathBuf::from("metrics.json")
        );
        assert_eq!(literal_prefix("**/*.pt"), PathBuf::new());
    }

    #[test]
    fn errors_before_the_runs_carry_their_input() {
        let dir = tempfile::tempdir().unwrap();
        let command = ["true".to_owned()];
        let outputs = ["[".to_owned()];
        let mut opts = RunOptions {
            command: &[],
            runs: 2,
            outputs: &[],
            tolerance: Tolerance::default(),
            store: dir.path().join("store"),
            cwd: dir.path().to_owned(),
        };
        let mut nothing = |_: usize, _: &Path| Ok(());
        let err = run(&opts, &mut nothing).unwrap_err();
        assert!(matches!(err, RunError::NoCommand));
        assert_eq!(
            err.to_string(),
            "no command: give it after --, e.g. everybyte repro run -- python train.py"
        );
        opts.command = &command;
        opts.runs = 1;
        assert_eq!(
            run(&opts, &mut nothing).unwrap_err().to_string(),
            "-n 1: at least 2 runs are needed to compare"
        );
        opts.runs = 2;
        opts.outputs = &outputs;
        let err = run(&opts, &mut nothing).unwrap_err();
        let RunError::Pattern { pattern, source } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(pattern, "[");
        assert_eq!(err.to_string(), format!("--outputs [: {source}"));
        opts.outputs = &[];
        let mut refuse = |run: usize, _: &Path| -> Result<(), BeforeError> {
            Err(format!("run {run}: cannot record").into())
        };
        let err = run(&opts, &mut refuse).unwrap_err();
        assert!(
            matches!(&err, RunError::Before { run: 1, dir, .. } if dir.ends_with("run-1")),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "run 1: cannot record");
    }
}
