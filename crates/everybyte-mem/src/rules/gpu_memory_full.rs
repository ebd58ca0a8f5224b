use everybyte_core::bytesize::Bytes;
use everybyte_core::{Finding, Location};

use crate::gpulog::{GpuLog, Sample, Thresholds, period, runs};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A GPU log for samples where used memory exceeds 95% of the card (used + free, or the
    /// `memory.total` column), with the peak and how long it lasted.
    /// ## Why it matters
    /// Above 95% the next allocation that does not fit in the allocator's cache fails: a
    /// longer sequence, a larger batch at evaluation, or fragmentation turns into a CUDA
    /// out-of-memory error. It is the warning before the crash.
    /// ## Example
    /// ```text
    /// metrics/gpu.csv:2  warning  MEM002  GPU 0 memory at 96.6% (22.88 GiB of 23.70 GiB) for 119 s from 13:41:07
    /// ```
    /// ## Fix
    /// Budget the run (`everybyte mem budget`), leave 15% free: a smaller batch, activation
    /// checkpointing, or mixed precision; `PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`
    /// reduces fragmentation.
    pub static GPU_MEMORY_FULL = { code: "MEM002", name: "gpu-memory-full", severity: Warning, summary: "GPU memory above 95% of the card" };
}

/// Used memory above the threshold fraction of the card.
pub(crate) fn full(s: &Sample, th: &Thresholds) -> bool {
    matches!((s.used, s.total), (Some(u), Some(t)) if t > 0 && u as f64 > th.memory_fraction * t as f64)
}

pub(crate) fn finding(path: &str, gpu: &str, a: &Sample, b: Option<&Sample>, peak: u64) -> Finding {
    let total = a.total.unwrap_or(1);
    Finding::new(
        &GPU_MEMORY_FULL,
        Location::line(path, a.line, 1),
        format!(
            "GPU {gpu} memory at {:.1}% ({} of {}) {}",
            peak as f64 * 100.0 / total as f64,
            Bytes(peak),
            Bytes(total),
            period(a, b)
        ),
    )
    .with_help("budget the run (everybyte mem budget) and keep 15% free: smaller batch, activation checkpointing, mixed precision")
    .with_data("peak_bytes", peak)
    .with_data("total_bytes", total)
}

/// Each stretch of a GPU's samples above the threshold, with its peak.
pub fn check(log: &GpuLog, out: &mut Vec<Finding>) {
    let th = &log.thresholds;
    for (gpu, list) in &log.gpus {
        for (a, b) in runs(list, |s| full(s, th)) {
            let peak = list
                .iter()
                .filter(|s| s.line >= a.line && s.line <= b.line)
                .filter_map(|s| s.used)
                .max()
                .unwrap_or(0);
            out.push(finding(&log.path, gpu, a, b.into(), peak));
        }
    }
}
