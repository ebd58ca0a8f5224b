//! `everybyte bench`: a load generator for any KServe v2 server, over HTTP (binary or JSON
//! tensors) or gRPC. Open loop: requests leave on a fixed schedule and each latency counts from
//! its intended send time, so a stalled server cannot hide its stall (no coordinated omission).
//! Closed loop: a fixed number of requests in flight.
//!
//! [`options`] holds what a run is asked to do, [`synth`] the inputs it sends, [`client`] the
//! HTTP and gRPC clients, [`report`] the result and its renderings; this module drives the run.

pub mod client;
pub mod options;
pub mod report;
pub mod synth;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::error::{BenchError, Failure};
use client::{Target, target};
pub use options::{BenchOptions, parse_duration, parse_fill, parse_shape};
pub use report::{BenchReport, Latency, Protocol};

struct Tally {
    hist: Histogram<u64>,
    ok: u64,
    sent: u64,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn record(&mut self, result: Result<(), Failure>, latency: Duration) {
        self.sent += 1;
        match result {
            Ok(()) => {
                self.ok += 1;
                let us = u64::try_from(latency.as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let _ = self.hist.record(us.min(self.hist.high()));
            }
            Err(kind) => *self.errors.entry(kind.to_string()).or_default() += 1,
        }
    }
}

async fn one(target: &Target, timeout: Duration) -> Result<(), Failure> {
    match tokio::time::timeout(timeout, target.send()).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout),
    }
}

/// Runs the benchmark on its own async runtime.
pub fn bench(opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    if let Some(r) = opts.rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
        return Err(BenchError::Rate(r));
    }
    if opts.rate.is_some() && opts.concurrency.is_some() {
        return Err(BenchError::RateAndConcurrency);
    }
    if opts.concurrency == Some(0) {
        return Err(BenchError::ZeroConcurrency);
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .map_err(BenchError::Runtime)?
        .block_on(run(opts))
}

async fn run(opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    let (target, protocol, request_bytes) = target(opts).await?;
    // One request first: a model that cannot answer fails the bench at once, with its reason.
    if let Err(e) = one(&target, opts.timeout).await {
        return Err(BenchError::FirstRequest(e.to_string()));
    }
    let target = Arc::new(target);
    let tally = Arc::new(Mutex::new(Tally {
        hist: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
        ok: 0,
        sent: 0,
        errors: BTreeMap::new(),
    }));
    let warm_end = Instant::now() + opts.warmup;
    let end = warm_end + opts.duration;
    let measuring_from = warm_end;
    match opts.rate {
        Some(rate) => open_loop(opts, rate, &target, &tally, measuring_from, end).await,
        None => closed_loop(opts, &target, &tally, measuring_from, end).await,
    }
    // The measured window, not when the last straggler finished: a request hanging until
    // --timeout must not dilute the throughput.
    let seconds = end
        .saturating_duration_since(measuring_from)
        .as_secs_f64()
        .max(1e-9);
    let t = everybyte_core::par::lock(&tally);
    let ms = |us: u64| us as f64 / 1000.0;
    let h = &t.hist;
    Ok(BenchReport {
        url: opts.url.clone(),
        model: opts.model.clone(),
        protocol,
        encoding: match (protocol, opts.json) {
            (Protocol::Grpc, _) => "raw",
            (Protocol::Http, true) => "json",
            (Protocol::Http, false) => "binary",
        },
        mode: if opts.rate.is_some() {
            "open"
        } else {
            "closed"
        },
        offered_rate: opts.rate,
        concurrency: if opts.rate.is_some() {
            None
        } else {
            Some(opts.concurrency.unwrap_or(1))
        },
        seconds,
        sent: t.sent,
        ok: t.ok,
        errors: t.errors.clone(),
        throughput: t.ok as f64 / seconds,
        latency: Latency {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p99_9_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        },
        percentiles: [
            0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 97.5, 99.0, 99.5,
            99.9, 99.99, 100.0,
        ]
        .iter()
        .map(|&p| (p, ms(h.value_at_quantile(p / 100.0))))
        .collect(),
        histogram: h
            .iter_log(100, 2.0)
            .map(|v| (ms(v.value_iterated_to()), v.count_since_last_iteration()))
            .filter(|&(_, n)| n > 0)
            .collect(),
        request_bytes,
    })
}

/// Requests leave at `rate` per second whatever the server does; each latency counts from
/// the request's intended send time.
async fn open_loop(
    opts: &BenchOptions,
    rate: f64,
    target: &Arc<Target>,
    tally: &Arc<Mutex<Tally>>,
    measuring_from: Instant,
    end: Instant,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(opts.max_in_flight.max(1)));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0u64.. {
        let intended = start + Duration::from_secs_f64(i as f64 / rate);
        if intended >= end {
            break;
        }
        tokio::time::sleep_until(intended.into()).await;
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (target, tally) = (Arc::clone(target), Arc::clone(tally));
        let timeout = opts.timeout;
        tasks.spawn(async move {
            let r = one(&target, timeout).await;
            // Latency from the intended send time, not from when it was sent.
            let latency = intended.elapsed();
            drop(permit);
            if intended >= measuring_from {
                everybyte_core::par::lock(&tally).record(r, latency);
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// `concurrency` requests in flight, each sent when the previous one answered.
async fn closed_loop(
    opts: &BenchOptions,
    target: &Arc<Target>,
    tally: &Arc<Mutex<Tally>>,
    measuring_from: Instant,
    end: Instant,
) {
    let c = opts.concurrency.unwrap_or(1);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..c {
        let (target, tally) = (Arc::clone(target), Arc::clone(tally));
        let timeout = opts.timeout;
        tasks.spawn(async move {
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let r = one(&target, timeout).await;
                if t0 >= measuring_from {
                    everybyte_core::par::lock(&tally).record(r, t0.elapsed());
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}
