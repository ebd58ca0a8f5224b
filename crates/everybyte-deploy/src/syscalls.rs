//! System call counts of a workload and all its threads and children, through ptrace, as
//! `strace -c -f -w` reports them: calls, errors and wall time per call. x86-64 Linux.
//!
//! The `unsafe` here is the ptrace and waitpid protocol: each call takes a thread id that the
//! kernel reported to us as a tracee, and `PTRACE_GETREGS` writes into a live, correctly sized
//! `user_regs_struct`.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::Error;

/// The calls of one system call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SyscallStat {
    pub name: String,
    pub calls: u64,
    pub errors: u64,
    pub seconds: f64,
}

/// What tracing found.
#[derive(Debug, Clone)]
pub struct Trace {
    pub stats: Vec<SyscallStat>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub wall: Duration,
}

/// Waiting calls: when they dominate, the process mostly waits.
pub const WAITS: &[&str] = &[
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "futex",
    "nanosleep",
    "clock_nanosleep",
    "wait4",
    "waitid",
    "read",
];

fn name(nr: u64) -> String {
    usize::try_from(nr)
        .ok()
        .and_then(|i| crate::syscall_names::X86_64.get(i))
        .filter(|n| !n.is_empty())
        .map_or_else(|| format!("syscall_{nr}"), |n| (*n).to_owned())
}

#[cfg(target_arch = "x86_64")]
fn regs(tid: libc::pid_t) -> Option<libc::user_regs_struct> {
    // SAFETY: zeroed plain-old-data, then filled by the kernel for a stopped tracee.
    let mut r: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGS,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            (&raw mut r).cast::<libc::c_void>(),
        )
    };
    (rc == 0).then_some(r)
}

fn resume(tid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: `tid` is a tracee in a ptrace-stop; the data argument is the signal to deliver.
    unsafe {
        libc::ptrace(
            libc::PTRACE_SYSCALL,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            sig as usize as *mut libc::c_void,
        );
    }
}

/// Runs `command` under ptrace and counts its system calls.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_lines)] // the ptrace stop protocol, one loop
pub fn trace(command: &[String], on_start: &mut dyn FnMut(u32)) -> Result<Trace, Error> {
    if command.is_empty() {
        return Err(Error::NoTraceCommand);
    }
    let mut cmd = std::process::Command::new(&command[0]);
    cmd.args(&command[1..]).stdin(std::process::Stdio::null());
    // SAFETY: PTRACE_TRACEME in the child between fork and exec is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::ptrace(
                libc::PTRACE_TRACEME,
                0,
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            ) == -1
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let child = cmd.spawn().map_err(|err| Error::TraceSpawn {
        program: command[0].clone(),
        err,
    })?;
    let pid = child.id().cast_signed();
    on_start(child.id());
    // The exec stop.
    let mut first_stop: libc::c_int = 0;
    // SAFETY: waiting for our own child.
    if unsafe { libc::waitpid(pid, &raw mut first_stop, libc::__WALL) } != pid {
        return Err(Error::TraceWait);
    }
    if !libc::WIFSTOPPED(first_stop) {
        return Err(Error::TraceForbidden {
            program: command[0].clone(),
        });
    }
    let options = libc::PTRACE_O_TRACESYSGOOD
        | libc::PTRACE_O_TRACEFORK
        | libc::PTRACE_O_TRACEVFORK
        | libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEEXEC
        | libc::PTRACE_O_EXITKILL;
    // SAFETY: `pid` is stopped and traced by us.
    unsafe {
        libc::ptrace(
            libc::PTRACE_SETOPTIONS,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            options as usize as *mut libc::c_void,
        );
    }
    resume(pid, 0);
    let mut in_call: HashMap<libc::pid_t, (u64, Instant)> = HashMap::new();
    let mut stats: HashMap<u64, SyscallStat> = HashMap::new();
    let mut live: std::collections::HashSet<libc::pid_t> = std::collections::HashSet::from([pid]);
    let (mut exit_code, mut signal) = (None, None);
    while !live.is_empty() {
        let mut st: libc::c_int = 0;
        // SAFETY: waits for any tracee (or child); `st` is a live int.
        let tid = unsafe { libc::waitpid(-1, &raw mut st, libc::__WALL) };
        if tid < 0 {
            break;
        }
        if libc::WIFEXITED(st) || libc::WIFSIGNALED(st) {
            live.remove(&tid);
            in_call.remove(&tid);
            if tid == pid {
                if libc::WIFEXITED(st) {
                    exit_code = Some(libc::WEXITSTATUS(st));
                } else {
                    signal = Some(libc::WTERMSIG(st));
                }
            }
            continue;
        }
        if !libc::WIFSTOPPED(st) {
            continue;
        }
        live.insert(tid);
        let sig = libc::WSTOPSIG(st);
        if sig == (libc::SIGTRAP | 0x80) {
            if let Some((nr, t0)) = in_call.remove(&tid) {
                let ret = regs(tid).map_or(0, |r| r.rax.cast_signed());
                let e = stats.entry(nr).or_insert_with(|| SyscallStat {
                    name: name(nr),
                    calls: 0,
                    errors: 0,
                    seconds: 0.0,
                });
                e.calls += 1;
                e.seconds += t0.elapsed().as_secs_f64();
                if (-4095..0).contains(&ret) {
                    e.errors += 1;
                }
            } else if let Some(r) = regs(tid) {
                in_call.insert(tid, (r.orig_rax, Instant::now()));
            }
            resume(tid, 0);
        } else if sig == libc::SIGTRAP || (st >> 16) != 0 {
            // fork/clone/exec events: the new tracee arrives on its own stop.
            resume(tid, 0);
        } else if sig == libc::SIGSTOP && !in_call.contains_key(&tid) {
            // A new thread or child's initial stop (or a real SIGSTOP: passing 0 loses it,
            // as strace does for the initial stop).
            resume(tid, 0);
        } else {
            resume(tid, sig);
        }
    }
    drop(child);
    let mut stats: Vec<SyscallStat> = stats.into_values().collect();
    stats.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(b.calls.cmp(&a.calls)));
    Ok(Trace {
        stats,
        exit_code,
        signal,
        wall: start.elapsed(),
    })
}

#[cfg(not(target_arch = "x86_64"))]
pub fn trace(_command: &[String], _on_start: &mut dyn FnMut(u32)) -> Result<Trace, Error> {
    Err(Error::TraceUnsupported)
}

/// The summary `strace -c` prints, and a note when waiting calls dominate.
pub fn render(stats: &[SyscallStat]) -> String {
    let total: f64 = stats.iter().map(|s| s.seconds).sum();
    let calls: u64 = stats.iter().map(|s| s.calls).sum();
    let mut out = format!(
        "{:>7} {:>11} {:>11} {:>9} {:>9} syscall\n",
        "% time", "seconds", "usecs/call", "calls", "errors"
    );
    for s in stats.iter().take(25) {
        out.push_str(&format!(
            "{:>7.2} {:>11.6} {:>11.0} {:>9} {:>9} {}\n",
            if total > 0.0 {
                s.seconds * 100.0 / total
            } else {
                0.0
            },
            s.seconds,
            s.seconds * 1e6 / s.calls.max(1) as f64,
            s.calls,
            if s.errors > 0 {
                s.errors.to_string()
            } else {
                String::new()
            },
            s.name
        ));
    }
    out.push_str(&format!(
        "{:>7} {total:>11.6} {:>11} {calls:>9} {:>9} total\n",
        "100.00", "", ""
    ));
    let waiting: f64 = stats
        .iter()
        .filter(|s| WAITS.contains(&s.name.as_str()))
        .map(|s| s.seconds)
        .sum();
    if total > 0.0 && waiting / total > 0.5 {
        out.push_str(&format!(
            "{:.0}% of the time in system calls is spent waiting (poll/select/epoll_wait/futex/sleep/read): the process mostly waits — on I/O, a lock, or work that never comes\n",
            waiting * 100.0 / total
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_kernel_table() {
        assert_eq!(name(0), "read");
        assert_eq!(name(1), "write");
        assert_eq!(name(202), "futex");
        assert_eq!(name(100_000), "syscall_100000");
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn counts_the_calls_of_a_real_program() {
        let t = match trace(
            &[
                "/bin/sh".into(),
                "-c".into(),
                "for i in 1 2 3; do /bin/true; done; exit 3".into(),
            ],
            &mut |_| {},
        ) {
            Ok(t) => t,
            // ptrace can be forbidden in a sandbox; the message says so.
            Err(e) if e.to_string().contains("ptrace") => return,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(t.exit_code, Some(3));
        let execs = t
            .stats
            .iter()
            .find(|s| s.name == "execve")
            .map_or(0, |s| s.calls);
        assert!(execs >= 3, "{:?}", t.stats);
        assert!(render(&t.stats).contains("total"));
    }
}
