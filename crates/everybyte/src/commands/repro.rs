//! `everybyte repro lint` and `everybyte repro run`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use everybyte_core::Report;
use everybyte_repro::run::BeforeError;

use super::Ctx;
use crate::cli::ReproCommand;

pub fn run(ctx: &Ctx, command: &ReproCommand) -> Result<ExitCode> {
    let cwd = Ctx::cwd()?;
    match command {
        ReproCommand::Lint(args) => {
            let session = ctx.session(&cwd, &args.report)?;
            let roots = if args.paths.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                args.paths.clone()
            };
            let mut report = Report::default();
            for root in &roots {
                if root.is_file() {
                    let name = root.display().to_string();
                    report
                        .findings
                        .extend(everybyte_repro::lint_python_file(root, &name));
                    report.inputs.push(name);
                    continue;
                }
                if !root.is_dir() {
                    bail!("{}: no such file or directory", root.display());
                }
                let project =
                    everybyte_core::discover::discover(root, &session.cfg.options.exclude)
                        .with_context(|| format!("{}: cannot walk", root.display()))?;
                for f in project.files_of(everybyte_core::FileKind::PythonSource) {
                    let shown = if root == Path::new(".") {
                        f.rel.clone()
                    } else {
                        root.join(&f.rel).display().to_string()
                    };
                    report
                        .findings
                        .extend(everybyte_repro::lint_python_file(&f.path, &shown));
                    report.inputs.push(shown);
                }
            }
            session.finish(report, Some(&cwd))
        }
        ReproCommand::Run(args) => {
            let (rtol, atol) = (&args.rtol, &args.atol);
            if !(rtol.is_finite() && *rtol >= 0.0 && atol.is_finite() && *atol >= 0.0) {
                bail!("--rtol and --atol must be non-negative numbers");
            }
            let store = args.store.clone().unwrap_or_else(|| {
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                cwd.join(".everybyte/repro").join(ts.to_string())
            });
            let opts = everybyte_repro::run::RunOptions {
                command: &args.command,
                runs: args.runs,
                outputs: &args.outputs,
                tolerance: everybyte_repro::compare::Tolerance {
                    rtol: *rtol,
                    atol: *atol,
                },
                store,
                cwd: cwd.clone(),
            };
            // The environment recorded beside each run: the same snapshot `env snapshot` takes.
            let target = everybyte_env::target::active();
            let mut record = |_: usize, dir: &Path| -> std::result::Result<(), BeforeError> {
                let t = match &target {
                    Ok(t) => t,
                    Err(e) => {
                        return std::fs::write(dir.join("env-unavailable.txt"), format!("{e}\n"))
                            .map_err(Into::into);
                    }
                };
                let snap =
                    everybyte_env::snapshot::take(t, &everybyte_env::resolve::SearchConfig::host());
                let path = dir.join("env.json");
                everybyte_core::atomic::write_atomic(&path, |w| {
                    serde_json::to_writer_pretty(&mut *w, &snap)?;
                    writeln!(w)
                })
                .map_err(|e| format!("{}: {e}", path.display()).into())
            };
            let report =
                everybyte_repro::run::run(&opts, &mut record).map_err(anyhow::Error::msg)?;
            super::print_doc(args.format, &report, || report.render_text())?;
            Ok(super::exit(report.reproducible))
        }
    }
}
