//! `everybyte triage [FILE...]`: logs (or standard input) into incidents.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use everybyte_core::Report;

use super::Ctx;
use crate::cli::TriageArgs;

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
    let opts = &session.cfg.options.triage;
    let mut report = Report::default();
    let inputs = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    for input in &inputs {
        let (name, result) = if input.as_os_str() == "-" {
            let name = "<stdin>";
            (
                name.to_owned(),
                everybyte_triage::triage_reader(io::stdin().lock(), name, opts),
            )
        } else {
            let name = input.display().to_string();
            let r = everybyte_triage::triage_file(input, &name, opts);
            (name, r)
        };
        report.inputs.push(name.clone());
        match result {
            Ok(r) => {
                report.findings.extend(r.findings);
                report.context.extend(r.context);
                if r.dropped > 0 {
                    eprintln!(
                        "everybyte: {name}: {} further incidents not kept (triage.max-incidents)",
                        r.dropped
                    );
                }
            }
            Err(err) => {
                report.findings.extend(err.partial.findings);
                report
                    .findings
                    .push(everybyte_core::rules::unreadable_io(&name, &err.source));
            }
        }
    }
    session.finish(report, Some(&cwd))
}
