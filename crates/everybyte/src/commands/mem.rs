//! `everybyte mem budget | snapshot | explain`.

use super::prelude::*;

use everybyte_mem::render::BudgetView;
use everybyte_mem::request::BudgetRequest;
use everybyte_mem::snapshot::file::SnapshotFile;

pub fn run(ctx: &Ctx, command: &MemCommand) -> Result<ExitCode> {
    match command {
        MemCommand::Budget(args) => budget(ctx, args),
        MemCommand::Snapshot(args) => snapshot(args),
        MemCommand::Explain(args) => explain(ctx, args),
    }
}

fn snapshot(args: &MemSnapshotArgs) -> Result<ExitCode> {
    match SnapshotFile::read(&args.file, args.svg.as_deref())? {
        SnapshotFile::Allocator(r) => {
            if let Some(path) = &args.svg {
                let picture = everybyte_mem::svg::segment_map_svg(&r);
                everybyte_core::write_atomic(path, |w| w.write_all(picture.as_bytes()))
                    .with_context(|| format!("{}: cannot write the segment map", path.display()))?;
            }
            print_doc(args.format, &r, || r.render_text())?;
        }
        SnapshotFile::Summary(r) => print_doc(DocFormat::Json, &r, String::new)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn explain(ctx: &Ctx, args: &MemExplainArgs) -> Result<ExitCode> {
    let cwd = Ctx::cwd()?;
    let session = ctx.session(&cwd, &args.report)?;
    let (name, r) =
        everybyte_triage::explain_oom(args.message.as_deref(), &session.cfg.options.triage)?;
    let report = Report {
        findings: r.findings,
        context: r.context,
        inputs: vec![name],
        figures: Vec::new(),
    };
    session.finish(report, Some(&cwd))
}

/// `mem budget`: exits 1 when the run does not fit the card.
fn budget(ctx: &Ctx, args: &MemBudgetArgs) -> Result<ExitCode> {
    let plan = BudgetRequest {
        model: args.model.as_deref(),
        params: args.params.as_deref(),
        train: args.mode == BudgetMode::Train,
        dtype: &args.dtype,
        optimizer: &args.optimizer,
        mixed_precision: args.mixed_precision,
        batch: args.batch,
        seq: args.seq,
        grad_checkpointing: &args.grad_checkpointing,
        zero_stage: args.zero,
        gpus: args.gpus,
        gpu: args.gpu.as_deref(),
        buffer: args.buffer,
        precision: args.precision.as_deref(),
        attention: &args.attention,
        device: &args.device,
    }
    .plan()?;
    let b = everybyte_mem::budget::budget(&plan.input);
    let host = host_budget(args, &plan, &b)?;
    let host_fits = args.pod_limit.is_none_or(|l| l >= host.peak);
    if args.host {
        let json =
            serde_json::json!({ "model": plan.shape, "host": host, "pod_limit": args.pod_limit });
        print_doc(args.format, &json, || {
            everybyte_mem::host::host_text(&host, args.pod_limit)
        })?;
        return Ok(exit(host_fits));
    }
    let view = BudgetView {
        shape: &plan.shape,
        budget: &b,
        card_label: plan.card_label.as_deref(),
        buffer: args.buffer,
        batch: args.batch,
        seq: plan.input.seq,
    };
    if let Some(path) = &args.html {
        let title = everybyte_mem::render::budget_title(&view);
        ctx.write_html(path, vec![b.figure(&title, args.buffer)])?;
    }
    let json = serde_json::json!({ "model": plan.shape, "budget": b, "host": host, "pod_limit": args.pod_limit });
    print_doc(args.format, &json, || {
        let mut text = Vec::new();
        let _ = everybyte_mem::render::budget_text(&mut text, &view);
        let mut text = String::from_utf8_lossy(&text).into_owned();
        text.push_str(&everybyte_mem::host::host_text(&host, args.pod_limit));
        text
    })?;
    Ok(exit(b.fits != Some(false) && host_fits))
}

/// The pod's host memory for the budgeted run: the weights as the process holds them (fp32
/// under fp32 or autocast), and on the CPU everything the GPU budget would hold.
fn host_budget(
    args: &MemBudgetArgs,
    plan: &everybyte_mem::request::BudgetPlan,
    b: &everybyte_mem::budget::Budget,
) -> Result<everybyte_mem::host::HostBudget> {
    use everybyte_mem::activations::{Device, Precision};
    let held = match plan.input.precision {
        Some(Precision::Fp32 | Precision::AutocastBf16 | Precision::AutocastFp16) => 4.0,
        _ => plan.input.weight_bytes,
    };
    let weights = (plan.shape.params as f64 * held) as u64;
    let cpu_rest = if plan.input.device == Device::Cpu {
        b.required.saturating_sub(weights)
    } else {
        0
    };
    let input = everybyte_mem::host::HostRequest {
        checkpoint: args.checkpoint.as_deref(),
        loading: args.loading.as_deref(),
        processes: args.procs,
        workers: args.workers,
        prefetch_factor: args.prefetch_factor,
        sample_bytes: args.sample_bytes,
        pin_memory: args.pin_memory,
    }
    .input(
        args.model.as_deref(),
        &plan.shape,
        held,
        args.batch,
        plan.input.seq,
        args.gpus,
        cpu_rest,
    )?;
    Ok(everybyte_mem::host::host_budget(&input))
}
