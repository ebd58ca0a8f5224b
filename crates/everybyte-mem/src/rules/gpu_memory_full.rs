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
