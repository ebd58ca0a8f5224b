//! What the workload and the machine did each second: the process tree's CPU and storage
//! reads (`/proc/PID/stat`, `/proc/PID/io`), the host's CPU split (`/proc/stat`), each block
//! device's utilisation, read throughput and await (`/proc/diskstats`, as `iostat -x 1`), and
//! the utilisation of the GPUs the tree uses (NVML).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The host's CPU time in one second, as fractions of all CPUs (`/proc/stat`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct HostCpu {
    pub user: f64,
    pub system: f64,
    pub iowait: f64,
    pub idle: f64,
}

/// One block device in one second, as `iostat -x` reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Disk {
    pub name: String,
    /// Fraction of the second with at least one request in flight (`%util`).
    pub util: f64,
    pub read_bytes_per_second: f64,
    pub write_bytes_per_second: f64,
    /// Mean milliseconds a request took, queue included (`await`); 0 without requests.
    pub await_ms: f64,
}

/// One second of the workload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Second {
    /// End of the interval, seconds after the start.
    pub t: f64,
    /// CPU the whole tree used, in cores (1.0: one core busy all the second).
    pub cpu_cores: f64,
    /// CPU of the root process (the trainer or server), in cores.
    pub main_cpu_cores: f64,
    /// Its user-mode CPU alone: the compute, without the kernel's work on its I/O.
    #[serde(default)]
    pub main_user_cores: f64,
    /// Time it was runnable but waited for a CPU, in cores: a compute-bound process on a
    /// crowded machine waits here rather than computing.
    #[serde(default)]
    pub main_queued_cores: f64,
    /// Mean number of the tree's processes in uninterruptible (disk) wait, state `D`.
    #[serde(default)]
    pub disk_wait: f64,
    /// The other processes of the tree (DataLoader workers, server workers).
    pub workers: u32,
    /// Mean CPU of those processes, in cores each.
    pub worker_cpu_cores: f64,
    /// Bytes per second the tree read from storage (page-cache hits excluded).
    pub read_bytes_per_second: f64,
    pub host: HostCpu,
    pub disks: Vec<Disk>,
    /// Mean utilisation (0–1) of the GPUs the tree holds memory on, when NVML sees any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_util: Option<f64>,
}

/// Ticks of `/proc/PID/stat` per second (USER_HZ on Linux).
const TICKS: f64 = 100.0;

/// Counters of one process: user and system CPU seconds, storage read bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    user: f64,
    system: f64,
    read: u64,
    /// Seconds spent runnable but waiting for a CPU (`/proc/PID/schedstat`).
    queued: f64,
}

fn process_counters(pid: u32) -> Option<Counters> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let r: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user = r.get(11)?.parse::<f64>().ok()? / TICKS;
    let system = r.get(12)?.parse::<f64>().ok()? / TICKS;
    // Another user's process hides its io file; its reads then count as 0.
    let read = std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("read_bytes:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    // Every thread's wait: a process computes in its worker threads too.
    let queued = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0.0, |d| {
        d.filter_map(Result::ok)
            .filter_map(|t| {
                std::fs::read_to_string(t.path().join("schedstat"))
                    .ok()?
                    .split_whitespace()
                    .nth(1)?
                    .parse::<f64>()
                    .ok()
            })
            .sum::<f64>()
    }) / 1e9;
    Some(Counters {
        user,
        system,
        read,
        queued,
    })
}

/// The cumulative counters of one device: (reads, sectors read, ms reading, writes, sectors
/// written, ms writing, ms busy).
#[derive(Debug, Clone, Copy, Default)]
struct DiskCounters {
    ios: u64,
    read_sectors: u64,
    write_sectors: u64,
    io_ms: u64,
    busy_ms: u64,
}

/// Whole block devices (not partitions, loops or RAM disks) from `/proc/diskstats`.
fn disks() -> BTreeMap<String, DiskCounters> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string("/proc/diskstats") else {
        return out;
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 14 {
            continue;
        }
        let name = f[2];
        if ["loop", "ram", "zram", "fd", "sr"]
            .iter()
            .any(|p| name.starts_with(p))
            || !std::path::Path::new("/sys/block").join(name).exists()
        {
            continue;
        }
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        out.insert(
            name.to_owned(),
            DiskCounters {
                ios: n(3) + n(7),
                read_sectors: n(5),
                write_sectors: n(9),
                io_ms: n(6) + n(10),
                busy_ms: n(12),
            },
        );
    }
    out
}

/// Jiffies of all CPUs: (user + nice, system + irq + softirq, iowait, idle, total).
fn host_cpu() -> Option<[u64; 5]> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let g = |i: usize| v.get(i).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    Some([g(0) + g(1), g(2) + g(5) + g(6), g(4), g(3), total])
}

/// The programs that only start others.
const LAUNCHERS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "env",
    "timeout",
    "nohup",
    "setsid",
    "stdbuf",
    "time",
    "tini",
    "dumb-init",
    "su",
    "sudo",
    "runuser",
    "xargs",
    "torchrun",
    "accelerate",
    "deepspeed",
    "mpirun",
    "mpiexec",
    "srun",
    "uv",
    "poetry",
    "pipenv",
    "conda",
    "micromamba",
    "pixi",
];

/// Whether process `pid` only starts others: a shell, `env`, `timeout`, a container init,
/// or a training launcher (`torchrun`, `python -m torch.distributed.run`, `accelerate launch`,
/// `deepspeed`, `mpirun`, `srun`, `uv run`).
fn launcher(pid: u32) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let base = |a: &str| a.rsplit('/').next().unwrap_or(a).to_owned();
    let Some(first) = args.first().map(|a| base(a)) else {
        return false;
    };
    if LAUNCHERS.contains(&first.as_str()) {
        return true;
    }
    if first.starts_with("python") {
        let modules = [
            "torch.distributed.run",
            "torch.distributed.launch",
            "accelerate.commands.launch",
            "deepspeed.launcher.runner",
        ];
        return match args.get(1).map(String::as_str) {
            Some("-m") => args.get(2).is_some_and(|m| modules.contains(&m.as_str())),
            Some(script) => {
                ["torchrun", "accelerate", "deepspeed"].contains(&base(script).as_str())
            }
            None => false,
        };
    }
    false
}

/// Counters at one instant.
struct Snapshot {
    t: f64,
    processes: BTreeMap<u32, Counters>,
    disks: BTreeMap<String, DiskCounters>,
    host: Option<[u64; 5]>,
}

/// Turns counters read about once a second into [`Second`]s.
pub struct Activity {
    last: Option<Snapshot>,
    /// Every process seen, with its last counters: a process that exits keeps its share.
    seen: BTreeMap<u32, Counters>,
    /// Counters when observation began (an attached process has a past).
    base: BTreeMap<u32, Counters>,
    /// Whether each process seen is a launcher (`sh -c`, `torchrun`, `uv run`…).
    launchers: BTreeMap<u32, bool>,
    /// Processes found in disk wait, summed over the samples since the last reading.
    waiting: usize,
    samples: usize,
    pub seconds: Vec<Second>,
}

impl Activity {
    pub fn new() -> Self {
        Activity {
            last: None,
            seen: BTreeMap::new(),
            base: BTreeMap::new(),
            launchers: BTreeMap::new(),
            waiting: 0,
            samples: 0,
            seconds: Vec::new(),
        }
    }

    /// One sample of the tree found `n` processes in disk wait.
    pub fn note_disk_wait(&mut self, n: usize) {
        self.waiting += n;
        self.samples += 1;
    }

    /// Whether a second has passed since the last reading.
    pub fn due(&self, t: f64) -> bool {
        self.last.as_ref().is_none_or(|l| t - l.t >= 1.0)
    }

    /// User and system CPU seconds the tree used since observation began, the processes
    /// that exited meanwhile included (up to their last reading).
    pub fn tree_cpu_seconds(&self) -> (f64, f64) {
        self.seen.iter().fold((0.0, 0.0), |(u, s), (p, c)| {
            let b = self.base.get(p).copied().unwrap_or_default();
            (u + c.user - b.user, s + c.system - b.system)
        })
    }

    /// The processes that compute: the root, or below the launchers it starts (`sh -c`,
    /// `torchrun`, `accelerate launch`, `uv run`…) the process or ranks they run; and the
    /// launchers passed on the way.
    fn main_set(&mut self, tree: &[(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
        let Some(&(root, _)) = tree.first() else {
            return (Vec::new(), Vec::new());
        };
        let mut main = vec![root];
        let mut passed = Vec::new();
        while let [one] = main[..] {
            let is_launcher = *self.launchers.entry(one).or_insert_with(|| launcher(one));
            let kids: Vec<u32> = tree
                .iter()
                .filter(|(p, parent)| *parent == one && *p != one)
                .map(|(p, _)| *p)
                .collect();
            if !is_launcher || kids.is_empty() {
                break;
            }
            passed.push(one);
            main = kids;
        }
        (main, passed)
    }

    /// Reads the counters of the tree (each process with its parent, the root first) at `t`,
    /// and when a previous reading exists, adds the second between them. `gpu_util` is the
    /// GPUs' utilisation now.
    pub fn read(&mut self, t: f64, tree: &[(u32, u32)], gpu_util: Option<f64>) {
        let processes: BTreeMap<u32, Counters> = tree
            .iter()
            .filter_map(|&(p, _)| process_counters(p).map(|c| (p, c)))
            .collect();
        let (main, passed) = self.main_set(tree);
        for (p, c) in &processes {
            self.seen.insert(*p, *c);
            if self.last.is_none() {
                self.base.insert(*p, *c);
            }
        }
        let now = Snapshot {
            t,
            processes,
            disks: disks(),
            host: host_cpu(),
        };
        if let Some(last) = self.last.take() {
            let dt = now.t - last.t;
            if dt > 0.0 {
                let mut s = second(&last, &now, dt, (&main, &passed), gpu_util);
                s.disk_wait = self.waiting as f64 / self.samples.max(1) as f64;
                self.seconds.push(s);
            }
        }
        (self.waiting, self.samples) = (0, 0);
        self.last = Some(now);
    }
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

fn second(
    last: &Snapshot,
    now: &Snapshot,
    dt: f64,
    (main, passed): (&[u32], &[u32]),
    gpu: Option<f64>,
) -> Second {
    // A process new since the last reading contributes all it did (it started in between).
    let delta = |p: &u32, c: &Counters| {
        let c0 = last.processes.get(p).copied().unwrap_or_default();
        (
            (c.user + c.system - c0.user - c0.system).max(0.0),
            c.read.saturating_sub(c0.read),
            (c.user - c0.user).max(0.0),
            (c.queued - c0.queued).max(0.0),
        )
    };
    let (mut cpu, mut read, mut others, mut workers) = (0.0, 0u64, 0.0, 0u32);
    let (mut main_cpu, mut main_user, mut main_queued) = (0.0, 0.0, 0.0);
    for (p, c) in &now.processes {
        let (dc, dr, du, dq) = delta(p, c);
        cpu += dc;
        read += dr;
        if main.contains(p) {
            main_cpu += dc;
            main_user += du;
            main_queued += dq;
        } else if !passed.contains(p) {
            others += dc;
            workers += 1;
        }
    }
    // Several ranks: each one's mean.
    let ranks = main.len().max(1) as f64;
    let (main, main_user, main_queued) = (main_cpu / ranks, main_user / ranks, main_queued / ranks);
    let host = match (last.host, now.host) {
        (Some(a), Some(b)) if b[4] > a[4] => {
            let total = (b[4] - a[4]) as f64;
            let f = |i: usize| b[i].saturating_sub(a[i]) as f64 / total;
            HostCpu {
                user: f(0),
                system: f(1),
                iowait: f(2),
                idle: f(3),
            }
        }
        _ => HostCpu::default(),
    };
    let disks: Vec<Disk> = now
        .disks
        .iter()
        .filter_map(|(name, b)| {
            let a = last.disks.get(name)?;
            let ios = b.ios.saturating_sub(a.ios);
            Some(Disk {
                name: name.clone(),
                util: (b.busy_ms.saturating_sub(a.busy_ms) as f64 / 1000.0 / dt).min(1.0),
                read_bytes_per_second: b.read_sectors.saturating_sub(a.read_sectors) as f64 * 512.0
                    / dt,
                write_bytes_per_second: b.write_sectors.saturating_sub(a.write_sectors) as f64
                    * 512.0
                    / dt,
                await_ms: if ios > 0 {
                    b.io_ms.saturating_sub(a.io_ms) as f64 / ios as f64
                } else {
                    0.0
                },
            })
        })
        .collect();
    Second {
        t: now.t,
        cpu_cores: cpu / dt,
        main_cpu_cores: main / dt,
        main_user_cores: main_user / dt,
        main_queued_cores: main_queued / dt,
        disk_wait: 0.0,
        workers,
        worker_cpu_cores: if workers > 0 {
            others / dt / f64::from(workers)
        } else {
            0.0
        },
        read_bytes_per_second: read as f64 / dt,
        host,
        disks,
        gpu_util: gpu,
    }
}

/// What bounds the workload.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    /// The compute waits for its input: the disk is saturated or the loaders are CPU-bound.
    Input,
    /// The GPU (or, without one, the main process's CPU) is busy most of the time.
    Compute,
    /// Neither most of the time: it waits on something else (network, a lock, a timer).
    Neither,
    /// Fewer than three seconds observed.
    TooShort,
}

/// The verdict with the seconds that prove it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub bound: Bound,
    /// Seconds observed.
    pub seconds: u32,
    /// Seconds in which the compute was idle while the input was saturated.
    pub input_seconds: u32,
    /// Seconds in which the compute was busy.
    pub compute_seconds: u32,
    /// The sentence that says why, with the figures.
    pub reason: String,
}

/// A disk this busy is saturated (`%util` as iostat prints it).
pub const DISK_SATURATED: f64 = 0.9;
/// A loader process this busy (cores) is CPU-bound.
pub const LOADER_SATURATED: f64 = 0.85;
/// The GPU is busy above this utilisation, idle below `GPU_IDLE`.
pub const GPU_BUSY: f64 = 0.7;
pub const GPU_IDLE: f64 = 0.3;
/// Without a GPU, the main process computes above this many cores and idles below `CPU_IDLE`.
pub const CPU_BUSY: f64 = 0.8;
pub const CPU_IDLE: f64 = 0.5;

/// The tree waits on storage when, on average, this many of its processes are in disk wait
/// (a quarter of the time: the rest goes to the kernel's side of the reads and the loop).
pub const DISK_WAIT: f64 = 0.25;

/// Why one second was input-bound, if it was.
enum Starved {
    /// The tree read from storage while a disk was saturated or the tree waited on it.
    Disk,
    Loaders,
}

fn classify(s: &Second) -> (bool, Option<Starved>) {
    // Without a GPU the compute is the main process's user CPU, and the time it waited for a
    // CPU it wanted (on a crowded machine a compute-bound loop waits there).
    let wants = s.main_user_cores + s.main_queued_cores;
    let (busy, idle) = match s.gpu_util {
        Some(g) => (g >= GPU_BUSY, g < GPU_IDLE),
        None => (wants >= CPU_BUSY, wants < CPU_IDLE),
    };
    if !idle {
        return (busy, None);
    }
    // Storage counts when the tree itself reads from it in that second.
    let saturated = s.disks.iter().any(|d| d.util >= DISK_SATURATED);
    if s.read_bytes_per_second > 0.0 && (saturated || s.disk_wait >= DISK_WAIT) {
        return (busy, Some(Starved::Disk));
    }
    if s.workers > 0 && s.worker_cpu_cores >= LOADER_SATURATED {
        return (busy, Some(Starved::Loaders));
    }
    (busy, None)
}

fn mib(bytes_per_second: f64) -> f64 {
    bytes_per_second / (1024.0 * 1024.0)
}

/// Spans of consecutive seconds, as "3–19 s" (at most four, then "…").
fn spans(ts: &[f64]) -> String {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for &t in ts {
        match out.last_mut() {
            Some((_, end)) if t - *end <= 1.5 => *end = t,
            _ => out.push((t - 1.0, t)),
        }
    }
    let mut s: Vec<String> = out
        .iter()
        .take(4)
        .map(|(a, b)| format!("{:.0}–{:.0} s", a.max(0.0), b))
        .collect();
    if out.len() > 4 {
        s.push("…".into());
    }
    s.join(", ")
}

/// Why the input-bound seconds `input` starved, with the figures, and what to do.
fn starved(seconds: &[Second], judged: &[(bool, Option<Starved>)], input: &[usize]) -> String {
    let mean = |idx: &[usize], f: &dyn Fn(&Second) -> f64| {
        idx.iter().map(|&i| f(&seconds[i])).sum::<f64>() / idx.len().max(1) as f64
    };
    let disk_secs: Vec<usize> = input
        .iter()
        .copied()
        .filter(|&i| matches!(judged[i].1, Some(Starved::Disk)))
        .collect();
    let loader_secs: Vec<usize> = input
        .iter()
        .copied()
        .filter(|&i| matches!(judged[i].1, Some(Starved::Loaders)))
        .collect();
    let mut why = Vec::new();
    if !disk_secs.is_empty() {
        // The busiest disk of each second is the one it read from.
        let busiest = |s: &Second| {
            s.disks
                .iter()
                .max_by(|a, b| a.util.total_cmp(&b.util))
                .cloned()
        };
        let mut names: Vec<String> = disk_secs
            .iter()
            .filter_map(|&i| busiest(&seconds[i]).map(|d| d.name))
            .collect();
        names.sort_unstable();
        names.dedup();
        let util = mean(&disk_secs, &|s| busiest(s).map_or(0.0, |d| d.util));
        let wait = mean(&disk_secs, &|s| busiest(s).map_or(0.0, |d| d.await_ms));
        let disk = if names.is_empty() {
            String::new()
        } else {
            format!(
                "; {} {:.0}% busy, await {:.1} ms",
                names.join(", "),
                100.0 * util,
                wait
            )
        };
        why.push(format!(
            "in {} s it read {:.1} MiB/s from storage and waited on it ({:.0}% of the time in disk wait{disk})",
            disk_secs.len(),
            mib(mean(&disk_secs, &|s| s.read_bytes_per_second)),
            100.0 * mean(&disk_secs, &|s| s.disk_wait).min(1.0),
        ));
    }
    if !loader_secs.is_empty() {
        why.push(format!(
            "in {} s its {:.0} loader processes each used {:.2} cores",
            loader_secs.len(),
            mean(&loader_secs, &|s| f64::from(s.workers)),
            mean(&loader_secs, &|s| s.worker_cpu_cores),
        ));
    }
    let fix = if disk_secs.len() >= loader_secs.len() {
        "faster or local storage, a page-cache-sized working set, or fewer larger files (`everybyte data pack`)"
    } else {
        "more DataLoader workers (num_workers), cheaper decoding or augmentation, or data pre-decoded once (`everybyte data pack`)"
    };
    format!("{}; next: {fix}", why.join("; "))
}

/// Judges the seconds: input-bound when in at least half of them the compute idled while the
/// input was saturated, compute-bound when in at least half the compute was busy.
pub fn verdict(seconds: &[Second]) -> Verdict {
    let n = seconds.len() as u32;
    // The disk wait is sampled (a process's state, ten times a second): each second is judged
    // on the mean of it and its neighbours, so sampling noise does not flip it.
    let smoothed: Vec<Second> = (0..seconds.len())
        .map(|i| {
            let near = &seconds[i.saturating_sub(1)..(i + 2).min(seconds.len())];
            Second {
                disk_wait: near.iter().map(|s| s.disk_wait).sum::<f64>() / near.len() as f64,
                ..seconds[i].clone()
            }
        })
        .collect();
    let judged: Vec<(bool, Option<Starved>)> = smoothed.iter().map(classify).collect();
    let input: Vec<usize> = (0..judged.len())
        .filter(|&i| judged[i].1.is_some())
        .collect();
    let compute: Vec<usize> = (0..judged.len()).filter(|&i| judged[i].0).collect();
    let (ni, nc) = (input.len() as u32, compute.len() as u32);
    let gpu = seconds.iter().any(|s| s.gpu_util.is_some());
    let what = if gpu { "the GPU" } else { "the main process" };
    let mean = |idx: &[usize], f: &dyn Fn(&Second) -> f64| {
        idx.iter().map(|&i| f(&seconds[i])).sum::<f64>() / idx.len().max(1) as f64
    };
    let compute_level = |idx: &[usize]| {
        if gpu {
            format!(
                "{:.0}% GPU utilisation",
                100.0 * mean(idx, &|s| s.gpu_util.unwrap_or(0.0))
            )
        } else {
            let queued = mean(idx, &|s| s.main_queued_cores);
            format!(
                "{:.2} cores of user CPU{}",
                mean(idx, &|s| s.main_user_cores),
                if queued >= 0.05 {
                    format!(", {queued:.2} waiting for a CPU")
                } else {
                    String::new()
                }
            )
        }
    };
    let at = |idx: &[usize]| spans(&idx.iter().map(|&i| seconds[i].t).collect::<Vec<_>>());
    if n < 3 {
        return Verdict {
            bound: Bound::TooShort,
            seconds: n,
            input_seconds: ni,
            compute_seconds: nc,
            reason: format!("{n} s observed: too short to judge (3 s at least)"),
        };
    }
    if 2 * ni >= n {
        return Verdict {
            bound: Bound::Input,
            seconds: n,
            input_seconds: ni,
            compute_seconds: nc,
            reason: format!(
                "input-bound: {what} idled ({}) in {ni} of {n} s ({}): {}",
                compute_level(&input),
                at(&input),
                starved(seconds, &judged, &input),
            ),
        };
    }
    if 2 * nc >= n {
        return Verdict {
            bound: Bound::Compute,
            seconds: n,
            input_seconds: ni,
            compute_seconds: nc,
            reason: format!(
                "compute-bound: {what} was busy ({}) in {nc} of {n} s ({}); the input kept up",
                compute_level(&compute),
                at(&compute),
            ),
        };
    }
    let all: Vec<usize> = (0..seconds.len()).collect();
    Verdict {
        bound: Bound::Neither,
        seconds: n,
        input_seconds: ni,
        compute_seconds: nc,
        reason: format!(
            "neither: {what} was busy in {nc} of {n} s and starved of input in {ni} (mean {}, host iowait {:.0}%); the workload mostly waits on something else (network, a lock, a timer): `everybyte profile --syscalls` shows on which calls",
            compute_level(&all),
            100.0 * mean(&all, &|s| s.host.iowait),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(t: f64, main: f64, util: f64, read: f64) -> Second {
        Second {
            t,
            cpu_cores: main,
            main_cpu_cores: main,
            main_user_cores: main,
            main_queued_cores: 0.0,
            disk_wait: if read > 0.0 { 0.8 } else { 0.0 },
            workers: 0,
            worker_cpu_cores: 0.0,
            read_bytes_per_second: read,
            host: HostCpu::default(),
            disks: vec![Disk {
                name: "vda".into(),
                util,
                read_bytes_per_second: read,
                write_bytes_per_second: 0.0,
                await_ms: 0.4,
            }],
            gpu_util: None,
        }
    }

    #[test]
    fn a_saturated_disk_under_an_idle_process_is_input_bound() {
        let s: Vec<Second> = (1..=10)
            .map(|t| sec(f64::from(t), 0.1, 0.97, 40.0 * 1_048_576.0))
            .collect();
        let v = verdict(&s);
        assert_eq!(v.bound, Bound::Input, "{}", v.reason);
        assert_eq!((v.input_seconds, v.seconds), (10, 10));
        assert!(
            v.reason.contains(
                "in 10 s it read 40.0 MiB/s from storage and waited on it (80% of the time in disk wait; vda 97% busy, await 0.4 ms)"
            ) && v.reason.contains("0–10 s"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn a_busy_main_process_is_compute_bound_and_a_sleeper_neither() {
        let s: Vec<Second> = (1..=6).map(|t| sec(f64::from(t), 1.0, 0.0, 0.0)).collect();
        assert_eq!(verdict(&s).bound, Bound::Compute);
        let s: Vec<Second> = (1..=6).map(|t| sec(f64::from(t), 0.0, 0.0, 0.0)).collect();
        assert_eq!(verdict(&s).bound, Bound::Neither);
        assert_eq!(verdict(&s[..2]).bound, Bound::TooShort);
        // Another process saturating the disk does not make an idle workload input-bound.
        let s: Vec<Second> = (1..=6).map(|t| sec(f64::from(t), 0.0, 1.0, 0.0)).collect();
        assert_eq!(verdict(&s).bound, Bound::Neither);
    }

    #[test]
    fn cpu_bound_loaders_under_an_idle_gpu_are_input_bound() {
        let s: Vec<Second> = (1..=8)
            .map(|t| Second {
                workers: 4,
                worker_cpu_cores: 0.98,
                gpu_util: Some(0.12),
                ..sec(f64::from(t), 0.3, 0.1, 0.0)
            })
            .collect();
        let v = verdict(&s);
        assert_eq!(v.bound, Bound::Input);
        assert!(
            v.reason.contains("the GPU idled (12% GPU utilisation)")
                && v.reason.contains("4 loader processes each used 0.98 cores")
                && v.reason.contains("num_workers"),
            "{}",
            v.reason
        );
        let busy: Vec<Second> = s
            .iter()
            .map(|x| Second {
                gpu_util: Some(0.95),
                ..x.clone()
            })
            .collect();
        assert_eq!(verdict(&busy).bound, Bound::Compute);
    }

    #[test]
    fn launchers_are_passed_to_reach_the_process_that_computes() {
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 5; true"])
            .spawn()
            .unwrap();
        let sh_pid = sh.id();
        let sleep = (0..100).find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            std::fs::read_to_string(format!("/proc/{sh_pid}/task/{sh_pid}/children"))
                .ok()
                .and_then(|c| c.split_whitespace().next()?.parse::<u32>().ok())
        });
        let sh_launches = launcher(sh_pid);
        let sleep_launches = sleep.map(launcher);
        if let Some(p) = sleep {
            let _ = std::process::Command::new("kill")
                .arg(p.to_string())
                .status();
        }
        let _ = sh.kill();
        let _ = sh.wait();
        assert!(sh_launches);
        assert_eq!(sleep_launches, sleep.map(|_| false));
        assert!(!launcher(std::process::id()));
        let mut a = Activity::new();
        a.launchers.insert(1, true);
        a.launchers.insert(2, false);
        // A launcher with one child: the child computes; with several: each rank does.
        assert_eq!(a.main_set(&[(1, 0), (2, 1), (3, 2)]), (vec![2], vec![1]));
        assert_eq!(a.main_set(&[(1, 0), (4, 1), (5, 1)]).0, vec![4, 5]);
        a.launchers.insert(1, false);
        assert_eq!(a.main_set(&[(1, 0), (2, 1)]), (vec![1], vec![]));
    }

    #[test]
    fn spans_join_consecutive_seconds() {
        assert_eq!(spans(&[1.0, 2.0, 3.0, 7.0, 8.0]), "0–3 s, 6–8 s");
    }

    #[test]
    fn counters_of_this_process_and_the_host_are_read() {
        let mut a = Activity::new();
        let me = std::process::id();
        let cpu = || process_counters(me).map_or(0.0, |c| c.user + c.system);
        let t0 = std::time::Instant::now();
        a.read(0.0, &[(me, 0)], None);
        // Counted from after the first reading, so that all of it falls between the two.
        let c0 = cpu();
        // Spin until this process has used 0.3 s of CPU, however busy the machine is.
        let mut x = 0u64;
        while cpu() - c0 < 0.3 && t0.elapsed().as_secs() < 30 {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            }
        }
        std::hint::black_box(x);
        a.read(t0.elapsed().as_secs_f64(), &[(me, 0)], None);
        assert_eq!(a.seconds.len(), 1);
        let s = &a.seconds[0];
        assert!(s.main_cpu_cores > 0.0 && s.main_user_cores > 0.0, "{s:?}");
        assert!(s.host.user + s.host.system > 0.0, "{s:?}");
        let (user, system) = a.tree_cpu_seconds();
        assert!(user + system >= 0.3, "{user} {system}");
    }
}
