//! What the server counts per model: Prometheus-style histograms, Triton's statistics
//! (counts and cumulative times), and the `/metrics` text exposition of them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::server::Server;

/// A fixed-bucket histogram in the Prometheus sense.
#[derive(Debug, Clone)]
pub struct Histogram {
    pub bounds: &'static [f64],
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

const SECONDS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

impl Histogram {
    pub(crate) fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub(crate) fn observe(&mut self, v: f64) {
        for (b, c) in self.bounds.iter().zip(self.counts.iter_mut()) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

/// Count and cumulative nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    pub count: u64,
    pub ns: u64,
}

impl Timing {
    pub(crate) fn add(&mut self, d: Duration, n: u64) {
        self.count += n;
        self.ns += u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    }
}

/// Per-batch-size compute statistics.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchStats {
    pub input: Timing,
    pub infer: Timing,
    pub output: Timing,
}

/// What the statistics extension and `/metrics` report for one model.
#[derive(Debug, Clone)]
pub struct Stats {
    pub last_inference_ms: u64,
    pub inference_count: u64,
    pub execution_count: u64,
    pub success: Timing,
    pub fail: Timing,
    pub queue: Timing,
    pub compute_input: Timing,
    pub compute_infer: Timing,
    pub compute_output: Timing,
    pub batches: BTreeMap<usize, BatchStats>,
    pub outcomes: BTreeMap<&'static str, u64>,
    pub queue_seconds: Histogram,
    pub compute_seconds: Histogram,
    pub request_seconds: Histogram,
    pub batch_size: Histogram,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            last_inference_ms: 0,
            inference_count: 0,
            execution_count: 0,
            success: Timing::default(),
            fail: Timing::default(),
            queue: Timing::default(),
            compute_input: Timing::default(),
            compute_infer: Timing::default(),
            compute_output: Timing::default(),
            batches: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            queue_seconds: Histogram::new(SECONDS),
            compute_seconds: Histogram::new(SECONDS),
            request_seconds: Histogram::new(SECONDS),
            batch_size: Histogram::new(BATCH),
        }
    }
}

/// Picks one histogram out of a model's statistics.
type Get = fn(&Stats) -> &Histogram;

impl Server {
    /// The Prometheus text exposition of every model's counters and histograms.
    pub fn metrics(&self) -> String {
        let mut out = String::new();
        let snapshot: Vec<(String, Stats, usize)> = self
            .models
            .values()
            .map(|m| {
                (
                    m.info.name.clone(),
                    everybyte_core::par::lock(&m.stats).clone(),
                    m.queue_depth(),
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "# HELP everybyte_ready Whether the server is ready (models loaded and warmed up).\n# TYPE everybyte_ready gauge\neverybyte_ready {}",
            u8::from(self.ready.load(Ordering::Relaxed))
        );
        out.push_str("# HELP everybyte_requests_total Inference requests by outcome.\n# TYPE everybyte_requests_total counter\n");
        for (name, s, _) in &snapshot {
            for outcome in ["success", "invalid", "overloaded", "error"] {
                let _ = writeln!(
                    out,
                    "everybyte_requests_total{{model=\"{name}\",outcome=\"{outcome}\"}} {}",
                    s.outcomes.get(outcome).copied().unwrap_or(0)
                );
            }
        }
        out.push_str("# HELP everybyte_queue_depth Requests waiting in the model's queue.\n# TYPE everybyte_queue_depth gauge\n");
        for (name, _, depth) in &snapshot {
            let _ = writeln!(out, "everybyte_queue_depth{{model=\"{name}\"}} {depth}");
        }
        out.push_str("# HELP everybyte_inferences_total Rows inferred (a batch of 8 counts 8).\n# TYPE everybyte_inferences_total counter\n");
        for (name, s, _) in &snapshot {
            let _ = writeln!(
                out,
                "everybyte_inferences_total{{model=\"{name}\"}} {}",
                s.inference_count
            );
        }
        out.push_str("# HELP everybyte_executions_total Model executions (batches).\n# TYPE everybyte_executions_total counter\n");
        for (name, s, _) in &snapshot {
            let _ = writeln!(
                out,
                "everybyte_executions_total{{model=\"{name}\"}} {}",
                s.execution_count
            );
        }
        let hists: [(&str, &str, Get); 4] = [
            (
                "everybyte_request_seconds",
                "Time from arrival to response, successful requests.",
                |s| &s.request_seconds,
            ),
            (
                "everybyte_queue_seconds",
                "Time a request waited in the queue.",
                |s| &s.queue_seconds,
            ),
            (
                "everybyte_compute_seconds",
                "Time a batch spent in the model, inputs and outputs included.",
                |s| &s.compute_seconds,
            ),
            ("everybyte_batch_size", "Rows per executed batch.", |s| {
                &s.batch_size
            }),
        ];
        for (metric, help, get) in hists {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} histogram");
            for (name, s, _) in &snapshot {
                let h = get(s);
                for (b, c) in h.bounds.iter().zip(&h.counts) {
                    let _ = writeln!(out, "{metric}_bucket{{model=\"{name}\",le=\"{b}\"}} {c}");
                }
                let _ = writeln!(
                    out,
                    "{metric}_bucket{{model=\"{name}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "{metric}_sum{{model=\"{name}\"}} {}", h.sum);
                let _ = writeln!(out, "{metric}_count{{model=\"{name}\"}} {}", h.count);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let mut h = Histogram::new(BATCH);
        for v in [1.0, 3.0, 8.0, 200.0] {
            h.observe(v);
        }
        assert_eq!(h.counts[..4], [1, 1, 2, 3]);
        assert_eq!(h.count, 4);
    }
}
