//! What the manifests are held to.

/// What the manifests are held to.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Peak memory measured by `everybyte profile` (PSS where available), and its source.
    pub peak_bytes: Option<(u64, String)>,
    /// Cold start measured by `everybyte profile`, seconds.
    pub cold_start: Option<f64>,
    /// Size of the model the containers load, when no profile exists, and where it was read.
    pub model_bytes: Option<(u64, String)>,
    /// Limits must be at least the peak times this (default 1.2).
    pub headroom: f64,
    /// The p99 latency of one inference, seconds, from `everybyte bench --format json`, and
    /// where it was read.
    pub p99_seconds: Option<(f64, String)>,
}
