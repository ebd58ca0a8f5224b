//! System calls counted in the kernel, as bcc's `syscount` counts them: two BPF programs on
//! the `sys_enter` and `sys_exit` raw tracepoints, filtered to the workload's processes, add
//! each call's count, error and wall time to a per-CPU array that user space reads once, at
//! the end. The workload never stops for the counting (ptrace stops every thread twice per
//! call); its cost is two short programs per call.
//!
//! The programs are a few dozen instructions, assembled here and loaded with the `bpf(2)`
//! system call directly: no C toolchain, no BPF compiler and no library at build or run time.
//!
//! - `sys_enter`: when the calling thread's process is in `TGIDS`, remember (entry time,
//!   call number) for the thread in `START`.
//! - `sys_exit`: when the thread has a started call in `START`, add one call, its time and
//!   (for a return in −4095..−1) one error to `STATS[nr]`. `exit` and `exit_group`, which
//!   never return, are counted at entry.
//! - `sched_process_fork`: a child of a tracked process joins `TGIDS` before it first runs, so
//!   that the tree is followed as it grows.
//! - `sched_process_free`: a task gone for good (reaped) leaves `START`, and a process whose
//!   leader it was leaves `TGIDS`: a later process given its id is not counted.
//!
//! The `unsafe` here is the `bpf(2)` protocol: each call gets a `bpf_attr` laid out as the
//! kernel's (a zeroed, 128-byte, 8-aligned buffer with the fields at their documented offsets)
//! and pointers to live buffers of the sizes the maps were created with.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::syscalls::SyscallStat;

/// Call numbers counted: x86-64 has fewer than 512.
const NR_MAX: u32 = 512;
const MAX_PROCESSES: u32 = 65536;
const MAX_THREADS_IN_CALL: u32 = 65536;

// bpf(2) commands, map and program types, helpers (include/uapi/linux/bpf.h).
const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
const MAP_PERCPU_ARRAY: u32 = 6;
const MAP_LRU_HASH: u32 = 9;
const PROG_RAW_TRACEPOINT: u32 = 17;
const HELPER_MAP_LOOKUP: i32 = 1;
const HELPER_MAP_UPDATE: i32 = 2;
const HELPER_MAP_DELETE: i32 = 3;
const HELPER_KTIME_GET_NS: i32 = 5;
const HELPER_GET_CURRENT_PID_TGID: i32 = 14;
const HELPER_PROBE_READ_KERNEL: i32 = 113;

/// `sched_process_fork(parent, child)`: a tracked process made a process; the child's process
/// id (`task_struct.tgid`, at `tgid_offset`: a new thread's is its parent's, already there)
/// joins `TGIDS` before the child first runs.
#[allow(clippy::wildcard_imports)] // the assembler reads as assembly
fn fork_program(tgids: i32, tgid_offset: i32) -> Vec<Insn> {
    use asm::*;
    let mut p = Program::default();
    p.push(mov(R6, R1))
        .push(call(HELPER_GET_CURRENT_PID_TGID))
        .push(rsh_k(R0, 32))
        .push(stx(W, FP, -4, R0))
        .lookup(tgids, -4)
        .jump(JEQ, R0, 0, "out")
        // The raw tracepoint's second argument: the child's task_struct.
        .push(ldx(DW, R3, R6, 8))
        .push(add_k(R3, tgid_offset))
        .push(mov(R1, FP))
        .push(add_k(R1, -8))
        .push(mov_k(R2, 4))
        .push(call(HELPER_PROBE_READ_KERNEL))
        .jump(JSLT, R0, 0, "out")
        .push(st_k(W, FP, -12, 1))
        .update(tgids, -8, -12)
        .ret0();
    p.finish()
}

/// `sched_process_free(task)`: a task's last reference is gone (after it was reaped), so its id
/// may be given to another: its slot in `START` goes, and when it led its process (its `pid`,
/// at `pid_offset`, is its `tgid`) the process leaves `TGIDS`, so that a later process given
/// the same id is not counted.
#[allow(clippy::wildcard_imports)] // the assembler reads as assembly
fn free_program(tgids: i32, start: i32, tgid_offset: i32, pid_offset: i32) -> Vec<Insn> {
    use asm::*;
    let mut p = Program::default();
    // The raw tracepoint's first argument: the task.
    p.push(ldx(DW, R6, R1, 0));
    // (tgid << 32 | pid) at fp-16, as bpf_get_current_pid_tgid gives it: the pid in the
    // low half (x86-64 is little-endian).
    for (offset, at) in [(tgid_offset, -12), (pid_offset, -16)] {
        p.push(mov(R1, FP))
            .push(add_k(R1, at))
            .push(mov_k(R2, 4))
            .push(mov(R3, R6))
            .push(add_k(R3, offset))
            .push(call(HELPER_PROBE_READ_KERNEL))
            .jump(JSLT, R0, 0, "out");
    }
    p.delete(start, -16)
        .push(ldx(W, R7, FP, -12))
        .push(ldx(W, R8, FP, -16))
        .jump_x(JNE, R7, R8, "out")
        .delete(tgids, -12)
        .ret0();
    p.finish()
}

/// The byte offset of `field` in the kernel's `struct name`, from the kernel's own type
/// information (`/sys/kernel/btf/vmlinux`).
fn btf_member_offset(btf: &[u8], name: &str, field: &str) -> Option<u32> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(btf.get(at..at + 4)?.try_into().ok()?))
    };
    if btf.get(0..2)? != [0x9f, 0xeb] {
        return None;
    }
    let hdr = u32_at(4)? as usize;
    let (types, types_len) = (hdr + u32_at(8)? as usize, u32_at(12)? as usize);
    let strings = hdr + u32_at(16)? as usize;
    let string = |off: u32| -> Option<&[u8]> {
        let s = btf.get(strings + off as usize..)?;
        Some(&s[..s.iter().position(|&b| b == 0)?])
    };
    let mut at = types;
    while at + 12 <= types + types_len {
        let (name_off, info) = (u32_at(at)?, u32_at(at + 4)?);
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        let kind_flag = info >> 31 == 1;
        at += 12;
        let extra = match kind {
            1 | 14 | 17 => 4,
            3 => 12,
            4 | 5 | 15 | 19 => vlen * 12,
            6 | 13 => vlen * 8,
            2 | 7..=12 | 16 | 18 => 0,
            // A kind this reader does not know: its size is unknown, so is the rest.
            _ => return None,
        };
        if kind == 4 && string(name_off)? == name.as_bytes() {
            for m in 0..vlen {
                let member = at + m * 12;
                if string(u32_at(member)?)? == field.as_bytes() {
                    let bits = u32_at(member + 8)?;
                    let bits = if kind_flag { bits & 0x00ff_ffff } else { bits };
                    return Some(bits / 8);
                }
            }
        }
        at += extra;
    }
    None
}

/// One BPF instruction: opcode, destination and source registers, offset, immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

/// A tiny assembler for the instructions the programs use.
mod asm {
    use super::Insn;

    pub const R0: u8 = 0;
    pub const R1: u8 = 1;
    pub const R2: u8 = 2;
    pub const R3: u8 = 3;
    pub const R4: u8 = 4;
    pub const R6: u8 = 6;
    pub const R7: u8 = 7;
    pub const R8: u8 = 8;
    pub const R9: u8 = 9;
    pub const FP: u8 = 10;

    const ALU64: u8 = 0x07;
    const JMP: u8 = 0x05;
    const LDX: u8 = 0x01;
    const STX: u8 = 0x03;
    const ST: u8 = 0x02;
    const MEM: u8 = 0x60;
    const K: u8 = 0x00;
    const X: u8 = 0x08;
    pub const W: u8 = 0x00;
    pub const DW: u8 = 0x18;

    fn i(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }
    pub fn mov(dst: u8, src: u8) -> Insn {
        i(ALU64 | 0xb0 | X, dst, src, 0, 0)
    }
    pub fn mov_k(dst: u8, imm: i32) -> Insn {
        i(ALU64 | 0xb0 | K, dst, 0, 0, imm)
    }
    pub fn add_k(dst: u8, imm: i32) -> Insn {
        i(ALU64 | K, dst, 0, 0, imm)
    }
    pub fn add(dst: u8, src: u8) -> Insn {
        i(ALU64 | X, dst, src, 0, 0)
    }
    pub fn sub(dst: u8, src: u8) -> Insn {
        i(ALU64 | 0x10 | X, dst, src, 0, 0)
    }
    pub fn rsh_k(dst: u8, imm: i32) -> Insn {
        i(ALU64 | 0x70 | K, dst, 0, 0, imm)
    }
    /// `dst = *(size *)(src + off)`
    pub fn ldx(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        i(LDX | MEM | size, dst, src, off, 0)
    }
    /// `*(size *)(dst + off) = src`
    pub fn stx(size: u8, dst: u8, off: i16, src: u8) -> Insn {
        i(STX | MEM | size, dst, src, off, 0)
    }
    /// `*(size *)(dst + off) = imm`
    pub fn st_k(size: u8, dst: u8, off: i16, imm: i32) -> Insn {
        i(ST | MEM | size, dst, 0, off, imm)
    }
    /// `dst = map` (a 64-bit load of the map's file descriptor, two instructions).
    pub fn ld_map(dst: u8, fd: i32) -> [Insn; 2] {
        [i(0x18, dst, 1, 0, fd), i(0, 0, 0, 0, 0)]
    }
    /// `if dst OP imm goto +off`; OP: 0x10 ==, 0x30 >= (unsigned), 0x70 >= (signed),
    /// 0xc0 < (signed).
    pub fn jmp_k(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
        i(JMP | op | K, dst, 0, off, imm)
    }
    /// `if dst OP src goto +off`
    pub fn jmp_x(op: u8, dst: u8, src: u8, off: i16) -> Insn {
        i(JMP | op | X, dst, src, off, 0)
    }
    pub const JEQ: u8 = 0x10;
    pub const JNE: u8 = 0x50;
    pub const JGE: u8 = 0x30;
    pub const JSGE: u8 = 0x70;
    pub const JSLT: u8 = 0xc0;
    pub fn ja() -> Insn {
        i(JMP, 0, 0, 0, 0)
    }
    pub fn call(helper: i32) -> Insn {
        i(JMP | 0x80, 0, 0, 0, helper)
    }
    pub fn exit() -> Insn {
        i(JMP | 0x90, 0, 0, 0, 0)
    }
}

/// Instructions whose jumps are written with labels, resolved when finished.
#[derive(Default)]
struct Program {
    insns: Vec<Insn>,
    /// (instruction, label) of each jump to resolve.
    fixups: Vec<(usize, &'static str)>,
    labels: Vec<(&'static str, usize)>,
}

impl Program {
    fn push(&mut self, i: Insn) -> &mut Self {
        self.insns.push(i);
        self
    }
    fn extend(&mut self, is: impl IntoIterator<Item = Insn>) -> &mut Self {
        self.insns.extend(is);
        self
    }
    /// A jump instruction whose offset is resolved to `to`'s when finished.
    fn branch(&mut self, i: Insn, to: &'static str) -> &mut Self {
        self.fixups.push((self.insns.len(), to));
        self.insns.push(i);
        self
    }
    /// `if dst OP imm goto to`
    fn jump(&mut self, op: u8, dst: u8, imm: i32, to: &'static str) -> &mut Self {
        self.branch(asm::jmp_k(op, dst, imm, 0), to)
    }
    /// `if dst OP src goto to`
    fn jump_x(&mut self, op: u8, dst: u8, src: u8, to: &'static str) -> &mut Self {
        self.branch(asm::jmp_x(op, dst, src, 0), to)
    }
    /// `goto to`
    fn goto(&mut self, to: &'static str) -> &mut Self {
        self.branch(asm::ja(), to)
    }
    /// `r0 = map_lookup_elem(map, fp + key)`
    fn lookup(&mut self, map: i32, key: i16) -> &mut Self {
        use asm::{FP, R1, R2, add_k, call, ld_map, mov};
        self.extend(ld_map(R1, map))
            .push(mov(R2, FP))
            .push(add_k(R2, i32::from(key)))
            .push(call(HELPER_MAP_LOOKUP))
    }
    /// `map_delete_elem(map, fp + key)`
    fn delete(&mut self, map: i32, key: i16) -> &mut Self {
        use asm::{FP, R1, R2, add_k, call, ld_map, mov};
        self.extend(ld_map(R1, map))
            .push(mov(R2, FP))
            .push(add_k(R2, i32::from(key)))
            .push(call(HELPER_MAP_DELETE))
    }
    /// `map_update_elem(map, fp + key, fp + value, BPF_ANY)`
    fn update(&mut self, map: i32, key: i16, value: i16) -> &mut Self {
        use asm::{FP, R1, R2, R3, R4, add_k, call, ld_map, mov, mov_k};
        self.extend(ld_map(R1, map))
            .push(mov(R2, FP))
            .push(add_k(R2, i32::from(key)))
            .push(mov(R3, FP))
            .push(add_k(R3, i32::from(value)))
            .push(mov_k(R4, 0))
            .push(call(HELPER_MAP_UPDATE))
    }
    /// `*(u64 *)(r0 + off) += 1`: one more in the map value `r0` points to.
    fn bump(&mut self, off: i16) -> &mut Self {
        use asm::{DW, R0, R1, add_k, ldx, stx};
        self.push(ldx(DW, R1, R0, off))
            .push(add_k(R1, 1))
            .push(stx(DW, R0, off, R1))
    }
    /// `out: return 0`
    fn ret0(&mut self) -> &mut Self {
        self.label("out")
            .push(asm::mov_k(asm::R0, 0))
            .push(asm::exit())
    }
    fn label(&mut self, name: &'static str) -> &mut Self {
        self.labels.push((name, self.insns.len()));
        self
    }
    fn finish(mut self) -> Vec<Insn> {
        for (at, to) in &self.fixups {
            let target = self
                .labels
                .iter()
                .find(|(n, _)| n == to)
                .map_or(*at + 1, |(_, t)| *t);
            let off = i16::try_from(target.cast_signed() - at.cast_signed() - 1).unwrap_or(0);
            self.insns[*at].off = off;
        }
        self.insns
    }
}

/// `sys_enter(regs, id)`: a call of a tracked process starts.
#[allow(clippy::wildcard_imports)] // the assembler reads as assembly
fn enter_program(tgids: i32, start: i32, stats: i32) -> Vec<Insn> {
    use asm::*;
    let mut p = Program::default();
    p.push(mov(R6, R1))
        .push(call(HELPER_GET_CURRENT_PID_TGID))
        .push(mov(R7, R0))
        .push(rsh_k(R0, 32))
        .push(stx(W, FP, -4, R0))
        .lookup(tgids, -4)
        .jump(JEQ, R0, 0, "out")
        // The raw tracepoint's second argument: the call number.
        .push(ldx(DW, R9, R6, 8))
        // exit and exit_group never return: counted here, with no slot left behind.
        .jump(JEQ, R9, 60, "final")
        .jump(JEQ, R9, 231, "final")
        .push(call(HELPER_KTIME_GET_NS))
        .push(mov(R8, R0))
        .push(stx(DW, FP, -32, R7))
        // The thread's slot, written in place when it has one (no allocation per call)...
        .lookup(start, -32)
        .jump(JEQ, R0, 0, "insert")
        .push(stx(DW, R0, 0, R8))
        .push(stx(DW, R0, 8, R9))
        .goto("out")
        // ... else made.
        .label("insert")
        .push(stx(DW, FP, -24, R8))
        .push(stx(DW, FP, -16, R9))
        .update(start, -32, -24)
        .goto("out")
        .label("final")
        .push(stx(W, FP, -36, R9))
        .lookup(stats, -36)
        .jump(JEQ, R0, 0, "out")
        .bump(0)
        .ret0();
    p.finish()
}

/// `sys_exit(regs, ret)`: a call of a tracked thread ends.
#[allow(clippy::wildcard_imports)] // the assembler reads as assembly
fn exit_program(start: i32, stats: i32) -> Vec<Insn> {
    use asm::*;
    let mut p = Program::default();
    p.push(mov(R6, R1))
        .push(call(HELPER_GET_CURRENT_PID_TGID))
        .push(stx(DW, FP, -8, R0))
        .lookup(start, -8)
        .jump(JEQ, R0, 0, "out")
        .push(ldx(DW, R7, R0, 0))
        // A slot already used (or never started): not a call of ours in progress.
        .jump(JEQ, R7, 0, "out")
        .push(ldx(DW, R8, R0, 8))
        .push(st_k(DW, R0, 0, 0))
        .push(call(HELPER_KTIME_GET_NS))
        .push(sub(R0, R7))
        .push(mov(R7, R0))
        // The raw tracepoint's second argument: the return value.
        .push(ldx(DW, R9, R6, 8))
        .jump(JGE, R8, NR_MAX.cast_signed(), "out")
        .push(stx(W, FP, -20, R8))
        .lookup(stats, -20)
        .jump(JEQ, R0, 0, "out")
        .bump(0)
        .push(ldx(DW, R1, R0, 16))
        .push(add(R1, R7))
        .push(stx(DW, R0, 16, R1))
        // An error is a return in -4095..-1.
        .jump(JSGE, R9, 0, "out")
        .jump(JSLT, R9, -4095, "out")
        .bump(8)
        .ret0();
    p.finish()
}

/// A zeroed `union bpf_attr`.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Self {
        Attr([0; 128])
    }
    fn u32(&mut self, at: usize, v: u32) -> &mut Self {
        self.0[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, at: usize, v: u64) -> &mut Self {
        self.0[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
}

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, 8-aligned 128-byte `bpf_attr` whose pointers (set by the
    // callers) point to buffers that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            std::mem::size_of::<Attr>(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn fd(r: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(i32::try_from(r).unwrap_or(-1)) }
}

fn map(kind: u32, key: u32, value: u32, entries: u32) -> std::io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32(0, kind).u32(4, key).u32(8, value).u32(12, entries);
    bpf(BPF_MAP_CREATE, &mut a).map(fd)
}

fn load(insns: &[Insn]) -> Result<OwnedFd, String> {
    let license = c"GPL";
    let mut log = vec![0u8; 1 << 16];
    let mut a = Attr::new();
    a.u32(0, PROG_RAW_TRACEPOINT)
        .u32(4, u32::try_from(insns.len()).unwrap_or(0))
        .u64(8, insns.as_ptr() as u64)
        .u64(16, license.as_ptr() as u64)
        .u32(24, 1)
        .u32(28, u32::try_from(log.len()).unwrap_or(0))
        .u64(32, log.as_mut_ptr() as u64);
    bpf(BPF_PROG_LOAD, &mut a).map(fd).map_err(|e| {
        let verifier = String::from_utf8_lossy(&log);
        let verifier = verifier.trim_end_matches('\0').trim();
        if verifier.is_empty() {
            format!("the kernel refused the BPF program: {e}")
        } else {
            let last: Vec<&str> = verifier.lines().rev().take(3).collect();
            format!(
                "the BPF verifier refused the program: {e} ({})",
                last.join(" / ")
            )
        }
    })
}

fn attach(name: &std::ffi::CStr, prog: &OwnedFd) -> std::io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u64(0, name.as_ptr() as u64)
        .u32(8, prog.as_raw_fd().cast_unsigned());
    bpf(BPF_RAW_TRACEPOINT_OPEN, &mut a).map(fd)
}

/// The CPUs the kernel may ever use (`/sys/devices/system/cpu/possible`: `0-15`), which sizes a
/// per-CPU map's values.
fn possible_cpus() -> Option<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").ok()?;
    let mut n = 0usize;
    for range in text.trim().split(',') {
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        n += b.checked_sub(a)? + 1;
    }
    // Never fewer than the kernel says it is configured for: the kernel writes one value per
    // possible CPU into the buffer.
    // SAFETY: sysconf reads a constant.
    let configured = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    Some(n.max(usize::try_from(configured).unwrap_or(0)).max(1))
}

/// The counting programs, loaded and attached; counting stops when it is dropped.
pub struct Counter {
    tgids: OwnedFd,
    stats: OwnedFd,
    _start: OwnedFd,
    programs: [OwnedFd; 4],
    links: Vec<OwnedFd>,
    /// Possible CPUs: the per-CPU values read per call number.
    cpus: usize,
}

impl Counter {
    /// Creates the maps and loads the programs (not yet attached). The error says why BPF
    /// cannot count here: not permitted (no `CAP_BPF`/`CAP_SYS_ADMIN`, a locked-down
    /// container, `kernel.unprivileged_bpf_disabled`), not available, or refused.
    pub fn new() -> Result<Counter, String> {
        if !cfg!(target_arch = "x86_64") {
            return Err("the call numbers are read as x86-64's".to_owned());
        }
        // The programs see the host's process ids; in a PID namespace of its own (a container
        // without hostPID) the ids this process knows are others.
        let ns = std::fs::read_link("/proc/self/ns/pid").unwrap_or_default();
        if ns.as_os_str() != "pid:[4026531836]" {
            return Err(format!(
                "this process runs in a PID namespace of its own ({}), where BPF's process ids are not the ones it sees",
                ns.display()
            ));
        }
        let cpus = possible_cpus().ok_or(
            "/sys/devices/system/cpu/possible cannot be read: the per-CPU counts cannot be sized",
        )?;
        // Kernels before 5.11 charge maps to RLIMIT_MEMLOCK, even for root.
        let unlimited = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit reads a live struct; failing leaves the limit as it was.
        unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &raw const unlimited) };
        let why = |what: &str, e: std::io::Error| match e.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => format!(
                "BPF is not permitted here ({what}: {e}; it needs CAP_BPF and CAP_PERFMON, or root, and on kernels before 5.11 a large enough RLIMIT_MEMLOCK; kernel.unprivileged_bpf_disabled is {})",
                std::fs::read_to_string("/proc/sys/kernel/unprivileged_bpf_disabled")
                    .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned())
            ),
            Some(libc::ENOSYS) => format!("this kernel has no bpf(2) ({what}: {e})"),
            _ => format!("{what}: {e}"),
        };
        // Least recently used processes make room when the table is full.
        let tgids =
            map(MAP_LRU_HASH, 4, 4, MAX_PROCESSES).map_err(|e| why("creating a BPF map", e))?;
        let start = map(MAP_LRU_HASH, 8, 16, MAX_THREADS_IN_CALL)
            .map_err(|e| why("creating a BPF map", e))?;
        let stats =
            map(MAP_PERCPU_ARRAY, 4, 24, NR_MAX).map_err(|e| why("creating a BPF map", e))?;
        let btf = std::fs::read("/sys/kernel/btf/vmlinux").map_err(|e| {
            format!("/sys/kernel/btf/vmlinux: {e} (the kernel's type information, to follow the process tree)")
        })?;
        let offset = |field: &str| {
            btf_member_offset(&btf, "task_struct", field)
                .and_then(|o| i32::try_from(o).ok())
                .ok_or(format!(
                    "/sys/kernel/btf/vmlinux: no task_struct.{field} in the kernel's type information"
                ))
        };
        let (tgid_offset, pid_offset) = (offset("tgid")?, offset("pid")?);
        let enter = load(&enter_program(
            tgids.as_raw_fd(),
            start.as_raw_fd(),
            stats.as_raw_fd(),
        ))?;
        let exit = load(&exit_program(start.as_raw_fd(), stats.as_raw_fd()))?;
        let fork = load(&fork_program(tgids.as_raw_fd(), tgid_offset))?;
        let free = load(&free_program(
            tgids.as_raw_fd(),
            start.as_raw_fd(),
            tgid_offset,
            pid_offset,
        ))?;
        Ok(Counter {
            tgids,
            stats,
            _start: start,
            programs: [enter, exit, fork, free],
            links: Vec::new(),
            cpus,
        })
    }

    /// Counts the calls of process `pid` (all its threads) and of the children it makes from
    /// now on.
    pub fn track(&self, pid: u32) -> std::io::Result<()> {
        let mut tracked = 1u32;
        self.process_table(BPF_MAP_UPDATE_ELEM, pid, Some(&mut tracked))
    }

    /// Stops counting process `pid` (it ended before it was tracked: nothing would remove it).
    pub fn untrack(&self, pid: u32) {
        let _ = self.process_table(BPF_MAP_DELETE_ELEM, pid, None);
    }

    /// Whether process `pid` is counted now.
    #[cfg(test)]
    fn tracks(&self, pid: u32) -> bool {
        let mut tracked = 0u32;
        self.process_table(BPF_MAP_LOOKUP_ELEM, pid, Some(&mut tracked))
            .is_ok()
    }

    /// One element command (`cmd`) on the table of tracked processes, for `pid`, with the value
    /// it reads or writes where it takes one (flags 0: update creates or replaces).
    fn process_table(
        &self,
        cmd: libc::c_long,
        pid: u32,
        value: Option<&mut u32>,
    ) -> std::io::Result<()> {
        let mut a = Attr::new();
        a.u32(0, self.tgids.as_raw_fd().cast_unsigned())
            .u64(8, (&raw const pid) as u64);
        if let Some(v) = value {
            a.u64(16, std::ptr::from_mut(v) as u64);
        }
        bpf(cmd, &mut a).map(|_| ())
    }

    /// Starts counting: the programs go onto the `sched_process_fork`, `sched_process_free`,
    /// `sys_enter` and `sys_exit` tracepoints (the process tree is followed before any call is
    /// counted).
    pub fn start(&mut self) -> Result<(), String> {
        for (name, prog) in [
            (c"sched_process_fork", &self.programs[2]),
            (c"sched_process_free", &self.programs[3]),
            (c"sys_enter", &self.programs[0]),
            (c"sys_exit", &self.programs[1]),
        ] {
            let link = attach(name, prog).map_err(|e| {
                format!(
                    "attaching to the {} tracepoint: {e} (it needs CAP_PERFMON and CAP_BPF, or root)",
                    name.to_string_lossy()
                )
            })?;
            self.links.push(link);
        }
        Ok(())
    }

    /// Stops counting and reads the counts: per call, summed over the CPUs.
    pub fn finish(mut self) -> Vec<SyscallStat> {
        self.links.clear();
        let mut values = vec![0u64; self.cpus * 3];
        let mut out = Vec::new();
        for nr in 0..NR_MAX {
            let mut a = Attr::new();
            a.u32(0, self.stats.as_raw_fd().cast_unsigned())
                .u64(8, (&raw const nr) as u64)
                .u64(16, values.as_mut_ptr() as u64);
            if bpf(BPF_MAP_LOOKUP_ELEM, &mut a).is_err() {
                continue;
            }
            let (mut calls, mut errors, mut ns) = (0u64, 0u64, 0u64);
            for c in values.chunks_exact(3) {
                calls += c[0];
                errors += c[1];
                ns += c[2];
            }
            if calls > 0 {
                out.push(SyscallStat {
                    name: crate::syscalls::name(u64::from(nr)),
                    calls,
                    errors,
                    seconds: ns as f64 / 1e9,
                });
            }
        }
        out.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(b.calls.cmp(&a.calls)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_resolve_to_their_labels() {
        let p = enter_program(3, 4, 5);
        // The null check after the lookup jumps to the final `r0 = 0; exit`.
        let at = p.iter().position(|i| i.code == 0x15 && i.imm == 0).unwrap();
        let target = at.cast_signed() + 1 + isize::from(p[at].off);
        assert_eq!(target.cast_unsigned(), p.len() - 2);
        assert_eq!(p.last().map(|i| i.code), Some(0x95));
        let e = exit_program(4, 5);
        assert!(e.iter().all(|i| i.code != 0x15 || i.off >= 0));
    }

    #[test]
    fn reads_member_offsets_from_the_kernels_btf() {
        let Ok(btf) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            return;
        };
        let pid = btf_member_offset(&btf, "task_struct", "pid").unwrap();
        let tgid = btf_member_offset(&btf, "task_struct", "tgid").unwrap();
        // pid_t pid; pid_t tgid; side by side in every kernel since 2.6.
        assert_eq!(tgid, pid + 4);
        assert_eq!(
            btf_member_offset(&btf, "task_struct", "no_such_field"),
            None
        );
        assert_eq!(btf_member_offset(b"not btf", "task_struct", "pid"), None);
    }

    #[test]
    fn counts_a_child_in_the_kernel_where_permitted() {
        let Ok(mut c) = Counter::new() else {
            return; // Not permitted here: the ptrace path is tested instead.
        };
        let mut child = std::process::Command::new("sh")
            .args(["-c", "read x; for i in 1 2 3 4 5; do ls / >/dev/null; done"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.track(child.id()).unwrap();
        c.start().unwrap();
        drop(child.stdin.take());
        child.wait().unwrap();
        let stats = c.finish();
        let calls = |n: &str| stats.iter().find(|s| s.name == n).map_or(0, |s| s.calls);
        // exit_group, which never returns, is counted once per process (the shell and five).
        assert_eq!(calls("exit_group"), 6, "{stats:?}");
        // The shell's five children each exec `ls`: followed through clone/fork.
        assert!(calls("execve") >= 5, "{stats:?}");
        assert!(calls("openat") > 5 && calls("wait4") >= 5, "{stats:?}");
        assert!(stats.iter().any(|s| s.errors > 0), "{stats:?}");
    }

    #[test]
    fn a_reaped_process_leaves_the_table() {
        let Ok(mut c) = Counter::new() else {
            return; // Not permitted here: the ptrace path is tested instead.
        };
        c.start().unwrap();
        let mut child = std::process::Command::new("sh")
            .args(["-c", "read x; sleep 0.2 & wait"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        c.track(pid).unwrap();
        assert!(c.tracks(pid));
        drop(child.stdin.take());
        child.wait().unwrap();
        // Freed after an RCU grace period.
        let gone = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            !c.tracks(pid)
        });
        assert!(gone, "process {pid} still tracked after it was reaped");
        let stats = c.finish();
        // The shell's child was followed, and left too: both exits were counted.
        assert_eq!(
            stats
                .iter()
                .find(|s| s.name == "exit_group")
                .map_or(0, |s| s.calls),
            2,
            "{stats:?}"
        );
    }
}
