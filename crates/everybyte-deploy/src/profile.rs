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

/// (RSS, PSS) of one process in bytes, from `smaps_rollup`; `None` where it cannot be read.
fn smaps_rollup(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let (mut rss, mut pss) = (None, None);
    for l in s.lines() {
        let kb = |l: &str| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
                .map(|v| v * 1024)
        };
        if l.starts_with("Rss:") {
            rss = kb(l);
        } else if l.starts_with("Pss:") {
            pss = kb(l);
        }
    }
    Some((rss?, pss.unwrap_or(0)))
}

/// RSS of one process in bytes, from `VmRSS` in `status`: the kernel's counters, read at no
/// cost to the process.
fn status_rss(pid: u32) -> Option<u64> {
    everybyte_core::procfs::status_bytes(&pid.to_string(), "VmRSS:")
}

/// The last PSS read of one process.
#[derive(Clone, Copy)]
struct PssReading {
    pss: u64,
    /// RSS when PSS was read.
    rss: u64,
    /// Seconds after start.
    at: f64,
    /// Seconds the read took.
    cost: f64,
}

/// PSS is read from `smaps_rollup`, which walks every resident page of the process while it
/// holds the process's memory-map lock: about 10 ms per resident GB here, during which the
/// process cannot map or unmap memory. So it is read at most once a second, sooner when RSS
/// moved by more than a sixteenth, and never more than 1% of the time; when the tree gains or
/// loses a process (which changes how pages are shared) every process is read again, within
/// 10% of the time. In between, PSS follows RSS: growth is added whole (new pages are the
/// process's own until something else maps them), shrinking scales it. RSS itself comes from
/// `status` on every sample.
#[derive(Default)]
struct Pss {
    last: std::collections::HashMap<u32, PssReading>,
    /// The tree's processes at the last sample.
    tree: Vec<u32>,
    /// When the tree last gained or lost a process (seconds after start).
    changed_at: Option<f64>,
}

impl Pss {
    /// Seconds between reads at the least.
    const EVERY: f64 = 1.0;
    /// The share of the time reads may take at most.
    const DUTY: f64 = 0.01;
    /// The same when the tree changed.
    const DUTY_ON_CHANGE: f64 = 0.1;

    /// (RSS, PSS) of `pid` at `t` seconds after start.
    fn read(&mut self, pid: u32, t: f64) -> (u64, u64) {
        let rss = status_rss(pid);
        let due = match (self.last.get(&pid), rss) {
            (None, _) | (_, None) => true,
            (Some(r), Some(rss)) => {
                let since = t - r.at;
                let moved = rss.abs_diff(r.rss) > r.rss / 16;
                let before_change = self.changed_at.is_some_and(|c| r.at < c);
                ((since >= Self::EVERY || moved) && since >= r.cost / Self::DUTY)
                    || (before_change && since >= r.cost / Self::DUTY_ON_CHANGE)
            }
        };
        if due {
            let clock = Instant::now();
            if let Some((walked, pss)) = smaps_rollup(pid) {
                let cost = clock.elapsed().as_secs_f64();
                // RSS from the one source of every sample; the walk's where that is missing.
                let rss = rss.unwrap_or(walked);
                self.last.insert(
                    pid,
                    PssReading {
                        pss,
                        rss,
                        at: t,
                        cost,
                    },
                );
                return (rss, pss);
            }
        }
        let rss = rss.unwrap_or(0);
        let pss = self.last.get(&pid).map_or(0, |r| {
            if rss >= r.rss {
                r.pss.saturating_add(rss - r.rss).min(rss)
            } else {
                let scaled = u128::from(r.pss) * u128::from(rss) / u128::from(r.rss);
                u64::try_from(scaled).unwrap_or(u64::MAX)
            }
        });
        (rss, pss)
    }

    /// The tree's processes at `t`: readings of the others are forgotten, and a change makes
    /// every reading made before it due.
    fn keep(&mut self, pids: &[u32], t: f64) {
        self.last.retain(|p, _| pids.contains(p));
        let mut now = pids.to_vec();
        now.sort_unstable();
        if now != self.tree {
            self.changed_at = Some(t);
            self.tree = now;
        }
    }
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
    pss: Pss,
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
            pss: Pss::default(),
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
        self.pss.keep(&pids, t);
        for p in &pids {
            let (r, s) = self.pss.read(*p, t);
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
        .map_err(|err| crate::syscalls::spawn_error(&cmd[0], err))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pss_is_read_at_most_once_a_second_and_within_its_duty() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        // The fork becomes `sleep` (and its memory settles) at its exec.
        while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap() != "sleep\n" {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut pss = Pss::default();
        let (rss, first) = pss.read(pid, 0.0);
        assert!(rss > 0 && first > 0 && first <= rss, "{rss} {first}");
        // Within the second: the reading is kept, not made again.
        assert_eq!(pss.read(pid, 0.5), (rss, first));
        assert!(pss.last[&pid].at.abs() < f64::EPSILON);
        // After a second: read again (the first read's cost is set aside: a loaded machine may
        // have made it slow).
        pss.last.get_mut(&pid).unwrap().cost = 0.0;
        pss.read(pid, 1.0);
        assert!((pss.last[&pid].at - 1.0).abs() < f64::EPSILON);
        // RSS moved by more than a sixteenth since the reading: read again at once...
        let r = pss.last.get_mut(&pid).unwrap();
        (r.rss, r.cost) = (rss * 2, 0.0);
        pss.read(pid, 1.1);
        assert!((pss.last[&pid].at - 1.1).abs() < f64::EPSILON);
        // ... unless reads would take more than 1% of the time: then PSS follows RSS.
        let r = pss.last.get_mut(&pid).unwrap();
        (r.rss, r.pss, r.cost) = (rss * 2, rss, 0.05);
        let (now, scaled) = pss.read(pid, 3.0);
        assert!((pss.last[&pid].at - 1.1).abs() < f64::EPSILON);
        assert_eq!(scaled, now / 2);
        // Growth since the reading is added whole.
        let r = pss.last.get_mut(&pid).unwrap();
        (r.rss, r.pss) = (now / 2, now / 4);
        assert_eq!(pss.read(pid, 3.1), (now, now / 4 + (now - now / 2)));
        pss.read(pid, 6.2);
        assert!((pss.last[&pid].at - 6.2).abs() < f64::EPSILON);
        // The tree gained a process: every reading made before is due, within 10% of the time
        // (here not before 6.7 s)...
        pss.keep(&[pid], 6.2);
        pss.keep(&[pid, 1], 6.25);
        pss.last.get_mut(&pid).unwrap().cost = 0.05;
        pss.read(pid, 6.3);
        assert!((pss.last[&pid].at - 6.2).abs() < f64::EPSILON);
        pss.read(pid, 6.8);
        assert!((pss.last[&pid].at - 6.8).abs() < f64::EPSILON);
        // ... once.
        pss.last.get_mut(&pid).unwrap().cost = 0.05;
        pss.read(pid, 7.5);
        assert!((pss.last[&pid].at - 6.8).abs() < f64::EPSILON);
        // A process that left the tree is forgotten.
        pss.keep(&[], 7.6);
        assert!(pss.last.is_empty());
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
