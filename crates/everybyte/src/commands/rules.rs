//! `everybyte rules` and `everybyte rule CODE`.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Result, bail};
use everybyte_core::{Registry, Rule, RuleStatus};

use crate::cli::DocFormat;

pub fn list(registry: &Registry, format: DocFormat) -> Result<ExitCode> {
    let list: Vec<_> = registry.rules().iter().map(|r| json(r)).collect();
    super::print_doc(format, &list, || {
        let mut s = String::new();
        for r in registry.rules() {
            let status = match r.status {
                RuleStatus::Stable => String::new(),
                other => format!(" [{}]", other.as_str()),
            };
            s.push_str(&format!(
                "{:<8} {:<8} {:<26} {}{status}\n",
                r.code, r.severity, r.name, r.summary
            ));
        }
        s
    })?;
    Ok(ExitCode::SUCCESS)
}

fn json(r: &Rule) -> serde_json::Value {
    serde_json::json!({
        "code": r.code,
        "name": r.name,
        "severity": r.severity,
        "status": r.status,
        "summary": r.summary,
        "explanation": r.explanation(),
        "source": r.source,
    })
}

pub fn explain(registry: &Registry, code: &str, format: DocFormat) -> Result<ExitCode> {
    let Some(r) = registry.get(code) else {
        bail!("unknown rule `{code}` (see `everybyte rules`)");
    };
    let mut out = io::stdout().lock();
    match format {
        DocFormat::Text => {
            writeln!(out, "# {} ({})\n", r.code, r.name)?;
            let status = match r.status {
                RuleStatus::Stable => String::new(),
                RuleStatus::Preview => {
                    " · preview: runs only when selected by its code (--select CODE)".to_owned()
                }
                RuleStatus::Removed => " · removed: no longer raised".to_owned(),
            };
            writeln!(
                out,
                "{} · default severity: {}{status}\n",
                r.summary, r.severity
            )?;
            write!(out, "{}", r.explanation())?;
            writeln!(out, "\nDeclared in {}", r.source)?;
        }
        DocFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &json(r))?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
