//! LOG009: NCCL errors and collective timeouts in distributed training.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Failures of NCCL, the library behind `torch.distributed` on GPUs: `NCCL error in: …`
    /// with its reason (unhandled system error, unhandled CUDA error, invalid usage, remote
    /// process exited), the `ncclSystemError`/`ncclInternalError`/`ncclRemoteError` codes, and
    /// the ProcessGroupNCCL watchdog's `Watchdog caught collective operation timeout:
    /// WorkNCCL(SeqNum=…, OpType=ALLREDUCE, …, Timeout(ms)=600000) ran for … milliseconds`, with
    /// the operation, its sequence number, the rank and the time waited (or, where a log kept
    /// only the watchdog's C++ frames, that it fired). `NCCL WARN` lines name the failing call
    /// in each family: a CUDA failure under NCCL (`Cuda failure 'out of memory'` is also a CUDA
    /// out-of-memory error), a system call that failed (`Call to connect failed`; an
    /// InfiniBand verbs call such as `ibv_create_qp` points at the locked-memory limit), a peer
    /// that went away (`Connection closed by remote peer HOST<PORT>`, `Broken pipe`, `remote process
    /// exited or there was a network error`), with the host, pid, GPU and peer NCCL prints.
    /// ## Why it matters
    /// A collective times out when one rank never arrives: it crashed, hung in data loading,
    /// or took a different code path (a data-dependent branch, a shape that differs by rank).
    /// The other ranks wait the full timeout (10 minutes by default) and then abort, so the
    /// first error in the logs is usually not the cause. System errors are most often the
    /// network interface, the firewall, or a `/dev/shm` too small for NCCL's shared-memory
    /// transport.
    /// ## Example
    /// ```text
    /// [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1432, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=600000) ran for 600034 milliseconds before timing out.
    /// ```
    /// ## Fix
    /// Run with `NCCL_DEBUG=INFO` (and `NCCL_DEBUG_SUBSYS=INIT,NET`), pin the interface with
    /// `NCCL_SOCKET_IFNAME`, and for timeouts turn on the flight recorder
    /// (`TORCH_NCCL_TRACE_BUFFER_SIZE=2000`, `TORCH_NCCL_DUMP_ON_TIMEOUT=1`) to see which rank
    /// stopped at which sequence number. Give containers a large `/dev/shm`.
    pub static NCCL_FAILURE = { code: "LOG009", name: "nccl-failure", severity: Error, summary: "An NCCL collective failed or timed out" };
}

static WATCHDOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\[Rank (\d+)\]\s*)?(?:\S+\s+)?Watchdog caught collective operation timeout: WorkNCCL\(SeqNum=(\d+), OpType=(\w+)(?:, NumelIn=(\d+), NumelOut=(\d+))?, Timeout\(ms\)=(\d+)\) ran for (\d+) milliseconds")
        .expect("valid regex")
});
static ERROR_IN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"NCCL error(?: in: ([^,]+),)?\s*(.*?)(?:,? NCCL version ([\d.]+\S*))?$")
        .expect("valid regex")
});
static CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bnccl(SystemError|InternalError|UnhandledCudaError|InvalidUsage|InvalidArgument|RemoteError)\b").expect("valid regex")
});
/// `NCCL WARN` lines of the failing call: a CUDA failure inside NCCL, a peer that went away.
static WARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"NCCL WARN (?:.*?)(Cuda failure '([^']+)'|Cuda failure (\d+) '([^']+)'|remote process exited or there was a network error|Connection closed by remote peer\s*(\S+)?|[Bb]roken pipe|Call to (\w+) failed(?:\s*:\s*|\s+with error\s+)?(.*))")
        .expect("valid regex")
});
/// The watchdog's own frames, when the log kept them but not its `WorkNCCL(...)` line.
static WATCHDOG_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Exception raised from (?:ncclCommWatchdog|checkTimeout)|ProcessGroupNCCL::WorkNCCL::checkTimeout")
        .expect("valid regex")
});
static HOST_RANK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\S+):(\d+):(\d+) \[(\d+)\] (?:\S+ )?NCCL WARN").expect("valid regex")
});
static RANK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[(?:Rank |rank)(\d+)\]").expect("valid regex"));

fn reason_help(text: &str) -> (&'static str, &'static str) {
    let t = text.to_ascii_lowercase();
    if t.contains("remote process exited") || t.contains("remoteerror") || t.contains("remote peer")
    {
        (
            "another rank died or lost its connection first",
            "find the rank that failed first: its own log has the real error (grep the other ranks' logs for Traceback/Killed)",
        )
    } else if t.contains("unhandled cuda error") || t.contains("unhandledcudaerror") {
        (
            "a CUDA call under NCCL failed",
            "look for an Xid (dmesg | grep Xid) or an illegal memory access on the same node; NCCL_DEBUG=INFO names the failing call",
        )
    } else if t.contains("invalid usage")
        || t.contains("invalidusage")
        || t.contains("invalidargument")
        || t.contains("invalid argument")
    {
        (
            "NCCL was called wrongly: mismatched collectives, duplicate GPUs per rank, or tensors on the wrong device",
            "check that each rank calls torch.cuda.set_device(local_rank) before init_process_group and issues the same collectives in the same order",
        )
    } else if t.contains("system error") || t.contains("systemerror") {
        (
            "a system call failed: network interface, firewall, or shared memory",
            "NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET shows the failing call; set NCCL_SOCKET_IFNAME to the right interface; in containers give /dev/shm room (--shm-size, or an emptyDir with medium: Memory)",
        )
    } else {
        (
            "an internal NCCL failure",
            "rerun with NCCL_DEBUG=INFO; make sure every node runs the same NCCL and driver versions",
        )
    }
}

/// An `NCCL WARN` line naming the failing call: the family (a CUDA error under NCCL, a peer
/// that closed the connection), with the host, pid and device NCCL prints.
fn warn(line: &str) -> Option<Hit> {
    let c = WARN.captures(line)?;
    let what = c.get(1).map_or("", |m| m.as_str());
    let (family, why, help) = if let Some(err) = c.get(2).or_else(|| c.get(4)) {
        (
            "cuda-error",
            format!("a CUDA call under NCCL failed: '{}'", err.as_str()),
            if err.as_str().contains("out of memory") {
                "NCCL could not allocate its buffers: the GPU was full before the collective (see the CUDA OOM on this node); lower NCCL_BUFFSIZE or free memory before the first collective"
            } else {
                "look for an Xid (dmesg | grep Xid) or an illegal memory access on the same node; NCCL_DEBUG=INFO names the failing call"
            },
        )
    } else if let Some(call) = c.get(6) {
        // InfiniBand verbs: creating queue pairs or registering memory fails for the
        // locked-memory limit; opening a device for the container's missing RDMA devices;
        // the rest (`ibv_modify_qp … Invalid argument`) for the fabric's setup.
        let name = call.as_str();
        let detail = c.get(7).map_or("", |m| m.as_str());
        let verbs = name.starts_with("ibv_");
        let verbs_help = if name.starts_with("ibv_create")
            || name == "ibv_reg_mr"
            || detail.contains("Cannot allocate memory")
        {
            "ulimit -l shows the locked-memory limit (it must be unlimited: --ulimit memlock=-1 in Docker, IPC_LOCK in Kubernetes); NCCL_IB_DISABLE=1 tells a fabric problem from a setup one"
        } else if name == "ibv_open_device" || name == "ibv_get_device_list" {
            "ibv_devinfo lists the RDMA devices the container sees: the device plugin (rdma/…) or the host's /dev/infiniband must be given to it; NCCL_IB_DISABLE=1 runs over TCP meanwhile"
        } else {
            "ibstat shows each port's state and link layer; on RoCE set NCCL_IB_GID_INDEX (show_gids lists them) and check the MTU on both ends; NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET names the HCA"
        };
        (
            "system-error",
            format!(
                "a {} call under NCCL failed: {}{}",
                if verbs { "InfiniBand verbs" } else { "system" },
                call.as_str(),
                c.get(7)
                    .filter(|m| !m.as_str().trim().is_empty())
                    .map_or(String::new(), |m| format!(": {}", m.as_str().trim()))
            ),
            if verbs {
                verbs_help
            } else {
                "NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET shows the failing call; set NCCL_SOCKET_IFNAME to the right interface; in containers give /dev/shm room"
            },
        )
    } else {
        (
            "remote-error",
            format!(
                "the connection to another rank broke ({}): that rank died or the network failed first",
                what.trim()
            ),
            "find the rank that failed first: its own log has the real error (grep the other ranks' logs for Traceback/Killed); check the NICs (ibstat, ip -s link) if none did",
        )
    };
    let host = HOST_RANK.captures(line);
    let on = host.as_ref().map_or(String::new(), |h| {
        format!(" on {} (pid {}, GPU {})", &h[1], &h[2], &h[4])
    });
    let mut hit = Hit::new(
        &NCCL_FAILURE,
        line.find("NCCL WARN").unwrap_or(0),
        format!("NCCL error{on}: {why}"),
        help,
    )
    .role(Role::Cause("NCCL error"))
    .key(format!("nccl-warn-{family}"))
    .data("family", family);
    if let Some(h) = host {
        hit = hit
            .data("host", &h[1])
            .data("pid", h[2].parse::<u64>().unwrap_or(0))
            .data("device", h[4].parse::<u64>().unwrap_or(0));
    }
    if let Some(peer) = c.get(5) {
        hit = hit.data("peer", peer.as_str());
    }
    Some(hit)
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    if let Some(hit) = warn(line) {
        out.push(hit);
        return;
    }
    if WATCHDOG_FRAME.is_match(line) {
        out.push(
            Hit::new(
                &NCCL_FAILURE,
                line.find("Exception raised").unwrap_or(0),
                "NCCL collective timed out: the ProcessGroupNCCL watchdog raised (its WorkNCCL line with the operation and sequence number is not in this log) — another rank never joined".to_owned(),
                "find the rank that stopped early (its log has the real error); enable the flight recorder (TORCH_NCCL_TRACE_BUFFER_SIZE=2000 TORCH_NCCL_DUMP_ON_TIMEOUT=1) to see each rank's last SeqNum",
            )
            .role(Role::Cause("NCCL timeout"))
            .key("nccl-watchdog"),
        );
        return;
    }
    if let Some(c) = WATCHDOG.captures(line) {
        let rank = c.get(1).map(|m| m.as_str()).or_else(|| {
            RANK.captures(line)
                .and_then(|r| r.get(1))
                .map(|m| m.as_str())
        });
        let seq = &c[2];
        let op = &c[3];
        let timeout_ms: u64 = c[6].parse().unwrap_or(0);
        let ran_ms: u64 = c[7].parse().unwrap_or(0);
        let who = rank.map_or_else(|| "a rank".to_owned(), |r| format!("rank {r}"));
        let mut hit = Hit::new(
            &NCCL_FAILURE,
            c.get(0).map_or(0, |m| m.start()),
            format!(
                "NCCL collective timed out: {who} waited {:.1} s in {op} #{seq} (timeout {:.0} s) — another rank never joined: it crashed, hung, or took a different code path",
                ran_ms as f64 / 1000.0,
                timeout_ms as f64 / 1000.0
            ),
            "enable the flight recorder (TORCH_NCCL_TRACE_BUFFER_SIZE=2000 TORCH_NCCL_DUMP_ON_TIMEOUT=1) and compare the last SeqNum each rank reached; the rank that stopped early has the real error; raise the timeout (init_process_group(timeout=…)) only for known slow steps",
        )
        .role(Role::Cause("NCCL timeout"))
        .key(format!("nccl-timeout-{op}-{seq}"))
        .data("op", op)
        .data("seq", seq.parse::<u64>().unwrap_or(0))
        .data("timeout_ms", timeout_ms)
        .data("waited_ms", ran_ms);
        if let Some(r) = rank {
            hit = hit.data("rank", r.parse::<u64>().unwrap_or(0));
        }
        out.push(hit);
        return;
    }
    let anchor;
    let detail;
    let mut version = None;
    if let Some(p) = line.find("NCCL error") {
        let c = ERROR_IN.captures(&line[p..]);
        detail = c
            .as_ref()
            .and_then(|c| c.get(2))
            .map_or("", |m| m.as_str())
            .trim()
            .to_owned();
        version = c
            .as_ref()
            .and_then(|c| c.get(3))
            .map(|m| m.as_str().to_owned());
        anchor = p;
    } else if let Some(c) = CODE.captures(line) {
        detail = format!("nccl{}", &c[1]);
        anchor = c.get(0).map_or(0, |m| m.start());
    } else {
        return;
    }
    let (why, help) = reason_help(&format!("{line} {detail}"));
    let mut message = format!("NCCL error: {why}");
    if !detail.is_empty() {
        message.push_str(&format!(" ({})", detail.trim_end_matches('.')));
    }
    let mut hit = Hit::new(&NCCL_FAILURE, anchor, message, help)
        .role(Role::Cause("NCCL error"))
        .key(format!("nccl-{why}"));
    if let Some(v) = version {
        hit = hit.data("nccl_version", v);
    }
    out.push(hit);
}
