//! LOG028: the NVIDIA driver lost a GPU or could not bring one up, reported without an Xid.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// NVIDIA driver messages about a GPU that is gone or never came up, printed without an
    /// Xid line (Xid lines are LOG008): `NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.`,
    /// `NVRM: The NVIDIA probe routine failed for 1 device(s).`, `NVRM: GPU 0000:01:00.0:
    /// RmInitAdapter failed! (0x26:0xffff:1474)`, `rm_init_adapter failed`, and `nvidia-smi`'s
    /// `Unable to determine the device handle for GPU …` (`GPU is lost`, `Unknown Error`). A
    /// prose line that
    /// repeats an Xid 79 just reported is counted with it.
    /// ## Why it matters
    /// These are not errors a program can cause or recover from: the GPU stopped answering on
    /// PCIe, or the driver could not initialise it. Every job scheduled on the node fails (or
    /// sees one GPU fewer) until the node is reset — a `nvidia-smi -r` does not reach a GPU
    /// that fell off the bus.
    /// ## Example
    /// ```text
    /// [Mon Jun  3 14:02:17 2024] NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.
    /// ```
    /// ## Fix
    /// Drain the node, then `nvidia-smi -q` and `dmesg -T | grep -i nvrm` for the GPU's state
    /// and the driver's messages. Fallen off the bus or lost: reboot (power-cycle) the node and
    /// check power, cooling and PCIe seating. Probe or `RmInitAdapter` failures: check that the
    /// kernel module matches the running kernel and driver (`modinfo nvidia`, `lsmod | grep -e
    /// nvidia -e nouveau`), try a GPU reset or a reboot, and replace the card if it persists.
    pub static GPU_LOST = { code: "LOG028", name: "gpu-lost", severity: Error, summary: "The NVIDIA driver lost a GPU or could not initialise it" };
}

static PCI: LazyLock<Regex> = LazyLock::new(|| {
    // `GPU 0000:3b:00.0`, and nvidia-smi's `GPU0000:3b:00.0`.
    Regex::new(r"GPU ?(?:at PCI:)?([0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2})(?:\.\d)?")
        .expect("valid regex")
});

const COMMANDS: &str = "nvidia-smi -q (the GPU's state, or which GPU is missing) and dmesg -T | grep -i nvrm (the driver's messages around it)";

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    if line.contains("Xid") {
        return;
    }
    let kinds: [(&str, &str, &str, &str, bool); 7] = [
        (
            "has fallen off the bus",
            "fell off the bus: it no longer answers on PCIe",
            "a GPU reset will not reach it: drain and reboot (power-cycle) the node, then check power, cooling and PCIe seating (nvidia-smi -q -d PCIE,TEMPERATURE,POWER); replace the card if it repeats",
            "fallen-off-bus",
            true,
        ),
        (
            "GPU is lost",
            "is lost: the driver can no longer reach it",
            "drain and reboot the node (nvidia-smi -r cannot reset a lost GPU); if it repeats, check power and PCIe seating or replace the card",
            "lost",
            true,
        ),
        (
            "probe routine failed",
            "was not initialised: the driver's probe failed",
            "the kernel module may not match the running kernel or driver (modinfo nvidia; dkms status), nouveau may hold the device (lsmod | grep -e nvidia -e nouveau), or the card is faulty (lspci -nn | grep -i nvidia); reboot the node after fixing the module",
            "probe-failed",
            false,
        ),
        (
            "RmInitAdapter failed",
            "failed to initialise (RmInitAdapter)",
            "reset the GPU (nvidia-smi -r -i N, nothing running) or reboot the node; update the driver (GSP firmware faults) and replace the card if it keeps failing",
            "init-failed",
            false,
        ),
        (
            "rm_init_adapter failed",
            "failed to initialise (rm_init_adapter)",
            "reset the GPU (nvidia-smi -r -i N, nothing running) or reboot the node; update the driver (GSP firmware faults) and replace the card if it keeps failing",
            "init-failed",
            false,
        ),
        (
            "probe routine was not called",
            "was not claimed by the driver (another driver, such as nouveau or vfio, holds it)",
            "lsmod | grep -e nouveau -e vfio; blacklist nouveau or unbind the device, then reload the nvidia module or reboot",
            "not-probed",
            false,
        ),
        (
            // What nvidia-smi prints for any other NVML failure (`Unknown Error`, `Unable to
            // communicate with GPU`): the GPU is listed on PCIe but does not answer.
            // `Unable to determine …`; Windows' nvidia-smi says `Unable to detect …`.
            "the device handle for GPU",
            "does not answer: nvidia-smi could not get a handle for it (usually a GPU gone from the bus or a hung driver; the kernel log says which)",
            "dmesg -T | grep -i -e xid -e nvrm names the cause (Xid 79: fallen off the bus); drain the node and reboot it (nvidia-smi -r rarely reaches a GPU in this state); if it repeats, check power and PCIe seating or replace the card",
            "no-handle",
            true,
        ),
    ];
    for (needle, what, action, kind, reboot) in kinds {
        let Some(p) = line.find(needle) else {
            continue;
        };
        let pci = PCI.captures(line).map(|c| c[1].to_owned());
        let gpu = pci
            .as_ref()
            .map_or_else(|| "a GPU".to_owned(), |p| format!("GPU {p}"));
        let need = if reboot {
            "a node reboot is required"
        } else {
            "a GPU reset or node reboot is required"
        };
        // Older drivers print the prose after the Xid 79 line: the same event, counted there.
        let key = if kind == "fallen-off-bus" {
            format!("xid-79-{}", pci.as_deref().unwrap_or("?"))
        } else {
            format!("gpu-{kind}-{}", pci.as_deref().unwrap_or("?"))
        };
        let mut hit = Hit::new(
            &GPU_LOST,
            p,
            format!("{gpu} {what} — hardware or driver, not the program; {need}"),
            format!("{action}\nfirst: {COMMANDS}"),
        )
        .role(Role::Cause("lost GPU"))
        .key(key)
        .data("kind", kind)
        .data(
            "reset",
            if reboot {
                "node reboot"
            } else {
                "GPU reset or node reboot"
            },
        );
        if let Some(p) = pci {
            hit = hit.data("pci", p);
        }
        out.push(hit);
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::detect;

    fn kind(line: &str) -> Option<String> {
        let mut out = Vec::new();
        detect(line, &mut out);
        out.pop().and_then(|h| {
            h.data
                .iter()
                .find(|(k, _)| *k == "kind")
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn nvidia_smi_without_a_handle() {
        assert_eq!(
            kind("Unable to determine the device handle for GPU 0000:0B:00.0: Unknown Error")
                .as_deref(),
            Some("\"no-handle\"")
        );
        assert_eq!(
            kind("Unable to determine the device handle for GPU0000:81:00.0: GPU is lost.  Reboot the system to recover this GPU").as_deref(),
            Some("\"lost\"")
        );
        assert_eq!(
            kind("Unable to detect the device handle for GPU0000:B1:00.0: Unknown Error")
                .as_deref(),
            Some("\"no-handle\"")
        );
        assert_eq!(kind("GPU 0000:0B:00.0 handle ok"), None);
    }
}
