//! LOG003: a process died of a segmentation fault; the kernel's line is decoded.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};
use crate::line::find_ci;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A segmentation fault: the kernel's `segfault at ADDR ip IP sp SP error N in
    /// LIB[BASE+SIZE]` line, a shell's `Segmentation fault (core dumped)`, Python's
    /// faulthandler (or a library's own handler, PyTorch's `Segfault encountered`), a
    /// sanitizer's `SEGV on unknown address` report, systemd's `status=11/SEGV`, a DataLoader
    /// worker killed by SIGSEGV, the zh_CN shell's `段错误`, or exit status 139 (`"ExitCode":
    /// 139` too). A lower-case
    /// `segmentation fault` in prose (a warning that one may happen) is not a report.
    /// The kernel line is decoded: the page-fault error bits (read or write, user or kernel
    /// mode, page not present or protection violation, instruction fetch), a fault near
    /// address 0 named as a NULL dereference, and the instruction's offset inside the library
    /// computed from the mapping's base, so it can be resolved to a function.
    /// ## Why it matters
    /// A segfault in a native extension (`libtorch_cuda.so`, a custom op, a mismatched
    /// `libstdc++`) leaves no Python traceback. The offset and the library are the only
    /// evidence; `addr2line` turns them into a function and often a source line.
    /// ## Example
    /// ```text
    /// python3[14201]: segfault at 0 ip 00007f8e12a34b12 sp 00007ffc8e12a340 error 4 in libtorch_cuda.so[7f8e10000000+12a34000]
    /// ```
    /// ## Fix
    /// Resolve the offset with `addr2line -C -f -e /path/to/LIB 0xOFFSET` (or `gdb -batch -ex
    /// 'info symbol 0xOFFSET' LIB`); run with `PYTHONFAULTHANDLER=1` to get the Python stack
    /// next time, or under `gdb --args python train.py`. Mixed builds (a wheel compiled
    /// against another PyTorch or CUDA) are the usual cause: `everybyte env check`.
    pub static SEGFAULT = { code: "LOG003", name: "segfault", severity: Error, summary: "A process died of a segmentation fault" };
}

static KERNEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:(\S+)\[(\d+)\]: )?segfault at ([0-9a-fA-F]+) ip ([0-9a-fA-F]+) sp ([0-9a-fA-F]+) error ([0-9a-fA-F]+)(?: cpu \d+)?(?: in ([^\[\s]+)\[([0-9a-fA-F]+)\+([0-9a-fA-F]+)\])?",
    )
    .expect("valid regex")
});

/// A sanitizer's report (`==123==ERROR: AddressSanitizer: SEGV on unknown address 0x… (pc 0x…`).
static SANITIZER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\w+Sanitizer): SEGV on unknown address (?:(0x[0-9a-fA-F]+|\(nil\)))?(?:.*?\(pc (0x[0-9a-fA-F]+))?")
        .expect("valid regex")
});

/// PyTorch's own handler of fatal signals (`!!!!!!! Segfault encountered !!!!!!!`).
static HANDLER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Segfault encountered").expect("valid regex"));
/// systemd's report of a service's process killed by SIGSEGV.
static SYSTEMD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"status=11/SEGV\b").expect("valid regex"));

static EXIT_139: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:exit(?:ed with)?[ _]?(?:code|status)|exitcode|return ?code)"?\s*[:=]?\s*(139|-11)\b"#)
        .expect("valid regex")
});

/// The x86 page-fault error code, as the kernel prints it (hex).
pub fn describe_error_code(code: u64) -> String {
    let mode = if code & 0b100 != 0 {
        "user-mode"
    } else {
        "kernel-mode"
    };
    let access = if code & 0b1_0000 != 0 {
        "instruction fetch"
    } else if code & 0b10 != 0 {
        "write"
    } else {
        "read"
    };
    let reason = if code & 0b1 != 0 {
        "a protection violation (the page is mapped, but not for this access)"
    } else {
        "a page that is not mapped"
    };
    let mut s = format!("{mode} {access} of {reason}");
    if code & 0b1000 != 0 {
        s.push_str(", reserved bit set in a page-table entry");
    }
    if code & 0b10_0000 != 0 {
        s.push_str(", protection-key violation");
    }
    s
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    if let Some(c) = KERNEL.captures(line) {
        out.push(kernel_hit(line, &c));
        return;
    }
    if let Some(c) = SANITIZER.captures(line) {
        out.push(sanitizer_hit(&c));
        return;
    }
    let generic = |anchor: usize, what: &str| {
        Hit::new(
            &SEGFAULT,
            anchor,
            format!("{what}: the process died of SIGSEGV, with no faulting address in this line"),
            "the kernel log has the address and library: dmesg -T | grep -i segfault; rerun with PYTHONFAULTHANDLER=1 for the Python stack, or under gdb --args python …",
        )
        .role(Role::Cause("segmentation fault"))
        .key("sigsegv")
    };
    if let Some(p) = line.find("段错误") {
        out.push(generic(
            p,
            "segmentation fault (the shell's 段错误, in Chinese)",
        ));
    } else if let Some(m) = HANDLER.find(line) {
        out.push(generic(m.start(), "PyTorch's fatal-signal handler reported a segmentation fault (the frames after this line are the native stack)"));
    } else if let Some(m) = SYSTEMD.find(line) {
        out.push(generic(
            m.start(),
            "systemd: the service's main process died of SIGSEGV (status=11/SEGV)",
        ));
    } else if let Some(p) =
        find_ci(line, "segmentation fault").filter(|&p| reports_a_crash(line, p))
    {
        let what = if line.contains("Fatal Python error") {
            "Python's faulthandler reported a segmentation fault"
        } else if line.contains("killed by signal") {
            "a DataLoader worker was killed by a segmentation fault"
        } else {
            "segmentation fault"
        };
        out.push(generic(p, what));
    } else if let Some(c) = EXIT_139.captures(line) {
        let code: i64 = c[1].parse().unwrap_or(139);
        let what = if code < 0 {
            format!("exit code {code} (signal 11, SIGSEGV)")
        } else {
            format!("exit code {code} (128 + signal 11, SIGSEGV)")
        };
        let at = c.get(0).map_or(0, |m| m.start());
        let mut hit = generic(at, &what).data("exit_code", code);
        hit.key = Some("sigsegv-exit".to_owned());
        out.push(hit);
    }
}

/// Whether the `segmentation fault` at byte `p` reports a crash rather than mentions one in
/// prose (`importing faiss after torch may cause a segmentation fault`): the shells' and
/// handlers' capitalised `Segmentation fault`, a line that starts with it (after a timestamp
/// or a prefix ending in `: ` or `] `), `(core dumped)` after it, or a signal named with it.
fn reports_a_crash(line: &str, p: usize) -> bool {
    let before = line[..p].trim_end();
    let after = &line[p + "segmentation fault".len()..];
    // Python writes every warning as `file:line: Category: message`.
    let warning = before.contains("Warning:");
    line.as_bytes()[p] == b'S'
        || before.is_empty()
        || before.ends_with(':') && !warning
        || before.ends_with(']')
        || after.trim_start().starts_with("(core dumped)")
        || ["SIGSEGV", "signal 11", "Fatal Python error"]
            .iter()
            .any(|w| line.contains(w))
}

fn sanitizer_hit(c: &regex::Captures<'_>) -> Hit {
    let tool = &c[1];
    // `(nil)` is glibc's spelling of a NULL pointer.
    let addr = c.get(2).and_then(|m| match m.as_str() {
        "(nil)" => Some(0),
        hex => u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok(),
    });
    let what = match addr {
        None => "an access the sanitizer could not place (usually a wild or non-canonical pointer)"
            .to_owned(),
        Some(0) => "a NULL pointer dereference".to_owned(),
        Some(a) if a < 0x1_0000 => {
            format!("a NULL pointer dereference (field at offset {a:#x} of a NULL struct)")
        }
        Some(a) => format!("an invalid access at {a:#x}"),
    };
    let mut hit = Hit::new(
        &SEGFAULT,
        c.get(0).map_or(0, |m| m.start()),
        format!("{tool} caught a segmentation fault: {what}; the frames below this line are the native stack"),
        "read the first frame (#0) in your code or an extension below it; the sanitizer's next line says whether it was a READ or a WRITE; symbolize with ASAN_SYMBOLIZER_PATH=$(which llvm-symbolizer) if the frames are bare addresses",
    )
    .role(Role::Cause("segmentation fault"))
    .key("sigsegv")
    .data("detector", tool);
    if let Some(a) = addr {
        hit = hit.data("fault_address", format!("{a:#x}"));
    }
    if let Some(pc) = c.get(3) {
        hit = hit.data("ip", pc.as_str());
    }
    hit
}

fn kernel_hit(line: &str, c: &regex::Captures<'_>) -> Hit {
    let hex = |i: usize| {
        c.get(i)
            .and_then(|m| u64::from_str_radix(m.as_str(), 16).ok())
    };
    let addr = hex(3).unwrap_or(0);
    let ip = hex(4).unwrap_or(0);
    let code = hex(6).unwrap_or(0);
    let comm = c.get(1).map(|m| m.as_str());
    let pid = c.get(2).map(|m| m.as_str());
    let lib = c.get(7).map(|m| m.as_str());
    let base = hex(8);
    let size = hex(9);

    let what = if code & 0b1_0000 != 0 && addr == ip && addr < 0x1_0000 {
        "a call through a NULL function pointer".to_owned()
    } else if addr == 0 {
        "a NULL pointer dereference".to_owned()
    } else if addr < 0x1_0000 {
        format!("a NULL pointer dereference (field at offset {addr:#x} of a NULL struct)")
    } else {
        format!("an invalid access at {addr:#x}")
    };
    let who = match (comm, pid) {
        (Some(comm), Some(pid)) => format!("{comm} (pid {pid})"),
        _ => "a process".to_owned(),
    };
    let mut message = format!(
        "{who} segfaulted: {what} — {} (error {code:#x}) at ip {ip:#x}",
        describe_error_code(code)
    );
    let mut hit_data: Vec<(&'static str, serde_json::Value)> = vec![
        ("fault_address", format!("{addr:#x}").into()),
        ("ip", format!("{ip:#x}").into()),
        ("error_code", code.into()),
    ];
    let mut help = String::new();
    if let (Some(lib), Some(base)) = (lib, base) {
        let within = size.is_none_or(|s| ip >= base && ip < base.saturating_add(s));
        if within && ip >= base {
            let off = ip - base;
            message.push_str(&format!(" in {lib} at offset {off:#x}"));
            hit_data.push(("library", lib.into()));
            hit_data.push(("offset", format!("{off:#x}").into()));
            let find = if lib.starts_with("libtorch") || lib.starts_with("libc10") {
                "python -c \"import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))\"".to_owned()
            } else {
                format!("ldconfig -p | grep {lib}   (or: find / -name '{lib}*' 2>/dev/null)")
            };
            help = format!(
                "resolve the instruction: addr2line -C -f -i -e /path/to/{lib} {off:#x}\n\
                 or: gdb -batch -ex 'info symbol {off:#x}' /path/to/{lib}\n\
                 find the library: {find}\n\
                 (the offset is from the start of the mapping the kernel printed; for a library's first mapping that is its load base)"
            );
        } else {
            message.push_str(&format!(" (outside the mapping of {lib} the kernel named)"));
        }
    }
    if help.is_empty() {
        help.push_str("rerun with PYTHONFAULTHANDLER=1 for the Python stack, or under gdb --args python …; dmesg -T | grep -i segfault shows every crash");
    }
    let anchor = c.get(0).map_or(0, |m| m.start());
    let _ = line;
    let mut hit =
        Hit::new(&SEGFAULT, anchor, message, help).role(Role::Cause("segmentation fault"));
    hit.data = hit_data;
    hit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_error_bits() {
        assert_eq!(
            describe_error_code(4),
            "user-mode read of a page that is not mapped"
        );
        assert_eq!(
            describe_error_code(6),
            "user-mode write of a page that is not mapped"
        );
        assert_eq!(
            describe_error_code(7),
            "user-mode write of a protection violation (the page is mapped, but not for this access)"
        );
        assert_eq!(
            describe_error_code(0x14),
            "user-mode instruction fetch of a page that is not mapped"
        );
        assert_eq!(
            describe_error_code(0),
            "kernel-mode read of a page that is not mapped"
        );
    }

    fn fires(line: &str) -> Option<String> {
        let mut out = Vec::new();
        detect(line, &mut out);
        out.pop().map(|h| h.message)
    }

    #[test]
    fn sanitizer_reports_and_other_spellings() {
        let asan = fires("==20477==ERROR: AddressSanitizer: SEGV on unknown address 0x000800000039 (pc 0x00018b8be8e0 bp 0x00016d3b68b0 sp 0x00016d3b68b0 T1)").unwrap();
        assert!(
            asan.contains("AddressSanitizer") && asan.contains("0x800000039"),
            "{asan}"
        );
        let null = fires("==1==ERROR: UndefinedBehaviorSanitizer: SEGV on unknown address 0x000000000010 (pc 0x55d5 bp 0x7ff sp 0x7ff T1)").unwrap();
        assert!(null.contains("offset 0x10 of a NULL struct"), "{null}");
        let parachute =
            fires("Fatal Python error: pygame_parachute: (pygame parachute) Segmentation Fault")
                .unwrap();
        assert!(parachute.contains("faulthandler"), "{parachute}");
        let unknown = fires("==7==ERROR: AddressSanitizer: SEGV on unknown address (pc 0x7f5e2a1b3c4d bp 0x7ffd1234 sp 0x7ffd1200 T0)").unwrap();
        assert!(unknown.contains("could not place"), "{unknown}");
        assert!(
            fires("/bin/sh: line 1: 4242 segmentation fault (core dumped) python x.py").is_some()
        );
        assert!(fires("zsh: segmentation fault  python train.py").is_some());
        assert!(fires("!!!!!!! Segfault encountered !!!!!!!").is_some());
        assert!(fires("Jul 10 16:36:36 host systemd[1]: app.service: Main process exited, code=dumped, status=11/SEGV").is_some());
        assert!(
            fires("UserWarning: importing faiss after torch may cause a segmentation fault")
                .is_none()
        );
        assert!(fires("/env/faiss/__init__.py:3: UserWarning: segmentation fault may occur if faiss is imported after torch").is_none());
        // Other sanitizer errors are memory bugs, not SIGSEGV.
        assert!(
            fires("==1==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6020").is_none()
        );
    }

    #[test]
    fn computes_offset_in_library() {
        let mut out = Vec::new();
        detect(
            "python3[14201]: segfault at 0 ip 00007f8e12a34b12 sp 00007ffc8e12a340 error 4 in libtorch_cuda.so[7f8e10000000+12a34000]",
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert!(
            out[0].message.contains("NULL pointer dereference"),
            "{}",
            out[0].message
        );
        assert!(
            out[0].message.contains("offset 0x2a34b12"),
            "{}",
            out[0].message
        );
        assert!(
            out[0]
                .help
                .contains("addr2line -C -f -i -e /path/to/libtorch_cuda.so 0x2a34b12")
        );
    }
}
