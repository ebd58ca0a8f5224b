use everybyte_core::{Finding, Location};

use crate::gpulog::{GpuLog, Sample, Thresholds, period, runs, throttle_reasons};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A GPU log for throttling: a non-zero `clocks_throttle_reasons.active` (or
    /// `clocks_event_reasons.active`) bit mask, decoded (power cap, thermal slowdown, hardware
    /// slowdown), or a temperature at or above 85 °C.
    /// ## Why it matters
    /// A throttled GPU runs at a fraction of its clocks: steps take longer for no reason the
    /// code shows, and on a multi-GPU job the slowest card sets the pace of every rank.
    /// ## Example
    /// ```text
    /// metrics/gpu.csv:40  warning  MEM003  GPU 0 throttled (thermal slowdown) for 12 s from 14:02:11, 88 °C
    /// ```
    /// ## Fix
    /// Check cooling and power limits (`nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER`), the
    /// fan and airflow of the node, and whether a power cap was set on purpose
    /// (`nvidia-smi -pl`).
    pub static GPU_THROTTLING = { code: "MEM003", name: "gpu-throttling", severity: Warning, summary: "A GPU was throttled" };
}

/// A throttle reason other than idle (bit 0), or a temperature at the threshold or above.
pub(crate) fn hot(s: &Sample, th: &Thresholds) -> bool {
    s.throttle.is_some_and(|m| m & !0x1 != 0) || s.temp.is_some_and(|t| t >= th.hot_celsius)
}

pub(crate) fn finding(path: &str, gpu: &str, a: &Sample, b: Option<&Sample>) -> Finding {
    let why: Vec<&str> = a.throttle.map(throttle_reasons).unwrap_or_default();
    let why = if why.is_empty() {
        "temperature".to_owned()
    } else {
        why.join(", ")
    };
    let temp = a.temp.map(|t| format!(", {t:.0} °C")).unwrap_or_default();
    Finding::new(
        &GPU_THROTTLING,
        Location::line(path, a.line, 1),
        format!("GPU {gpu} throttled ({why}) {}{temp}", period(a, b)),
    )
    .with_help(
        "nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER; check cooling, airflow and power limits",
    )
}

/// Each stretch of a GPU's throttled or hot samples.
pub fn check(log: &GpuLog, out: &mut Vec<Finding>) {
    for (gpu, list) in &log.gpus {
        for (a, b) in runs(list, |s| hot(s, &log.thresholds)) {
            out.push(finding(&log.path, gpu, a, Some(b)));
        }
    }
}
