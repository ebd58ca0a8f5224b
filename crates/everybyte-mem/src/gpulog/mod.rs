//! `gpu analyze`: alerts over a log written by `nvidia-smi --query-gpu=… --format=csv -l 1`
//! (any column order; unit suffixes such as ` MiB` and ` %` in the header and the values).
//!
//! The parse produces [`Sample`]s; a [`GpuLog`] groups them per GPU with the thresholds, and the
//! rules of [`crate::rules`] judge it.

mod monitor;
mod time;

use std::collections::BTreeMap;

use everybyte_core::Finding;
use everybyte_core::rule::Check;

pub use crate::error::LogError;
pub use monitor::Monitor;
pub use time::{format_time, parse_time};

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
        return Err(LogError::Empty);
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
        return Err(LogError::NoColumns {
            header: header.to_owned(),
        });
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

pub(crate) fn clock(ts: &str) -> &str {
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
pub(crate) fn runs<'a>(
    samples: &'a [Sample],
    cond: impl Fn(&Sample) -> bool,
) -> Vec<(&'a Sample, &'a Sample)> {
    let mut out = Vec::new();
    let mut start: Option<&'a Sample> = None;
    let mut last: Option<&'a Sample> = None;
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

pub(crate) fn span(a: &Sample, b: &Sample) -> f64 {
    match (a.time, b.time) {
        (Some(x), Some(y)) => (y - x + 1.0).max(1.0),
        _ => (b.line - a.line + 1) as f64,
    }
}

/// Memory used and utilisation over time, per GPU, for the HTML report.
pub fn figures(path: &str, samples: &[Sample]) -> Vec<everybyte_core::chart::Figure> {
    use everybyte_core::chart::{Axis, Figure, Mark, Scale, Series, format_value, lines};
    let t0 = samples
        .iter()
        .filter_map(|s| s.time)
        .fold(f64::INFINITY, f64::min);
    let x = |s: &Sample| s.time.map_or(s.line as f64, |t| t - t0);
    let x_axis = if t0.is_finite() {
        Axis {
            label: "time since the first sample",
            scale: Scale::Seconds,
        }
    } else {
        Axis {
            label: "line of the log",
            scale: Scale::Count,
        }
    };
    let mut by_gpu: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        by_gpu.entry(s.gpu.as_str()).or_default().push(s);
    }
    let mem: Vec<Series> = by_gpu
        .iter()
        .map(|(g, list)| Series {
            name: format!("GPU {g}"),
            points: list
                .iter()
                .filter_map(|s| Some((x(s), s.used? as f64)))
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
    let capacity = samples.iter().filter_map(|s| s.total).max();
    let marks: Vec<Mark> = capacity
        .map(|c| {
            let c = c as f64;
            Mark::Y(c, format!("capacity {}", format_value(c, Scale::Bytes)))
        })
        .into_iter()
        .collect();
    let memory_title = format!("{path}: GPU memory used");
    let util_title = format!("{path}: GPU utilisation");
    vec![
        Figure {
            svg: lines(
                &memory_title,
                &x_axis,
                &Axis {
                    label: "GPU memory used",
                    scale: Scale::Bytes,
                },
                &mem,
                &marks,
            ),
            title: memory_title,
            path: Some(path.to_owned()),
        },
        Figure {
            svg: lines(
                &util_title,
                &x_axis,
                &Axis {
                    label: "GPU utilisation",
                    scale: Scale::Percent,
                },
                &util,
                &[],
            ),
            title: util_title,
            path: Some(path.to_owned()),
        },
    ]
}

/// "for 30 s from 03:04:10" over a finished run; "since 03:04:10" while it lasts.
pub(crate) fn period(a: &Sample, b: Option<&Sample>) -> String {
    match b {
        Some(b) => format!("for {:.0} s from {}", span(a, b), clock(&a.timestamp)),
        None => format!("since {}", clock(&a.timestamp)),
    }
}

/// A parsed log as the rules judge it: each GPU's samples in log order, and the thresholds.
#[derive(Debug, Clone, Default)]
pub struct GpuLog {
    /// The log's name in findings.
    pub path: String,
    pub thresholds: Thresholds,
    /// The samples of each GPU (by index or UUID), in log order.
    pub gpus: BTreeMap<String, Vec<Sample>>,
}

impl GpuLog {
    pub fn new(path: &str, samples: Vec<Sample>, thresholds: Thresholds) -> Self {
        let mut gpus: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
        for s in samples {
            gpus.entry(s.gpu.clone()).or_default().push(s);
        }
        GpuLog {
            path: path.to_owned(),
            thresholds,
            gpus,
        }
    }

    /// The alerts of every rule, in line order.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        Check::run_all(crate::rules::RULES, self, &mut out);
        out.sort_by_key(|f| f.location.line);
        out
    }
}

/// The alerts over a parsed log.
/// Why a GPU log file cannot be analysed.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    #[error("{}: cannot read", .path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not an nvidia-smi CSV log", .path.display())]
    Parse {
        path: std::path::PathBuf,
        source: LogError,
    },
}

/// Reads and analyses an `nvidia-smi` CSV log file; findings name it as `path` shows it.
pub fn analyze_file(path: &std::path::Path, th: &Thresholds) -> Result<Vec<Finding>, LogFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| LogFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let samples = parse(&text).map_err(|source| LogFileError::Parse {
        path: path.to_owned(),
        source,
    })?;
    Ok(analyze(&path.display().to_string(), &samples, th))
}

pub fn analyze(path: &str, samples: &[Sample], th: &Thresholds) -> Vec<Finding> {
    GpuLog::new(path, samples.to_vec(), th.clone()).findings()
}

#[cfg(test)]
mod tests;
