//! What `everybyte profile` does around the run: its options checked, the record written, the
//! summary it prints to standard error, and its exit status.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use everybyte_core::bytesize::Bytes;

use super::{ProfileOptions, Ready, Record};
use crate::Error;

/// The options of `everybyte profile` as given on the command line.
#[derive(Debug, Clone, Copy)]
pub struct ProfileArgs<'a> {
    pub command: &'a [String],
    /// Attach to this running process instead of running `command`.
    pub pid: Option<u32>,
    pub ready_url: Option<&'a str>,
    pub ready_log: Option<&'a str>,
    /// Seconds after readiness at which the workload is stopped.
    pub after_ready: Option<f64>,
    /// Seconds after which the workload is stopped.
    pub timeout: Option<f64>,
    /// Seconds between samples.
    pub interval: f64,
    pub syscalls: bool,
    /// How they are counted: BPF where permitted (auto), BPF only, or ptrace.
    pub syscall_counter: crate::syscalls::Method,
}

fn seconds(value: Option<f64>, flag: &'static str) -> Result<Option<Duration>, Error> {
    match value {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Duration::try_from_secs_f64(s)
            .map(Some)
            .map_err(|_| Error::Seconds { flag, value: s }),
        Some(s) => Err(Error::Seconds { flag, value: s }),
    }
}

impl<'a> ProfileArgs<'a> {
    /// The options of the run, once every number and pattern is checked.
    pub fn options(&self) -> Result<ProfileOptions<'a>, Error> {
        if !(self.interval.is_finite() && self.interval >= 0.005) {
            return Err(Error::Interval {
                value: self.interval,
            });
        }
        let ready = match (self.ready_url, self.ready_log) {
            (Some(u), _) => Some(Ready::Url(u.to_owned())),
            (None, Some(r)) => Some(Ready::Log(regex::Regex::new(r).map_err(|err| {
                Error::ReadyLog {
                    pattern: r.to_owned(),
                    err,
                }
            })?)),
            (None, None) => None,
        };
        Ok(ProfileOptions {
            command: self.command,
            pid: self.pid,
            interval: Duration::try_from_secs_f64(self.interval).map_err(|_| Error::Interval {
                value: self.interval,
            })?,
            ready,
            after_ready: seconds(self.after_ready, "--after-ready")?,
            timeout: seconds(self.timeout, "--timeout")?,
            syscalls: self.syscalls,
            syscall_counter: self.syscall_counter,
        })
    }

    /// What the run printed to standard error when it ended.
    pub fn summary(&self, record: &Record) -> String {
        summary(record, self.ready_url.is_some() || self.ready_log.is_some())
    }
}

/// Writes the record (`profile -o FILE`), atomically.
pub fn write_record(path: &Path, record: &Record) -> Result<(), Error> {
    everybyte_core::atomic::write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, record)?;
        writeln!(w)
    })
    .map_err(|err| Error::WriteProfile {
        path: path.to_owned(),
        err,
    })
}

/// The summary of a run: how it ended, wall and CPU time, memory, the system calls when
/// counted, and the cold start (or that it never became ready, when readiness was watched).
pub fn summary(record: &Record, ready_watched: bool) -> String {
    let mut s = String::new();
    let how = match (record.exit_code, record.signal) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(sig)) => format!("exit by signal {sig}"),
        (None, None) => "it exited".to_owned(),
    };
    let how = match record.attached {
        Some(a) if a.still_running => format!("process {} detached, still running", a.pid),
        Some(a) => format!("process {}: {how}", a.pid),
        None => how,
    };
    let _ = writeln!(
        s,
        "profile: {} — {how}, wall {:.2} s, CPU {:.2} s user + {:.2} s sys",
        record.command.join(" "),
        record.wall_seconds,
        record.user_cpu_seconds,
        record.system_cpu_seconds
    );
    let _ = writeln!(
        s,
        "  memory: peak {} PSS / {} RSS at {:.1} s, steady {}",
        Bytes(record.peak_pss_bytes),
        Bytes(record.peak_rss_bytes),
        record.peak_at_seconds,
        Bytes(record.steady_bytes)
    );
    s.push_str(&disks(&record.seconds));
    if let Some(v) = &record.verdict {
        let _ = writeln!(s, "  bound: {}", v.reason);
    }
    if let Some(stats) = &record.syscalls {
        if let Some(c) = &record.syscall_counter {
            let _ = writeln!(s, "  {}", c.describe());
        }
        s.push_str(&crate::syscalls::render(stats));
    }
    match record.cold_start_seconds {
        Some(c) => {
            let _ = writeln!(s, "  cold start: {c:.2} s");
        }
        None if ready_watched => s.push_str("  cold start: never ready\n"),
        None => {}
    }
    s
}

/// One line per disk the run used, as `iostat -x` would sum it up: mean and busiest second.
fn disks(seconds: &[super::Second]) -> String {
    let mut names: Vec<&str> = seconds
        .iter()
        .flat_map(|s| s.disks.iter().map(|d| d.name.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut out = String::new();
    let mib = 1024.0 * 1024.0;
    for name in names {
        let ds: Vec<&super::Disk> = seconds
            .iter()
            .flat_map(|s| s.disks.iter().filter(|d| d.name == name))
            .collect();
        let n = ds.len().max(1) as f64;
        let _ = writeln!(
            out,
            "  disk {name}: {:.0}% busy on average (busiest second {:.0}%), read {:.1} MiB/s, write {:.1} MiB/s, await {:.1} ms",
            100.0 * ds.iter().map(|d| d.util).sum::<f64>() / n,
            100.0 * ds.iter().map(|d| d.util).fold(0.0, f64::max),
            ds.iter().map(|d| d.read_bytes_per_second).sum::<f64>() / n / mib,
            ds.iter().map(|d| d.write_bytes_per_second).sum::<f64>() / n / mib,
            ds.iter().map(|d| d.await_ms).sum::<f64>() / n,
        );
    }
    out
}

/// `everybyte profile` exits with the workload's own status: 0 when it was stopped by the
/// SIGTERM the profiler sent, 1 for any other signal. Attached, it exits 0.
pub fn exit_code(record: &Record) -> u8 {
    if record.attached.is_some() {
        return 0;
    }
    match (record.exit_code, record.signal) {
        (Some(c), _) => u8::try_from(c).unwrap_or(1),
        (None, Some(15)) => 0,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            command: vec!["python".into(), "serve.py".into()],
            wall_seconds: 12.345,
            exit_code: None,
            signal: Some(15),
            user_cpu_seconds: 3.5,
            system_cpu_seconds: 0.25,
            profiler_cpu_seconds: 0.0,
            peak_rss_bytes: 3 << 30,
            peak_pss_bytes: 2 << 30,
            peak_gpu_bytes: None,
            peak_at_seconds: 7.25,
            steady_bytes: 1 << 30,
            cold_start_seconds: None,
            sample_interval_seconds: 0.1,
            samples: Vec::new(),
            syscalls: None,
            syscall_counter: None,
            seconds: Vec::new(),
            verdict: None,
            attached: None,
        }
    }

    #[test]
    fn the_summary_says_how_it_ended() {
        let r = record();
        assert_eq!(
            summary(&r, true),
            "profile: python serve.py — exit by signal 15, wall 12.35 s, CPU 3.50 s user + 0.25 s sys\n  memory: peak 2.00 GiB PSS / 3.00 GiB RSS at 7.2 s, steady 1.00 GiB\n  cold start: never ready\n"
        );
        assert!(!summary(&r, false).contains("cold start"));
        assert_eq!(exit_code(&r), 0);
        let r = Record {
            cold_start_seconds: Some(4.5),
            exit_code: Some(3),
            ..record()
        };
        assert!(summary(&r, false).ends_with("  cold start: 4.50 s\n"));
        assert_eq!(exit_code(&r), 3);
        assert_eq!(
            exit_code(&Record {
                signal: Some(9),
                ..record()
            }),
            1
        );
        assert_eq!(
            exit_code(&Record {
                exit_code: Some(300),
                ..record()
            }),
            1
        );
    }

    #[test]
    fn options_are_checked_in_order() {
        let cmd = ["true".to_owned()];
        let args = ProfileArgs {
            command: &cmd,
            pid: None,
            ready_url: None,
            ready_log: Some("("),
            after_ready: Some(-1.0),
            timeout: None,
            interval: 0.001,
            syscalls: false,
            syscall_counter: crate::syscalls::Method::Auto,
        };
        let msg = |a: ProfileArgs<'_>| a.options().err().map(|e| e.to_string());
        assert_eq!(
            msg(args).as_deref(),
            Some("--interval 0.001: expected at least 0.005 seconds")
        );
        let args = ProfileArgs {
            interval: 0.1,
            ..args
        };
        assert!(msg(args).is_some_and(|m| m.starts_with("--ready-log (: not a regex: ")));
        let args = ProfileArgs {
            ready_log: Some("ready"),
            ..args
        };
        assert_eq!(
            msg(args).as_deref(),
            Some("--after-ready -1: expected a non-negative number of seconds")
        );
        let args = ProfileArgs {
            after_ready: Some(2.0),
            timeout: Some(f64::NAN),
            ..args
        };
        assert_eq!(
            msg(args).as_deref(),
            Some("--timeout NaN: expected a non-negative number of seconds")
        );
        let o = ProfileArgs {
            timeout: None,
            ..args
        }
        .options();
        assert!(o.is_ok_and(|o| o.after_ready == Some(Duration::from_secs(2))));
    }
}
