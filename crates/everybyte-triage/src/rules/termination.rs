//! LOG004: a process terminated by a signal — the kill, not yet its cause.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A process ended by a signal: `Terminated`, `Killed` (as a shell reports its job),
    /// `Signal 15 (SIGTERM) received by PID …` (torchrun), `received SIGTERM`, exit codes above
    /// 128 (`exit code 137` is 128 + 9, SIGKILL; 143 is SIGTERM) and negative ones from
    /// Python's `subprocess` and torchrun (`exitcode: -9`), and `docker inspect`'s
    /// `"ExitCode": 137`. When an out-of-memory error, an
    /// OOM kill, a failed probe or an NCCL failure came shortly before (within
    /// `triage.link-window` lines, 200 by default), the finding names it as the likely cause.
    /// Segmentation faults (139) are LOG003, SIGILL (132) LOG021 and SIGABRT (134) LOG022;
    /// Kubernetes `State: Terminated` lines are a state, not a signal, and are not reported.
    /// ## Why it matters
    /// SIGKILL cannot be caught, so the process leaves no traceback: the kernel's OOM killer,
    /// a container memory limit and `kubectl delete --grace-period=0` all look the same from
    /// inside. SIGTERM is a request to stop from a scheduler, an elastic launcher tearing down
    /// the surviving ranks after one failed, or a person; the first failing rank's log holds
    /// the real error.
    /// ## Example
    /// ```text
    /// [2023-10-27T14:22:01.445Z] Terminated: 15 (SIGTERM)
    /// ```
    /// ## Fix
    /// Find who sent it. SIGKILL/137: `dmesg -T | grep -iE 'killed process|oom'` and
    /// `kubectl describe pod POD` (Last State, Reason). SIGTERM/143: the scheduler's events
    /// (`kubectl get events`, `sacct -j JOB`), or the log of the rank that failed first.
    pub static KILLED_BY_SIGNAL = { code: "LOG004", name: "killed-by-signal", severity: Error, summary: "A process was terminated by a signal" };
}

static EXIT_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:exit(?:ed with)?[ _]?(?:code|status)|exitcode|return ?code)"?\s*[:=]?\s*(-?\d{1,3})\b"#)
        .expect("valid regex")
});
static SIGNAL_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:Signals\.)?SIG(TERM|KILL|INT|HUP|QUIT)\b").expect("valid regex")
});
/// torchrun's elastic agent stopping the other ranks after one failed: `Sending process 4242
/// closing signal SIGTERM`.
static TEARDOWN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Sending process (\d+) closing signal (SIG[A-Z]+)").expect("valid regex")
});
/// torchrun's report of the rank that failed: `failed (exitcode: -9) local_rank: 3 (pid: 4245)`.
static RANK_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"failed \(exitcode: (-?\d+)\) local_rank: (\d+) \(pid: (\d+)\)")
        .expect("valid regex")
});
static WORD: LazyLock<Regex> = LazyLock::new(|| {
    // A shell's job report: "Terminated", "Killed", "[1]+  Killed  python x",
    // "run.sh: line 12:  4242 Killed   python train.py", "Terminated: 15".
    Regex::new(r"(?:^|\s)(Terminated|Killed)(?::\s*(\d+))?(?:\s|$)").expect("valid regex")
});

/// Signal number → (name, what usually sends it).
pub fn signal_info(n: u32) -> Option<(&'static str, &'static str)> {
    Some(match n {
        1 => (
            "SIGHUP",
            "the controlling terminal closed (an SSH session ended without nohup/tmux)",
        ),
        2 => (
            "SIGINT",
            "an interrupt (Ctrl-C, or a launcher forwarding one)",
        ),
        3 => ("SIGQUIT", "a quit request"),
        6 => (
            "SIGABRT",
            "the process aborted itself: a failed C++ assertion, an uncaught C++ exception, std::terminate, or the NCCL watchdog",
        ),
        9 => (
            "SIGKILL",
            "an uncatchable kill: the kernel OOM killer, a container memory limit, the kubelet after the grace period, or kill -9",
        ),
        15 => (
            "SIGTERM",
            "a request to stop: a scheduler (Kubernetes, Slurm time limit or preemption), an elastic launcher tearing down the other ranks after one failed, or a person",
        ),
        _ => return None,
    })
}

fn help_for(n: u32) -> &'static str {
    match n {
        9 => {
            "look for the OOM kill: dmesg -T | grep -iE 'killed process|oom'; in Kubernetes: kubectl describe pod POD | grep -A4 'Last State'"
        }
        15 => {
            "find who asked it to stop: kubectl get events --sort-by=.lastTimestamp, sacct -j JOB --format=JobID,State,ExitCode, or the log of the rank that failed first (torchrun tears the others down)"
        }
        6 => {
            "the line before the abort names the C++ error; for NCCL watchdog aborts look for LOG009; gdb or a core file (ulimit -c unlimited) gives the stack"
        }
        1 => "run long jobs under tmux, screen or nohup, or as a scheduler job",
        _ => "the lines before this one usually name the reason",
    }
}

/// torchrun's `Sending process N closing signal SIGTERM`: never a failure of its own, the
/// launcher tears the job down because a rank failed.
fn teardown(stripped: &str, offset: usize) -> Option<Hit> {
    let c = TEARDOWN.captures(stripped)?;
    let at = c.get(0).map_or(0, |m| m.start());
    Some(
        Hit::new(
            &KILLED_BY_SIGNAL,
            offset + at,
            format!(
                "torchrun stopped process {} with {}: the launcher tearing down the other ranks after one failed (knock-on; the failed rank's own error is the cause)",
                &c[1], &c[2]
            ),
            "find the rank that failed first: torchrun's `failed (exitcode: …) local_rank: N` line, and that rank's own traceback above it",
        )
        .role(Role::KnockOn)
        .key("torchrun-teardown")
        .data("pid", c[1].parse::<u64>().unwrap_or(0))
        .data("signal_name", &c[2]),
    )
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    let stripped = crate::line::strip_decorations(line);
    let offset = line.len() - stripped.len();
    // Kubernetes state and DataLoader worker lines belong elsewhere.
    // Ray's `There are some potential root causes. (1) The process is killed by SIGKILL by
    // OOM killer …` lists what might have happened, not what did.
    if stripped.contains("potential root causes")
        || stripped.contains("possible causes")
        || stripped.trim_start().starts_with("State:")
        || stripped.trim_start().starts_with("Last State:")
        || stripped.contains("killed by signal")
        || stripped.contains("Killed process")
        || stripped.contains("Kill process")
    {
        return;
    }
    if let Some(hit) = teardown(stripped, offset) {
        out.push(hit);
        return;
    }
    let rank = RANK_FAILED.captures(stripped);
    let mut found: Option<(u32, usize, Option<i64>)> = None;
    if let Some(c) = EXIT_CODE.captures(stripped) {
        let code: i64 = c[1].parse().unwrap_or(0);
        let sig = if code < 0 {
            u32::try_from(-code).ok()
        } else if code > 128 && code <= 128 + 64 {
            u32::try_from(code - 128).ok()
        } else {
            None
        };
        // SIGSEGV and SIGBUS are LOG003/LOG010's, SIGILL LOG021's, SIGABRT LOG022's.
        if let Some(sig) = sig.filter(|s| !matches!(s, 4 | 6 | 7 | 11)) {
            found = Some((sig, c.get(0).map_or(0, |m| m.start()), Some(code)));
        }
    }
    if found.is_none()
        && let Some(c) = WORD.captures(stripped)
    {
        let sig = if &c[1] == "Killed" { 9 } else { 15 };
        let sig = c
            .get(2)
            .and_then(|m| m.as_str().parse().ok())
            .unwrap_or(sig);
        found = Some((sig, c.get(1).map_or(0, |m| m.start()), None));
    }
    if found.is_none()
        && let Some(c) = SIGNAL_NAME.captures(stripped)
    {
        let sig = match &c[1] {
            "KILL" => 9,
            "INT" => 2,
            "HUP" => 1,
            "QUIT" => 3,
            _ => 15,
        };
        found = Some((sig, c.get(0).map_or(0, |m| m.start()), None));
    }
    let Some((sig, at, code)) = found else {
        return;
    };
    let Some((name, why)) = signal_info(sig) else {
        return;
    };
    let how = match code {
        Some(c) if c < 0 => format!(" (exit code {c})"),
        Some(c) => format!(" (exit code {c} = 128 + {sig})"),
        None => String::new(),
    };
    let who = match &rank {
        Some(r) => format!("local rank {} (pid {})", &r[2], &r[3]),
        None => "process".to_owned(),
    };
    let mut hit = Hit::new(
        &KILLED_BY_SIGNAL,
        offset + at,
        format!("{who} terminated by {name}{how}: {why}"),
        help_for(sig),
    )
    .role(Role::Kill)
    .key(format!("signal-{sig}"))
    .data("signal", sig)
    .data("signal_name", name);
    if let Some(c) = code {
        hit = hit.data("exit_code", c);
    }
    if let Some(r) = &rank {
        hit = hit
            .data("local_rank", r[2].parse::<u64>().unwrap_or(0))
            .data("pid", r[3].parse::<u64>().unwrap_or(0))
            .key(format!("rank-{}-signal-{sig}", &r[2]));
    }
    out.push(hit);
}
