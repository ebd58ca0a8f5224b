//! `everybyte gpu watch` and `everybyte gpu analyze`.

use super::prelude::*;

pub fn run(ctx: &Ctx, command: &GpuCommand) -> Result<ExitCode> {
    match command {
        GpuCommand::Analyze(args) => {
            let cwd = Ctx::cwd()?;
            let session = ctx.session(&cwd, &args.report)?;
            let th = everybyte_mem::gpulog::Thresholds {
                stall_seconds: args.stall_seconds,
                ..Default::default()
            };
            let report = Report {
                findings: everybyte_mem::gpulog::analyze_file(&args.file, &th)?,
                inputs: vec![args.file.display().to_string()],
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
            Ok(exit(alerts == 0))
        }
    }
}
