everybyte_core::declare_rule! {
    /// ## What it checks
    /// The newest `GLIBC_` and `GLIBCXX_` versions any object of the environment requires,
    /// next to the newest this host's `libc.so.6` and `libstdc++.so.6` provide, and which
    /// object sets the bar. Reported once per environment, as information.
    /// ## Why it matters
    /// It is the first question when an environment moves to another machine or base image:
    /// which glibc does it need at least? The answer decides the base image (Ubuntu 20.04 has
    /// glibc 2.31, 22.04 has 2.35) before anyone builds it.
    /// ## Example
    /// ```text
    /// .venv  info  ENV003  objects need up to GLIBC_2.34 (torch/lib/libtorch_cpu.so); this host provides up to GLIBC_2.36
    /// ```
    /// ## Fix
    /// Nothing to fix by itself; deploy on hosts and images whose glibc and libstdc++ are at
    /// least the versions named. `everybyte env snapshot` records them for comparison.
    pub static GLIBC_SUMMARY = { code: "ENV003", name: "glibc-requirement", severity: Info, summary: "The newest glibc and libstdc++ versions the environment needs" };
}
