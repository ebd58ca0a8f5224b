//! `everybyte mem budget | snapshot | explain`.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use everybyte_core::Report;
use everybyte_mem::budget::{BudgetInput, Recompute, budget, card, dtype_bytes};
use everybyte_mem::render::BudgetView;

use super::Ctx;
use crate::cli::{
    BudgetMode, DocFormat, MemBudgetArgs, MemCommand, MemExplainArgs, MemSnapshotArgs,
};

pub fn run(ctx: &Ctx, command: &MemCommand) -> Result<ExitCode> {
    match command {
        MemCommand::Budget(args) => run_budget(ctx, args),
        MemCommand::Snapshot(args) => snapshot(args),
        MemCommand::Explain(args) => explain(ctx, args),
    }
}

fn snapshot(args: &MemSnapshotArgs) -> Result<ExitCode> {
    let (file, svg, format) = (&args.file, &args.svg, args.format);
    let name = file.display().to_string();
    let bytes = std::fs::read(file).with_context(|| format!("{name}: cannot read"))?;
    let mut out = io::stdout().lock();
    if bytes.first() == Some(&0x80) {
        let r = everybyte_mem::snapshot::read_snapshot(&bytes)
            .with_context(|| format!("{name}: not a readable allocator snapshot"))?;
        if let Some(path) = svg {
            let picture = everybyte_mem::svg::segment_map_svg(&r);
            everybyte_core::atomic::write_atomic(path, |w| w.write_all(picture.as_bytes()))
                .with_context(|| format!("{}: cannot write the segment map", path.display()))?;
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

fn explain(ctx: &Ctx, args: &MemExplainArgs) -> Result<ExitCode> {
    let cwd = Ctx::cwd()?;
    let session = ctx.session(&cwd, &args.report)?;
    let (name, text) = match &args.message {
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
    let r = everybyte_triage::triage_reader(text.as_bytes(), &name, &session.cfg.options.triage)?;
    if !r.findings.iter().any(everybyte_triage::is_cuda_oom) {
        bail!(
            "{name}: no CUDA out-of-memory message found (expected PyTorch's `CUDA out of memory. Tried to allocate …`)"
        );
    }
    session.finish(
        Report {
            findings: r.findings,
            context: r.context,
            inputs: vec![name],
            figures: Vec::new(),
        },
        Some(&cwd),
    )
}

/// `mem budget`: exits 1 when the run does not fit the card.
fn run_budget(ctx: &Ctx, args: &MemBudgetArgs) -> Result<ExitCode> {
    let (dtype, buffer) = (&args.dtype, args.buffer);
    let wb = match dtype_bytes(dtype) {
        Some(0) => 0.5,
        Some(b) => b as f64,
        None => bail!("--dtype {dtype}: expected bf16, fp16, fp32, int8 or int4"),
    };
    let shape =
        everybyte_mem::model::model_shape(args.model.as_deref(), args.params.as_deref(), wb)?;
    let mut card_label = None;
    let capacity = match args.gpu.as_deref() {
        None => None,
        Some("auto") => {
            let (label, total) = everybyte_mem::card::auto_gpu()?;
            card_label = Some(label);
            Some(total)
        }
        Some(g) => Some(
            card(g)
                .or_else(|| everybyte_core::bytesize::parse_bytes(g))
                .with_context(|| format!("--gpu {g}: not a known card or a size (24GiB)"))?,
        ),
    };
    if !(0.0..1.0).contains(&buffer) {
        bail!("--buffer {buffer}: expected a fraction in [0, 1)");
    }
    let recompute = match args.grad_checkpointing.as_str() {
        "none" | "false" => Recompute::None,
        "selective" => Recompute::Selective,
        "full" | "true" => Recompute::Full,
        other => bail!("--grad-checkpointing {other}: expected none, selective or full"),
    };
    let seq = args
        .seq
        .unwrap_or_else(|| shape.max_seq.unwrap_or(2048).min(2048));
    let b = budget(&BudgetInput {
        model: shape.clone(),
        train: args.mode == BudgetMode::Train,
        weight_bytes: wb,
        optimizer: args.optimizer.parse()?,
        mixed_precision: args.mixed_precision,
        batch: args.batch,
        seq,
        recompute,
        zero_stage: args.zero,
        gpus: args.gpus,
        capacity,
        buffer,
        context_bytes: 512 << 20,
    });
    let view = BudgetView {
        shape: &shape,
        budget: &b,
        card_label: card_label.as_deref(),
        buffer,
        batch: args.batch,
        seq,
    };
    if let Some(path) = &args.html {
        let title = everybyte_mem::render::budget_title(&view);
        ctx.write_html(path, vec![b.figure(&title, buffer)])?;
    }
    match args.format {
        DocFormat::Json => super::print_doc(
            args.format,
            &serde_json::json!({ "model": shape, "budget": b }),
            String::new,
        )?,
        DocFormat::Text => everybyte_mem::render::budget_text(&mut io::stdout().lock(), &view)?,
    }
    Ok(super::exit(b.fits != Some(false)))
}
