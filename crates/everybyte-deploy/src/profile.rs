//! `everybyte profile`: runs a workload and records, for its whole process tree, resident and
//! proportional memory over time, the peak and when it happened, the steady state, the cold
//! start (until a URL answers 200 or a log line appears), CPU time, exit status; each second,
//! its CPU and storage reads, the disks' and GPUs' utilisation, and from them whether it is
//! input-bound. `--pid` attaches to a process that already runs instead.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::Error;

mod activity;
mod attach;
mod command;
pub use activity::{Bound, Disk, HostCpu, Second, Verdict};
pub use command::{ProfileArgs, exit_code, summary, write_record};

/// One sample of the process tree.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    pub t: f64,
    pub rss_bytes: u64,
    pub pss_bytes: u64,
    pub processes: u32,
    /// GPU memory held by the tree's processes (NVML), when a GPU driver is present.
    #[serde(default)]
    pub gpu_bytes: u64,
}

/// What `profile -o FILE` writes and `deploy lint/patch --profile FILE` reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub command: Vec<String>,
    pub wall_seconds: f64,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub user_cpu_seconds: f64,
    pub system_cpu_seconds: f64,
    /// CPU time the profiler itself used, sampling (its overhead).
    #[serde(default)]
    pub profiler_cpu_seconds: f64,
    pub peak_rss_bytes: u64,
    pub peak_pss_bytes: u64,
    /// The most GPU memory the tree held at once; absent without a GPU driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_gpu_bytes: Option<u64>,
    /// Seconds after start at which the PSS (RSS where PSS is unavailable) peaked.
    pub peak_at_seconds: f64,
    /// The median memory of the last half of the run (or of the time after readiness).
    pub steady_bytes: u64,
    pub cold_start_seconds: Option<f64>,
    pub sample_interval_seconds: f64,
    pub samples: Vec<Sample>,
    /// With `--syscalls`: per system call, as `strace -c -f -w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscalls: Option<Vec<crate::syscalls::SyscallStat>>,
    /// With `--syscalls`: counted in the kernel (BPF) or through ptrace, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscall_counter: Option<crate::syscalls::Counted>,
    /// Each second: CPU, storage reads, disks, GPU utilisation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seconds: Vec<Second>,
    /// Input-bound, compute-bound or neither, with the seconds that prove it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// With `--pid`: the process observed, and whether it still ran when observation ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached: Option<Attached>,
}

/// A process `profile --pid` attached to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attached {
    pub pid: u32,
    /// It was left running (the duration ended or the profiler was interrupted).
    pub still_running: bool,
}

impl Record {
    /// The peak a memory limit must cover: PSS (shared pages counted once) where measured.
    pub fn peak(&self) -> u64 {
        if self.peak_pss_bytes > 0 {
            self.peak_pss_bytes
        } else {
            self.peak_rss_bytes
        }
    }
}

pub enum Ready {
    Url(String),
    Log(regex::Regex),
}

pub struct ProfileOptions<'a> {
    pub command: &'a [String],
    /// Attach to this running process (and its tree) instead of running `command`.
    pub pid: Option<u32>,
    pub interval: Duration,
    pub ready: Option<Ready>,
    /// Stop the workload (SIGTERM) this long after it became ready; `None`: wait for it.
    pub after_ready: Option<Duration>,
    /// Stop the workload (SIGTERM) after this long; attached, detach after this long.
    pub timeout: Option<Duration>,
    /// Count system calls through ptrace (all threads and children).
    pub syscalls: bool,
    /// How `syscalls` are counted.
    pub syscall_counter: crate::syscalls::Method,
}

fn children(pid: u32) -> Vec<u32> {
    tree(pid).into_iter().map(|(p, _, _)| p).collect()
}

/// The state (`R`, `S`, `D`…) and parent of one process, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?.chars().next()?;
    Some((state, rest.next()?.parse().ok()?))
}

/// The process `pid` and its descendants, each with its parent and state (`R`, `S`, `D`…),
/// the root first.
/// Walks `/proc/PID/task/TID/children` from the root, reading only the tree; where the kernel
/// lacks those files, scans every process's parent.
fn tree(pid: u32) -> Vec<(u32, u32, char)> {
    if std::path::Path::new(&format!("/proc/{pid}/task/{pid}/children")).exists() {
        let root = stat(pid).unwrap_or(('?', 0));
        let mut out = vec![(pid, root.1, root.0)];
        let mut i = 0;
        while i < out.len() {
            let p = out[i].0;
            if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
                for t in tasks.filter_map(Result::ok) {
                    let mut path = t.path();
                    path.push("children");
                    let Ok(text) = std::fs::read_to_string(&path) else {
                        continue;
                    };
                    for c in text
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok())
                    {
                        if let Some((state, _)) = stat(c)
                            && !out.iter().any(|(q, _, _)| *q == c)
                        {
                            out.push((c, p, state));
                        }
                    }
                }
            }
            i += 1;
        }
        return out;
    }
    let mut by_parent: std::collections::HashMap<u32, Vec<(u32, u32, char)>> =
        std::collections::HashMap::new();
    let mut root_state = ('?', 0);
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.filter_map(Result::ok) {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Some((state, parent)) = stat(p) else {
                continue;
            };
            if p == pid {
                root_state = (state, parent);
            }
            by_parent
                .entry(parent)
                .or_default()
                .push((p, parent, state));
        }
    }
    let mut out = vec![(pid, root_state.1, root_state.0)];
    let mut i = 0;
    while i < out.len() {
        if let Some(k) = by_parent.get(&out[i].0) {
            out.extend(k);
        }
        i += 1;
    }
    out
}

/// (RSS, PSS) of one process in bytes, from `smaps_rollup` (RSS from `statm` where absent).
fn memory(pid: u32) -> (u64, u64) {
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
        let mut rss = 0;
        let mut pss = 0;
        for l in s.lines() {
            let kb = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
                    * 1024
            };
            if l.starts_with("Rss:") {
                rss = kb(l);
            } else if l.starts_with("Pss:") {
                pss = kb(l);
            }
        }
        return (rss, pss);
    }
    let rss = std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 4096;
    (rss, 0)
}

/// CPU seconds this process used (utime + stime).
fn own_cpu() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let r: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            Some((r.get(11)?.parse::<f64>().ok()? + r.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

/// (user, system) CPU seconds of the reaped children, from `/proc/self/stat` (cutime, cstime).
fn children_cpu() -> (f64, f64) {
    let ticks = 100.0; // USER_HZ on Linux
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let r: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            Some((
                r.get(13)?.parse::<f64>().ok()? / ticks,
                r.get(14)?.parse::<f64>().ok()? / ticks,
            ))
        })
        .unwrap_or((0.0, 0.0))
}

fn url_ready(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return false;
    }
    let mut head = [0u8; 16];
    let n = s.read(&mut head).unwrap_or(0);
    head[..n].starts_with(b"HTTP/1.1 200") || head[..n].starts_with(b"HTTP/1.0 200")
}

/// Seconds a workload gets between SIGTERM and SIGKILL, as Kubernetes' default grace period.
const GRACE: Duration = Duration::from_secs(30);

/// Stops the workload the way Kubernetes stops a pod: SIGTERM when `now` is first true, then
/// SIGKILL to the whole tree if it is still there after the grace period. Returns when the
/// SIGTERM was sent.
fn stop(pid: u32, now: bool, sent: Option<Instant>) -> Option<Instant> {
    match sent {
        None if now => {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            Some(Instant::now())
        }
        Some(t) if t.elapsed() >= GRACE => {
            for p in children(pid) {
                let _ = Command::new("kill")
                    .args(["-KILL", &p.to_string()])
                    .status();
            }
            Some(Instant::now())
        }
        other => other,
    }
}

/// Samples a process tree: memory every interval, activity every second.
struct Sampler {
    start: Instant,
    nvml: Option<everybyte_mem::nvml::Nvml>,
    samples: Vec<Sample>,
    activity: activity::Activity,
}

/// What a sampler observed.
pub(crate) struct Observed {
    samples: Vec<Sample>,
    activity: activity::Activity,
}

impl Sampler {
    fn finish(self) -> Observed {
        Observed {
            samples: self.samples,
            activity: self.activity,
        }
    }

    fn new(start: Instant) -> Self {
        Sampler {
            start,
            // No GPU driver is not an error: GPU memory and utilisation are then not reported.
            nvml: everybyte_mem::nvml::Nvml::load().ok(),
            samples: Vec::new(),
            activity: activity::Activity::new(),
        }
    }

    fn tick(&mut self, root: u32) {
        let t = self.start.elapsed().as_secs_f64();
        let tree = tree(root);
        self.activity
            .note_disk_wait(tree.iter().filter(|(_, _, state)| *state == 'D').count());
        let pids: Vec<u32> = tree.iter().map(|(p, _, _)| *p).collect();
        let readings = self
            .nvml
            .as_ref()
            .and_then(|n| n.read_all().ok())
            .unwrap_or_default();
        let (mut rss, mut pss, mut gpu_bytes) = (0, 0, 0);
        let mut used = Vec::new();
        for p in &pids {
            let (r, s) = memory(*p);
            rss += r;
            pss += s;
        }
        for r in &readings {
            let held: u64 = r
                .processes
                .iter()
                .flatten()
                .filter(|(p, _)| pids.contains(p))
                .map(|(_, b)| b)
                .sum();
            if held > 0 {
                gpu_bytes += held;
                used.extend(r.util_gpu);
            }
        }
        self.samples.push(Sample {
            t,
            rss_bytes: rss,
            pss_bytes: pss,
            processes: pids.len() as u32,
            gpu_bytes,
        });
        if self.activity.due(t) {
            let util = (!used.is_empty()).then(|| {
                used.iter().map(|&u| f64::from(u) / 100.0).sum::<f64>() / used.len() as f64
            });
            let parents: Vec<(u32, u32)> = tree.iter().map(|(p, pp, _)| (*p, *pp)).collect();
            self.activity.read(t, &parents, util);
        }
    }
}

/// With `--syscalls`: the workload runs under ptrace while a thread samples its memory and
/// readiness and stops it when asked.
fn run_traced(opts: &ProfileOptions<'_>) -> Result<Record, Error> {
    use std::sync::atomic::{AtomicBool, Ordering};
    if matches!(opts.ready, Some(Ready::Log(_))) {
        return Err(Error::SyscallsWithReadyLog);
    }
    let start = Instant::now();
    let ready_at: Arc<Mutex<Option<f64>>> = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let mut watcher = None;
    let url = match &opts.ready {
        Some(Ready::Url(u)) => Some(u.clone()),
        _ => None,
    };
    let (interval, after_ready, timeout) = (opts.interval, opts.after_ready, opts.timeout);
    let method = opts.syscall_counter;
    let trace = crate::syscalls::trace(
        opts.command,
        &mut |pid| {
            let (ready_at, done, url) = (Arc::clone(&ready_at), Arc::clone(&done), url.clone());
            watcher = Some(std::thread::spawn(move || {
                // The sampler lives on the thread that samples (NVML's handle stays on one thread).
                let mut sampler = Sampler::new(start);
                let mut stopped: Option<Instant> = None;
                while !done.load(Ordering::Relaxed) {
                    sampler.tick(pid);
                    if let Some(u) = &url {
                        let mut r = everybyte_core::par::lock(&ready_at);
                        if r.is_none() && url_ready(u) {
                            *r = Some(start.elapsed().as_secs_f64());
                        }
                    }
                    let ready = *everybyte_core::par::lock(&ready_at);
                    let over = timeout.is_some_and(|d| start.elapsed() >= d);
                    let after = matches!((ready, after_ready),
                    (Some(r), Some(a)) if start.elapsed().as_secs_f64() >= r + a.as_secs_f64());
                    stopped = stop(pid, over || after, stopped);
                    // Woken early when the workload ends, so that its end is not padded by
                    // up to one interval.
                    std::thread::park_timeout(interval);
                }
                sampler.finish()
            }));
        },
        method,
    );
    done.store(true, Ordering::Relaxed);
    if let Some(w) = &watcher {
        w.thread().unpark();
    }
    let sampler = watcher.map(std::thread::JoinHandle::join);
    let trace = trace?;
    let sampler = match sampler {
        Some(Ok(s)) => s,
        _ => Sampler::new(start).finish(),
    };
    let cold = *everybyte_core::par::lock(&ready_at);
    let (user, sys) = children_cpu();
    let mut r = summarise(
        opts,
        sampler,
        cold,
        trace.wall.as_secs_f64(),
        (trace.exit_code, trace.signal),
        (user, sys),
    );
    r.syscalls = Some(trace.stats);
    r.syscall_counter = Some(trace.counter);
    Ok(r)
}

fn summarise(
    opts: &ProfileOptions<'_>,
    observed: Observed,
    cold: Option<f64>,
    wall: f64,
    (exit_code, signal): (Option<i32>, Option<i32>),
    (user, sys): (f64, f64),
) -> Record {
    let Observed { samples, activity } = observed;
    let key = |s: &Sample| {
        if s.pss_bytes > 0 {
            s.pss_bytes
        } else {
            s.rss_bytes
        }
    };
    let peak = samples.iter().max_by_key(|s| key(s)).copied();
    let tail_from = cold.unwrap_or(wall / 2.0);
    let mut tail: Vec<u64> = samples
        .iter()
        .filter(|s| s.t >= tail_from)
        .map(key)
        .collect();
    tail.sort_unstable();
    let mut seconds = activity.seconds;
    // A disk nobody used during the run is left out of every second.
    let quiet: Vec<String> = seconds
        .first()
        .map(|s| {
            s.disks
                .iter()
                .filter(|d| {
                    seconds.iter().all(|x| {
                        x.disks.iter().all(|y| {
                            y.name != d.name
                                || (y.util == 0.0
                                    && y.read_bytes_per_second == 0.0
                                    && y.write_bytes_per_second == 0.0)
                        })
                    })
                })
                .map(|d| d.name.clone())
                .collect()
        })
        .unwrap_or_default();
    for s in &mut seconds {
        s.disks.retain(|d| !quiet.contains(&d.name));
    }
    Record {
        command: opts.command.to_vec(),
        wall_seconds: wall,
        exit_code,
        signal,
        user_cpu_seconds: user,
        system_cpu_seconds: sys,
        profiler_cpu_seconds: own_cpu(),
        peak_rss_bytes: samples.iter().map(|s| s.rss_bytes).max().unwrap_or(0),
        peak_pss_bytes: samples.iter().map(|s| s.pss_bytes).max().unwrap_or(0),
        peak_gpu_bytes: Some(samples.iter().map(|s| s.gpu_bytes).max().unwrap_or(0))
            .filter(|&g| g > 0),
        peak_at_seconds: peak.map_or(0.0, |s| s.t),
        steady_bytes: tail.get(tail.len() / 2).copied().unwrap_or(0),
        cold_start_seconds: cold,
        sample_interval_seconds: opts.interval.as_secs_f64(),
        samples,
        syscalls: None,
        syscall_counter: None,
        verdict: Some(activity::verdict(&seconds)),
        seconds,
        attached: None,
    }
}

#[allow(clippy::too_many_lines)] // start, sample until exit, summarise: one loop
/// Runs the workload (or attaches to it, with `pid`) and profiles it. Its standard output and
/// error pass through.
pub fn run(opts: &ProfileOptions<'_>) -> Result<Record, Error> {
    if let Some(pid) = opts.pid {
        return attach::run(opts, pid);
    }
    let cmd = opts.command;
    if opts.syscalls && !cmd.is_empty() {
        return run_traced(opts);
    }
    if cmd.is_empty() {
        return Err(Error::NoCommand);
    }
    if let Some(Ready::Url(u)) = &opts.ready
        && !u.starts_with("http://")
    {
        return Err(Error::ReadyUrl { url: u.clone() });
    }
    let log_ready = matches!(opts.ready, Some(Ready::Log(_)));
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(if log_ready {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .stderr(if log_ready {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .spawn()
        .map_err(|err| Error::Spawn {
            program: cmd[0].clone(),
            err,
        })?;
    let start = Instant::now();
    let pid = child.id();
    let ready_at: Arc<Mutex<Option<f64>>> = Arc::new(Mutex::new(None));
    // Log readiness: watch both streams (and pass them through).
    if let Some(Ready::Log(re)) = &opts.ready {
        for (stream, to_err) in [
            (
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn Read + Send>),
                false,
            ),
            (
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn Read + Send>),
                true,
            ),
        ] {
            let Some(stream) = stream else { continue };
            let (re, ready_at) = (re.clone(), Arc::clone(&ready_at));
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if re.is_match(&line) {
                        everybyte_core::par::lock(&ready_at)
                            .get_or_insert(start.elapsed().as_secs_f64());
                    }
                    #[allow(clippy::print_stdout, clippy::print_stderr)]
                    if to_err {
                        eprintln!("{line}");
                    } else {
                        println!("{line}");
                    }
                }
            });
        }
    }
    let mut sampler = Sampler::new(start);
    let mut stopped: Option<Instant> = None;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|err| Error::Wait { err })? {
            break s;
        }
        sampler.tick(pid);
        if let Some(Ready::Url(u)) = &opts.ready {
            let mut r = everybyte_core::par::lock(&ready_at);
            if r.is_none() && url_ready(u) {
                *r = Some(start.elapsed().as_secs_f64());
            }
        }
        let ready = *everybyte_core::par::lock(&ready_at);
        let over = opts.timeout.is_some_and(|d| start.elapsed() >= d);
        let done = match (ready, opts.after_ready) {
            (Some(r), Some(after)) => start.elapsed().as_secs_f64() >= r + after.as_secs_f64(),
            _ => false,
        };
        stopped = stop(pid, over || done, stopped);
        std::thread::sleep(opts.interval);
    };
    let wall = start.elapsed().as_secs_f64();
    let cold = *everybyte_core::par::lock(&ready_at);
    Ok(summarise(
        opts,
        sampler.finish(),
        cold,
        wall,
        (status.code(), status.signal()),
        children_cpu(),
    ))
}

/// The time axis of a profile's charts.
const SINCE_START: everybyte_core::chart::Axis = everybyte_core::chart::Axis {
    label: "time since start",
    scale: everybyte_core::chart::Scale::Seconds,
};

/// Memory over time with the peak, the steady state and the cold start marked.
pub fn figure(r: &Record, name: &str) -> everybyte_core::chart::Figure {
    use everybyte_core::chart::{Axis, Figure, Mark, Scale, Series, format_value, lines};
    let bytes = |f: &dyn Fn(&Sample) -> u64| -> Vec<(f64, f64)> {
        r.samples.iter().map(|s| (s.t, f(s) as f64)).collect()
    };
    let mut series = vec![
        Series {
            name: "RSS".into(),
            points: bytes(&|s| s.rss_bytes),
        },
        Series {
            name: "PSS".into(),
            points: bytes(&|s| s.pss_bytes),
        },
    ];
    if r.peak_gpu_bytes.is_some() {
        series.push(Series {
            name: "GPU".into(),
            points: bytes(&|s| s.gpu_bytes),
        });
    }
    let mut marks = vec![
        Mark::X(
            r.peak_at_seconds,
            format!("peak {}", format_value(r.peak() as f64, Scale::Bytes)),
        ),
        Mark::Y(
            r.steady_bytes as f64,
            format!(
                "steady {}",
                format_value(r.steady_bytes as f64, Scale::Bytes)
            ),
        ),
    ];
    if let Some(c) = r.cold_start_seconds {
        marks.push(Mark::X(
            c,
            format!("ready at {}", format_value(c, Scale::Seconds)),
        ));
    }
    let title = format!("{name}: memory of the process tree");
    Figure {
        svg: lines(
            &title,
            &SINCE_START,
            &Axis {
                label: "memory",
                scale: Scale::Bytes,
            },
            &series,
            &marks,
        ),
        title,
        path: Some(name.to_owned()),
    }
}

/// Disk, CPU and GPU utilisation on one time axis (in percent, as `iostat` and `top` print
/// them: a process using two cores is at 200%), with the input-bound seconds marked.
pub fn activity_figure(r: &Record, name: &str) -> Option<everybyte_core::chart::Figure> {
    use everybyte_core::chart::{Axis, Figure, Mark, Scale, Series, lines};
    if r.seconds.is_empty() {
        return None;
    }
    let pct = |f: &dyn Fn(&Second) -> Option<f64>| -> Vec<(f64, f64)> {
        r.seconds
            .iter()
            .filter_map(|s| f(s).map(|v| (s.t, 100.0 * v)))
            .collect()
    };
    let mut names: Vec<String> = r
        .seconds
        .iter()
        .flat_map(|s| s.disks.iter().map(|d| d.name.clone()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut series: Vec<Series> = names
        .iter()
        .map(|n| Series {
            name: format!("disk {n} busy"),
            points: pct(&|s| s.disks.iter().find(|d| &d.name == n).map(|d| d.util)),
        })
        .collect();
    series.push(Series {
        name: "main process CPU".into(),
        points: pct(&|s| Some(s.main_cpu_cores)),
    });
    if r.seconds.iter().any(|s| s.workers > 0) {
        series.push(Series {
            name: "each worker's CPU".into(),
            points: pct(&|s| Some(s.worker_cpu_cores)),
        });
    }
    series.push(Series {
        name: "in disk wait".into(),
        points: pct(&|s| Some(s.disk_wait.min(1.0))),
    });
    if r.seconds.iter().any(|s| s.gpu_util.is_some()) {
        series.push(Series {
            name: "GPU".into(),
            points: pct(&|s| s.gpu_util),
        });
    }
    let marks: Vec<Mark> = r
        .verdict
        .iter()
        .filter(|v| v.bound != Bound::TooShort)
        .map(|v| {
            Mark::Y(
                match v.bound {
                    Bound::Input => 100.0 * activity::DISK_WAIT,
                    _ => 100.0 * activity::CPU_BUSY,
                },
                match v.bound {
                    Bound::Input => "input-bound".to_owned(),
                    Bound::Compute => "compute-bound".to_owned(),
                    _ => "neither input- nor compute-bound".to_owned(),
                },
            )
        })
        .collect();
    let title = format!("{name}: disk, CPU and GPU each second");
    Some(Figure {
        svg: lines(
            &title,
            &SINCE_START,
            &Axis {
                label: "busy",
                scale: Scale::Percent,
            },
            &series,
            &marks,
        ),
        title,
        path: Some(name.to_owned()),
    })
}

/// Reads a record written by `profile -o`.
pub fn load(path: &Path) -> Result<Record, Error> {
    let text = std::fs::read_to_string(path).map_err(|err| Error::Read {
        path: path.to_owned(),
        err,
    })?;
    serde_json::from_str(&text).map_err(|err| Error::ProfileRecord {
        path: path.to_owned(),
        err,
    })
}
