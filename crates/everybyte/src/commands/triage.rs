//! `everybyte triage [FILE...]`: logs (or standard input) into incidents.

use super::prelude::*;
use std::io::{self, Write};

pub fn run(ctx: &Ctx, args: &TriageArgs) -> Result<ExitCode> {
    if args.list_triggers {
        let mut out = io::stdout().lock();
        for w in everybyte_triage::trigger_words() {
            writeln!(out, "{w}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let cwd = Ctx::cwd()?;
    let session = ctx.session(&cwd, &args.report)?;
    let triaged = everybyte_triage::triage_inputs(&args.files, &session.cfg.options.triage);
    for n in &triaged.notes {
        eprintln!("everybyte: {n}");
    }
    session.finish(triaged.report, Some(&cwd))
}
