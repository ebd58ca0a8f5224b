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
    let json = serde_json::json!({ "model": plan.shape, "budget": b });
    print_doc(args.format, &json, || {
        let mut text = Vec::new();
        let _ = everybyte_mem::render::budget_text(&mut text, &view);
        String::from_utf8_lossy(&text).into_owned()
    })?;
    Ok(exit(b.fits != Some(false)))
}
