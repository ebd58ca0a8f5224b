//! `everybyte serve REPOSITORY`.

use super::prelude::*;
use std::path::Path;

/// `everybyte serve`: runs until SIGTERM or SIGINT, then drains.
pub fn run(ctx: &Ctx, args: &ServeArgs) -> Result<ExitCode> {
    let cfg = ctx.config(&Ctx::cwd()?)?;
    let configured_library = cfg.options.serve.ort_library.as_ref().map(|p| {
        cfg.source
            .as_deref()
            .and_then(Path::parent)
            .map_or_else(|| p.clone(), |dir| dir.join(p))
    });
    everybyte_serve::serve::serve(&everybyte_serve::serve::ServeOptions {
        repository: args.repository.clone(),
        load_models: args.load_model.clone(),
        http: args.http,
        grpc: args.grpc,
        threads: args.threads.map(usize::from),
        runs: args.runs.map(usize::from),
        plan_seconds: plan_seconds(args.plan_seconds)?,
        plan_shapes: plan_shapes(&args.plan_shape)?,
        device: args.device,
        gpu_mem_limit: args
            .gpu_mem_limit
            .map_or(0, |b| usize::try_from(b).unwrap_or(usize::MAX)),
        ort_library: args.ort_library.clone(),
        configured_library,
        request_limit: usize::try_from(args.max_request).unwrap_or(usize::MAX),
        drain: std::time::Duration::from_secs(args.drain_seconds),
        spin: args.no_spin.then_some(false),
    })?;
    Ok(ExitCode::SUCCESS)
}

fn plan_seconds(s: f64) -> Result<f64> {
    if !s.is_finite() || !(0.0..=600.0).contains(&s) {
        bail!("--plan-seconds {s}: expected 0 to 600");
    }
    Ok(s)
}

fn plan_shapes(args: &[String]) -> Result<std::collections::BTreeMap<String, Vec<i64>>> {
    let mut out = std::collections::BTreeMap::new();
    for a in args {
        let (name, dims) = everybyte_serve::bench::parse_shape(a)?;
        if let Err(why) = everybyte_serve::plan::check_shape(&name, &dims) {
            bail!("--{why}");
        }
        out.insert(name, dims);
    }
    Ok(out)
}
