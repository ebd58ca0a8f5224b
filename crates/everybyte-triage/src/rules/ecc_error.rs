//! LOG023: an uncorrectable ECC error in GPU memory, as the CUDA runtime, NVML or the driver
//! reports it.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Uncorrectable (double-bit) ECC errors: the driver's Xid 48 (double-bit error) and Xid 95
    /// (uncontained ECC error), reported with the Xid's own finding (LOG008), and the software
    /// stack's reports: the CUDA runtime's `CUDA error: uncorrectable ECC error
    /// encountered` (`cudaErrorECCUncorrectable`, `CUDA_ERROR_ECC_UNCORRECTABLE`), NVML's and
    /// DCGM's `uncorrectable ECC errors` / `volatile DBE` reports, and driver messages naming an
    /// uncorrectable ECC error. The `Volatile Uncorr. ECC` column header of `nvidia-smi` and a
    /// count of zero are not errors.
    /// ## Why it matters
    /// The GPU's memory returned data it could not correct: the process's results are
    /// untrustworthy and the CUDA context is lost. It is the hardware, not the program —
    /// rerunning on the same GPU fails again or, worse, silently corrupts a later run until the
    /// page is retired or the row remapped, which takes a GPU reset.
    /// ## Example
    /// ```text
    /// RuntimeError: CUDA error: uncorrectable ECC error encountered
    /// ```
    /// ## Fix
    /// Drain the node (`kubectl drain NODE --ignore-daemonsets`, or `scontrol update
    /// nodename=NODE state=drain reason=ECC`), then `nvidia-smi -q -d ECC,ROW_REMAPPER` (or
    /// `PAGE_RETIREMENT` before Ampere): `Pending: Yes` / `Remapping Failure Occurred: No`
    /// means a GPU reset (`nvidia-smi -r -i N` with nothing running) applies the remapping; a
    /// remapping failure or a growing count means the card must be replaced.
    pub static ECC_ERROR = { code: "LOG023", name: "ecc-error", severity: Error, summary: "The GPU reported an uncorrectable ECC memory error" };
}

static UNCORRECTABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(uncorrectable ECC error|cudaErrorECCUncorrectable|CUDA_ERROR_ECC_UNCORRECTABLE|NVML_ERROR_ECC|ECC_UNCORRECTABLE|double[- ]bit ECC|volatile DBE)")
        .expect("valid regex")
});
/// A count of zero (`0 uncorrectable ECC errors`, `Uncorrectable ECC errors: 0`).
static ZERO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:\b0\s+(?:volatile\s+)?uncorrectable ECC errors?|uncorrectable ECC errors?\s*[:=]\s*0\b|DBE\s*[:=]?\s*0\b)")
        .expect("valid regex")
});
static GPU: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:GPU\s*(?:id\s*)?[:#]?\s*(\d+)\b|cuda:(\d+))").expect("valid regex")
});

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    // Xid lines are LOG008's; the nvidia-smi table header is not an error.
    if line.contains("Xid") || line.contains("Uncorr. ECC") {
        return;
    }
    let Some(m) = UNCORRECTABLE.find(line) else {
        return;
    };
    if ZERO.is_match(line) {
        return;
    }
    let gpu = GPU.captures(line).and_then(|c| {
        c.iter()
            .skip(1)
            .flatten()
            .next()
            .map(|m| m.as_str().to_owned())
    });
    let on = gpu
        .as_ref()
        .map_or_else(|| "the GPU".to_owned(), |g| format!("GPU {g}"));
    let mut hit = uncorrectable(m.start(), &on, gpu.as_deref().unwrap_or("N"));
    if let Some(g) = gpu {
        hit = hit.data("gpu", g);
    }
    out.push(hit);
}

/// The driver's own report of an uncorrectable error, as an Xid: 48 (double-bit ECC error)
/// and 95 (uncontained ECC error). `None` for other Xids.
pub fn from_xid(code: u32, anchor: usize, pci: &str) -> Option<Hit> {
    let what = match code {
        48 => "double-bit",
        95 => "uncontained",
        _ => return None,
    };
    let mut hit = uncorrectable(anchor, &format!("GPU {pci}"), pci).data("pci", pci);
    hit.message = hit.message.replacen(
        "uncorrectable ECC error",
        &format!("uncorrectable ({what}) ECC error, Xid {code},"),
        1,
    );
    Some(hit)
}

fn uncorrectable(anchor: usize, on: &str, i: &str) -> Hit {
    Hit::new(
        &ECC_ERROR,
        anchor,
        format!("uncorrectable ECC error on {on}: its memory returned data it could not correct — hardware, not the program; the CUDA context is lost and results on this GPU cannot be trusted"),
        format!("drain the node first (kubectl drain NODE --ignore-daemonsets, or scontrol update nodename=NODE state=drain reason=ECC); nvidia-smi -q -d ECC -i {i} shows the counts and nvidia-smi -q -d ROW_REMAPPER,PAGE_RETIREMENT -i {i} whether a remapping is pending: if so a GPU reset (nvidia-smi -r -i {i}, with nothing running) is required to apply it; a remapping failure or counts that keep growing mean replacing the card"),
    )
    .role(Role::Cause("uncorrectable ECC error"))
    .key(format!("ecc-{i}"))
    .data("reset_required", true)
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
    fn reports_and_non_reports() {
        assert!(fires(
            "RuntimeError: CUDA error: uncorrectable ECC error encountered"
        ));
        assert!(fires(
            "cudaErrorECCUncorrectable: uncorrectable ECC error encountered"
        ));
        assert!(!fires(
            "| GPU  Name        Persistence-M| Bus-Id        Disp.A | Volatile Uncorr. ECC |"
        ));
        assert!(!fires("health check: GPU 0: 0 uncorrectable ECC errors"));
        assert!(!fires("ECC mode: Enabled"));
    }
}
