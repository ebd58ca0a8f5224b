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
