//! `everybyte data scan | merge | pack | verify`, and the data part of the audit.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use everybyte_core::{Audit, FileKind, Report};

use super::Ctx;
use crate::cli::DataCommand;

/// The data part of the audit: images, tables, arrays and safetensors files, a deterministic
/// sample of them when there are many.
pub fn audit(input: &Audit, report: &mut Report) {
    let project = input.project;
    let cfg = input.config;
    let data_files: Vec<everybyte_data::scan::Rel> = project
        .files
        .iter()
        .filter(|f| {
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
}

#[allow(clippy::too_many_lines)] // one arm per subcommand
pub fn run(ctx: &Ctx, command: &DataCommand) -> Result<ExitCode> {
    match command {
        DataCommand::Scan(args) => {
            let cwd = Ctx::cwd()?;
            let session = ctx.session(&cwd, &args.report)?;
            let cfg = &session.cfg;
            let (paths, manifest) = (&args.paths, &args.manifest);
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
                max_pixels: args.max_pixels.unwrap_or(cfg.options.data.max_pixels),
                shard: args.shard,
                decode: args.decode,
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
                super::write_json(path, &m, "the manifest")?;
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
            session.finish(report, Some(&root_abs))
        }
        DataCommand::Merge(args) => {
            let output = &args.output;
            let parts = args
                .manifests
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
        DataCommand::Pack(args) => {
            let (input, output, size) = (&args.input, &args.output, &args.size);
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
                    args.nan_policy.parse().map_err(anyhow::Error::msg)?;
                everybyte_data::pack::pack_csv(input, output, args.f64, policy, &args.columns)?
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
        DataCommand::Verify(args) => {
            let manifest = &args.manifest;
            let text = std::fs::read_to_string(manifest)
                .with_context(|| format!("{}: cannot read", manifest.display()))?;
            let m: everybyte_data::manifest::Manifest = serde_json::from_str(&text)
                .with_context(|| format!("{}: not an everybyte manifest", manifest.display()))?;
            let root = args.root.clone().unwrap_or_else(|| PathBuf::from(&m.root));
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
