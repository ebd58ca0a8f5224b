//! Dispatch: each subcommand calls the library crates and renders their report.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};
use everybyte_core::config::TriageOptions;
use everybyte_core::render::{self, Format, RenderOptions};
use everybyte_core::{Config, Registry, Report, Severity};

use crate::cli::{
    BudgetMode, Cli, ColorChoice, Command, DataCommand, DeployCommand, DocFormat, EnvCommand,
    EnvTargetArgs, FailOn, GpuCommand, MemCommand, OutputFormat, ReportArgs, ReproCommand,
};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every rule the binary knows.
pub fn registry() -> Registry {
    Registry::new(&[
        everybyte_core::rules::RULES,
        everybyte_triage::RULES,
        everybyte_env::RULES,
        everybyte_env::python::RULES,
        everybyte_env::image::RULES,
        everybyte_data::RULES,
        everybyte_mem::RULES,
        everybyte_repro::RULES,
        everybyte_deploy::RULES,
    ])
}

pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<ExitCode> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            e.print()?;
            return Ok(ExitCode::from(code));
        }
    };
    let registry = registry();
    match &cli.command {
        Command::Audit { dir, report } => audit(&cli, &registry, dir, report),
        Command::Triage {
            list_triggers: true,
            ..
        } => {
            let mut out = io::stdout().lock();
            for w in everybyte_triage::trigger_words() {
                writeln!(out, "{w}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Triage { files, report, .. } => triage(&cli, &registry, files, report),
        Command::Env { command } => env(&cli, &registry, command),
        Command::Data { command } => data(&cli, &registry, command),
        Command::Mem { command } => mem(&cli, &registry, command),
        Command::Gpu {
            command:
                GpuCommand::Analyze {
                    file,
                    stall_seconds,
                    report,
                },
        } => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let cfg = load_config(&cli, &cwd, &registry)?;
            check_selectors(&registry, report)?;
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("{}: cannot read", file.display()))?;
            let name = file.display().to_string();
            let samples = everybyte_mem::gpulog::parse(&text)
                .with_context(|| format!("{name}: not an nvidia-smi CSV log"))?;
            let th = everybyte_mem::gpulog::Thresholds {
                stall_seconds: *stall_seconds,
                ..Default::default()
            };
            let findings = everybyte_mem::gpulog::analyze(&name, &samples, &th);
            finish(
                &cli,
                &registry,
                &cfg,
                report,
                Report {
                    findings,
                    context: Vec::new(),
                    inputs: vec![name],
                    figures: Vec::new(),
                },
                Some(&cwd),
            )
        }
        Command::Gpu {
            command:
                GpuCommand::Watch {
                    interval,
                    count,
                    stall_seconds,
                    csv,
                },
        } => crate::watch::watch(&crate::watch::WatchOptions {
            interval: *interval,
            count: *count,
            stall_seconds: *stall_seconds,
            csv: csv.as_deref(),
        }),
        Command::Repro { command } => repro(&cli, &registry, command),
        Command::Profile { .. } => profile(&cli.command),
        Command::Deploy { command } => deploy(&cli, &registry, command),
        Command::Serve { .. } => serve(&cli, &registry),
        Command::Bench { .. } => bench(&cli.command),
        Command::Rules { format } => {
            rules(&registry, *format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rule { code, format } => rule(&registry, code, *format),
        Command::Man => man_page(),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "everybyte", &mut io::stdout().lock());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load_config(cli: &Cli, dir: &Path, registry: &Registry) -> Result<Config> {
    let cfg = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::discover(dir)?,
    };
    cfg.validate(registry)?;
    Ok(cfg)
}

fn check_selectors(registry: &Registry, args: &ReportArgs) -> Result<()> {
    for (flag, list) in [("--select", &args.select), ("--ignore", &args.ignore)] {
        for sel in list {
            if !registry.selector_is_known(sel) {
                bail!("{flag}: unknown rule code or prefix `{sel}` (see `everybyte rules`)");
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_lines)] // one step per area, in the order of the report
fn audit(cli: &Cli, registry: &Registry, dir: &Path, args: &ReportArgs) -> Result<ExitCode> {
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let cfg = load_config(cli, dir, registry)?;
    check_selectors(registry, args)?;
    let project = everybyte_core::discover::discover(dir, &cfg.options.exclude)
        .with_context(|| format!("{}: cannot walk the project", dir.display()))?;
    let mut report = Report::default();
    for (path, err) in &project.errors {
        report.findings.push(everybyte_core::rules::unreadable(
            path.clone(),
            "cannot read",
            err,
        ));
    }
    let (findings, context) = everybyte_triage::check(&project, &cfg.options.triage);
    report.findings.extend(findings);
    report.context.extend(context);
    for f in project.files_of(everybyte_core::FileKind::NvidiaSmiCsv) {
        match std::fs::read_to_string(&f.path) {
            Ok(text) => {
                if let Ok(samples) = everybyte_mem::gpulog::parse(&text) {
                    report.findings.extend(everybyte_mem::gpulog::analyze(
                        &f.rel,
                        &samples,
                        &everybyte_mem::gpulog::Thresholds::default(),
                    ));
                    report
                        .figures
                        .extend(everybyte_mem::gpulog::figures(&f.rel, &samples));
                }
            }
            Err(e) => report
                .findings
                .push(everybyte_core::rules::unreadable_io(&f.rel, &e)),
        }
    }
    for f in project.files_of(everybyte_core::FileKind::AllocatorSnapshot) {
        let snap = std::fs::read(&f.path)
            .ok()
            .and_then(|b| everybyte_mem::snapshot::read_snapshot(&b).ok());
        if let Some(s) = snap {
            report.figures.push(everybyte_core::chart::Figure {
                title: format!("{}: allocator segment map", f.rel),
                svg: everybyte_mem::svg::segment_map_svg(&s),
            });
        }
    }
    for f in project.files_of(everybyte_core::FileKind::Requirements) {
        report
            .findings
            .extend(everybyte_env::python::lock::check_requirements_file(
                &f.path, &f.rel,
            ));
    }
    let torch_pin = project
        .files_of(everybyte_core::FileKind::Requirements)
        .chain(project.files_of(everybyte_core::FileKind::Lockfile))
        .find_map(|f| {
            let text = std::fs::read_to_string(&f.path).ok()?;
            text.lines().enumerate().find_map(|(i, l)| {
                let v = l.trim().strip_prefix("torch==")?;
                let v = v.split([' ', ';', '\\', '#']).next()?.to_owned();
                Some(format!("torch {v} pinned at {}:{}", f.rel, i + 1))
            })
        });
    for f in project.files_of(everybyte_core::FileKind::PythonSource) {
        let mut found = lint_python_file(&f.path, &f.rel);
        // Where the project pins torch, say which version the CUBLAS requirement applies to.
        if let Some(pin) = &torch_pin {
            for x in found.iter_mut().filter(|x| x.code == "REPRO003") {
                x.message.push_str(&format!(
                    " ({pin}: every release since 1.8 requires it with CUDA 10.2 or later)"
                ));
            }
        }
        report.findings.extend(found);
    }
    let expect = everybyte_deploy::Expectations {
        model_bytes: largest_model(&project),
        headroom: 1.2,
        ..Default::default()
    };
    for f in project.files_of(everybyte_core::FileKind::KubernetesManifest) {
        report
            .findings
            .extend(lint_manifest_file(&f.path, &f.rel, &expect));
    }
    for f in project.files_of(everybyte_core::FileKind::Dockerfile) {
        match std::fs::read_to_string(&f.path) {
            Ok(text) => report
                .findings
                .extend(everybyte_env::image::check_dockerfile(&f.rel, &text)),
            Err(e) => report
                .findings
                .push(everybyte_core::rules::unreadable_io(&f.rel, &e)),
        }
    }
    let data_files: Vec<everybyte_data::scan::Rel> = project
        .files
        .iter()
        .filter(|f| {
            use everybyte_core::FileKind;
            matches!(f.kind, FileKind::Image | FileKind::Table | FileKind::Array)
                || f.rel.ends_with(".safetensors") && f.kind == FileKind::ModelFile
        })
        .map(|f| {
            // The path's own bytes under the root (the `rel` text may have lost some).
            f.path
                .strip_prefix(&project.root)
                .unwrap_or(&f.path)
                .as_os_str()
                .into()
        })
        .collect();
    if !data_files.is_empty() {
        // A large dataset is sampled: the same files every run (by path hash), so findings are
        // stable; `everybyte data scan` reads every file.
        let limit = cfg.options.data.audit_max_files.max(1);
        let total = data_files.len() as u64;
        let shards = total.div_ceil(limit);
        let opts = everybyte_data::scan::ScanOptions {
            max_pixels: cfg.options.data.max_pixels,
            shard: (shards > 1).then_some((1, shards)),
            ..everybyte_data::scan::ScanOptions::default()
        };
        let scan = everybyte_data::scan::scan_files(&project.root, data_files, &opts);
        if shards > 1 {
            report.context.push(everybyte_core::ContextItem {
                path: ".".into(),
                key: "data".into(),
                value: format!(
                    "{} of {total} data files scanned (a 1/{shards} sample; data.audit-max-files = {limit}); everybyte data scan checks them all",
                    scan.summary.files
                ),
                line: None,
            });
        }
        report.findings.extend(scan.findings);
    }
    let venv = match &cfg.options.env.venv {
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
            .files_of(everybyte_core::FileKind::Lockfile)
            .next()
            .map(|f| f.path.clone());
        let verify = cfg.selection(&args.select, &args.ignore).enabled("ENV008");
        let (findings, context) = env_findings(&t, dir, &rel, false, lock.as_deref(), verify);
        report.findings.extend(findings);
        report.context.extend(context);
    }
    report.inputs = project.files.iter().map(|f| f.rel.clone()).collect();
    // Inline `# everybyte: ignore[...]` comments in the files people write.
    let authored: Vec<(PathBuf, String)> = project
        .files
        .iter()
        .filter(|f| {
            use everybyte_core::FileKind as K;
            matches!(
                f.kind,
                K::PythonSource
                    | K::KubernetesManifest
                    | K::Dockerfile
                    | K::Requirements
                    | K::Pyproject
            )
        })
        .map(|f| (f.path.clone(), f.rel.clone()))
        .collect();
    let selection = cfg.selection(&args.select, &args.ignore);
    everybyte_core::suppress::apply(&mut report.findings, &authored, &|c| selection.enabled(c));
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    finish(cli, registry, &cfg, args, report, Some(&root))
}

fn triage(
    cli: &Cli,
    registry: &Registry,
    files: &[PathBuf],
    args: &ReportArgs,
) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let cfg = load_config(cli, &cwd, registry)?;
    check_selectors(registry, args)?;
    let opts: &TriageOptions = &cfg.options.triage;
    let mut report = Report::default();
    let stdin_only = files.is_empty();
    let inputs: Vec<PathBuf> = if stdin_only {
        vec![PathBuf::from("-")]
    } else {
        files.to_vec()
    };
    for input in &inputs {
        let (name, result) = if input.as_os_str() == "-" {
            (
                "<stdin>".to_owned(),
                everybyte_triage::triage_reader(io::stdin().lock(), "<stdin>", opts),
            )
        } else {
            let name = input.display().to_string();
            let r = everybyte_triage::triage_file(input, &name, opts);
            (name, r)
        };
        report.inputs.push(name.clone());
        match result {
            Ok(r) => {
                report.findings.extend(r.findings);
                report.context.extend(r.context);
                if r.dropped > 0 {
                    eprintln!(
                        "everybyte: {name}: {} further incidents not kept (triage.max-incidents)",
                        r.dropped
                    );
                }
            }
            Err(err) => {
                report.findings.extend(err.partial.findings);
                report
                    .findings
                    .push(everybyte_core::rules::unreadable_io(&name, &err.source));
            }
        }
    }
    finish(cli, registry, &cfg, args, report, Some(&cwd))
}

fn finish(
    cli: &Cli,
    registry: &Registry,
    cfg: &Config,
    args: &ReportArgs,
    mut report: Report,
    root: Option<&Path>,
) -> Result<ExitCode> {
    let selection = cfg.selection(&args.select, &args.ignore);
    report.findings.retain(|f| selection.enabled(&f.code));
    report.sort();
    let format = match args.format {
        OutputFormat::Text => Format::Text,
        OutputFormat::Concise => Format::Concise,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
        OutputFormat::Github => Format::Github,
        OutputFormat::Html => Format::Html,
    };
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            args.output.is_none()
                && io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let opts = RenderOptions {
        color: color && format == Format::Text,
        tool_version: VERSION,
        root_uri: root.map(render::dir_uri),
    };
    if let Some(path) = &args.output {
        everybyte_core::write_atomic(path, |w| {
            render::render(&report, format, registry, &opts, w)
        })
        .with_context(|| format!("{}: cannot write the report", path.display()))?;
    } else {
        let mut out = io::stdout().lock();
        render::render(&report, format, registry, &opts, &mut out)?;
        out.flush()?;
    }
    let threshold = match args.fail_on {
        Some(FailOn::Never) => None,
        Some(FailOn::Info) => Some(Severity::Info),
        Some(FailOn::Warning) => Some(Severity::Warning),
        Some(FailOn::Error) => Some(Severity::Error),
        None => Some(cfg.options.fail_on.unwrap_or(Severity::Error)),
    };
    let failed = match (threshold, report.max_severity()) {
        (Some(t), Some(max)) => max >= t,
        _ => false,
    };
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn rules(registry: &Registry, format: DocFormat) -> Result<()> {
    let mut out = io::stdout().lock();
    match format {
        DocFormat::Text => {
            for r in registry.rules() {
                writeln!(
                    out,
                    "{:<8} {:<8} {:<26} {}",
                    r.code, r.severity, r.name, r.summary
                )?;
            }
        }
        DocFormat::Json => {
            let list: Vec<_> = registry.rules().iter().map(|r| rule_json(r)).collect();
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

fn rule_json(r: &everybyte_core::Rule) -> serde_json::Value {
    serde_json::json!({
        "code": r.code,
        "name": r.name,
        "severity": r.severity,
        "summary": r.summary,
        "explanation": r.explanation(),
        "source": r.source,
    })
}

fn rule(registry: &Registry, code: &str, format: DocFormat) -> Result<ExitCode> {
    let Some(r) = registry.get(code) else {
        bail!("unknown rule `{code}` (see `everybyte rules`)");
    };
    let mut out = io::stdout().lock();
    match format {
        DocFormat::Text => {
            writeln!(out, "# {} ({})\n", r.code, r.name)?;
            writeln!(out, "{} · default severity: {}\n", r.summary, r.severity)?;
            write!(out, "{}", r.explanation())?;
            writeln!(out, "\nDeclared in {}", r.source)?;
        }
        DocFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &rule_json(r))?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
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

#[allow(clippy::too_many_lines)] // one arm per subcommand
fn env(cli: &Cli, registry: &Registry, command: &EnvCommand) -> Result<ExitCode> {
    match command {
        EnvCommand::Check {
            target,
            report: args,
            ldd_compatible,
            lock,
        } => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let cfg = load_config(cli, &cwd, registry)?;
            check_selectors(registry, args)?;
            let t = env_target(target)?;
            let display = t.display_root.display().to_string();
            let verify = cfg.selection(&args.select, &args.ignore).enabled("ENV008");
            let (findings, context) = env_findings(
                &t,
                &t.display_root,
                &display,
                *ldd_compatible,
                lock.as_deref(),
                verify,
            );
            let report = Report {
                findings,
                context,
                inputs: vec![display],
                figures: Vec::new(),
            };
            let root = t.display_root.clone();
            finish(cli, registry, &cfg, args, report, Some(&root))
        }
        EnvCommand::Snapshot { target, output } => {
            let t = env_target(target)?;
            let snap =
                everybyte_env::snapshot::take(&t, &everybyte_env::resolve::SearchConfig::host());
            let write = |w: &mut dyn Write| -> io::Result<()> {
                serde_json::to_writer_pretty(&mut *w, &snap)?;
                writeln!(w)
            };
            match output {
                Some(path) => everybyte_core::write_atomic(path, write)
                    .with_context(|| format!("{}: cannot write the snapshot", path.display()))?,
                None => write(&mut io::stdout().lock())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        EnvCommand::Diff { a, b, format } => {
            let load = |p: &Path| -> Result<everybyte_env::snapshot::Snapshot> {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("{}: cannot read", p.display()))?;
                serde_json::from_str(&text)
                    .with_context(|| format!("{}: not an everybyte snapshot", p.display()))
            };
            let changes = everybyte_env::snapshot::diff(&load(a)?, &load(b)?);
            let mut out = io::stdout().lock();
            match format {
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

#[allow(clippy::too_many_lines)] // one arm per subcommand
fn data(cli: &Cli, registry: &Registry, command: &DataCommand) -> Result<ExitCode> {
    match command {
        DataCommand::Scan {
            paths,
            manifest,
            shard,
            max_pixels,
            decode,
            report: args,
        } => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let cfg = load_config(cli, &cwd, registry)?;
            check_selectors(registry, args)?;
            for p in paths {
                if !p.exists() {
                    bail!("{}: no such file or folder", p.display());
                }
            }
            // Paths in findings and the manifest are relative to the one folder scanned, or to
            // the current directory.
            let root = match paths.as_slice() {
                [one] if one.is_dir() => one.clone(),
                _ => PathBuf::from("."),
            };
            let progress = std::sync::Arc::new(everybyte_data::scan::Progress::default());
            let opts = everybyte_data::scan::ScanOptions {
                max_pixels: max_pixels.unwrap_or(cfg.options.data.max_pixels),
                shard: *shard,
                decode: *decode,
                hash: manifest.is_some(),
                progress: Some(progress.clone()),
            };
            let done = std::sync::atomic::AtomicBool::new(false);
            let scan = std::thread::scope(|s| {
                if io::stderr().is_terminal() {
                    s.spawn(|| show_progress(&progress, &done));
                }
                let r = everybyte_data::scan::scan(paths, &root, &opts);
                done.store(true, std::sync::atomic::Ordering::Relaxed);
                r
            });
            if let Some(path) = manifest {
                let mut by_rule = std::collections::BTreeMap::new();
                for f in &scan.findings {
                    *by_rule.entry(f.code.clone()).or_default() += 1;
                }
                let m = everybyte_data::manifest::Manifest {
                    version: 1,
                    root: root.display().to_string(),
                    summary: everybyte_data::manifest::ManifestSummary {
                        files: scan.summary.files,
                        bytes: scan.summary.bytes,
                        kinds: scan
                            .summary
                            .kinds
                            .iter()
                            .map(|(k, v)| ((*k).to_owned(), *v))
                            .collect(),
                        findings_by_rule: by_rule,
                    },
                    files: scan.files.clone(),
                };
                everybyte_core::write_atomic(path, |w| {
                    serde_json::to_writer_pretty(&mut *w, &m)?;
                    writeln!(w)
                })
                .with_context(|| format!("{}: cannot write the manifest", path.display()))?;
            }
            let s = &scan.summary;
            let kinds: Vec<String> = s.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            eprintln!(
                "everybyte: scanned {} files, {} in {:.2} s ({:.0} files/s, {:.1} MB/s): {}",
                s.files,
                everybyte_core::bytesize::format_bytes(s.bytes),
                s.seconds,
                s.files as f64 / s.seconds.max(1e-9),
                s.bytes as f64 / 1e6 / s.seconds.max(1e-9),
                kinds.join(", ")
            );
            let report = Report {
                findings: scan.findings,
                context: Vec::new(),
                inputs: paths.iter().map(|p| p.display().to_string()).collect(),
                figures: Vec::new(),
            };
            let root_abs = std::fs::canonicalize(&root).unwrap_or(root);
            finish(cli, registry, &cfg, args, report, Some(&root_abs))
        }
        DataCommand::Merge { manifests, output } => {
            let parts = manifests
                .iter()
                .map(|p| {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("{}: cannot read", p.display()))?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("{}: not an everybyte manifest", p.display()))
                })
                .collect::<Result<Vec<everybyte_data::manifest::Manifest>>>()?;
            let merged = everybyte_data::manifest::merge(&parts).map_err(anyhow::Error::msg)?;
            everybyte_core::write_atomic(output, |w| {
                serde_json::to_writer_pretty(&mut *w, &merged)?;
                writeln!(w)
            })
            .with_context(|| format!("{}: cannot write", output.display()))?;
            let bytes: u64 = merged.files.iter().map(|f| f.size).sum();
            let rules: Vec<String> = merged
                .summary
                .findings_by_rule
                .iter()
                .map(|(k, v)| format!("{k} ×{v}"))
                .collect();
            eprintln!(
                "everybyte: merged {} manifests: {} files, {}; findings: {}",
                parts.len(),
                merged.files.len(),
                everybyte_core::bytesize::format_bytes(bytes),
                if rules.is_empty() {
                    "none".to_owned()
                } else {
                    rules.join(", ")
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Pack {
            input,
            output,
            nan_policy,
            f64,
            columns,
            size,
        } => {
            let packed = if input.is_dir() {
                let (w, h) = size
                    .split_once(['x', 'X'])
                    .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
                    .filter(|(w, h)| *w > 0 && *h > 0 && u64::from(*w) * u64::from(*h) <= 1 << 26)
                    .with_context(|| {
                        format!("--size {size}: expected WIDTHxHEIGHT, e.g. 224x224")
                    })?;
                everybyte_data::pack::pack_images(input, output, w, h)?
            } else {
                let policy: everybyte_data::pack::NanPolicy =
                    nan_policy.parse().map_err(anyhow::Error::msg)?;
                everybyte_data::pack::pack_csv(input, output, *f64, policy, columns)?
            };
            eprintln!(
                "everybyte: wrote {}: {} rows{}, {}",
                output.display(),
                packed.rows,
                if packed.dropped_rows > 0 {
                    format!(" ({} dropped for NaN/inf)", packed.dropped_rows)
                } else {
                    String::new()
                },
                packed.columns.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Verify { manifest, root } => {
            let text = std::fs::read_to_string(manifest)
                .with_context(|| format!("{}: cannot read", manifest.display()))?;
            let m: everybyte_data::manifest::Manifest = serde_json::from_str(&text)
                .with_context(|| format!("{}: not an everybyte manifest", manifest.display()))?;
            let root = root.clone().unwrap_or_else(|| PathBuf::from(&m.root));
            if !root.is_dir() {
                bail!(
                    "{}: the dataset folder does not exist (pass --root)",
                    root.display()
                );
            }
            let diffs = everybyte_data::manifest::verify(&m, &root);
            let mut out = io::stdout().lock();
            for d in &diffs {
                writeln!(out, "{:<8} {}  ({})", d.kind, d.path, d.detail)?;
            }
            writeln!(
                out,
                "{} files in the manifest, {} differences",
                m.files.len(),
                diffs.len()
            )?;
            Ok(if diffs.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// A progress line on standard error while a scan runs: files/s, MB/s, ETA.
fn show_progress(p: &everybyte_data::scan::Progress, done: &std::sync::atomic::AtomicBool) {
    use std::sync::atomic::Ordering::Relaxed;
    let start = std::time::Instant::now();
    while !done.load(Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let (n, total, bytes) = (
            p.files.load(Relaxed),
            p.total_files.load(Relaxed),
            p.bytes.load(Relaxed),
        );
        let secs = start.elapsed().as_secs_f64().max(1e-3);
        let rate = n as f64 / secs;
        let eta = if rate > 0.0 {
            (total.saturating_sub(n)) as f64 / rate
        } else {
            0.0
        };
        eprint!(
            "\r{n}/{total} files  {rate:.0} files/s  {:.1} MB/s  ETA {eta:.0} s   ",
            bytes as f64 / 1e6 / secs
        );
    }
    eprint!("\r\x1b[2K");
}

/// The shape from a `config.json` beside a weights file, when there is one.
fn config_beside(path: &Path) -> everybyte_mem::budget::ModelShape {
    path.parent()
        .map(|d| d.join("config.json"))
        .filter(|c| c.is_file())
        .and_then(|c| {
            let text = std::fs::read_to_string(c).ok()?;
            everybyte_mem::budget::from_hf_config(&serde_json::from_str(&text).ok()?).ok()
        })
        .unwrap_or_default()
}

/// The model's shape from `--model` or `--params`.
#[allow(clippy::case_sensitive_file_extension_comparisons)] // the name is lowercased first
fn model_shape(
    model: Option<&Path>,
    params: Option<&str>,
    dtype_bytes: f64,
) -> Result<everybyte_mem::budget::ModelShape> {
    use everybyte_mem::budget::{ModelShape, from_hf_config, parse_params};
    if let Some(p) = params {
        let n = parse_params(p)
            .with_context(|| format!("--params {p}: expected a count such as 7B, 1.3B or 350M"))?;
        return Ok(ModelShape {
            params: n,
            ..ModelShape::default()
        });
    }
    let Some(path) = model else {
        bail!("give --model FILE or --params N")
    };
    let name = path.display().to_string();
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".onnx") {
        let bytes = std::fs::read(path).with_context(|| format!("{name}: cannot read"))?;
        let w = everybyte_mem::onnx::onnx_weights(&bytes)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let mut shape = config_beside(path);
        shape.params = w.params;
        shape.architecture = Some(format!("ONNX, {} initializers", w.tensors));
        return Ok(shape);
    }
    if lower.ends_with(".safetensors") {
        use std::io::Read;
        let mut f = std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?;
        let mut len = [0u8; 8];
        f.read_exact(&mut len)
            .with_context(|| format!("{name}: not a safetensors file"))?;
        let n = u64::from_le_bytes(len);
        if n > 100 << 20 {
            bail!("{name}: header length {n} is implausible");
        }
        let mut head = Vec::new();
        f.take(n).read_to_end(&mut head)?;
        let v: serde_json::Value = serde_json::from_slice(&head)
            .with_context(|| format!("{name}: the header is not JSON"))?;
        let params: u64 = v.as_object().map_or(0, |m| {
            m.iter()
                .filter(|(k, _)| *k != "__metadata__")
                .filter_map(|(_, t)| {
                    t.get("shape")?.as_array().map(|s| {
                        s.iter()
                            .filter_map(serde_json::Value::as_u64)
                            .product::<u64>()
                    })
                })
                .sum()
        });
        // The shape comes from a config.json beside the weights, when there is one.
        let mut shape = config_beside(path);
        shape.params = params;
        return Ok(shape);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("{name}: cannot read"))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{name}: not JSON"))?;
    if let Some(total) = everybyte_mem::budget::index_total_size(&v) {
        // A sharded index: its total size in bytes, and the config beside it for the shape.
        let mut shape = config_beside(path);
        shape.params = (total as f64 / dtype_bytes.max(0.5)) as u64;
        return Ok(shape);
    }
    from_hf_config(&v).map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

#[allow(clippy::too_many_lines)] // one arm per subcommand
fn mem(cli: &Cli, registry: &Registry, command: &MemCommand) -> Result<ExitCode> {
    match command {
        MemCommand::Snapshot { file, svg, format } => {
            let name = file.display().to_string();
            let bytes = std::fs::read(file).with_context(|| format!("{name}: cannot read"))?;
            let mut out = io::stdout().lock();
            if bytes.first() == Some(&0x80) {
                let r = everybyte_mem::snapshot::read_snapshot(&bytes)
                    .with_context(|| format!("{name}: not a readable allocator snapshot"))?;
                if let Some(path) = svg {
                    let picture = everybyte_mem::svg::segment_map_svg(&r);
                    everybyte_core::atomic::write_atomic(path, |w| w.write_all(picture.as_bytes()))
                        .with_context(|| {
                            format!("{}: cannot write the segment map", path.display())
                        })?;
                }
                match format {
                    DocFormat::Json => {
                        serde_json::to_writer_pretty(&mut out, &r)?;
                        writeln!(out)?;
                    }
                    DocFormat::Text => write!(out, "{}", r.render_text())?,
                }
            } else {
                let text = String::from_utf8_lossy(&bytes);
                if let Some(path) = svg {
                    bail!(
                        "--svg {}: {name} is the text of memory_summary(), which has no segment layout; draw the map from a pickled snapshot (torch.cuda.memory._dump_snapshot)",
                        path.display()
                    );
                }
                let r = everybyte_mem::snapshot::read_memory_summary(&text).with_context(|| {
                    format!("{name}: neither a pickled allocator snapshot nor the text of torch.cuda.memory_summary()")
                })?;
                serde_json::to_writer_pretty(&mut out, &r)?;
                writeln!(out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        MemCommand::Explain {
            message,
            report: args,
        } => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let cfg = load_config(cli, &cwd, registry)?;
            check_selectors(registry, args)?;
            let (name, text) = match message {
                Some(m) if Path::new(m).is_file() => (
                    m.clone(),
                    std::fs::read_to_string(m).with_context(|| format!("{m}: cannot read"))?,
                ),
                Some(m) => ("<message>".to_owned(), m.clone()),
                None => {
                    let mut t = String::new();
                    io::Read::read_to_string(&mut io::stdin(), &mut t)?;
                    ("<stdin>".to_owned(), t)
                }
            };
            let r = everybyte_triage::triage_reader(text.as_bytes(), &name, &cfg.options.triage)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if !r
                .findings
                .iter()
                .any(|f| f.code == "LOG001" || f.code == "LOG002")
            {
                bail!(
                    "{name}: no CUDA out-of-memory message found (expected PyTorch's `CUDA out of memory. Tried to allocate …`)"
                );
            }
            finish(
                cli,
                registry,
                &cfg,
                args,
                Report {
                    findings: r.findings,
                    context: r.context,
                    inputs: vec![name],
                    figures: Vec::new(),
                },
                Some(&cwd),
            )
        }
        MemCommand::Budget {
            model,
            params,
            mode,
            dtype,
            optimizer,
            mixed_precision,
            batch,
            seq,
            grad_checkpointing,
            zero,
            gpus,
            gpu,
            buffer,
            html,
            format,
        } => {
            use everybyte_core::bytesize::Bytes;
            use everybyte_mem::budget::{BudgetInput, Recompute, budget, card, dtype_bytes};
            let wb = match dtype_bytes(dtype) {
                Some(0) => 0.5,
                Some(b) => b as f64,
                None => bail!("--dtype {dtype}: expected bf16, fp16, fp32, int8 or int4"),
            };
            let shape = model_shape(model.as_deref(), params.as_deref(), wb)?;
            let mut card_label = None;
            let capacity = match gpu.as_deref() {
                None => None,
                Some("auto") => {
                    let (label, total) = auto_gpu()?;
                    card_label = Some(label);
                    Some(total)
                }
                Some(g) => Some(
                    card(g)
                        .or_else(|| everybyte_core::bytesize::parse_bytes(g))
                        .with_context(|| {
                            format!("--gpu {g}: not a known card or a size (24GiB)")
                        })?,
                ),
            };
            if !(0.0..1.0).contains(buffer) {
                bail!("--buffer {buffer}: expected a fraction in [0, 1)");
            }
            let recompute = match grad_checkpointing.as_str() {
                "none" | "false" => Recompute::None,
                "selective" => Recompute::Selective,
                "full" | "true" => Recompute::Full,
                other => bail!("--grad-checkpointing {other}: expected none, selective or full"),
            };
            let seq = seq.unwrap_or_else(|| shape.max_seq.unwrap_or(2048).min(2048));
            let input = BudgetInput {
                model: shape.clone(),
                train: *mode == BudgetMode::Train,
                weight_bytes: wb,
                optimizer: optimizer.parse().map_err(anyhow::Error::msg)?,
                mixed_precision: *mixed_precision,
                batch: *batch,
                seq,
                recompute,
                zero_stage: *zero,
                gpus: *gpus,
                capacity,
                buffer: *buffer,
                context_bytes: 512 << 20,
            };
            let b = budget(&input);
            if let Some(path) = html {
                let title = format!(
                    "{} at batch {} × seq {seq}{}",
                    shape.architecture.as_deref().unwrap_or("model"),
                    input.batch,
                    card_label
                        .as_deref()
                        .map(|l| format!(" — {l}"))
                        .unwrap_or_default()
                );
                let page = Report {
                    figures: vec![b.figure(&title, *buffer)],
                    ..Report::default()
                };
                let opts = RenderOptions {
                    color: false,
                    tool_version: VERSION,
                    root_uri: None,
                };
                everybyte_core::write_atomic(path, |w| {
                    render::render(&page, Format::Html, registry, &opts, w)
                })
                .with_context(|| format!("{}: cannot write", path.display()))?;
            }
            let mut out = io::stdout().lock();
            match format {
                DocFormat::Json => {
                    serde_json::to_writer_pretty(
                        &mut out,
                        &serde_json::json!({ "model": shape, "budget": b }),
                    )?;
                    writeln!(out)?;
                }
                DocFormat::Text => {
                    writeln!(
                        out,
                        "{} parameters{}",
                        shape.params,
                        shape
                            .architecture
                            .as_ref()
                            .map(|a| format!(" ({a})"))
                            .unwrap_or_default()
                    )?;
                    for c in &b.components {
                        writeln!(
                            out,
                            "  {:<30} {:>12}   {}",
                            c.name,
                            Bytes(c.bytes).to_string(),
                            c.note
                        )?;
                    }
                    writeln!(
                        out,
                        "  {:<30} {:>12}",
                        "total",
                        Bytes(b.required).to_string()
                    )?;
                    if let (Some(cap), Some(usable), Some(margin)) =
                        (b.capacity, b.usable, b.margin)
                    {
                        let verdict = if margin >= 0 {
                            format!(
                                "fits, {} to spare",
                                Bytes(u64::try_from(margin).unwrap_or(0))
                            )
                        } else {
                            format!(
                                "does NOT fit: short by {}",
                                Bytes(u64::try_from(-margin).unwrap_or(0))
                            )
                        };
                        if let Some(l) = &card_label {
                            writeln!(out, "{l}")?;
                        }
                        writeln!(
                            out,
                            "card {} with {:.0}% kept free: {} usable; {verdict}",
                            Bytes(cap),
                            buffer * 100.0,
                            Bytes(usable)
                        )?;
                        if let Some(mb) = b.max_batch {
                            writeln!(out, "largest batch that fits at seq {seq}: {mb}")?;
                        }
                    }
                }
            }
            Ok(if b.fits == Some(false) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// `--gpu auto`: the first GPU this process would use (the first of CUDA_VISIBLE_DEVICES when
/// it names an index), read through NVML: (a line naming it, its total memory).
fn auto_gpu() -> Result<(String, u64)> {
    use everybyte_core::bytesize::Bytes;
    let nvml = everybyte_mem::nvml::Nvml::load()
        .context("--gpu auto reads the card through NVML; or give its memory (--gpu 24GiB) or name (--gpu a100-80g)")?;
    let index = std::env::var("CUDA_VISIBLE_DEVICES")
        .ok()
        .and_then(|v| {
            v.split(',')
                .next()
                .and_then(|i| i.trim().parse::<u32>().ok())
        })
        .unwrap_or(0);
    let count = nvml.count()?;
    if index >= count {
        bail!("--gpu auto: GPU {index} does not exist (the driver sees {count})");
    }
    let r = nvml.read(index)?;
    let label = format!(
        "GPU {index} ({}): {} total, {} already in use by other processes",
        r.name,
        Bytes(r.total),
        Bytes(r.used)
    );
    Ok((label, r.total))
}

/// `everybyte serve`: runs until SIGTERM or SIGINT, then drains.
fn serve(cli: &Cli, registry: &Registry) -> Result<ExitCode> {
    let command = &cli.command;
    let Command::Serve {
        repository,
        http,
        grpc,
        threads,
        ort_library,
        max_request,
        drain_seconds,
        no_spin,
    } = command
    else {
        unreachable!("serve is only called for the serve command")
    };
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let cfg = load_config(cli, &cwd, registry)?;
    let configured_library = cfg.options.serve.ort_library.as_ref().map(|p| {
        cfg.source
            .as_deref()
            .and_then(Path::parent)
            .map_or_else(|| p.clone(), |dir| dir.join(p))
    });
    let limit = everybyte_core::bytesize::parse_bytes(max_request)
        .with_context(|| format!("--max-request {max_request}: not a size (64MiB)"))?;
    everybyte_serve::serve::serve(&everybyte_serve::serve::ServeOptions {
        repository: repository.clone(),
        http: *http,
        grpc: *grpc,
        threads: *threads,
        ort_library: ort_library.clone(),
        configured_library,
        request_limit: usize::try_from(limit).unwrap_or(usize::MAX),
        drain: std::time::Duration::from_secs(*drain_seconds),
        spin: !*no_spin,
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `everybyte bench`: prints the report; exits 1 when any request failed.
fn bench(command: &Command) -> Result<ExitCode> {
    use everybyte_serve::bench::{BenchOptions, parse_duration, parse_shape};
    let Command::Bench {
        url,
        model,
        rate,
        concurrency,
        duration,
        warmup,
        shapes,
        json,
        fills,
        outputs,
        timeout,
        max_in_flight,
        html,
        format,
    } = command
    else {
        unreachable!("bench is only called for the bench command")
    };
    let report = everybyte_serve::bench::bench(&BenchOptions {
        url: url.clone(),
        model: model.clone(),
        rate: *rate,
        concurrency: *concurrency,
        duration: parse_duration(duration).context("--duration")?,
        warmup: parse_duration(warmup).context("--warmup")?,
        shapes: shapes
            .iter()
            .map(|s| parse_shape(s))
            .collect::<Result<_>>()?,
        json: *json,
        outputs: outputs.clone(),
        fills: fills
            .iter()
            .map(|s| everybyte_serve::bench::parse_fill(s))
            .collect::<Result<_>>()?,
        timeout: parse_duration(timeout).context("--timeout")?,
        max_in_flight: *max_in_flight,
    })?;
    if let Some(path) = html {
        let page = Report {
            figures: vec![report.figure(), report.histogram_figure()],
            ..Report::default()
        };
        let opts = RenderOptions {
            color: false,
            tool_version: VERSION,
            root_uri: None,
        };
        let registry = registry();
        everybyte_core::write_atomic(path, |w| {
            render::render(&page, Format::Html, &registry, &opts, w)
        })
        .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    let mut out = io::stdout().lock();
    match format {
        DocFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        DocFormat::Text => write!(out, "{}", report.render_text())?,
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The REPRO findings of one Python file; an unreadable file is IO001.
fn lint_python_file(path: &Path, display: &str) -> Vec<everybyte_core::Finding> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            match everybyte_repro::lint_python(display, &text) {
                Ok(f) => f,
                Err(e) => vec![everybyte_core::rules::unreadable(
                    display,
                    "cannot parse",
                    &e,
                )],
            }
        }
        Err(e) => vec![everybyte_core::rules::unreadable_io(display, &e)],
    }
}

#[allow(clippy::too_many_lines)] // one arm per subcommand
fn repro(cli: &Cli, registry: &Registry, command: &ReproCommand) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    match command {
        ReproCommand::Lint {
            paths,
            report: args,
        } => {
            let cfg = load_config(cli, &cwd, registry)?;
            check_selectors(registry, args)?;
            let roots = if paths.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                paths.clone()
            };
            let mut report = Report::default();
            for root in &roots {
                if root.is_file() {
                    let name = root.display().to_string();
                    report.findings.extend(lint_python_file(root, &name));
                    report.inputs.push(name);
                    continue;
                }
                if !root.is_dir() {
                    bail!("{}: no such file or directory", root.display());
                }
                let project = everybyte_core::discover::discover(root, &cfg.options.exclude)
                    .with_context(|| format!("{}: cannot walk", root.display()))?;
                for f in project.files_of(everybyte_core::FileKind::PythonSource) {
                    let shown = if root == Path::new(".") {
                        f.rel.clone()
                    } else {
                        root.join(&f.rel).display().to_string()
                    };
                    report.findings.extend(lint_python_file(&f.path, &shown));
                    report.inputs.push(shown);
                }
            }
            finish(cli, registry, &cfg, args, report, Some(&cwd))
        }
        ReproCommand::Run {
            runs,
            outputs,
            rtol,
            atol,
            store,
            format,
            command,
        } => {
            if !(rtol.is_finite() && *rtol >= 0.0 && atol.is_finite() && *atol >= 0.0) {
                bail!("--rtol and --atol must be non-negative numbers");
            }
            let store = store.clone().unwrap_or_else(|| {
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                cwd.join(".everybyte/repro").join(ts.to_string())
            });
            let opts = everybyte_repro::run::RunOptions {
                command,
                runs: *runs,
                outputs,
                tolerance: everybyte_repro::compare::Tolerance {
                    rtol: *rtol,
                    atol: *atol,
                },
                store,
                cwd: cwd.clone(),
            };
            // The environment recorded beside each run: the same snapshot `env snapshot` takes.
            let target = everybyte_env::target::active();
            let mut record = |_: usize, dir: &Path| -> std::result::Result<(), String> {
                let t = match &target {
                    Ok(t) => t,
                    Err(e) => {
                        return std::fs::write(dir.join("env-unavailable.txt"), format!("{e}\n"))
                            .map_err(|e| e.to_string());
                    }
                };
                let snap =
                    everybyte_env::snapshot::take(t, &everybyte_env::resolve::SearchConfig::host());
                let path = dir.join("env.json");
                everybyte_core::atomic::write_atomic(&path, |w| {
                    serde_json::to_writer_pretty(&mut *w, &snap)?;
                    writeln!(w)
                })
                .map_err(|e| format!("{}: {e}", path.display()))
            };
            let report =
                everybyte_repro::run::run(&opts, &mut record).map_err(anyhow::Error::msg)?;
            let mut out = io::stdout().lock();
            match format {
                DocFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &report)?;
                    writeln!(out)?;
                }
                DocFormat::Text => write!(out, "{}", report.render_text())?,
            }
            Ok(if report.reproducible {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// The size of the largest model the project holds, with where it was read: a sharded
/// index's `metadata.total_size`, else the largest `.safetensors` / `.onnx` / `.pt` file.
fn largest_model(project: &everybyte_core::discover::Project) -> Option<(u64, String)> {
    let mut best: Option<(u64, String)> = None;
    for f in &project.files {
        let size = if f.rel.ends_with(".safetensors.index.json") {
            std::fs::read_to_string(&f.path)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| everybyte_mem::budget::index_total_size(&v))
        } else if f.kind == everybyte_core::FileKind::ModelFile {
            std::fs::metadata(&f.path).ok().map(|m| m.len())
        } else {
            None
        };
        if let Some(s) = size.filter(|&s| best.as_ref().is_none_or(|(b, _)| s > *b)) {
            best = Some((s, f.rel.clone()));
        }
    }
    best
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

fn deploy(cli: &Cli, registry: &Registry, command: &DeployCommand) -> Result<ExitCode> {
    let (paths, profile, model, bench, headroom, args) = match command {
        DeployCommand::Patch {
            manifest,
            profile,
            headroom,
            dry_run,
        } => return deploy_patch(manifest, profile, *headroom, *dry_run),
        DeployCommand::Lint {
            paths,
            profile,
            model,
            bench,
            headroom,
            report,
        } => (paths, profile, model, bench, headroom, report),
    };
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let cfg = load_config(cli, &cwd, registry)?;
    check_selectors(registry, args)?;
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
        let project = everybyte_core::discover::discover(root, &cfg.options.exclude)
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
    finish(cli, registry, &cfg, args, report, Some(&cwd))
}

/// `everybyte profile`: exits with the workload's own status (0 when it was stopped by the
/// SIGTERM profile sent, 1 for any other signal).
fn profile(command: &Command) -> Result<ExitCode> {
    use everybyte_core::bytesize::Bytes;
    let Command::Profile {
        ready_url,
        ready_log,
        after_ready,
        timeout,
        interval,
        syscalls,
        output,
        command,
    } = command
    else {
        unreachable!("profile is only called for the profile command")
    };
    let secs = |v: Option<f64>, flag: &str| -> Result<Option<std::time::Duration>> {
        match v {
            None => Ok(None),
            Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(std::time::Duration::from_secs_f64(s))),
            Some(s) => bail!("{flag} {s}: expected a non-negative number of seconds"),
        }
    };
    if !(interval.is_finite() && *interval >= 0.005) {
        bail!("--interval {interval}: expected at least 0.005 seconds");
    }
    let ready = match (ready_url, ready_log) {
        (Some(u), _) => Some(everybyte_deploy::profile::Ready::Url(u.clone())),
        (None, Some(r)) => Some(everybyte_deploy::profile::Ready::Log(
            regex::Regex::new(r).with_context(|| format!("--ready-log {r}: not a regex"))?,
        )),
        (None, None) => None,
    };
    let record = everybyte_deploy::profile::run(&everybyte_deploy::profile::ProfileOptions {
        command,
        interval: std::time::Duration::from_secs_f64(*interval),
        ready,
        after_ready: secs(*after_ready, "--after-ready")?,
        timeout: secs(*timeout, "--timeout")?,
        syscalls: *syscalls,
    })
    .map_err(anyhow::Error::msg)?;
    if let Some(path) = output {
        everybyte_core::atomic::write_atomic(path, |w| {
            serde_json::to_writer_pretty(&mut *w, &record)?;
            writeln!(w)
        })
        .with_context(|| format!("{}: cannot write the profile", path.display()))?;
    }
    let mut err = io::stderr().lock();
    let how = record.exit_code.map_or_else(
        || format!("by signal {}", record.signal.unwrap_or(0)),
        |c| c.to_string(),
    );
    writeln!(
        err,
        "profile: {} — exit {how}, wall {:.2} s, CPU {:.2} s user + {:.2} s sys",
        record.command.join(" "),
        record.wall_seconds,
        record.user_cpu_seconds,
        record.system_cpu_seconds
    )?;
    writeln!(
        err,
        "  memory: peak {} PSS / {} RSS at {:.1} s, steady {}",
        Bytes(record.peak_pss_bytes),
        Bytes(record.peak_rss_bytes),
        record.peak_at_seconds,
        Bytes(record.steady_bytes)
    )?;
    if let Some(stats) = &record.syscalls {
        write!(err, "{}", everybyte_deploy::syscalls::render(stats))?;
    }
    match record.cold_start_seconds {
        Some(c) => writeln!(err, "  cold start: {c:.2} s")?,
        None if ready_url.is_some() || ready_log.is_some() => {
            writeln!(err, "  cold start: never ready")?;
        }
        None => {}
    }
    let code = match (record.exit_code, record.signal) {
        (Some(c), _) => u8::try_from(c).unwrap_or(1),
        (None, Some(15)) => 0,
        _ => 1,
    };
    Ok(ExitCode::from(code))
}

/// `everybyte man`: the roff page, one section per subcommand, as git's and cargo's pages do.
fn man_page() -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    for sub in Cli::command().get_subcommands() {
        if sub.is_hide_set() {
            continue;
        }
        writeln!(out, ".SH \"EVERYBYTE {}\"", sub.get_name().to_uppercase())?;
        clap_mangen::Man::new(sub.clone()).render_description_section(&mut out)?;
        clap_mangen::Man::new(sub.clone()).render_options_section(&mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}
