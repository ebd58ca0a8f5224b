//! LOG008: an NVIDIA driver Xid event.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// NVIDIA driver error events in the kernel log: `NVRM: Xid (PCI:0000:3b:00): 79, pid=…,
    /// name=…, GPU has fallen off the bus.`, and a GPU health agent's rendering of one (`XID
    /// 79(GPU has fallen off the bus) detected on PCI:…`). The code is looked up in a table of
    /// the common Xids (13, 31, 32, 43, 45, 48, 61–64, 68, 74, 79, 92, 94, 95, 109, 119, 120, 154): what it
    /// means, whether the application or the hardware is to blame, and what to do — including
    /// when a GPU reset (`nvidia-smi -r`) helps and when only a reboot or a replacement will.
    /// ## Why it matters
    /// Xids tell apart a bug in your kernel (13, 31, 43: fix the code, the GPU is fine) from a
    /// failing card (48, 79, 95: drain the node). Resetting a GPU that fell off the bus does
    /// nothing; rerunning a job on a card with uncorrectable ECC errors wastes the run again.
    /// ## Example
    /// ```text
    /// [12409.6] NVRM: Xid (PCI:0000:01:00): 79, pid=14201, name=python3, GPU has fallen off the bus.
    /// ```
    /// ## Fix
    /// Follow the action for the code. Application Xids: rerun with `CUDA_LAUNCH_BLOCKING=1`
    /// and `compute-sanitizer`. Hardware Xids: `nvidia-smi -q -d ECC,PAGE_RETIREMENT,ROW_REMAPPER`,
    /// drain the node, and reset or reboot as the table says.
    pub static GPU_XID = { code: "LOG008", name: "gpu-xid", severity: Error, summary: "The NVIDIA driver reported an Xid error" };
}

/// A GPU health agent's rendering (DCGM's, a cloud's): `XID 79(GPU has fallen off the bus)
/// detected on PCI:0000:ae:00`.
static AGENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i:xid) (\d+)\s*\(([^)]*)\) detected on (?:PCI:)?([0-9a-fA-F:.]+)")
        .expect("valid regex")
});
static XID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"Xid \((?:PCI:)?([0-9a-fA-F:.]+)(?: GPU-I:\d+)?(?: GPU-CI:\d+)?\): (\d+)(?:,\s*(.*))?",
    )
    .expect("valid regex")
});
static PID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"pid=('?<?\w+>?'?),\s*name=([^,]+)").expect("valid regex"));

/// Xid code → (meaning, likely culprit, action).
#[allow(clippy::too_many_lines)] // one table
pub fn xid_info(code: u32) -> Option<(&'static str, &'static str, &'static str)> {
    const APP: &str = "usually the application";
    const HW: &str = "hardware or driver";
    Some(match code {
        8 => (
            "GPU stopped processing (timeout)",
            APP,
            "look for a hung kernel; rerun with CUDA_LAUNCH_BLOCKING=1",
        ),
        13 => (
            "graphics engine exception: an illegal access or instruction in a kernel",
            APP,
            "rerun with CUDA_LAUNCH_BLOCKING=1 and compute-sanitizer; check custom CUDA ops for out-of-bounds indexing; the GPU itself is fine",
        ),
        31 => (
            "GPU memory page fault: a kernel touched an unmapped address",
            APP,
            "an illegal memory access in a kernel: rerun with compute-sanitizer --tool memcheck; if it repeats across different programs, suspect the driver",
        ),
        32 => (
            "invalid or corrupted push buffer stream",
            HW,
            "often PCIe or driver trouble: check nvidia-smi -q -d PCIE for replay errors; update the driver",
        ),
        38 => (
            "driver firmware error",
            HW,
            "update the driver; reset the GPU (nvidia-smi -r) if it persists",
        ),
        43 => (
            "GPU stopped processing: the application hit a fault and its context was torn down",
            APP,
            "the application's own error (look for LOG012 lines); the GPU stays usable, no reset needed",
        ),
        45 => (
            "preemptive cleanup after a previous error (the process was killed)",
            APP,
            "follows another Xid or a killed process; read the Xid before it",
        ),
        48 => (
            "double-bit (uncorrectable) ECC error",
            HW,
            "reset the GPU (nvidia-smi -r) or reboot; check nvidia-smi -q -d ECC,PAGE_RETIREMENT; if it repeats, drain the node and replace the card",
        ),
        61 => (
            "internal micro-controller breakpoint/warning",
            HW,
            "update the driver; reset the GPU if it stops responding",
        ),
        62 => (
            "internal micro-controller halt",
            HW,
            "reset the GPU (nvidia-smi -r) or reboot; update the driver",
        ),
        63 => (
            "ECC page retirement or row-remapping event recorded",
            HW,
            "reset the GPU (nvidia-smi -r) to apply the remapping; no data loss by itself",
        ),
        64 => (
            "ECC page retirement or row remapper recording failure",
            HW,
            "reset the GPU; if it repeats, the card has run out of spare rows: replace it",
        ),
        68 => (
            "video decoder (NVDEC) exception",
            APP,
            "check the video decoding path; update the driver",
        ),
        69 => (
            "graphics engine class error",
            APP,
            "rerun with CUDA_LAUNCH_BLOCKING=1; update the driver",
        ),
        74 => (
            "NVLink error",
            HW,
            "nvidia-smi nvlink -e shows the failing link; reseat or replace; reset the GPUs on that link",
        ),
        79 => (
            "GPU has fallen off the bus: it no longer answers on PCIe",
            HW,
            "a GPU reset will not work; reboot the node, then check power, cooling and PCIe seating (nvidia-smi -q -d PCIE,TEMPERATURE,POWER); drain the node if it repeats",
        ),
        92 => (
            "high single-bit ECC error rate",
            HW,
            "schedule a reset (nvidia-smi -r) and watch nvidia-smi -q -d ECC; replace the card if the rate grows",
        ),
        94 => (
            "contained ECC error: the affected application was stopped",
            HW,
            "the other applications are safe; reset the GPU (nvidia-smi -r) when it is idle to retire the memory",
        ),
        95 => (
            "uncontained ECC error: every application on the GPU is affected",
            HW,
            "reset the GPU (nvidia-smi -r) now, or reboot; drain the node if it repeats",
        ),
        109 => (
            "context switch timeout",
            APP,
            "a kernel ran too long or hung; update the driver if it repeats across programs",
        ),
        119 => (
            "GSP RPC timeout: the GPU System Processor stopped answering",
            HW,
            "reset the GPU or reboot; update the driver (or disable GSP firmware on affected versions)",
        ),
        120 => (
            "GSP error",
            HW,
            "reset the GPU or reboot; update the driver",
        ),
        154 => (
            "GPU recovery action changed (the driver asks for a reset, reboot or drain)",
            HW,
            "do what the message says: nvidia-smi -q | grep -i recovery; reset (nvidia-smi -r), reboot or drain",
        ),
        _ => return None,
    })
}

/// What it takes to make the GPU usable again after an Xid, as NVIDIA's Xid catalog gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// Restart the application: the GPU itself is fine.
    RestartApp,
    /// Reset the GPU (`nvidia-smi -r` with no process on it), or reboot.
    ResetGpu,
    /// Reboot the node: a GPU reset will not bring the GPU back.
    RebootNode,
}

impl Recovery {
    pub fn as_str(self) -> &'static str {
        match self {
            Recovery::RestartApp => "restart-app",
            Recovery::ResetGpu => "reset-gpu",
            Recovery::RebootNode => "reboot-node",
        }
    }

    fn says(self) -> &'static str {
        match self {
            Recovery::RestartApp => "no GPU reset needed: restart the application",
            Recovery::ResetGpu => {
                "a GPU reset is required (nvidia-smi -r on an idle GPU, or reboot)"
            }
            Recovery::RebootNode => "the node must be rebooted: a GPU reset will not bring it back",
        }
    }
}

/// The recovery an Xid calls for, for the codes the table above explains.
pub fn xid_recovery(code: u32) -> Option<Recovery> {
    Some(match code {
        8 | 13 | 31 | 43 | 45 | 68 | 69 | 94 | 109 => Recovery::RestartApp,
        32 | 38 | 48 | 61 | 62 | 63 | 64 | 74 | 92 | 95 | 119 | 120 | 154 => Recovery::ResetGpu,
        79 => Recovery::RebootNode,
        _ => return None,
    })
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    // A lost GPU reported in prose, without an Xid, is LOG028's.
    let (at, pci, code, rest) = if let Some(c) = XID.captures(line) {
        (
            c.get(0).map_or(0, |m| m.start()),
            c.get(1).map_or("", |m| m.as_str()),
            c.get(2).map_or("", |m| m.as_str()),
            c.get(3).map_or("", |m| m.as_str()),
        )
    } else if let Some(c) = AGENT.captures(line) {
        (
            c.get(0).map_or(0, |m| m.start()),
            c.get(3).map_or("", |m| m.as_str()),
            c.get(1).map_or("", |m| m.as_str()),
            c.get(2).map_or("", |m| m.as_str()),
        )
    } else {
        return;
    };
    let Ok(code) = code.parse::<u32>() else {
        return;
    };
    let proc = PID
        .captures(rest)
        .filter(|p| !p[1].contains("unknown"))
        .map(|p| format!(" (pid {}, {})", p[1].trim_matches('\''), p[2].trim()))
        .unwrap_or_default();
    let recovery = xid_recovery(code);
    // NVLink errors name the link (`NVLink: fatal error detected on link 7(0x0, …)`, RLW/TLW
    // error words): say which.
    let nvlink = (code == 74)
        .then(|| {
            let at = rest.find("link ")?;
            let n: String = rest[at + 5..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            (!n.is_empty()).then_some(n)
        })
        .flatten();
    let on_link = nvlink
        .as_ref()
        .map_or(String::new(), |n| format!(" on link {n}"));
    let (message, help) = match xid_info(code) {
        Some((meaning, culprit, action)) => (
            format!(
                "GPU {pci}: Xid {code}, {meaning}{on_link} — {culprit}{proc}{}",
                recovery.map_or(String::new(), |r| format!("; {}", r.says()))
            ),
            action.to_owned(),
        ),
        None => (
            format!("GPU {pci}: Xid {code}{proc}: {}", rest.trim()),
            "look the code up in NVIDIA's Xid catalog; nvidia-smi -q shows the GPU's state"
                .to_owned(),
        ),
    };
    let mut hit = Hit::new(&GPU_XID, at, message, help)
        .role(Role::Cause("GPU Xid error"))
        .key(format!("xid-{code}-{pci}"))
        .data("xid", code)
        .data("pci", pci);
    if let Some(r) = recovery {
        hit = hit.data("recovery", r.as_str());
    }
    if let Some(n) = nvlink.and_then(|n| n.parse::<u64>().ok()) {
        hit = hit.data("nvlink", n);
    }
    let anchor = hit.anchor;
    out.push(hit);
    out.extend(super::ecc_error::from_xid(code, anchor, pci));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_explained_xid_says_how_to_recover() {
        for code in 0..200 {
            assert_eq!(
                xid_info(code).is_some(),
                xid_recovery(code).is_some(),
                "Xid {code}: explained and recovery must go together"
            );
        }
        assert_eq!(xid_recovery(79), Some(Recovery::RebootNode));
        assert_eq!(xid_recovery(48), Some(Recovery::ResetGpu));
        assert_eq!(xid_recovery(13), Some(Recovery::RestartApp));
    }

    #[test]
    fn an_nvlink_error_names_its_link() {
        let mut out = Vec::new();
        detect(
            "NVRM: Xid (PCI:0000:07:00): 74, pid=1875, name=python, NVLink: fatal error detected on link 7(0x0, 0x0, 0x10000, 0x0, 0x0, 0x0, 0x0)",
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert!(
            out[0].message.contains("NVLink error on link 7"),
            "{}",
            out[0].message
        );
    }
}
