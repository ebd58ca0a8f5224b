//! `everybyte bench URL`: the load generator.

use super::prelude::*;

/// `everybyte bench`: prints the report; exits 1 when any request failed.
pub fn run(ctx: &Ctx, args: &BenchArgs) -> Result<ExitCode> {
    let report = everybyte_serve::bench::bench(&everybyte_serve::bench::BenchOptions {
        url: args.url.clone(),
        model: args.model.clone(),
        rate: args.rate,
        concurrency: args.concurrency,
        duration: args.duration,
        warmup: args.warmup,
        shapes: args.shapes.clone(),
        json: args.json,
        outputs: args.outputs.clone(),
        fills: args.fills.clone(),
        timeout: args.timeout,
        max_in_flight: args.max_in_flight,
    })?;
    if let Some(path) = &args.html {
        ctx.write_html(path, vec![report.figure(), report.histogram_figure()])?;
    }
    print_doc(args.format, &report, || report.render_text())?;
    Ok(exit(report.errors.is_empty()))
}
