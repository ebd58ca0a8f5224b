//! `everybyte data scan | merge | pack | verify`.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use everybyte_data::manifest::{self, Manifest};
use everybyte_data::scan::ScanOptions;

use super::prelude::*;

pub fn run(ctx: &Ctx, command: &DataCommand) -> Result<ExitCode> {
    match command {
        DataCommand::Scan(args) => scan(ctx, args),
        DataCommand::Merge(args) => merge(args),
        DataCommand::List(args) => list(args),
        DataCommand::Job(args) => job(args),
        DataCommand::Pack(args) => pack(args),
        DataCommand::Verify(args) => verify(args),
    }
}

fn scan(ctx: &Ctx, args: &DataScanArgs) -> Result<ExitCode> {
    let cwd = Ctx::cwd()?;
    let session = ctx.session(&cwd, &args.report)?;
    let paths = &args.paths;
    for p in paths {
        if !p.exists() {
            bail!("{}: no such file or folder", p.display());
        }
    }
    // Paths in findings and the manifest are relative to the one folder scanned, or to the
    // current directory.
    let root = match paths.as_slice() {
        [one] if one.is_dir() => one.clone(),
        _ => PathBuf::from("."),
    };
    let opts = ScanOptions {
        max_pixels: args
            .max_pixels
            .unwrap_or(session.cfg.options.data.max_pixels),
        shard: args.shard,
        decode: args.decode,
        hash: args.manifest.is_some(),
        progress: None,
    };
    let run = |opts: &ScanOptions| match &args.files {
        Some(list) => everybyte_data::scan::scan_listed(&root, list, opts)
            .with_context(|| format!("{}: cannot read the listing", list.display())),
        None => Ok(everybyte_data::scan::scan(paths, &root, opts)),
    };
    if args.files.is_some() && !(paths.len() == 1 && root.is_dir()) {
        bail!("--files: give the one folder the listing's paths are relative to");
    }
    let scan = if io::stderr().is_terminal() {
        let show = |line: &str| match line {
            "" => eprint!("\r\x1b[2K"),
            _ => eprint!("\r{line}   "),
        };
        everybyte_data::scan::scan_showing(run, &opts, &show)?
    } else {
        run(&opts)?
    };
    if let Some(path) = &args.manifest {
        // A shard of a Job writes into a folder of the shared volume that may not exist yet.
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create the folder", parent.display()))?;
        }
        write_json(path, &Manifest::from_scan(&scan, &root), "the manifest")?;
    }
    eprintln!("everybyte: {}", scan.summary.describe());
    let report = Report {
        findings: scan.findings,
        inputs: paths.iter().map(|p| p.display().to_string()).collect(),
        ..Report::default()
    };
    let root_abs = std::fs::canonicalize(&root).unwrap_or(root);
    session.finish(report, Some(&root_abs))
}

fn merge(args: &DataMergeArgs) -> Result<ExitCode> {
    let paths: Vec<PathBuf> = match (args.shards, &args.dir) {
        (Some(n), Some(dir)) => {
            let paths: Vec<PathBuf> = (0..n)
                .map(|k| dir.join(format!("shard-{k}.json")))
                .collect();
            wait_for(&paths, args.wait.unwrap_or(0.0))?;
            paths
        }
        _ => args.manifests.clone(),
    };
    let parts = paths
        .iter()
        .map(|p| Manifest::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = manifest::merge(&parts)?;
    everybyte_core::write_atomic(&args.output, |w| {
        serde_json::to_writer_pretty(&mut *w, &merged)?;
        std::io::Write::write_all(w, b"\n")
    })
    .with_context(|| format!("{}: cannot write", args.output.display()))?;
    eprintln!("everybyte: {}", merged.describe_merge(parts.len()));
    Ok(ExitCode::SUCCESS)
}

/// Waits up to `seconds` for every file of `paths` to exist (a shard writes its manifest
/// atomically, so one that exists is whole); then names the ones still missing.
fn wait_for(paths: &[PathBuf], seconds: f64) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    let mut reported = usize::MAX;
    loop {
        let missing: Vec<&PathBuf> = paths.iter().filter(|p| !p.is_file()).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            let shown: Vec<String> = missing
                .iter()
                .take(5)
                .map(|p| p.display().to_string())
                .collect();
            bail!(
                "{} of {} shard manifests missing{}: {}{}",
                missing.len(),
                paths.len(),
                if seconds > 0.0 {
                    format!(" after {seconds:.0} s")
                } else {
                    String::new()
                },
                shown.join(", "),
                if missing.len() > 5 { ", …" } else { "" }
            );
        }
        if missing.len() != reported {
            eprintln!(
                "everybyte: waiting for {} of {} shard manifests",
                missing.len(),
                paths.len()
            );
            reported = missing.len();
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

/// `data list`: the walk once, written as a listing for `scan --files`.
fn list(args: &DataListArgs) -> Result<ExitCode> {
    if !args.path.is_dir() {
        bail!("{}: not a folder", args.path.display());
    }
    let started = std::time::Instant::now();
    let (files, errors) =
        everybyte_data::scan::list_files(std::slice::from_ref(&args.path), &args.path, None);
    for e in &errors {
        eprintln!("everybyte: {}: {}", e.location.path, e.message);
    }
    if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create the folder", parent.display()))?;
    }
    everybyte_core::write_atomic(&args.output, |w| {
        let mut w = io::BufWriter::new(w);
        everybyte_data::scan::write_list(&mut w, &files)?;
        io::Write::flush(&mut w)
    })
    .with_context(|| format!("{}: cannot write", args.output.display()))?;
    eprintln!(
        "everybyte: listed {} files under {} in {:.2} s",
        files.len(),
        args.path.display(),
        started.elapsed().as_secs_f64()
    );
    // A folder that could not be listed leaves the listing short: say so in the exit code.
    Ok(exit(errors.is_empty()))
}

/// `data job`: the Indexed Job and its merge Job.
fn job(args: &DataJobArgs) -> Result<ExitCode> {
    use everybyte_data::job::{JobSpec, files_per_shard, memory};
    let total = match (&args.list, args.total_files) {
        (Some(list), _) => Some(
            everybyte_data::scan::listed_count(list)
                .with_context(|| format!("{}: cannot read the listing", list.display()))?
                .with_context(|| {
                    format!(
                        "{}: not a listing from `everybyte data list`",
                        list.display()
                    )
                })?,
        ),
        (None, n) => n,
    };
    let measured = match &args.measure {
        Some(dir) => Some(measure(dir)?),
        None => None,
    };
    let per_shard = total.map(|t| files_per_shard(t, args.shards.max(1)));
    let spec = JobSpec {
        name: args.name.clone(),
        shards: args.shards,
        parallelism: args.parallelism.unwrap_or(args.shards.min(32)),
        image: args.image.clone(),
        data: args.data.clone(),
        volume: args.volume.clone(),
        out_volume: args.out_volume.clone(),
        out: args.out.clone().unwrap_or_else(|| {
            if args.out_volume.is_some() {
                "/everybyte".to_owned()
            } else {
                format!("{}/.everybyte", args.data.trim_end_matches('/'))
            }
        }),
        run: format!("{}-{}", args.name, run_stamp()),
        files: args.files.clone(),
        cpus: args.cpus,
        memory: memory(measured, per_shard),
        // The merge holds every shard's records, and a copy of them as it joins them.
        merge_memory: memory(measured, total.map(|t| t.saturating_mul(2))),
    };
    let yaml = spec.render()?;
    match &args.output {
        Some(path) => {
            everybyte_core::write_atomic(path, |w| w.write_all(yaml.as_bytes()))
                .with_context(|| format!("{}: cannot write", path.display()))?;
            eprintln!("everybyte: wrote {} ({})", path.display(), spec.memory.how);
        }
        None => io::Write::write_all(&mut io::stdout().lock(), yaml.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `YYYYMMDD-HHMMSS` in UTC, naming a run's folder.
fn run_stamp() -> String {
    stamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

/// `YYYYMMDD-HHMMSS` of `secs` after the epoch, in UTC (from the `2024/01/02 03:04:05.000`
/// that `gpu watch` writes).
fn stamp(secs: u64) -> String {
    let t = everybyte_mem::gpulog::format_time(secs as f64);
    t.chars()
        .take(19)
        .filter(|c| !matches!(c, '/' | ':'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Scans `dir` here, with a manifest's hashing, and measures the resident memory before the
/// scan and its peak.
fn measure(dir: &std::path::Path) -> Result<everybyte_data::job::Measured> {
    if !dir.is_dir() {
        bail!("--measure {}: not a folder", dir.display());
    }
    let before =
        proc_status_bytes("VmRSS:").context("--measure: /proc/self/status has no VmRSS")?;
    let opts = ScanOptions {
        hash: true,
        ..ScanOptions::default()
    };
    let scan = everybyte_data::scan::scan(std::slice::from_ref(&dir.to_path_buf()), dir, &opts);
    let peak = proc_status_bytes("VmHWM:").context("--measure: /proc/self/status has no VmHWM")?;
    Ok(everybyte_data::job::Measured {
        before,
        peak,
        files: scan.summary.files,
    })
}

/// A `kB` figure of /proc/self/status, in bytes.
fn proc_status_bytes(field: &str) -> Option<u64> {
    everybyte_core::procfs::status_bytes("self", field)
}

fn pack(args: &DataPackArgs) -> Result<ExitCode> {
    let (input, output) = (&args.input, &args.output);
    let packed = if input.is_dir() {
        let (w, h) = everybyte_data::pack::parse_size(&args.size)?;
        everybyte_data::pack::pack_images(input, output, w, h)?
    } else {
        let policy: everybyte_data::pack::NanPolicy = args.nan_policy.parse()?;
        everybyte_data::pack::pack_csv(input, output, args.f64, policy, &args.columns)?
    };
    eprintln!("everybyte: {}", packed.describe(output));
    Ok(ExitCode::SUCCESS)
}

/// `data verify`: exits 1 when any file differs from the manifest.
fn verify(args: &DataVerifyArgs) -> Result<ExitCode> {
    let m = Manifest::read(&args.manifest)?;
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from(&m.root));
    if !root.is_dir() {
        bail!(
            "{}: the dataset folder does not exist (pass --root)",
            root.display()
        );
    }
    let diffs = manifest::verify(&m, &root);
    manifest::write_differences(&mut io::stdout().lock(), &m, &diffs)?;
    Ok(exit(diffs.is_empty()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamps_are_utc_civil_dates() {
        assert_eq!(super::stamp(0), "19700101-000000");
        assert_eq!(super::stamp(1_796_643_296), "20261207-113456");
        assert_eq!(super::stamp(951_868_799), "20000229-235959");
    }
}
