//! `everybyte env check | snapshot | diff`.

use super::prelude::*;
use std::io::{self, Write};

use everybyte_env::snapshot::Snapshot;
use everybyte_env::{CheckOptions, check_environment, env_target};

pub fn run(ctx: &Ctx, command: &EnvCommand) -> Result<ExitCode> {
    match command {
        EnvCommand::Check(args) => check(ctx, args),
        EnvCommand::Snapshot(args) => snapshot(args),
        EnvCommand::Diff(args) => diff(args),
    }
}

fn check(ctx: &Ctx, args: &EnvCheckArgs) -> Result<ExitCode> {
    let cwd = Ctx::cwd()?;
    let session = ctx.session(&cwd, &args.report)?;
    let t = env_target(args.target.venv.as_deref(), args.target.python.as_deref())?;
    let display = t.display_root.display().to_string();
    let (findings, context) = check_environment(
        &t,
        &CheckOptions {
            display_root: &t.display_root,
            display: &display,
            ldd_compatible: args.ldd_compatible,
            lock: args.lock.as_deref(),
            verify_records: session
                .selection
                .enabled(everybyte_env::python::rules::record_mismatch::RECORD_MISMATCH.code),
        },
    );
    let report = Report {
        findings,
        context,
        inputs: vec![display],
        figures: Vec::new(),
    };
    session.finish(report, Some(&t.display_root))
}

fn snapshot(args: &EnvSnapshotArgs) -> Result<ExitCode> {
    let t = env_target(args.target.venv.as_deref(), args.target.python.as_deref())?;
    let snap = everybyte_env::snapshot::take(&t, &everybyte_env::resolve::SearchConfig::host());
    if let Some(path) = &args.output {
        write_json(path, &snap, "the snapshot")?;
    } else {
        let mut out = io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &snap)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `env diff`: exits 1 when the snapshots differ.
fn diff(args: &EnvDiffArgs) -> Result<ExitCode> {
    let changes =
        everybyte_env::snapshot::diff(&Snapshot::read(&args.a)?, &Snapshot::read(&args.b)?);
    match args.format {
        DocFormat::Json => print_doc(args.format, &changes, String::new)?,
        DocFormat::Text => {
            everybyte_env::snapshot::write_diff_text(&changes, &mut io::stdout().lock())
                .context("cannot write the differences")?;
        }
    }
    Ok(exit(changes.is_empty()))
}
