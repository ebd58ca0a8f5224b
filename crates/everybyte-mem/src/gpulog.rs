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

fn busy_memory(s: &Sample) -> bool {
    matches!((s.used, s.total), (Some(u), Some(t)) if t > 0 && u * 2 > t)
}

/// 0% utilisation while more than half the memory is held.
fn stalled(s: &Sample) -> bool {
    s.util == Some(0.0) && busy_memory(s)
}

fn full(s: &Sample, th: &Thresholds) -> bool {
    matches!((s.used, s.total), (Some(u), Some(t)) if t > 0 && u as f64 > th.memory_fraction * t as f64)
}

fn hot(s: &Sample, th: &Thresholds) -> bool {
    s.throttle.is_some_and(|m| m & !0x1 != 0) || s.temp.is_some_and(|t| t >= th.hot_celsius)
}

/// "for 30 s from 03:04:10" over a finished run; "since 03:04:10" while it lasts.
fn period(a: &Sample, b: Option<&Sample>) -> String {
    match b {
        Some(b) => format!("for {:.0} s from {}", span(a, b), clock(&a.timestamp)),
        None => format!("since {}", clock(&a.timestamp)),
    }
}

fn stall_finding(path: &str, gpu: &str, a: &Sample, b: &Sample) -> Finding {
    let secs = span(a, b);
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
    .with_data("gpu", gpu)
}

fn full_finding(path: &str, gpu: &str, a: &Sample, b: Option<&Sample>, peak: u64) -> Finding {
    let total = a.total.unwrap_or(1);
    Finding::new(
        &GPU_MEMORY_FULL,
        Location::line(path, a.line, 1),
        format!(
            "GPU {gpu} memory at {:.1}% ({} of {}) {}",
            peak as f64 * 100.0 / total as f64,
            Bytes(peak),
            Bytes(total),
            period(a, b)
        ),
    )
    .with_help("budget the run (everybyte mem budget) and keep 15% free: smaller batch, activation checkpointing, mixed precision")
    .with_data("peak_bytes", peak)
    .with_data("total_bytes", total)
}

fn throttle_finding(path: &str, gpu: &str, a: &Sample, b: Option<&Sample>) -> Finding {
    let why: Vec<&str> = a.throttle.map(throttle_reasons).unwrap_or_default();
    let why = if why.is_empty() {
        "temperature".to_owned()
    } else {
        why.join(", ")
    };
    let temp = a.temp.map(|t| format!(", {t:.0} °C")).unwrap_or_default();
    Finding::new(
        &GPU_THROTTLING,
        Location::line(path, a.line, 1),
        format!("GPU {gpu} throttled ({why}) {}{temp}", period(a, b)),
    )
    .with_help(
        "nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER; check cooling, airflow and power limits",
    )
}

/// Memory used and utilisation over time, per GPU, for the HTML report.
pub fn figures(path: &str, samples: &[Sample]) -> Vec<everybyte_core::chart::Figure> {
    use everybyte_core::chart::{Figure, Mark, Series, lines};
    let t0 = samples
        .iter()
        .filter_map(|s| s.time)
        .fold(f64::INFINITY, f64::min);
    let x = |s: &Sample| s.time.map_or(s.line as f64, |t| t - t0);
    let x_label = if t0.is_finite() { "seconds" } else { "sample" };
    let mut by_gpu: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        by_gpu.entry(s.gpu.as_str()).or_default().push(s);
    }
    let gib = 1024.0 * 1024.0 * 1024.0;
    let mem: Vec<Series> = by_gpu
        .iter()
        .map(|(g, list)| Series {
            name: format!("GPU {g} used"),
            points: list
                .iter()
                .filter_map(|s| Some((x(s), s.used? as f64 / gib)))
                .collect(),
        })
        .collect();
    let util: Vec<Series> = by_gpu
        .iter()
        .map(|(g, list)| Series {
            name: format!("GPU {g}"),
            points: list.iter().filter_map(|s| Some((x(s), s.util?))).collect(),
        })
        .collect();
    let capacity = samples
        .iter()
        .filter_map(|s| s.total)
        .max()
        .map(|t| t as f64 / gib);
    let marks: Vec<Mark> = capacity
        .map(|c| Mark::Y(c, format!("capacity {c:.1} GiB")))
        .into_iter()
        .collect();
    vec![
        Figure {
            title: format!("{path}: GPU memory used"),
            svg: lines(
                &format!("{path}: GPU memory used"),
                x_label,
                "GiB",
                &mem,
                &marks,
            ),
        },
        Figure {
            title: format!("{path}: GPU utilisation"),
            svg: lines(
                &format!("{path}: GPU utilisation"),
                x_label,
                "utilisation %",
                &util,
                &[],
            ),
        },
    ]
}

/// The alerts over a parsed log.
pub fn analyze(path: &str, samples: &[Sample], th: &Thresholds) -> Vec<Finding> {
    let mut by_gpu: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        by_gpu.entry(s.gpu.as_str()).or_default().push(s);
    }
    let mut out = Vec::new();
    for (gpu, list) in by_gpu {
        for (a, b) in runs(&list, stalled) {
            if span(a, b) >= th.stall_seconds {
                out.push(stall_finding(path, gpu, a, b));
            }
        }
        for (a, b) in runs(&list, |s| full(s, th)) {
            let peak = list
                .iter()
                .filter(|s| s.line >= a.line && s.line <= b.line)
                .filter_map(|s| s.used)
                .max()
                .unwrap_or(0);
            out.push(full_finding(path, gpu, a, b.into(), peak));
        }
        for (a, b) in runs(&list, |s| hot(s, th)) {
            out.push(throttle_finding(path, gpu, a, Some(b)));
        }
    }
    out.sort_by_key(|f| f.location.line);
    out
}

/// The same alerts, raised live as samples arrive (`gpu watch`): each condition alerts once
/// when it starts (a stall once it has lasted the threshold) and re-arms when it ends.
#[derive(Debug, Default)]
pub struct Monitor {
    th: Thresholds,
    gpus: BTreeMap<String, Runs>,
}

#[derive(Debug, Default)]
struct Runs {
    stall: Option<(Sample, bool)>,
    full: Option<Sample>,
    hot: Option<Sample>,
}

impl Monitor {
    pub fn new(th: Thresholds) -> Self {
        Monitor {
            th,
            gpus: BTreeMap::new(),
        }
    }

    /// Feeds one sample; returns the alerts it raises.
    pub fn push(&mut self, path: &str, s: &Sample) -> Vec<Finding> {
        let th = &self.th;
        let runs = self.gpus.entry(s.gpu.clone()).or_default();
        let mut out = Vec::new();
        if stalled(s) {
            let (start, reported) = runs.stall.get_or_insert_with(|| (s.clone(), false));
            if !*reported && span(start, s) >= th.stall_seconds {
                out.push(stall_finding(path, &s.gpu, start, s));
                *reported = true;
            }
        } else {
            runs.stall = None;
        }
        if full(s, th) {
            if runs.full.is_none() {
                out.push(full_finding(path, &s.gpu, s, None, s.used.unwrap_or(0)));
                runs.full = Some(s.clone());
            }
        } else {
            runs.full = None;
        }
        if hot(s, th) {
            if runs.hot.is_none() {
                out.push(throttle_finding(path, &s.gpu, s, None));
                runs.hot = Some(s.clone());
            }
        } else {
            runs.hot = None;
        }
        out
    }
}

/// Seconds since the epoch as nvidia-smi writes a timestamp (`2024/01/02 03:04:05.123`, UTC).
#[allow(clippy::many_single_char_names)] // the civil-date algorithm's own names
pub fn format_time(epoch: f64) -> String {
    let secs = epoch.max(0.0);
    let days = (secs / 86400.0).floor() as i64;
    let rem = secs - days as f64 * 86400.0;
    // Civil date from days since 1970-01-01 (the inverse of `days_from_civil`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let ms = (rem * 1000.0).round() as i64;
    let (h, mi, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{y:04}/{m:02}/{d:02} {h:02}:{mi:02}:{s:02}.{ms:03}")
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
    fn live_alerts_match_the_log_analysis() {
        let th = Thresholds::default();
        let mut m = Monitor::new(th.clone());
        let mut raised = Vec::new();
        let base = parse_time("2024/01/02 03:04:00").unwrap();
        for i in 0..60u32 {
            let s = Sample {
                line: u64::from(i) + 1,
                time: Some(base + f64::from(i)),
                timestamp: format_time(base + f64::from(i)),
                gpu: "0".into(),
                used: Some(23_000 << 20),
                total: Some(24_000 << 20),
                util: Some(if (10..40).contains(&i) { 0.0 } else { 90.0 }),
                temp: Some(70.0),
                throttle: Some(0),
            };
            for f in m.push("nvml", &s) {
                raised.push((i, f.code.clone(), f.message.clone()));
            }
        }
        // Memory alerts once at the start; the stall once it has lasted 20 s.
        assert_eq!(raised.len(), 2, "{raised:?}");
        assert_eq!((raised[0].0, raised[0].1.as_str()), (0, "MEM002"));
        assert!(raised[0].2.contains("since 03:04:00"), "{}", raised[0].2);
        assert_eq!((raised[1].0, raised[1].1.as_str()), (29, "MEM001"));
        assert!(
            raised[1].2.contains("for 20 s from 03:04:10"),
            "{}",
            raised[1].2
        );
    }

    #[test]
    fn timestamps_round_trip() {
        for t in [
            "2024/01/02 03:04:05.123",
            "1999/12/31 23:59:59.000",
            "2028/02/29 00:00:00.500",
        ] {
            assert_eq!(format_time(parse_time(t).unwrap()), t);
        }
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
