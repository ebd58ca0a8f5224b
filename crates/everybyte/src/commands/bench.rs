//! `everybyte bench URL`: the load generator.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::Ctx;
use crate::cli::BenchArgs;

/// `everybyte bench`: prints the report; exits 1 when any request failed.
pub fn run(ctx: &Ctx, args: &BenchArgs) -> Result<ExitCode> {
    use everybyte_serve::bench::{BenchOptions, parse_duration, parse_fill, parse_shape};
    let report = everybyte_serve::bench::bench(&BenchOptions {
        url: args.url.clone(),
        model: args.model.clone(),
        rate: args.rate,
        concurrency: args.concurrency,
        duration: parse_duration(&args.duration).context("--duration")?,
        warmup: parse_duration(&args.warmup).context("--warmup")?,
        shapes: args
            .shapes
            .iter()
            .map(|s| parse_shape(s))
            .collect::<Result<_, _>>()?,
        json: args.json,
        outputs: args.outputs.clone(),
        fills: args
            .fills
            .iter()
            .map(|s| parse_fill(s))
            .collect::<Result<_, _>>()?,
        timeout: parse_duration(&args.timeout).context("--timeout")?,
        max_in_flight: args.max_in_flight,
    })?;
    if let Some(path) = &args.html {
        ctx.write_html(path, vec![report.figure(), report.histogram_figure()])?;
    }
    super::print_doc(args.format, &report, || report.render_text())?;
    Ok(super::exit(report.errors.is_empty()))
}
