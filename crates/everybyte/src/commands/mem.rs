//! `everybyte mem budget | snapshot | explain`, and the memory part of the audit.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use everybyte_core::bytesize::Bytes;
use everybyte_core::{Audit, FileKind, Report};
use everybyte_mem::budget::{BudgetInput, Recompute, budget, card, dtype_bytes};

use super::Ctx;
use crate::cli::{BudgetMode, DocFormat, MemCommand};

/// The memory part of the audit: `nvidia-smi` CSV logs and allocator snapshots.
pub fn audit(input: &Audit, report: &mut Report) {
    let project = input.project;
    for f in project.files_of(FileKind::NvidiaSmiCsv) {
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
    for f in project.files_of(FileKind::AllocatorSnapshot) {
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
pub fn run(ctx: &Ctx, command: &MemCommand) -> Result<ExitCode> {
    match command {
        MemCommand::Snapshot(args) => {
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
        MemCommand::Explain(args) => {
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
            let r = everybyte_triage::triage_reader(
                text.as_bytes(),
                &name,
                &session.cfg.options.triage,
            )?;
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
        MemCommand::Budget(args) => {
            let (dtype, buffer, gpu) = (&args.dtype, &args.buffer, &args.gpu);
            let wb = match dtype_bytes(dtype) {
                Some(0) => 0.5,
                Some(b) => b as f64,
                None => bail!("--dtype {dtype}: expected bf16, fp16, fp32, int8 or int4"),
            };
            let shape = model_shape(args.model.as_deref(), args.params.as_deref(), wb)?;
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
            let recompute = match args.grad_checkpointing.as_str() {
                "none" | "false" => Recompute::None,
                "selective" => Recompute::Selective,
                "full" | "true" => Recompute::Full,
                other => bail!("--grad-checkpointing {other}: expected none, selective or full"),
            };
            let seq = args
                .seq
                .unwrap_or_else(|| shape.max_seq.unwrap_or(2048).min(2048));
            let input = BudgetInput {
                model: shape.clone(),
                train: args.mode == BudgetMode::Train,
                weight_bytes: wb,
                optimizer: args.optimizer.parse().map_err(anyhow::Error::msg)?,
                mixed_precision: args.mixed_precision,
                batch: args.batch,
                seq,
                recompute,
                zero_stage: args.zero,
                gpus: args.gpus,
                capacity,
                buffer: *buffer,
                context_bytes: 512 << 20,
            };
            let b = budget(&input);
            if let Some(path) = &args.html {
                let title = format!(
                    "{} at batch {} × seq {seq}{}",
                    shape.architecture.as_deref().unwrap_or("model"),
                    input.batch,
                    card_label
                        .as_deref()
                        .map(|l| format!(" — {l}"))
                        .unwrap_or_default()
                );
                ctx.write_html(path, vec![b.figure(&title, *buffer)])?;
            }
            let mut out = io::stdout().lock();
            match args.format {
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
