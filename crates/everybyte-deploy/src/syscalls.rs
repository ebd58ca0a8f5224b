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
    pub counter: Counted,
}

/// How system calls are counted (`profile --syscall-counter`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// In the kernel with BPF where it is permitted, else through ptrace.
    #[default]
    Auto,
    /// In the kernel with BPF, or an error that says why not.
    Bpf,
    /// Through ptrace, as strace: every call stops the thread twice.
    Ptrace,
}

/// How the calls were counted, and why ptrace was used where it was.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counted {
    /// `bpf` or `ptrace`.
    pub method: String,
    /// Why BPF was not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl Counted {
    fn ptrace(why: Option<String>) -> Counted {
        Counted {
            method: "ptrace".to_owned(),
            why,
        }
    }
    fn bpf() -> Counted {
        Counted {
            method: "bpf".to_owned(),
            why: None,
        }
    }

    /// One line for the summary: how, and why not in the kernel.
    pub fn describe(&self) -> String {
        match (self.method.as_str(), &self.why) {
            ("bpf", _) => "system calls counted in the kernel (BPF on the sys_enter/sys_exit tracepoints; the workload never stopped)".to_owned(),
            (_, Some(why)) => format!("system calls counted through ptrace (each call stops its thread twice): {why}"),
            (m, None) => format!("system calls counted through {m}"),
        }
    }
}

/// The BPF counter, or why there is none: `Err(Some(why))` falls back to ptrace, and with
/// `Method::Bpf` it is an error.
fn kernel_counter(method: Method) -> Result<crate::bpf::Counter, Result<String, Error>> {
    match method {
        Method::Ptrace => Err(Ok("--syscall-counter ptrace".to_owned())),
        Method::Bpf => crate::bpf::Counter::new().map_err(|why| Err(Error::Bpf { why })),
        Method::Auto => crate::bpf::Counter::new().map_err(Ok),
    }
}

/// Runs `command` and counts the system calls of it and its children: in the kernel with
/// BPF where permitted (`method`), else through ptrace, saying why.
pub fn trace(
    command: &[String],
    on_start: &mut dyn FnMut(u32),
    method: Method,
) -> Result<Trace, Error> {
    let why = match kernel_counter(method) {
        Ok(counter) => match kernel_trace(counter, command, on_start) {
            Ok(t) => return Ok(t),
            Err(Ok(why)) if method == Method::Auto => why,
            Err(Ok(why)) => return Err(Error::Bpf { why }),
            Err(Err(e)) => return Err(e),
        },
        Err(Ok(why)) => why,
        Err(Err(e)) => return Err(e),
    };
    let mut t = ptrace_trace(command, on_start)?;
    t.counter = Counted::ptrace(Some(why));
    Ok(t)
}

/// Counts the calls of a running process tree (`tree` lists it, the root first) and of the
/// children it starts, until `stop` is set or the processes listed at the start all exit: in
/// the kernel with BPF where permitted, else by attaching with ptrace and detaching at the end.
pub fn attach(
    tree: &dyn Fn() -> Vec<u32>,
    stop: &std::sync::atomic::AtomicBool,
    method: Method,
) -> Result<Trace, Error> {
    use std::sync::atomic::Ordering;
    let why = match kernel_counter(method) {
        Ok(mut counter) => {
            let started = counter.start().and_then(|()| follow(&counter, tree));
            match started {
                Ok(pids) => {
                    let start = Instant::now();
                    while !stop.load(Ordering::Relaxed) && pids.iter().any(|&p| present(p)) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    return Ok(Trace {
                        stats: counter.finish(),
                        exit_code: None,
                        signal: None,
                        wall: start.elapsed(),
                        counter: Counted::bpf(),
                    });
                }
                Err(why) if method == Method::Auto => why,
                Err(why) => return Err(Error::Bpf { why }),
            }
        }
        Err(Ok(why)) => why,
        Err(Err(e)) => return Err(e),
    };
    let mut t = ptrace_attach(tree, stop)?;
    t.counter = Counted::ptrace(Some(why));
    Ok(t)
}

/// Tracks every process of `tree` in the counter (which already runs), listing the tree again
/// until a listing finds no process it has not tracked: a child forked after its parent was
/// tracked is followed in the kernel; one forked between a listing and its parent's tracking
/// shows in the next listing. Returns the processes tracked.
fn follow(counter: &crate::bpf::Counter, tree: &dyn Fn() -> Vec<u32>) -> Result<Vec<u32>, String> {
    let mut tracked: Vec<u32> = Vec::new();
    for _ in 0..8 {
        let new: Vec<u32> = tree()
            .into_iter()
            .filter(|p| !tracked.contains(p))
            .collect();
        if new.is_empty() {
            break;
        }
        for p in new {
            counter
                .track(p)
                .map_err(|e| format!("tracking a process in the BPF map: {e}"))?;
            // Ended (and maybe freed) between the listing and now: its free, which removes
            // it, may have come first; a later process given its id must not be counted.
            if !present(p) {
                counter.untrack(p);
                continue;
            }
            tracked.push(p);
        }
    }
    Ok(tracked)
}

/// Whether process `p` is still there (a zombie is, until it is reaped).
fn present(p: u32) -> bool {
    std::path::Path::new(&format!("/proc/{p}")).exists()
}

/// The error of a program that cannot be started, with what the kernel's "no such file" hides
/// (see `explain_exec`).
pub(crate) fn spawn_error(program: &str, err: std::io::Error) -> Error {
    Error::Spawn {
        program: program.to_owned(),
        err: explain_exec(program, err),
    }
}

/// `command` resolved on `PATH` as `execvp` would: a name with a `/` as it is, else the first
/// executable file of that name in a `PATH` directory.
fn resolve(program: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return Some(program.into());
    }
    // execvp's default when PATH is unset.
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| runnable(p))
}

/// `err` from starting `program`, with what the kernel's "no such file" hides when the program
/// itself exists: the interpreter of its `#!` line, or its ELF dynamic loader, is missing (or
/// its name ends in a carriage return: a script saved with CRLF line ends).
fn explain_exec(program: &str, err: std::io::Error) -> std::io::Error {
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;
    if err.raw_os_error() != Some(libc::ENOENT) {
        return err;
    }
    let Some(path) = resolve(program) else {
        return err;
    };
    let mut head = vec![0u8; 4096];
    let Ok(n) = std::fs::File::open(&path).and_then(|mut f| f.read(&mut head)) else {
        return err;
    };
    head.truncate(n);
    let (what, wanted) = if let Some(line) = head.strip_prefix(b"#!") {
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        // The kernel splits the line at spaces and tabs only: a `\r` stays in the name.
        let name = line
            .split(|&b| b == b' ' || b == b'\t')
            .find(|w| !w.is_empty())
            .unwrap_or_default();
        ("the interpreter of its #! line", name.to_vec())
    } else if let Some(loader) = everybyte_env::elf::interpreter(&head) {
        (
            "its dynamic loader (the ELF interpreter)",
            loader.into_bytes(),
        )
    } else {
        return err;
    };
    let shown = String::from_utf8_lossy(&wanted);
    let why = if let Some(bare) = shown.strip_suffix('\r') {
        format!(
            "{} exists; {what} is \"{bare}\\r\": the file has CRLF line ends (dos2unix it)",
            path.display()
        )
    } else if std::path::Path::new(std::ffi::OsStr::from_bytes(&wanted)).exists() {
        format!(
            "{} exists, and so does {what}, {shown}: that one could not be started",
            path.display()
        )
    } else {
        format!("{} exists; {what}, {shown}, does not", path.display())
    };
    std::io::Error::new(err.kind(), format!("{err}: {why}"))
}

/// Forks `command` held at a gate before `execve`: its id can be followed before it runs a
/// single call of its own. (`std::process::Command` waits for the exec, so it cannot hold
/// the child.) Returns the child, the gate's write end (a byte through it lets the child go;
/// closing it unopened makes the child exit without running anything) and the read end of a
/// pipe that brings back `execve`'s errno if it fails, and closes at a successful exec.
fn spawn_held(
    command: &[String],
) -> Result<(libc::pid_t, std::os::fd::OwnedFd, std::os::fd::OwnedFd), Error> {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    let program = command.first().ok_or(Error::NoTraceCommand)?;
    let fail = |err: std::io::Error| spawn_error(program, err);
    let path =
        resolve(program).ok_or_else(|| fail(std::io::Error::from(std::io::ErrorKind::NotFound)))?;
    let cstr = |b: &[u8]| {
        CString::new(b).map_err(|_| fail(std::io::Error::from(std::io::ErrorKind::InvalidInput)))
    };
    let exe = cstr(path.as_os_str().as_bytes())?;
    let args = command
        .iter()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let env = std::env::vars_os()
        .map(|(k, v)| cstr(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut arg_ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    arg_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    let pipe = || {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` is a live array of two ints; on success both are new descriptors
        // that nothing else owns.
        unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return Err(fail(std::io::Error::last_os_error()));
            }
            Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
        }
    };
    let (gate_r, gate_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    // SAFETY: the path is a C string; on success the descriptor is new and ours.
    let null = unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if null < 0 {
            return Err(fail(std::io::Error::last_os_error()));
        }
        OwnedFd::from_raw_fd(null)
    };
    // SAFETY: between fork and execve the child only calls close, read, signal, sigprocmask,
    // dup2, execve, write and _exit,
    // which are async-signal-safe, on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: see above; every pointer outlives the calls.
        unsafe {
            // The child's copy of the write end, closed, so that the parent's close is the
            // end of the gate.
            libc::close(gate_w.as_raw_fd());
            // As std::process::Command leaves it: SIGPIPE to its default (Rust ignores it),
            // no signal blocked. Done before the gate, so that execve is the first call after
            // it: the workload's own calls start there, as strace counts them.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&raw mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &raw const none, std::ptr::null_mut());
            libc::dup2(null.as_raw_fd(), 0);
            let mut b = 0u8;
            // Only the parent's byte opens the gate; its close alone (tracking failed, or the
            // parent died) means: do not run.
            loop {
                match libc::read(gate_r.as_raw_fd(), (&raw mut b).cast(), 1) {
                    1 => break,
                    // Interrupted before the byte came: wait on.
                    -1 if *libc::__errno_location() == libc::EINTR => {}
                    // Closed unopened (0), or broken.
                    _ => libc::_exit(127),
                }
            }
            libc::execve(exe.as_ptr(), arg_ptrs.as_ptr(), env_ptrs.as_ptr());
            // Only reached when execve failed: its errno goes back to the parent.
            let errno = (*libc::__errno_location()).to_ne_bytes();
            libc::write(err_w.as_raw_fd(), errno.as_ptr().cast(), errno.len());
            libc::_exit(127);
        }
    }
    drop(err_w);
    Ok((pid, gate_w, err_r))
}

/// Waits (for 100 ms at most) until the held child `pid` is blocked in `read` (call 0), from
/// `/proc/PID/syscall`; where that file cannot be read, a moment. Past that, its few calls
/// before the gate may be counted, nothing worse.
fn wait_at_gate(pid: libc::pid_t) {
    let deadline = Instant::now() + Duration::from_millis(100);
    while Instant::now() < deadline {
        match std::fs::read_to_string(format!("/proc/{pid}/syscall")) {
            Ok(s) if s.starts_with("0 ") => return,
            Ok(_) => std::thread::sleep(Duration::from_micros(100)),
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                return;
            }
        }
    }
}

/// `command` started held until the counter follows it, then counted in the kernel until it
/// exits. `Err(Ok(why))`: the programs could not be attached (nothing was started).
fn kernel_trace(
    mut counter: crate::bpf::Counter,
    command: &[String],
    on_start: &mut dyn FnMut(u32),
) -> Result<Trace, Result<String, Error>> {
    counter.start().map_err(Ok)?;
    let start = Instant::now();
    let (pid, gate, exec_error) = spawn_held(command).map_err(Err)?;
    // Tracked once it waits at the gate: that read began untracked, so it is not counted, and
    // the first call counted is the execve after it.
    wait_at_gate(pid);
    if let Err(e) = counter.track(pid.cast_unsigned()) {
        // The gate closes unopened: the child exits without running the workload.
        drop(gate);
        // SAFETY: our own child, which has not been waited for.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        return Err(Ok(format!("tracking the workload in the BPF map: {e}")));
    }
    // A byte through the gate lets the child exec.
    {
        use std::io::Write;
        let _ = std::fs::File::from(gate).write_all(b"g");
    }
    // The exec's outcome: the pipe closes when it succeeds, and brings its errno when not.
    let mut errno = [0u8; 4];
    if std::io::Read::read_exact(&mut std::fs::File::from(exec_error), &mut errno).is_ok() {
        // SAFETY: our own child, which has not been waited for.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        let err = std::io::Error::from_raw_os_error(i32::from_ne_bytes(errno));
        return Err(Err(spawn_error(&command[0], err)));
    }
    on_start(pid.cast_unsigned());
    let mut status: libc::c_int = 0;
    // SAFETY: waiting for our own child into a live int.
    while unsafe { libc::waitpid(pid, &raw mut status, 0) } < 0 {
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err(Err(Error::TraceWait));
        }
    }
    let (exit_code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (None, None)
    };
    Ok(Trace {
        stats: counter.finish(),
        exit_code,
        signal,
        wall: start.elapsed(),
        counter: Counted::bpf(),
    })
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

pub(crate) fn name(nr: u64) -> String {
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

/// `struct ptrace_syscall_info` (Linux 5.3): which side of a call a syscall-stop is on.
#[repr(C)]
struct SyscallInfo {
    op: u8,
    pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    /// entry: the call's number, then its arguments; exit: the return value, then is_error.
    data: [u64; 8],
}

enum Side {
    Entry(u64),
    Exit(i64),
}

/// The side of the syscall-stop `tid` is in, where the kernel says (`None` before 5.3).
fn side(tid: libc::pid_t) -> Option<Side> {
    // SAFETY: zeroed plain-old-data of the size passed, filled by the kernel for a tracee in
    // a syscall-stop.
    let mut info: SyscallInfo = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_GET_SYSCALL_INFO,
            tid,
            std::mem::size_of::<SyscallInfo>(),
            (&raw mut info).cast::<libc::c_void>(),
        )
    };
    if rc <= 0 {
        return None;
    }
    match info.op {
        1 => Some(Side::Entry(info.data[0])),
        2 => Some(Side::Exit(info.data[0].cast_signed())),
        _ => None,
    }
}

/// Calls, errors and time per system call, from the syscall-stops of every tracee.
#[derive(Default)]
struct Counter {
    in_call: HashMap<libc::pid_t, (u64, Instant)>,
    stats: HashMap<u64, SyscallStat>,
}

impl Counter {
    fn inside(&self, tid: libc::pid_t) -> bool {
        self.in_call.contains_key(&tid)
    }

    fn forget(&mut self, tid: libc::pid_t) {
        self.in_call.remove(&tid);
    }

    /// A syscall-stop of `tid`: the entry starts the clock, the exit counts the call. A call
    /// already under way when tracing began (its exit without an entry) is not counted.
    #[cfg(target_arch = "x86_64")]
    fn stop(&mut self, tid: libc::pid_t) {
        let side = side(tid).or_else(|| {
            // Before Linux 5.3: entries and exits alternate.
            let r = regs(tid)?;
            Some(if self.in_call.contains_key(&tid) {
                Side::Exit(r.rax.cast_signed())
            } else {
                Side::Entry(r.orig_rax)
            })
        });
        match side {
            Some(Side::Entry(nr)) => {
                self.in_call.insert(tid, (nr, Instant::now()));
            }
            Some(Side::Exit(ret)) => {
                if let Some((nr, t0)) = self.in_call.remove(&tid) {
                    let e = self.stats.entry(nr).or_insert_with(|| SyscallStat {
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
                }
            }
            None => {}
        }
    }

    fn finish(self) -> Vec<SyscallStat> {
        let mut stats: Vec<SyscallStat> = self.stats.into_values().collect();
        stats.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(b.calls.cmp(&a.calls)));
        stats
    }
}

/// Runs `command` under ptrace and counts its system calls.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_lines)] // the ptrace stop protocol, one loop
fn ptrace_trace(command: &[String], on_start: &mut dyn FnMut(u32)) -> Result<Trace, Error> {
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
        err: explain_exec(&command[0], err),
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
    let mut count = Counter::default();
    let mut live: std::collections::BTreeSet<libc::pid_t> = std::collections::BTreeSet::from([pid]);
    let (mut exit_code, mut signal) = (None, None);
    while !live.is_empty() {
        let mut st: libc::c_int = 0;
        // SAFETY: waits for any tracee (or child); `st` is a live int.
        let tid = unsafe { libc::waitpid(-1, &raw mut st, libc::__WALL) };
        if tid < 0 {
            break;
        }
        if let Some(how) = ended(st) {
            live.remove(&tid);
            count.forget(tid);
            if tid == pid {
                (exit_code, signal) = how;
            }
            continue;
        }
        if !libc::WIFSTOPPED(st) {
            continue;
        }
        live.insert(tid);
        let sig = libc::WSTOPSIG(st);
        if sig == (libc::SIGTRAP | 0x80) {
            count.stop(tid);
            resume(tid, 0);
        } else if sig == libc::SIGTRAP || (st >> 16) != 0 {
            // fork/clone/exec events: the new tracee is ours already; it is waited for from
            // now, though its first stop may come later.
            live.extend(new_tracee(tid, st >> 16));
            resume(tid, 0);
        } else if sig == libc::SIGSTOP && !count.inside(tid) {
            // A new thread or child's initial stop (or a real SIGSTOP: passing 0 loses it,
            // as strace does for the initial stop).
            resume(tid, 0);
        } else {
            resume(tid, sig);
        }
    }
    drop(child);
    Ok(Trace {
        stats: count.finish(),
        exit_code,
        signal,
        wall: start.elapsed(),
        counter: Counted::ptrace(None),
    })
}

/// How a tracee ended, from its wait status: (exit code, signal); `None` while it lives.
fn ended(st: libc::c_int) -> Option<(Option<i32>, Option<i32>)> {
    if libc::WIFEXITED(st) {
        Some((Some(libc::WEXITSTATUS(st)), None))
    } else if libc::WIFSIGNALED(st) {
        Some((None, Some(libc::WTERMSIG(st))))
    } else {
        None
    }
}

/// The thread or process a fork, vfork or clone event of `tid` created.
fn new_tracee(tid: libc::pid_t, event: libc::c_int) -> Option<libc::pid_t> {
    if ![
        libc::PTRACE_EVENT_FORK,
        libc::PTRACE_EVENT_VFORK,
        libc::PTRACE_EVENT_CLONE,
    ]
    .contains(&event)
    {
        return None;
    }
    let mut msg: libc::c_ulong = 0;
    // SAFETY: `tid` is in a ptrace event stop; the kernel writes one unsigned long.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_GETEVENTMSG,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            (&raw mut msg).cast::<libc::c_void>(),
        )
    };
    (rc == 0).then(|| libc::pid_t::try_from(msg).ok()).flatten()
}

/// `PTRACE_EVENT_STOP`: the stop `PTRACE_INTERRUPT`, a group-stop or a new tracee reports.
const EVENT_STOP: libc::c_int = 128;

fn ptrace(req: libc::c_uint, tid: libc::pid_t, data: usize) -> Result<(), std::io::Error> {
    // SAFETY: requests whose data argument is an integer (options, a signal) or unused.
    let rc = unsafe {
        libc::ptrace(
            req,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            data as *mut libc::c_void,
        )
    };
    if rc == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The threads of process `pid`.
fn threads(pid: u32) -> Vec<libc::pid_t> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Why the kernel refused `PTRACE_SEIZE` on `pid`, naming the setting that decides it.
pub fn refusal(pid: u32) -> String {
    let tracer =
        everybyte_core::procfs::status_number(&pid.to_string(), "TracerPid:").filter(|&t| t != 0);
    if let Some(t) = tracer {
        return format!(
            "it is already traced by process {t} (a debugger or strace); only one tracer at a time"
        );
    }
    match std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
    {
        Some(1) => "kernel.yama.ptrace_scope is 1: only a parent may trace its child; run as root or with CAP_SYS_PTRACE, or set `sysctl kernel.yama.ptrace_scope=0`".into(),
        Some(2) => "kernel.yama.ptrace_scope is 2: only a process with CAP_SYS_PTRACE may trace; run as root or grant CAP_SYS_PTRACE".into(),
        Some(3) => "kernel.yama.ptrace_scope is 3: ptrace is disabled until the next boot".into(),
        _ => "ptrace is not permitted here: a container without CAP_SYS_PTRACE (add it to securityContext.capabilities, or `docker run --cap-add SYS_PTRACE`), a seccomp profile, or another user's process".into(),
    }
}

/// `SIGUSR1` wakes the tracer from `waitpid` (a handler without `SA_RESTART`).
extern "C" fn wake(_: libc::c_int) {}

fn install_wake() {
    // SAFETY: installs a handler that does nothing, for a signal this program uses for no
    // other purpose; the sigaction struct is zeroed (no SA_RESTART) then filled.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = wake as *const () as libc::sighandler_t;
        libc::sigemptyset(&raw mut sa.sa_mask);
        libc::sigaction(libc::SIGUSR1, &raw const sa, std::ptr::null_mut());
    }
}

/// Attaches to every thread of the running process tree that `tree` lists (the root first;
/// listed again on each pass, until a pass seizes nothing new), counts their system calls (and
/// those of the threads and children they start) until `stop` is set or they all exit, then
/// detaches, leaving them running exactly as before.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_lines)] // attach, the stop protocol, detach: one loop
fn ptrace_attach(
    tree: &dyn Fn() -> Vec<u32>,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<Trace, Error> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(&root) = tree().first() else {
        return Err(Error::NoTraceCommand);
    };
    let options = (libc::PTRACE_O_TRACESYSGOOD
        | libc::PTRACE_O_TRACEFORK
        | libc::PTRACE_O_TRACEVFORK
        | libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEEXEC) as usize;
    let start = Instant::now();
    let mut live: std::collections::BTreeSet<libc::pid_t> = std::collections::BTreeSet::new();
    // Threads and processes started while attaching are seized on the next pass: the tree is
    // listed again each time (those started after their parent was seized are traced already).
    for _ in 0..5 {
        let mut new = 0;
        for p in tree() {
            for tid in threads(p) {
                if live.contains(&tid) {
                    continue;
                }
                match ptrace(libc::PTRACE_SEIZE, tid, options) {
                    Ok(()) => {
                        live.insert(tid);
                        new += 1;
                    }
                    Err(e) if tid.cast_unsigned() == root && live.is_empty() => {
                        return Err(if e.raw_os_error() == Some(libc::ESRCH) {
                            Error::ProcessGone { pid: root }
                        } else {
                            Error::AttachRefused {
                                pid: root,
                                why: refusal(root),
                            }
                        });
                    }
                    // A thread that ended meanwhile, or a child we may not trace.
                    Err(_) => {}
                }
            }
        }
        if new == 0 {
            break;
        }
    }
    if live.is_empty() {
        return Err(Error::ProcessGone { pid: root });
    }
    for &tid in &live {
        let _ = ptrace(libc::PTRACE_INTERRUPT, tid, 0);
    }
    install_wake();
    // SAFETY: the id of this thread, for pthread_kill while it lives (joined below).
    let me = unsafe { libc::pthread_self() };
    let finished = std::sync::Arc::new(AtomicBool::new(false));
    let mut count = Counter::default();
    let (mut exit_code, mut signal) = (None, None);
    let mut detaching = false;
    std::thread::scope(|scope| {
        let finished2 = std::sync::Arc::clone(&finished);
        scope.spawn(move || {
            while !finished2.load(Ordering::Relaxed) {
                if stop.load(Ordering::Relaxed) {
                    // SAFETY: the tracer thread is alive until `finished` is set.
                    unsafe {
                        libc::pthread_kill(me, libc::SIGUSR1);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        while !live.is_empty() {
            if stop.load(Ordering::Relaxed) && !detaching {
                detaching = true;
                for &tid in &live {
                    let _ = ptrace(libc::PTRACE_INTERRUPT, tid, 0);
                }
            }
            let mut st: libc::c_int = 0;
            // SAFETY: waits for any tracee; `st` is a live int.
            let tid = unsafe { libc::waitpid(-1, &raw mut st, libc::__WALL) };
            if tid < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                break;
            }
            if let Some(how) = ended(st) {
                live.remove(&tid);
                count.forget(tid);
                if tid.cast_unsigned() == root {
                    (exit_code, signal) = how;
                }
                continue;
            }
            if !libc::WIFSTOPPED(st) {
                continue;
            }
            live.insert(tid);
            let sig = libc::WSTOPSIG(st);
            let event = st >> 16;
            if detaching {
                // A signal on its way in is handed over; a group-stop stays stopped.
                let deliver = if event == 0 && sig != (libc::SIGTRAP | 0x80) {
                    sig
                } else {
                    0
                };
                let _ = ptrace(libc::PTRACE_DETACH, tid, deliver as usize);
                live.remove(&tid);
                count.forget(tid);
            } else if sig == (libc::SIGTRAP | 0x80) {
                count.stop(tid);
                resume(tid, 0);
            } else if event == EVENT_STOP {
                if [libc::SIGSTOP, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU].contains(&sig) {
                    // A group-stop: it stays stopped until SIGCONT, as without us.
                    let _ = ptrace(libc::PTRACE_LISTEN, tid, 0);
                } else {
                    resume(tid, 0);
                }
            } else if event != 0 {
                // fork/clone/exec events: the new tracee is ours already; it is waited for
                // (and detached) from now, though its first stop may come later.
                live.extend(new_tracee(tid, event));
                resume(tid, 0);
            } else {
                resume(tid, sig);
            }
        }
        finished.store(true, Ordering::Relaxed);
    });
    Ok(Trace {
        stats: count.finish(),
        exit_code,
        signal,
        wall: start.elapsed(),
        counter: Counted::ptrace(None),
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn ptrace_attach(
    _tree: &dyn Fn() -> Vec<u32>,
    _stop: &std::sync::atomic::AtomicBool,
) -> Result<Trace, Error> {
    Err(Error::TraceUnsupported)
}

#[cfg(not(target_arch = "x86_64"))]
fn ptrace_trace(_command: &[String], _on_start: &mut dyn FnMut(u32)) -> Result<Trace, Error> {
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
            Method::Ptrace,
        ) {
            Ok(t) => t,
            // ptrace can be forbidden in a sandbox; the message says so.
            Err(e) if e.to_string().contains("ptrace") => return,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(t.counter.method, "ptrace");
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
