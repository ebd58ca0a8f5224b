//! `everybyte gpu watch` and `everybyte gpu analyze`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use everybyte_core::Report;

use super::Ctx;
use crate::cli::GpuCommand;

pub fn run(ctx: &Ctx, command: &GpuCommand) -> Result<ExitCode> {
    match command {
        GpuCommand::Analyze(args) => {
            let cwd = Ctx::cwd()?;
            let session = ctx.session(&cwd, &args.report)?;
            let name = args.file.display().to_string();
            let text = std::fs::read_to_string(&args.file)
                .with_context(|| format!("{name}: cannot read"))?;
            let samples = everybyte_mem::gpulog::parse(&text)
                .with_context(|| format!("{name}: not an nvidia-smi CSV log"))?;
            let th = everybyte_mem::gpulog::Thresholds {
                stall_seconds: args.stall_seconds,
                ..Default::default()
            };
            let report = Report {
                findings: everybyte_mem::gpulog::analyze(&name, &samples, &th),
                inputs: vec![name],
                ..Report::default()
            };
            session.finish(report, Some(&cwd))
        }
        GpuCommand::Watch(args) => {
            let alerts = everybyte_mem::watch::watch(
                &everybyte_mem::watch::WatchOptions {
                    interval: args.interval,
                    count: args.count,
                    stall_seconds: args.stall_seconds,
                    csv: args.csv.as_deref(),
                    xid_info: everybyte_triage::rules::gpu_xid::xid_info,
                },
                &mut std::io::stdout(),
                &mut std::io::stderr(),
            )?;
            Ok(super::exit(alerts == 0))
        }
    }
}
