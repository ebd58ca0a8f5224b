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
