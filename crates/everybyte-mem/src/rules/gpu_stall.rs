use everybyte_core::bytesize::Bytes;
use everybyte_core::{Finding, Location};

use crate::gpulog::{GpuLog, Sample, clock, runs, span};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A GPU log (`nvidia-smi --query-gpu=… --format=csv -l 1`, any column order, with or
    /// without unit suffixes, or `everybyte gpu watch --csv`) for stretches where utilisation
    /// sits at 0% while memory stays allocated (above half the card) for at least 20 seconds
    /// (`--stall-seconds`). Each stretch is reported with its start, end and length.
    /// ## Why it matters
    /// Memory held with nothing running means the process is alive but waiting: a deadlock
    /// (a collective that another rank never joins), or an input pipeline that cannot keep up
    /// (DataLoader workers decoding on too few cores, a slow network filesystem). The card is
    /// paid for and idle.
    /// ## Example
    /// ```text
    /// metrics/gpu.csv:54  warning  MEM001  GPU 0 idle (0% utilisation) for 39 s from 13:41:59 to 13:42:38 with 22.88 GiB allocated
    /// ```
    /// ## Fix
    /// Look at what the process waits on (`py-spy dump --pid PID`); for input stalls raise
    /// `num_workers`, decode less on the CPU, or pack the data (`everybyte data pack`); for
    /// distributed hangs see NCCL timeouts in the logs (`everybyte triage`).
    pub static GPU_STALL = { code: "MEM001", name: "gpu-stall", severity: Warning, summary: "A GPU sat idle with its memory allocated" };
}

/// More than half the card held: the process has its working set allocated.
fn busy_memory(s: &Sample) -> bool {
    matches!((s.used, s.total), (Some(u), Some(t)) if t > 0 && u * 2 > t)
}

/// 0% utilisation while more than half the memory is held.
pub(crate) fn stalled(s: &Sample) -> bool {
    s.util == Some(0.0) && busy_memory(s)
}

pub(crate) fn finding(path: &str, gpu: &str, a: &Sample, b: &Sample) -> Finding {
    let secs = span(a, b);
    Finding::new(
        &GPU_STALL,
        Location::line(path, a.line, 1),
        format!(
            "GPU {gpu} idle (0% utilisation) for {secs:.0} s from {} to {} with {} allocated",
            clock(&a.timestamp),
            clock(&b.timestamp),
            Bytes(a.used.unwrap_or(0))
        ),
    )
    .with_help("py-spy dump --pid PID shows what the process waits on: an input pipeline (raise num_workers, pack the data) or a collective (everybyte triage the logs for NCCL timeouts)")
    .with_data("seconds", secs)
    .with_data("gpu", gpu)
}

/// Each stretch of stalled samples of a GPU that lasts the threshold or longer.
pub fn check(log: &GpuLog, out: &mut Vec<Finding>) {
    for (gpu, list) in &log.gpus {
        for (a, b) in runs(list, stalled) {
            if span(a, b) >= log.thresholds.stall_seconds {
                out.push(finding(&log.path, gpu, a, b));
            }
        }
    }
}
