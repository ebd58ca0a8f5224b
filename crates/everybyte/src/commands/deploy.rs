//! `everybyte deploy lint | patch`, and the Kubernetes part of the audit.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use everybyte_core::{Audit, FileKind, Report};

use super::Ctx;
use crate::cli::DeployCommand;

/// The Kubernetes part of the audit: every manifest, held to the largest model's size.
pub fn audit(input: &Audit, report: &mut Report) {
    let expect = everybyte_deploy::Expectations {
        model_bytes: everybyte_mem::model::largest_model(input.project),
        headroom: input.config.options.deploy.headroom,
        ..Default::default()
    };
    for f in input.project.files_of(FileKind::KubernetesManifest) {
        report
            .findings
            .extend(lint_manifest_file(&f.path, &f.rel, &expect));
    }
}

/// The K8S findings of one manifest; unreadable or malformed YAML is IO001.
fn lint_manifest_file(
    path: &Path,
    display: &str,
    expect: &everybyte_deploy::Expectations,
) -> Vec<everybyte_core::Finding> {
    match std::fs::read_to_string(path) {
        Ok(text) => everybyte_deploy::lint_manifest(display, &text, expect).unwrap_or_else(|e| {
            vec![everybyte_core::rules::unreadable(
                display,
                "cannot parse the YAML",
                &e,
            )]
        }),
        Err(e) => vec![everybyte_core::rules::unreadable_io(display, &e)],
    }
}

/// `deploy patch`: exits 0 when the manifest already met the numbers, 1 when it changed (or
/// would change, with --dry-run).
fn deploy_patch(manifest: &Path, profile: &Path, headroom: f64, dry_run: bool) -> Result<ExitCode> {
    if !(headroom.is_finite() && headroom >= 1.0) {
        bail!("--headroom {headroom}: expected a factor of at least 1.0");
    }
    let r = everybyte_deploy::profile::load(profile).map_err(anyhow::Error::msg)?;
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("{}: cannot read", manifest.display()))?;
    let targets = everybyte_deploy::patch::Targets {
        memory_bytes: Some((r.peak() as f64 * headroom).ceil() as u64),
        cold_start: r.cold_start_seconds,
    };
    let (edits, notes) = everybyte_deploy::patch::plan(&text, &targets)
        .map_err(|e| anyhow::anyhow!("{}: {e}", manifest.display()))?;
    let name = manifest.display().to_string();
    let (new, diff) = everybyte_deploy::patch::apply(&text, &edits, &name);
    let mut out = io::stdout().lock();
    for n in &notes {
        writeln!(io::stderr(), "everybyte: {name}: {n}")?;
    }
    if edits.is_empty() {
        writeln!(out, "{name}: already meets the profile")?;
        return Ok(ExitCode::SUCCESS);
    }
    write!(out, "{diff}")?;
    if !dry_run {
        everybyte_core::atomic::write_atomic(manifest, |w| w.write_all(new.as_bytes()))
            .with_context(|| format!("{name}: cannot write"))?;
    }
    Ok(ExitCode::from(1))
}

pub fn run(ctx: &Ctx, command: &DeployCommand) -> Result<ExitCode> {
    let (paths, profile, model, bench, headroom, args) = match command {
        DeployCommand::Patch(a) => {
            return deploy_patch(&a.manifest, &a.profile, a.headroom, a.dry_run);
        }
        DeployCommand::Lint(a) => (&a.paths, &a.profile, &a.model, &a.bench, &a.headroom, a),
    };
    let cwd = Ctx::cwd()?;
    let session = ctx.session(&cwd, &args.report)?;
    if !(headroom.is_finite() && *headroom >= 1.0) {
        bail!("--headroom {headroom}: expected a factor of at least 1.0");
    }
    let mut expect = everybyte_deploy::Expectations {
        headroom: *headroom,
        ..Default::default()
    };
    let mut figures = Vec::new();
    if let Some(p) = profile {
        let r = everybyte_deploy::profile::load(p).map_err(anyhow::Error::msg)?;
        expect.peak_bytes = Some((r.peak(), p.display().to_string()));
        expect.cold_start = r.cold_start_seconds;
        figures.push(everybyte_deploy::profile::figure(
            &r,
            &p.display().to_string(),
        ));
    }
    if let Some(b) = bench {
        let text = std::fs::read_to_string(b)
            .with_context(|| format!("--bench {}: cannot read", b.display()))?;
        let p99 = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["latency"]["p99_ms"].as_f64())
            .with_context(|| {
                format!(
                    "--bench {}: not a report of everybyte bench --format json",
                    b.display()
                )
            })?;
        expect.p99_seconds = Some((p99 / 1000.0, b.display().to_string()));
    }
    if let Some(m) = model {
        let len = std::fs::metadata(m)
            .with_context(|| format!("--model {}: cannot read", m.display()))?
            .len();
        expect.model_bytes = Some((len, m.display().to_string()));
    }
    let mut report = Report::default();
    let roots = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.clone()
    };
    for root in &roots {
        if root.is_file() {
            let name = root.display().to_string();
            report
                .findings
                .extend(lint_manifest_file(root, &name, &expect));
            report.inputs.push(name);
            continue;
        }
        if !root.is_dir() {
            bail!("{}: no such file or directory", root.display());
        }
        let project = everybyte_core::discover::discover(root, &session.cfg.options.exclude)
            .with_context(|| format!("{}: cannot walk", root.display()))?;
        for f in &project.files {
            let ext = Path::new(&f.rel)
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            if ext != "yaml" && ext != "yml" {
                continue;
            }
            let shown = root.join(&f.rel).display().to_string();
            let is_k8s = f.kind == everybyte_core::FileKind::KubernetesManifest
                || std::fs::read_to_string(&f.path)
                    .is_ok_and(|t| everybyte_deploy::is_manifest(&t));
            if is_k8s {
                report
                    .findings
                    .extend(lint_manifest_file(&f.path, &shown, &expect));
                report.inputs.push(shown);
            }
        }
    }
    report.figures = figures;
    session.finish(report, Some(&cwd))
}
