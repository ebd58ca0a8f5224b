//! `everybyte gpu watch`: live readings through NVML, with the alerts `gpu analyze` raises
//! over a log, and Xid errors as the driver reports them. The readings can be logged as the
//! CSV `nvidia-smi --query-gpu=… --format=csv` writes, which [`crate::gpulog::parse`] reads.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use everybyte_core::bytesize::Bytes;

pub use crate::error::WatchError;
use crate::gpulog::{Monitor, Sample, Thresholds, format_time, throttle_reasons};
use crate::nvml::{Nvml, Reading};

/// The columns `--csv` writes: the names and units of `nvidia-smi --query-gpu=… --format=csv`.
pub const CSV_HEADER: &str = "timestamp, index, name, uuid, memory.used [MiB], memory.free [MiB], memory.total [MiB], utilization.gpu [%], utilization.memory [%], temperature.gpu, clocks.sm [MHz], clocks.mem [MHz], power.draw [W], clocks_throttle_reasons.active";

/// What an Xid code means: (meaning, usual culprit, what to do); the triage crate's table.
pub type XidInfo = fn(u32) -> Option<(&'static str, &'static str, &'static str)>;

/// How to watch.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions<'a> {
    /// Seconds between readings.
    pub interval: f64,
    /// Readings to take; 0 watches until stopped.
    pub count: u64,
    /// How long a GPU may sit idle with its memory held before MEM001.
    pub stall_seconds: f64,
    /// Where to log the readings as nvidia-smi CSV; `-` writes the CSV to `out` instead of the
    /// text rows.
    pub csv: Option<&'a Path>,
    /// What an Xid code means, for the alerts of Xid events.
    pub xid_info: XidInfo,
}

fn na<T: std::fmt::Display>(v: Option<T>, unit: &str) -> String {
    v.map_or_else(|| "[N/A]".to_owned(), |v| format!("{v}{unit}"))
}

const MIB: u64 = 1 << 20;

/// One CSV row in nvidia-smi's format.
pub fn csv_row(timestamp: &str, r: &Reading) -> String {
    format!(
        "{timestamp}, {}, {}, {}, {} MiB, {} MiB, {} MiB, {}, {}, {}, {}, {}, {}, {}",
        r.index,
        r.name.replace(',', " "),
        r.uuid,
        r.used / MIB,
        r.free / MIB,
        r.total / MIB,
        na(r.util_gpu, " %"),
        na(r.util_memory, " %"),
        na(r.temperature, ""),
        na(r.sm_clock_mhz, " MHz"),
        na(r.mem_clock_mhz, " MHz"),
        na(
            r.power_mw
                .map(|mw| format!("{:.2}", f64::from(mw) / 1000.0)),
            " W"
        ),
        na(r.throttle.map(|m| format!("{m:#018x}")), ""),
    )
}

fn text_row(r: &Reading) -> String {
    let pct = if r.total > 0 {
        r.used as f64 * 100.0 / r.total as f64
    } else {
        0.0
    };
    let throttle = match r.throttle {
        Some(m) if m & !0x1 != 0 => throttle_reasons(m).join(", "),
        Some(_) => "none".to_owned(),
        None => "[N/A]".to_owned(),
    };
    format!(
        "GPU {} {:<22} mem {:>10} / {:<10} ({pct:>3.0}%)  util {:>5}  {:>6}  SM {:>9}  mem {:>9}  {:>8}  throttle: {throttle}",
        r.index,
        r.name,
        Bytes(r.used).to_string(),
        Bytes(r.total).to_string(),
        na(r.util_gpu, "%"),
        na(r.temperature, " °C"),
        na(r.sm_clock_mhz, " MHz"),
        na(r.mem_clock_mhz, " MHz"),
        na(
            r.power_mw
                .map(|mw| format!("{:.0}", f64::from(mw) / 1000.0)),
            " W"
        ),
    )
}

fn sample(line: u64, now: f64, r: &Reading) -> Sample {
    Sample {
        line,
        time: Some(now),
        timestamp: format_time(now),
        gpu: r.index.to_string(),
        used: Some(r.used),
        total: Some(r.total),
        util: r.util_gpu.map(f64::from),
        temp: r.temperature.map(f64::from),
        throttle: r.throttle,
    }
}

fn xid_line(index: Option<u32>, xid: u64, xid_info: XidInfo) -> String {
    let gpu = index.map_or_else(|| "a GPU".to_owned(), |i| format!("GPU {i}"));
    let info = u32::try_from(xid).ok().and_then(xid_info);
    match info {
        Some((meaning, culprit, action)) => {
            format!("LOG008 Xid {xid} on {gpu}: {meaning} ({culprit}); {action}")
        }
        None => format!(
            "LOG008 Xid {xid} on {gpu}: look the code up in NVIDIA's Xid table; `sudo dmesg -T | grep -i xid` shows the driver's line"
        ),
    }
}

/// Watches the GPUs through NVML: a text row per GPU and reading to `out` (or the CSV, with
/// `csv` `-`), the CSV log to its file, and the start line and every alert to `err`. Returns
/// how many alerts were raised.
#[allow(clippy::too_many_lines)] // one loop: read, write, alert, sleep
pub fn watch(
    opts: &WatchOptions<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u64, WatchError> {
    if !(opts.interval.is_finite() && opts.interval > 0.0) {
        return Err(WatchError::Interval(opts.interval));
    }
    let mut nvml = Nvml::load().map_err(WatchError::Load)?;
    let count = nvml.count()?;
    if count == 0 {
        return Err(WatchError::NoGpu {
            library: nvml.library().to_owned(),
        });
    }
    let xid = nvml.watch_xid();
    let to_out_csv = opts.csv.is_some_and(|p| p.as_os_str() == "-");
    let mut csv_file: Option<BufWriter<File>> = match opts.csv {
        Some(p) if !to_out_csv => Some(BufWriter::new(File::create(p).map_err(|source| {
            WatchError::CreateCsv {
                path: p.to_owned(),
                source,
            }
        })?)),
        _ => None,
    };
    writeln!(
        err,
        "watching {count} GPU{} through {} (driver {}); Xid events {}; Ctrl-C stops",
        if count == 1 { "" } else { "s" },
        nvml.library(),
        nvml.driver_version().as_deref().unwrap_or("unknown"),
        if xid {
            "on"
        } else {
            "not reported by this driver"
        }
    )?;
    if let Some(w) = csv_file.as_mut() {
        writeln!(w, "{CSV_HEADER}")?;
        w.flush()?;
    } else if to_out_csv {
        writeln!(out, "{CSV_HEADER}")?;
        out.flush()?;
    }
    let mut monitor = Monitor::new(Thresholds {
        stall_seconds: opts.stall_seconds,
        ..Thresholds::default()
    });
    let mut alerts = 0u64;
    let mut line = 0u64;
    let start = Instant::now();
    let mut tick = 0u64;
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let readings = nvml.read_all()?;
        let stamp = format_time(now);
        for r in &readings {
            line += 1;
            if let Some(w) = csv_file.as_mut() {
                writeln!(w, "{}", csv_row(&stamp, r))?;
            }
            if to_out_csv {
                writeln!(out, "{}", csv_row(&stamp, r))?;
            } else {
                writeln!(
                    out,
                    "{}  {}",
                    stamp.get(11..19).unwrap_or(&stamp),
                    text_row(r)
                )?;
                if let Some(procs) = &r.processes {
                    for (pid, bytes) in procs {
                        writeln!(out, "           pid {pid:<8} {}", Bytes(*bytes))?;
                    }
                }
            }
            for f in monitor.push("nvml", &sample(line, now, r)) {
                alerts += 1;
                writeln!(err, "ALERT {} {}", f.code, f.message)?;
                if let Some(h) = &f.help {
                    writeln!(err, "      fix: {h}")?;
                }
            }
        }
        for e in nvml.xid_events(0) {
            alerts += 1;
            writeln!(err, "ALERT {}", xid_line(e.index, e.xid, opts.xid_info))?;
        }
        if let Some(w) = csv_file.as_mut() {
            w.flush()?;
        }
        out.flush()?;
        tick += 1;
        if opts.count > 0 && tick >= opts.count {
            break;
        }
        // Sleep to the next tick of a fixed schedule, so readings do not drift.
        let next = start + Duration::from_secs_f64(opts.interval * tick as f64);
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    Ok(alerts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_read_back_through_gpu_analyze() {
        let r = Reading {
            index: 1,
            name: "NVIDIA H100 80GB HBM3".into(),
            uuid: "GPU-1234".into(),
            total: 81_559 * MIB,
            free: 1_000 * MIB,
            used: 80_559 * MIB,
            util_gpu: Some(0),
            util_memory: Some(3),
            temperature: Some(91),
            sm_clock_mhz: Some(1980),
            mem_clock_mhz: None,
            power_mw: Some(312_450),
            throttle: Some(0x40),
            processes: None,
        };
        let log = format!("{CSV_HEADER}\n{}\n", csv_row("2024/01/02 03:04:05.000", &r));
        assert!(log.contains("312.45 W, 0x0000000000000040"), "{log}");
        let s = crate::gpulog::parse(&log).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].gpu, "1");
        assert_eq!(s[0].used, Some(80_559 * MIB));
        assert_eq!(s[0].total, Some(81_559 * MIB));
        assert_eq!(s[0].util, Some(0.0));
        assert_eq!(s[0].temp, Some(91.0));
        assert_eq!(s[0].throttle, Some(0x40));
    }

    fn table(code: u32) -> Option<(&'static str, &'static str, &'static str)> {
        (code == 79).then_some((
            "GPU has fallen off the bus",
            "hardware or driver",
            "drain the node",
        ))
    }

    #[test]
    fn xid_lines_name_the_meaning() {
        assert_eq!(
            xid_line(Some(0), 79, table),
            "LOG008 Xid 79 on GPU 0: GPU has fallen off the bus (hardware or driver); drain the node"
        );
        assert!(xid_line(None, 99_999, table).contains("Xid 99999 on a GPU"));
    }

    #[test]
    fn a_bad_interval_is_refused_before_nvml_loads() {
        let opts = WatchOptions {
            interval: 0.0,
            count: 1,
            stall_seconds: 20.0,
            csv: None,
            xid_info: table,
        };
        let e = watch(&opts, &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--interval 0: expected a positive number of seconds"
        );
    }
}
