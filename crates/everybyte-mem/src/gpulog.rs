//! `gpu analyze`: alerts over a log written by `nvidia-smi --query-gpu=… --format=csv -l 1`
//! (any column order; unit suffixes such as ` MiB` and ` %` in the header and the values).

use std::collections::BTreeMap;

use everybyte_core::bytesize::Bytes;
use everybyte_core::{Finding, Location};

use crate::rules::{
    gpu_memory_full::GPU_MEMORY_FULL, gpu_stall::GPU_STALL, gpu_throttling::GPU_THROTTLING,
};

/// One row of the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub line: u64,
    /// Seconds since the epoch, when the log has a timestamp column.
    pub time: Option<f64>,
    pub timestamp: String,
    pub gpu: String,
    pub used: Option<u64>,
    pub total: Option<u64>,
    pub util: Option<f64>,
    pub temp: Option<f64>,
    pub throttle: Option<u64>,
}

/// Alert thresholds.
#[derive(Debug, Clone)]
pub struct Thresholds {
    pub stall_seconds: f64,
    pub memory_fraction: f64,
    pub hot_celsius: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            stall_seconds: 20.0,
            memory_fraction: 0.95,
            hot_celsius: 85.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LogError(pub String);

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2023/10/27 13:41:07.121` (nvidia-smi) or ISO `2023-10-27T13:41:07`.
#[allow(clippy::many_single_char_names)]
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split(['/', '-']).map(|x| x.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.trim_end_matches('Z').split(':');
    let h: f64 = t.next()?.parse().ok()?;
    let mi: f64 = t.next()?.parse().ok()?;
    let se: f64 = t.next().unwrap_or("0").parse().ok()?;
    Some(days_from_civil(y, mo, da) as f64 * 86400.0 + h * 3600.0 + mi * 60.0 + se)
}

fn number(v: &str) -> Option<f64> {
    let t = v.trim();
    let t = t.split_whitespace().next()?;
    if t.starts_with("[N/A") || t == "N/A" || t.contains("Not") {
        return None;
    }
    t.parse().ok()
}

fn mib(v: &str) -> Option<u64> {
    let t = v.trim();
    if t.ends_with("GiB") {
        number(t).map(|g| (g * 1024.0 * 1024.0 * 1024.0) as u64)
    } else {
        number(t).map(|m| (m * 1024.0 * 1024.0) as u64)
    }
}

/// Parses the CSV; the header names the columns (`name [unit]`).
pub fn parse(text: &str) -> Result<Vec<Sample>, LogError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let Some((_, header)) = lines.next() else {
        return Err(LogError("empty log".into()));
    };
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.split('[').next().unwrap_or(c).trim().to_ascii_lowercase())
        .collect();
    let find = |names: &[&str]| cols.iter().position(|c| names.contains(&c.as_str()));
    let (i_time, i_index, i_uuid) = (
        find(&["timestamp"]),
        find(&["index"]),
        find(&["uuid", "gpu_uuid"]),
    );
    let (i_used, i_free, i_total) = (
        find(&["memory.used"]),
        find(&["memory.free"]),
        find(&["memory.total"]),
    );
    let i_util = find(&["utilization.gpu"]);
    let i_temp = find(&["temperature.gpu"]);
    let i_thr = find(&[
        "clocks_throttle_reasons.active",
        "clocks_event_reasons.active",
        "clocks_throttle_reasons.active",
    ]);
    if i_used.is_none() && i_util.is_none() {
        return Err(LogError(format!(
            "no memory.used or utilization.gpu column in the header: `{header}`"
        )));
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < cols.len() {
            continue;
        }
        let get = |i: Option<usize>| i.and_then(|i| f.get(i)).map(|s| s.trim());
        let used = get(i_used).and_then(mib);
        let total = get(i_total)
            .and_then(mib)
            .or_else(|| Some(used? + get(i_free).and_then(mib)?));
        out.push(Sample {
            line: n as u64 + 1,
            time: get(i_time).and_then(parse_time),
            timestamp: get(i_time).unwrap_or_default().to_owned(),
            gpu: get(i_index).or(get(i_uuid)).unwrap_or("0").to_owned(),
            used,
            total,
            util: get(i_util).and_then(number),
            temp: get(i_temp).and_then(number),
            throttle: get(i_thr)
                .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()),
        });
    }
    Ok(out)
}

fn clock(ts: &str) -> &str {
    ts.split_once([' ', 'T'])
        .map_or(ts, |(_, t)| t.split('.').next().unwrap_or(t))
}

/// Decodes the throttle-reason bit mask nvidia-smi reports.
pub fn throttle_reasons(mask: u64) -> Vec<&'static str> {
    let table: [(u64, &str); 8] = [
        (0x4, "software power cap"),
        (0x8, "hardware slowdown"),
        (0x20, "software thermal slowdown"),
        (0x40, "hardware thermal slowdown"),
        (0x80, "hardware power brake"),
        (0x100, "display clock setting"),
        (0x2, "applications clocks setting"),
        (0x10, "sync boost"),
    ];
    table
        .iter()
        .filter(|(b, _)| mask & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Runs of consecutive samples (per GPU) for which `cond` holds: (first, last).
fn runs<'a>(
    samples: &[&'a Sample],
    cond: impl Fn(&Sample) -> bool,
) -> Vec<(&'a Sample, &'a Sample)> {
    let mut out = Vec::new();
    let mut start: Option<&Sample> = None;
    let mut last: Option<&Sample> = None;
    for s in samples {
        if cond(s) {
            start.get_or_insert(s);
            last = Some(s);
        } else if let (Some(a), Some(b)) = (start.take(), last.take()) {
            out.push((a, b));
        }
    }
    if let (Some(a), Some(b)) = (start, last) {
        out.push((a, b));
    }
    out
}

fn span(a: &Sample, b: &Sample) -> f64 {
    match (a.time, b.time) {
        (Some(x), Some(y)) => (y - x + 1.0).max(1.0),
        _ => (b.line - a.line + 1) as f64,
    }
}

/// The alerts over a parsed log.
pub fn analyze(path: &str, samples: &[Sample], th: &Thresholds) -> Vec<Finding> {
    let mut by_gpu: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        by_gpu.entry(s.gpu.as_str()).or_default().push(s);
    }
    let mut out = Vec::new();
    for (gpu, list) in by_gpu {
        let busy_memory =
            |s: &Sample| matches!((s.used, s.total), (Some(u), Some(t)) if t > 0 && u * 2 > t);
        for (a, b) in runs(&list, |s| s.util == Some(0.0) && busy_memory(s)) {
            let secs = span(a, b);
            if secs < th.stall_seconds {
                continue;
            }
            out.push(
                Finding::new(
                    &GPU_STALL,
                    Location::line(path, a.line, 1),
                    format!(
                        "GPU {gpu} idle (0% utilisation) for {secs:.0} s from {} to {} with {} allocated",
                        clock(&a.timestamp),
                        clock(&b.timestamp),
                        Bytes(a.used.unwrap_or(0))
                    ),
                )
                .with_help("py-spy dump --pid PID shows what the process waits on: an input pipeline (raise num_workers, pack the data) or a collective (everybyte triage the logs for NCCL timeouts)")
                .with_data("seconds", secs)
                .with_data("gpu", gpu),
            );
        }
        let full = |s: &Sample| matches!((s.used, s.total), (Some(u), Some(t)) if t > 0 && u as f64 > th.memory_fraction * t as f64);
        for (a, b) in runs(&list, full) {
            let peak = list
                .iter()
                .filter(|s| s.line >= a.line && s.line <= b.line)
                .filter_map(|s| s.used)
                .max()
                .unwrap_or(0);
            let total = a.total.unwrap_or(1);
            out.push(
                Finding::new(
                    &GPU_MEMORY_FULL,
                    Location::line(path, a.line, 1),
                    format!(
                        "GPU {gpu} memory at {:.1}% ({} of {}) for {:.0} s from {}",
                        peak as f64 * 100.0 / total as f64,
                        Bytes(peak),
                        Bytes(total),
                        span(a, b),
                        clock(&a.timestamp)
                    ),
                )
                .with_help("budget the run (everybyte mem budget) and keep 15% free: smaller batch, activation checkpointing, mixed precision")
                .with_data("peak_bytes", peak)
                .with_data("total_bytes", total),
            );
        }
        let hot = |s: &Sample| {
            s.throttle.is_some_and(|m| m & !0x1 != 0) || s.temp.is_some_and(|t| t >= th.hot_celsius)
        };
        for (a, b) in runs(&list, hot) {
            let why: Vec<&str> = a.throttle.map(throttle_reasons).unwrap_or_default();
            let why = if why.is_empty() {
                "temperature".to_owned()
            } else {
                why.join(", ")
            };
            let temp = a.temp.map(|t| format!(", {t:.0} °C")).unwrap_or_default();
            out.push(
                Finding::new(
                    &GPU_THROTTLING,
                    Location::line(path, a.line, 1),
                    format!("GPU {gpu} throttled ({why}) for {:.0} s from {}{temp}", span(a, b), clock(&a.timestamp)),
                )
                .with_help("nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER; check cooling, airflow and power limits"),
            );
        }
    }
    out.sort_by_key(|f| f.location.line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_full_and_throttle() {
        let mut log = String::from(
            "timestamp, index, memory.used [MiB], memory.total [MiB], utilization.gpu [%], temperature.gpu, clocks_throttle_reasons.active\n",
        );
        for s in 0..60 {
            let util = if (10..40).contains(&s) { 0 } else { 90 };
            let thr = if s >= 50 {
                "0x0000000000000040"
            } else {
                "0x0000000000000000"
            };
            log.push_str(&format!(
                "2024/01/02 03:04:{s:02}.100, 0, 23000 MiB, 24000 MiB, {util} %, {}, {thr}\n",
                if s >= 50 { 88 } else { 70 }
            ));
        }
        let samples = parse(&log).unwrap();
        assert_eq!(samples.len(), 60);
        let f = analyze("gpu.csv", &samples, &Thresholds::default());
        let codes: Vec<&str> = f.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["MEM002", "MEM001", "MEM003"]);
        assert!(
            f[1].message
                .contains("idle (0% utilisation) for 30 s from 03:04:10 to 03:04:39"),
            "{}",
            f[1].message
        );
        assert!(
            f[2].message.contains("hardware thermal slowdown"),
            "{}",
            f[2].message
        );
    }

    #[test]
    fn bad_logs_are_errors() {
        assert!(parse("").is_err());
        assert!(parse("a,b\n1,2\n").is_err());
        let t = parse_time("2023/10/27 13:41:07.121").unwrap() % 86400.0;
        assert!(
            (t - (13.0 * 3600.0 + 41.0 * 60.0 + 7.121)).abs() < 1e-6,
            "{t}"
        );
    }
}
