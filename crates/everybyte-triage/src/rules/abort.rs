//! LOG022: a process aborted (SIGABRT): an uncaught C++ exception, `std::terminate`, a failed
//! native assertion.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};
use crate::line::strip_decorations;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A process that aborted itself: `terminate called after throwing an instance of 'X'`
    /// (also wrapped before the type) with the exception's `what():` line that follows it,
    /// `terminate called without an active exception`, a shell's `Aborted (core dumped)`,
    /// `Fatal Python error: Aborted`, `SIGABRT`, systemd's `status=6/ABRT`, the zh_CN shell's
    /// `已放弃 (核心已转储)`, and exit codes 134
    /// (128 + 6) and -6 (`"ExitCode": 134` too). An abort that follows another rule's
    /// failure (the CUDA error in `what()`, an NCCL timeout, an ECC error) is reported as that
    /// failure's knock-on: at info level, marked `knock_on`, linked to its cause; the shell's
    /// `Aborted` after a `terminate called …` is the knock-on of that exception.
    /// ## Why it matters
    /// A C++ exception that escapes a thread (the NCCL watchdog, a DataLoader's pin-memory
    /// thread, a destructor) calls `std::terminate`, which aborts the whole process: no Python
    /// traceback, only the exception's type and its `what()` message. That message is the
    /// error; the abort is how it ended the run.
    /// ## Example
    /// ```text
    /// terminate called after throwing an instance of 'c10::Error'
    ///   what():  CUDA error: an illegal memory access was encountered
    /// Aborted (core dumped)
    /// ```
    /// ## Fix
    /// Read the `what()` message (and the rule it is reported under, if any). For a native
    /// stack, allow core files (`ulimit -c unlimited`) and run `gdb -batch -ex bt python
    /// core`, or run under `gdb --args python …` and `catch throw`. CUDA errors: rerun with
    /// `CUDA_LAUNCH_BLOCKING=1`; NCCL watchdog aborts: see LOG009.
    pub static ABORT = { code: "LOG022", name: "abort", severity: Error, summary: "A process aborted (SIGABRT): an uncaught C++ exception or std::terminate" };
}

static THROWING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"terminate called after throwing an instance of ['`]([^'`]+)['`]")
        .expect("valid regex")
});
/// The same line wrapped before the type (a terminal's or an editor's width).
static THROWING_WRAPPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"terminate called after throwing an instance of\s*$").expect("valid regex")
});
/// The type on the line after a wrapped `… an instance of`.
static WRAPPED_TYPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*['`]([^'`]+)['`]\s*$").expect("valid regex"));
static OTHER_TERMINATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"terminate called (without an active exception|recursively)").expect("valid regex")
});
/// The shells' report of an aborted job, and Python's faulthandler.
static ABORTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^\s*Aborted\s*(?:\(core dumped\))?\s*$|Aborted\s+\(core dumped\)|line \d+:\s+\d+\s+Aborted\b|^\[\d+\][+-]?\s+Aborted\b|Fatal Python error: Aborted|已放弃\s*[(（]核心已转储[)）]|^\s*已放弃\s*$)")
        .expect("valid regex")
});
/// `SIGABRT`, and systemd's `status=6/ABRT`.
static SIGABRT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:Signals\.)?\bSIGABRT\b|Signal 6 \(SIGABRT\)|status=6/ABRT\b")
        .expect("valid regex")
});
static EXIT_134: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:exit(?:ed with)?[ _]?(?:code|status)|exitcode|return ?code)"?\s*[:=]?\s*(134|-6)\b"#)
        .expect("valid regex")
});

const CAUSE: &str = "uncaught C++ exception";
const GDB: &str = "for the native stack: ulimit -c unlimited and gdb -batch -ex bt python core, or gdb --args python … with `catch throw`";

/// What an exception type usually means.
fn exception_note(ty: &str) -> &'static str {
    match ty {
        "std::bad_alloc" => {
            "a host memory allocation failed (the process ran out of RAM or hit its limit)"
        }
        "c10::DistBackendError" => {
            "a distributed backend error (usually the NCCL watchdog after a timeout or a failed rank)"
        }
        "c10::OutOfMemoryError" => {
            "a CUDA out-of-memory error in a thread with no Python to catch it"
        }
        t if t.starts_with("c10::") => {
            "an error raised by PyTorch's C++ core outside any Python frame"
        }
        t if t.starts_with("std::") => "a C++ standard library error nothing caught",
        _ => "a C++ exception nothing caught",
    }
}

/// Reads the `what():` line after `terminate called after throwing …`.
fn what(hit: &mut Hit, line: &str) -> bool {
    let body = strip_decorations(line).trim();
    let Some(rest) = body.strip_prefix("what():") else {
        // A blank line may come between; anything else ends the wait.
        return !body.is_empty();
    };
    let mut text = rest.trim().to_owned();
    if text.len() > 300 {
        let mut cut = 300;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    if !text.is_empty() {
        hit.message.push_str(&format!(": what(): {text}"));
        hit.data.push(("what", text.into()));
    }
    true
}

/// Reads the exception's type from the line after a wrapped `terminate called …`, then
/// waits for its `what():`.
fn wrapped_type(hit: &mut Hit, line: &str) -> bool {
    let body = strip_decorations(line);
    if body.trim().is_empty() {
        return false;
    }
    let Some(c) = WRAPPED_TYPE.captures(body) else {
        // Not the type: read this line as the `what():` it may be.
        return what(hit, line);
    };
    let ty = c[1].to_owned();
    hit.message = throwing_message(&ty);
    hit.help = throwing_help(&ty);
    hit.data.push(("exception", ty.into()));
    hit.follow = Some((what, 0));
    false
}

fn throwing_message(ty: &str) -> String {
    format!(
        "uncaught C++ exception {ty}: std::terminate aborted the process (SIGABRT) — {}",
        exception_note(ty)
    )
}

fn throwing_help(ty: &str) -> String {
    if ty == "c10::DistBackendError" {
        format!(
            "the what() message names the collective and rank; see LOG009 for NCCL timeouts; {GDB}"
        )
    } else if ty == "std::bad_alloc" {
        format!(
            "measure the host memory peak (everybyte profile -- CMD) and the container's limit; {GDB}"
        )
    } else {
        format!(
            "the what() message is the error; CUDA errors: rerun with CUDA_LAUNCH_BLOCKING=1; {GDB}"
        )
    }
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    let stripped = strip_decorations(line);
    let offset = line.len() - stripped.len();
    if let Some(m) = THROWING_WRAPPED.find(stripped) {
        out.push(
            Hit::new(
                &ABORT,
                offset + m.start(),
                "uncaught C++ exception: std::terminate aborted the process (SIGABRT)".to_owned(),
                throwing_help(""),
            )
            .role(Role::KillOrCause(CAUSE))
            .data("signal", 6)
            .follow(wrapped_type, 4),
        );
        return;
    }
    if let Some(c) = THROWING.captures(stripped) {
        let ty = c[1].to_owned();
        out.push(
            Hit::new(
                &ABORT,
                offset + c.get(0).map_or(0, |m| m.start()),
                throwing_message(&ty),
                throwing_help(&ty),
            )
            .role(Role::KillOrCause(CAUSE))
            .data("exception", ty)
            .data("signal", 6)
            .follow(what, 2),
        );
        return;
    }
    if let Some(c) = OTHER_TERMINATE.captures(stripped) {
        let why = if &c[1] == "recursively" {
            "std::terminate was called again while terminating (an exception thrown during the abort)"
        } else {
            "a std::thread was destroyed while still joinable, or terminate was called with no exception (a thread left running at exit)"
        };
        out.push(
            Hit::new(
                &ABORT,
                offset + c.get(0).map_or(0, |m| m.start()),
                format!("std::terminate aborted the process (SIGABRT): {why}"),
                format!("look for the thread that outlived its owner (a DataLoader, a logger, a custom extension's worker); {GDB}"),
            )
            .role(Role::KillOrCause(CAUSE))
            .data("signal", 6),
        );
        return;
    }
    let shell = ABORTED.find(stripped);
    let (at, code) = if let Some(m) = shell {
        (m.start(), None)
    } else if let Some(m) = SIGABRT.find(stripped) {
        (m.start(), None)
    } else if let Some(c) = EXIT_134.captures(stripped) {
        (
            c.get(0).map_or(0, |m| m.start()),
            Some(c[1].parse::<i64>().unwrap_or(134)),
        )
    } else {
        return;
    };
    let how = match code {
        Some(c) if c < 0 => format!(" (exit code {c})"),
        Some(c) => format!(" (exit code {c} = 128 + 6)"),
        None => String::new(),
    };
    let mut hit = Hit::new(
        &ABORT,
        offset + at,
        format!("process aborted (SIGABRT){how}: a failed native assertion, an uncaught C++ exception or std::terminate"),
        format!("the lines before this one name the error (a `terminate called …` / `what():` pair, a C++ assertion); {GDB}"),
    )
    .role(Role::Kill)
    .data("signal", 6);
    if let Some(c) = code {
        // torchrun tells one rank's abort in several lines.
        hit = hit.data("exit_code", c).key("sigabrt-exit");
    } else if shell.is_none() {
        hit = hit.key("sigabrt-exit");
    }
    out.push(hit);
}

#[cfg(test)]
mod tests {
    use super::detect;

    fn fires(line: &str) -> bool {
        let mut out = Vec::new();
        detect(line, &mut out);
        !out.is_empty()
    }

    #[test]
    fn abort_forms_and_prose() {
        assert!(fires(
            "terminate called after throwing an instance of 'c10::Error'"
        ));
        assert!(fires("terminate called without an active exception"));
        assert!(fires("Aborted (core dumped)"));
        assert!(fires(
            "run.sh: line 7: 31337 Aborted                 (core dumped) python train.py"
        ));
        assert!(fires("Fatal Python error: Aborted"));
        assert!(fires("exitcode  : -6 (pid: 2630)"));
        assert!(fires(
            "systemd[1]: app.service: Main process exited, code=dumped, status=6/ABRT"
        ));
        assert!(fires("        \"ExitCode\": 134,"));
        assert!(!fires("Aborted!"));
        assert!(!fires(
            "Training aborted by user; we terminate the scheduler cleanly"
        ));
        assert!(!fires(
            "INFO: terminate called on worker pool 3, shutting down"
        ));
    }
}
