//! `everybyte repro lint` and `everybyte repro run`.

use std::path::Path;

use everybyte_repro::run::BeforeError;

use super::prelude::*;

pub fn run(ctx: &Ctx, command: &ReproCommand) -> Result<ExitCode> {
    let cwd = Ctx::cwd()?;
    match command {
        ReproCommand::Lint(args) => {
            let session = ctx.session(&cwd, &args.report)?;
            let linted = everybyte_repro::lint_paths(&args.paths, &session.cfg.options.exclude)?;
            let report = Report {
                findings: linted.findings,
                inputs: linted.inputs,
                context: linted.context,
                ..Report::default()
            };
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
            let mut record = |_: usize, dir: &Path| -> Result<(), BeforeError> {
                Ok(everybyte_env::snapshot::record(target.as_ref(), dir)?)
            };
            let report =
                everybyte_repro::run::run(&opts, &mut record).map_err(anyhow::Error::msg)?;
            print_doc(args.format, &report, || report.render_text())?;
            Ok(exit(report.reproducible))
        }
    }
}
