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
        http: args.http,
        grpc: args.grpc,
        threads: args.threads,
        ort_library: args.ort_library.clone(),
        configured_library,
        request_limit: usize::try_from(args.max_request).unwrap_or(usize::MAX),
        drain: std::time::Duration::from_secs(args.drain_seconds),
        spin: !args.no_spin,
    })?;
    Ok(ExitCode::SUCCESS)
}
