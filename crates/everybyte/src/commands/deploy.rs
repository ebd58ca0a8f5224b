//! `everybyte deploy lint | patch | serve`.

use std::io::{self, Write};
use std::path::Path;

use everybyte_deploy::expect::Measurements;

use super::prelude::*;

pub fn run(ctx: &Ctx, command: &DeployCommand) -> Result<ExitCode> {
    match command {
        DeployCommand::Lint(args) => lint(ctx, args),
        DeployCommand::Patch(args) => patch(args),
        DeployCommand::Serve(args) => serve(args),
    }
}

/// `deploy serve`: the manifests on standard output or in `-o FILE`, how each number was
/// chosen on standard error.
fn serve(args: &DeployServeArgs) -> Result<ExitCode> {
    use everybyte_deploy::serving::{Measured, Model, Spec, Target, render};
    let entries = everybyte_serve::repo::scan(&args.repository)?;
    let plans = match &args.serve_log {
        Some(p) => plans_of(p)?,
        None => std::collections::BTreeMap::new(),
    };
    let models = entries
        .iter()
        .map(|e| Model {
            name: e.name.clone(),
            bytes: std::fs::metadata(&e.path).map_or(0, |m| m.len()),
            plan: plans.get(&e.name).copied(),
        })
        .collect();
    let (expect, _) = Measurements {
        profile: args.profile.as_deref(),
        bench: args.bench.as_deref(),
        model: None,
        headroom: args.headroom,
    }
    .expectations()?;
    let busiest_cores = match &args.profile {
        Some(p) => everybyte_deploy::profile::load(p)?
            .seconds
            .iter()
            .map(|s| s.cpu_cores)
            .reduce(f64::max),
        None => None,
    };
    let spec = Spec {
        name: args.name.clone(),
        image: args.image.clone(),
        models,
        target: match args.target {
            ServeTarget::Kserve => Target::Kserve,
            ServeTarget::Kubernetes => Target::Kubernetes,
        },
        gpu: args.device == ServeDevice::Cuda,
        drain_seconds: args.drain_seconds,
        min_replicas: args.replicas,
        max_replicas: args
            .max_replicas
            .unwrap_or_else(|| args.replicas.saturating_mul(3)),
        storage_uri: args.storage_uri.clone(),
        models_path: args.models_path.clone(),
        models_claim: args.models_claim.clone(),
    };
    let measured = Measured {
        peak: expect.peak_bytes,
        cold_start: expect.cold_start,
        busiest_cores,
        p99: expect.p99_seconds,
        headroom: expect.headroom,
    };
    let (yaml, notes) = render(&spec, &measured)?;
    match &args.output {
        Some(path) => everybyte_core::write_atomic(path, |w| w.write_all(yaml.as_bytes()))
            .with_context(|| format!("{}: cannot write the manifests", path.display()))?,
        None => io::stdout().lock().write_all(yaml.as_bytes())?,
    }
    let mut err = io::stderr().lock();
    for n in &notes {
        writeln!(err, "{n}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Each model's measured plan from the server's `model_loaded` and `model_replanned` log
/// lines; other lines (the profiler's own, a shell's) are skipped, and a model planned again
/// (its cores changed) keeps its last plan.
fn plans_of(
    path: &Path,
) -> Result<std::collections::BTreeMap<String, everybyte_deploy::serving::Plan>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the server's log", path.display()))?;
    let mut plans = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line.trim()) else {
            continue;
        };
        if v["event"] != "model_loaded" && v["event"] != "model_replanned" {
            continue;
        }
        let n = |k: &str| v["plan"][k].as_u64().and_then(|x| u32::try_from(x).ok());
        if let (Some(model), Some(threads), Some(runs), Some(cores)) =
            (v["model"].as_str(), n("threads"), n("runs"), n("cores"))
        {
            plans.insert(
                model.to_owned(),
                everybyte_deploy::serving::Plan {
                    threads,
                    runs,
                    cores,
                },
            );
        }
    }
    if plans.is_empty() {
        bail!(
            "{}: no model_loaded line with a plan (give the server's standard error: everybyte serve REPO 2> serve.log)",
            path.display()
        );
    }
    Ok(plans)
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
