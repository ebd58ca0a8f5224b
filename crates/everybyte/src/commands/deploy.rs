//! `everybyte deploy lint | patch`.

use std::io::{self, Write};

use everybyte_deploy::expect::Measurements;

use super::prelude::*;

pub fn run(ctx: &Ctx, command: &DeployCommand) -> Result<ExitCode> {
    match command {
        DeployCommand::Lint(args) => lint(ctx, args),
        DeployCommand::Patch(args) => patch(args),
    }
}

fn lint(ctx: &Ctx, args: &DeployLintArgs) -> Result<ExitCode> {
    let cwd = Ctx::cwd()?;
    let session = ctx.session(&cwd, &args.report)?;
    let (mut expect, figures) = Measurements {
        profile: args.profile.as_deref(),
        bench: args.bench.as_deref(),
        model: args.model.as_deref(),
        headroom: args.headroom,
    }
    .expectations()?;
    expect.sample_bytes = args.sample_bytes;
    let linted =
        everybyte_deploy::lint::lint_paths(&args.paths, &session.cfg.options.exclude, &expect)?;
    let report = Report {
        findings: linted.findings,
        inputs: linted.inputs,
        figures,
        ..Report::default()
    };
    session.finish(report, Some(&cwd))
}

/// `deploy patch`: exits 0 when the manifest already met the numbers, 1 when it changed (or
/// would change, with --dry-run).
fn patch(args: &DeployPatchArgs) -> Result<ExitCode> {
    let patched = everybyte_deploy::patch::patch_file(
        &args.manifest,
        &args.profile,
        args.headroom,
        args.dry_run,
    )?;
    let mut err = io::stderr().lock();
    for n in &patched.notes {
        writeln!(err, "{n}")?;
    }
    write!(io::stdout().lock(), "{}", patched.output)?;
    Ok(ExitCode::from(patched.exit_code()))
}
