//! `everybyte env check | snapshot | diff`, and the environment's part of the audit.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use everybyte_core::{Audit, FileKind, Report};

use super::Ctx;
use crate::cli::{DocFormat, EnvCommand, EnvTargetArgs};

/// The environment's part of the audit: requirements files, Dockerfiles, and the project's
/// virtual environment against its lock file.
pub fn audit(input: &Audit, report: &mut Report) -> Result<()> {
    let project = input.project;
    let dir = &project.root;
    for f in project.files_of(FileKind::Requirements) {
        report
            .findings
            .extend(everybyte_env::python::lock::check_requirements_file(
                &f.path, &f.rel,
            ));
    }
    for f in project.files_of(FileKind::Dockerfile) {
        match std::fs::read_to_string(&f.path) {
            Ok(text) => report
                .findings
                .extend(everybyte_env::image::check_dockerfile(&f.rel, &text)),
            Err(e) => report
                .findings
                .push(everybyte_core::rules::unreadable_io(&f.rel, &e)),
        }
    }
    let venv = match &input.config.options.env.venv {
        Some(v) => Some(dir.join(v)),
        None => everybyte_env::target::find_in_project(dir),
    };
    if let Some(venv) = venv {
        let t = everybyte_env::target::from_venv(&venv)?;
        let rel = venv
            .strip_prefix(dir)
            .unwrap_or(&venv)
            .display()
            .to_string();
        let lock = project
            .files_of(FileKind::Lockfile)
            .next()
            .map(|f| f.path.clone());
        let verify = input.enabled("ENV008");
        let (findings, context) = env_findings(&t, dir, &rel, false, lock.as_deref(), verify);
        report.findings.extend(findings);
        report.context.extend(context);
    }
    Ok(())
}

fn env_target(args: &EnvTargetArgs) -> Result<everybyte_env::target::Target> {
    Ok(match (&args.venv, &args.python) {
        (Some(dir), _) => everybyte_env::target::from_venv(dir)?,
        (None, Some(py)) => everybyte_env::target::from_python(py)?,
        (None, None) => everybyte_env::target::active()?,
    })
}

/// The marker environment of the target: asked of its interpreter, or read from `pyvenv.cfg`
/// and this host.
fn marker_env(target: &everybyte_env::target::Target) -> everybyte_env::python::marker::MarkerEnv {
    use everybyte_env::python::marker::MarkerEnv;
    target
        .python
        .as_deref()
        .and_then(|p| MarkerEnv::from_interpreter(p).ok())
        .unwrap_or_else(|| {
            MarkerEnv::for_current_host(target.python_version.as_deref().unwrap_or("3"))
        })
}

/// Runs every environment check on one environment; returns findings and context notes.
/// `display_root`: paths in findings are shown relative to it; `display`: the name of the
/// environment in context lines.
fn env_findings(
    target: &everybyte_env::target::Target,
    display_root: &Path,
    display: &str,
    ldd_compatible: bool,
    lock: Option<&Path>,
    verify_records: bool,
) -> (
    Vec<everybyte_core::Finding>,
    Vec<everybyte_core::ContextItem>,
) {
    let cfg = everybyte_env::resolve::SearchConfig::host();
    let native = everybyte_env::native::check(&target.roots, display_root, &cfg, ldd_compatible);
    let mut findings = native.findings;
    let markers = marker_env(target);
    let mut dists = Vec::new();
    for sp in &target.site_packages {
        match everybyte_env::python::dist::scan_site_packages(sp) {
            Ok(scan) => {
                findings.extend(everybyte_env::python::check::check_scan(
                    &scan,
                    display_root,
                    &markers,
                    verify_records,
                ));
                dists.extend(scan.distributions);
            }
            Err(e) => findings.push(everybyte_core::rules::unreadable_io(
                &sp.strip_prefix(display_root)
                    .unwrap_or(sp)
                    .display()
                    .to_string(),
                &e,
            )),
        }
    }
    if let Some(lock) = lock {
        let shown = lock
            .strip_prefix(display_root)
            .unwrap_or(lock)
            .display()
            .to_string();
        match everybyte_env::python::lock::check_lock_with_env(lock, &shown, &dists, Some(&markers))
        {
            Ok(f) => findings.extend(f),
            Err(e) => findings.push(everybyte_core::rules::unreadable(
                shown,
                "cannot read the lock file",
                &e,
            )),
        }
    }
    let mut context = vec![everybyte_core::ContextItem {
        path: display.to_owned(),
        key: "objects".into(),
        value: format!("{} ELF objects examined", native.objects.len()),
        line: None,
    }];
    let proc_version = std::fs::read_to_string("/proc/driver/nvidia/version").ok();
    match everybyte_env::gpu::check(&target.site_packages, display_root, proc_version.as_deref()) {
        Some(everybyte_env::gpu::GpuCheck::Finding(f)) => findings.push(f),
        Some(everybyte_env::gpu::GpuCheck::Note(n)) => context.push(everybyte_core::ContextItem {
            path: display.to_owned(),
            key: "GPU".into(),
            value: n,
            line: None,
        }),
        None => {}
    }
    (findings, context)
}

pub fn run(ctx: &Ctx, command: &EnvCommand) -> Result<ExitCode> {
    match command {
        EnvCommand::Check(args) => {
            let cwd = Ctx::cwd()?;
            let session = ctx.session(&cwd, &args.report)?;
            let t = env_target(&args.target)?;
            let display = t.display_root.display().to_string();
            let verify = session.selection.enabled("ENV008");
            let (findings, context) = env_findings(
                &t,
                &t.display_root,
                &display,
                args.ldd_compatible,
                args.lock.as_deref(),
                verify,
            );
            let report = Report {
                findings,
                context,
                inputs: vec![display],
                figures: Vec::new(),
            };
            let root = t.display_root.clone();
            session.finish(report, Some(&root))
        }
        EnvCommand::Snapshot(args) => {
            let t = env_target(&args.target)?;
            let snap =
                everybyte_env::snapshot::take(&t, &everybyte_env::resolve::SearchConfig::host());
            let write = |w: &mut dyn Write| -> io::Result<()> {
                serde_json::to_writer_pretty(&mut *w, &snap)?;
                writeln!(w)
            };
            match &args.output {
                Some(path) => everybyte_core::write_atomic(path, write)
                    .with_context(|| format!("{}: cannot write the snapshot", path.display()))?,
                None => write(&mut io::stdout().lock())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        EnvCommand::Diff(args) => {
            let load = |p: &Path| -> Result<everybyte_env::snapshot::Snapshot> {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("{}: cannot read", p.display()))?;
                serde_json::from_str(&text)
                    .with_context(|| format!("{}: not an everybyte snapshot", p.display()))
            };
            let changes = everybyte_env::snapshot::diff(&load(&args.a)?, &load(&args.b)?);
            let mut out = io::stdout().lock();
            match args.format {
                DocFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &changes)?;
                    writeln!(out)?;
                }
                DocFormat::Text => {
                    let mut area = "";
                    let mut objects = 0;
                    for c in &changes {
                        if c.area == "object" {
                            objects += 1;
                            if objects > 20 {
                                continue;
                            }
                        }
                        if c.area != area {
                            writeln!(out, "{}", c.area)?;
                            area = c.area;
                        }
                        let show =
                            |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
                        writeln!(
                            out,
                            "  {:<40} {} -> {}",
                            c.item,
                            show(&c.before),
                            show(&c.after)
                        )?;
                    }
                    if objects > 20 {
                        writeln!(
                            out,
                            "  … and {} more changed objects (--format json lists all)",
                            objects - 20
                        )?;
                    }
                    if changes.is_empty() {
                        writeln!(out, "The snapshots are identical.")?;
                    }
                }
            }
            Ok(if changes.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
