//! `everybyte serve REPOSITORY`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::Ctx;
use crate::cli::ServeArgs;

/// `everybyte serve`: runs until SIGTERM or SIGINT, then drains.
pub fn run(ctx: &Ctx, args: &ServeArgs) -> Result<ExitCode> {
    let cfg = ctx.config(&Ctx::cwd()?)?;
    let max_request = &args.max_request;
    let configured_library = cfg.options.serve.ort_library.as_ref().map(|p| {
        cfg.source
            .as_deref()
            .and_then(Path::parent)
            .map_or_else(|| p.clone(), |dir| dir.join(p))
    });
    let limit = everybyte_core::bytesize::parse_bytes(max_request)
        .with_context(|| format!("--max-request {max_request}: not a size (64MiB)"))?;
    everybyte_serve::serve::serve(&everybyte_serve::serve::ServeOptions {
        repository: args.repository.clone(),
        http: args.http,
        grpc: args.grpc,
        threads: args.threads,
        ort_library: args.ort_library.clone(),
        configured_library,
        request_limit: usize::try_from(limit).unwrap_or(usize::MAX),
        drain: std::time::Duration::from_secs(args.drain_seconds),
        spin: !args.no_spin,
    })?;
    Ok(ExitCode::SUCCESS)
}
