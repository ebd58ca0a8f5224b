//! A benchmark's result and its renderings: the text summary, the JSON document (its
//! serialization) and the figures of the HTML page.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Grpc,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p99_9_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub url: String,
    pub model: String,
    pub protocol: Protocol,
    pub encoding: &'static str,
    /// `open` (fixed arrival rate) or `closed` (fixed concurrency).
    pub mode: &'static str,
    pub offered_rate: Option<f64>,
    pub concurrency: Option<usize>,
    pub seconds: f64,
    pub sent: u64,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub throughput: f64,
    pub latency: Latency,
    /// (percentile, milliseconds) from p0 to p99.99 and the maximum: the percentile curve.
    pub percentiles: Vec<(f64, f64)>,
    /// (upper bound ms, requests): the latency histogram in buckets doubling from 0.1 ms.
    pub histogram: Vec<(f64, u64)>,
    pub request_bytes: usize,
}

impl BenchReport {
    /// The latency histogram, for the HTML page.
    pub fn histogram_figure(&self) -> everybyte_core::chart::Figure {
        let title = format!("{} model {}: latency histogram", self.url, self.model);
        let bars: Vec<(String, f64)> = self
            .histogram
            .iter()
            .map(|&(ms, n)| {
                let upper = everybyte_core::chart::format_value(
                    ms / 1000.0,
                    everybyte_core::chart::Scale::Seconds,
                );
                (format!("≤ {upper}"), n as f64)
            })
            .collect();
        everybyte_core::chart::Figure {
            svg: everybyte_core::chart::bars(&title, ("request", "requests"), &bars),
            title,
            path: None,
        }
    }

    /// The latency percentile curve, for the HTML page.
    pub fn figure(&self) -> everybyte_core::chart::Figure {
        use everybyte_core::chart::{Axis, Figure, Mark, Scale, Series, lines};
        let title = format!(
            "{} model {}: latency by percentile ({} req/s served)",
            self.url,
            self.model,
            self.throughput.round()
        );
        // The x axis is the percentile on a log scale of the tail: -log10(1 - p).
        let x = |p: f64| -(1.0 - (p / 100.0).min(0.99999)).log10();
        let points = self
            .percentiles
            .iter()
            .map(|&(p, v)| (x(p), v / 1000.0))
            .collect();
        let marks = [
            Mark::X(x(50.0), "p50".into()),
            Mark::X(x(99.0), "p99".into()),
            Mark::X(x(99.9), "p99.9".into()),
        ];
        Figure {
            svg: lines(
                &title,
                &Axis {
                    label: "percentile (log scale of the tail)",
                    scale: Scale::Tail,
                },
                &Axis {
                    label: "latency",
                    scale: Scale::Seconds,
                },
                &[Series {
                    name: format!("{} {}", self.mode, self.encoding),
                    points,
                }],
                &marks,
            ),
            title,
            path: None,
        }
    }

    pub fn render_text(&self) -> String {
        let how = match (self.offered_rate, self.concurrency) {
            (Some(r), _) => format!("open loop at {r} req/s"),
            (None, Some(c)) => format!("closed loop, {c} in flight"),
            (None, None) => String::new(),
        };
        let errors = if self.errors.is_empty() {
            "no errors".to_owned()
        } else {
            let kinds: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            format!(
                "{} errors ({})",
                self.errors.values().sum::<u64>(),
                kinds.join(", ")
            )
        };
        let l = &self.latency;
        format!(
            "{} model {} ({}, {}, {} bytes per request), {how}, {:.1} s measured\n\
             requests    {} sent, {} ok, {errors}\n\
             throughput  {:.1} req/s\n\
             latency     p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms  mean {:.2} ms\n",
            self.url,
            self.model,
            match self.protocol {
                Protocol::Http => "HTTP",
                Protocol::Grpc => "gRPC",
            },
            self.encoding,
            self.request_bytes,
            self.seconds,
            self.sent,
            self.ok,
            self.throughput,
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.p99_9_ms,
            l.max_ms,
            l.mean_ms
        )
    }
}
