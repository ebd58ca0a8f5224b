//! `everybyte profile -- CMD`.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::cli::ProfileArgs;

/// `everybyte profile`: exits with the workload's own status (0 when it was stopped by the
/// SIGTERM profile sent, 1 for any other signal).
pub fn run(args: &ProfileArgs) -> Result<ExitCode> {
    use everybyte_core::bytesize::Bytes;
    let (ready_url, ready_log, interval) = (&args.ready_url, &args.ready_log, &args.interval);
    let secs = |v: Option<f64>, flag: &str| -> Result<Option<std::time::Duration>> {
        match v {
            None => Ok(None),
            Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(std::time::Duration::from_secs_f64(s))),
            Some(s) => bail!("{flag} {s}: expected a non-negative number of seconds"),
        }
    };
    if !(interval.is_finite() && *interval >= 0.005) {
        bail!("--interval {interval}: expected at least 0.005 seconds");
    }
    let ready = match (ready_url, ready_log) {
        (Some(u), _) => Some(everybyte_deploy::profile::Ready::Url(u.clone())),
        (None, Some(r)) => Some(everybyte_deploy::profile::Ready::Log(
            regex::Regex::new(r).with_context(|| format!("--ready-log {r}: not a regex"))?,
        )),
        (None, None) => None,
    };
    let record = everybyte_deploy::profile::run(&everybyte_deploy::profile::ProfileOptions {
        command: &args.command,
        interval: std::time::Duration::from_secs_f64(*interval),
        ready,
        after_ready: secs(args.after_ready, "--after-ready")?,
        timeout: secs(args.timeout, "--timeout")?,
        syscalls: args.syscalls,
    })
    .map_err(anyhow::Error::msg)?;
    if let Some(path) = &args.output {
        super::write_json(path, &record, "the profile")?;
    }
    let mut err = io::stderr().lock();
    let how = record.exit_code.map_or_else(
        || format!("by signal {}", record.signal.unwrap_or(0)),
        |c| c.to_string(),
    );
    writeln!(
        err,
        "profile: {} — exit {how}, wall {:.2} s, CPU {:.2} s user + {:.2} s sys",
        record.command.join(" "),
        record.wall_seconds,
        record.user_cpu_seconds,
        record.system_cpu_seconds
    )?;
    writeln!(
        err,
        "  memory: peak {} PSS / {} RSS at {:.1} s, steady {}",
        Bytes(record.peak_pss_bytes),
        Bytes(record.peak_rss_bytes),
        record.peak_at_seconds,
        Bytes(record.steady_bytes)
    )?;
    if let Some(stats) = &record.syscalls {
        write!(err, "{}", everybyte_deploy::syscalls::render(stats))?;
    }
    match record.cold_start_seconds {
        Some(c) => writeln!(err, "  cold start: {c:.2} s")?,
        None if ready_url.is_some() || ready_log.is_some() => {
            writeln!(err, "  cold start: never ready")?;
        }
        None => {}
    }
    let code = match (record.exit_code, record.signal) {
        (Some(c), _) => u8::try_from(c).unwrap_or(1),
        (None, Some(15)) => 0,
        _ => 1,
    };
    Ok(ExitCode::from(code))
}
