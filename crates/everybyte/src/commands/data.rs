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
    let scan = if io::stderr().is_terminal() {
        let show = |line: &str| match line {
            "" => eprint!("\r\x1b[2K"),
            _ => eprint!("\r{line}   "),
        };
        everybyte_data::scan::scan_showing(paths, &root, &opts, &show)
    } else {
        everybyte_data::scan::scan(paths, &root, &opts)
    };
    if let Some(path) = &args.manifest {
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
    let parts = args
        .manifests
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
