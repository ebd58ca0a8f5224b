//! `everybyte profile --pid PID`: observes a process that already runs, and its children,
//! for a duration (or until it exits, or the profiler is interrupted), then leaves it running
//! exactly as before. With `--syscalls` it counts the tree's calls in the kernel (BPF), or where
//! that is not permitted attaches with `PTRACE_SEIZE` and detaches at the end.
//!
//! The `unsafe` here installs a SIGINT/SIGTERM handler that only stores to an atomic.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{Attached, ProfileOptions, Record, Sampler, children, summarise};
use crate::Error;

/// Set by SIGINT or SIGTERM while attached: stop observing, detach, report.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn interrupted(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

fn on_interrupt() {
    // SAFETY: the handler only stores to an atomic (async-signal-safe); the struct is zeroed,
    // then filled.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = interrupted as *const () as libc::sighandler_t;
        libc::sigemptyset(&raw mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &raw const sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &raw const sa, std::ptr::null_mut());
    }
}

/// Whether `pid` still runs (a zombie has ended).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next())
                .map(|state| state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// The owner of `pid` (real uid), from `/proc/PID/status`.
fn owner(pid: u32) -> Option<u32> {
    everybyte_core::procfs::status_number(&pid.to_string(), "Uid:")
        .and_then(|u| u32::try_from(u).ok())
}

/// Whether this process may read another's memory maps and counters (root, or the same user).
fn checked(pid: u32) -> Result<(), Error> {
    if pid == std::process::id() {
        return Err(Error::AttachSelf { pid });
    }
    if !alive(pid) {
        return Err(Error::ProcessGone { pid });
    }
    let me = owner(std::process::id()).unwrap_or(0);
    match owner(pid) {
        Some(uid) if me != 0 && uid != me => Err(Error::NotOurs { pid, uid }),
        _ => Ok(()),
    }
}

/// The process's command line, as the record's command.
fn command(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn run(opts: &ProfileOptions<'_>, pid: u32) -> Result<Record, Error> {
    checked(pid)?;
    let cmd = command(pid);
    on_interrupt();
    let start = Instant::now();
    let stop = AtomicBool::new(false);
    let over = || {
        INTERRUPTED.load(Ordering::Relaxed)
            || opts.timeout.is_some_and(|d| start.elapsed() >= d)
            || !alive(pid)
    };
    // The sampler lives on the thread that samples (NVML's handle stays on one thread).
    let observe = || {
        let mut sampler = Sampler::new(start);
        while !stop.load(Ordering::Relaxed) {
            sampler.tick(pid);
            if over() {
                stop.store(true, Ordering::Relaxed);
                break;
            }
            std::thread::sleep(opts.interval);
        }
        sampler.finish()
    };
    let (sampler, trace) = if opts.syscalls {
        let (sampler, trace) = std::thread::scope(|scope| {
            let watcher = scope.spawn(observe);
            let trace = crate::syscalls::attach(&|| children(pid), &stop, opts.syscall_counter);
            stop.store(true, Ordering::Relaxed);
            (watcher.join(), trace)
        });
        (sampler.map_err(|_| Error::TraceWait)?, Some(trace?))
    } else {
        (observe(), None)
    };
    let wall = start.elapsed().as_secs_f64();
    let cpu = sampler.activity.tree_cpu_seconds();
    let running = alive(pid);
    let exit = trace
        .as_ref()
        .map_or((None, None), |t| (t.exit_code, t.signal));
    let mut r = summarise(opts, sampler, None, wall, exit, cpu);
    r.command = cmd;
    r.attached = Some(Attached {
        pid,
        still_running: running,
    });
    r.syscall_counter = trace.as_ref().map(|t| t.counter.clone());
    r.syscalls = trace.map(|t| t.stats);
    Ok(r)
}
