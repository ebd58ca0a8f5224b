//! `everybyte bench`: a load generator for any KServe v2 server, over HTTP (binary or JSON
//! tensors) or gRPC. Open loop: requests leave on a fixed schedule and each latency counts from
//! its intended send time, so a stalled server cannot hide its stall (no coordinated omission).
//! Closed loop: a fixed number of requests in flight.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::{Value, json};

use crate::proto;
use crate::tensor::{DataType, element_count};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Grpc,
}

pub struct BenchOptions {
    /// `http://HOST:PORT` or `grpc://HOST:PORT`.
    pub url: String,
    pub model: String,
    /// Requests per second, open loop.
    pub rate: Option<f64>,
    /// Requests in flight, closed loop (the default, at 1).
    pub concurrency: Option<usize>,
    pub duration: Duration,
    pub warmup: Duration,
    /// Sizes for the model's dynamic dimensions, per input (`input_ids=1,128`).
    pub shapes: Vec<(String, Vec<i64>)>,
    /// HTTP only: JSON tensors instead of the binary extension.
    pub json: bool,
    /// Outputs to ask for; empty: all of them.
    pub outputs: Vec<String>,
    /// Inputs filled with one value instead of pseudo-random data (`attention_mask=1`).
    pub fills: Vec<(String, f64)>,
    pub timeout: Duration,
    /// Open loop: at most this many requests outstanding; later ones wait, and their wait
    /// counts in their latency.
    pub max_in_flight: usize,
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

/// A fixed pseudo-random sequence (xorshift64*), so every run sends the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

struct Input {
    name: String,
    datatype: DataType,
    shape: Vec<i64>,
    data: Vec<u8>,
    values: Vec<Value>,
}

fn synthesize(
    meta: &Value,
    shapes: &[(String, Vec<i64>)],
    fills: &[(String, f64)],
) -> Result<Vec<Input>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let inputs = meta["inputs"]
        .as_array()
        .context("the model metadata lists no inputs")?;
    let mut out = Vec::new();
    for i in inputs {
        let name = i["name"]
            .as_str()
            .context("an input without a name")?
            .to_owned();
        let dt = i["datatype"].as_str().unwrap_or("");
        let datatype = DataType::parse(dt)
            .with_context(|| format!("input {name}: unknown datatype {dt:?}"))?;
        let model_shape: Vec<i64> = i["shape"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        let shape = match shapes.iter().find(|(n, _)| *n == name) {
            Some((_, s)) => {
                let fits = s.len() == model_shape.len()
                    && s.iter().zip(&model_shape).all(|(&a, &m)| m < 0 || a == m);
                if !fits {
                    bail!("--shape {name}: {s:?} does not fit the model's {model_shape:?}");
                }
                s.clone()
            }
            None if model_shape.iter().any(|&d| d < 0) => bail!(
                "input {name} has dynamic dimensions {model_shape:?}: give them with --shape {name}={}",
                model_shape
                    .iter()
                    .enumerate()
                    .map(|(k, &d)| if d >= 0 {
                        d.to_string()
                    } else if k == 0 {
                        "1".into()
                    } else {
                        "128".into()
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            None => model_shape,
        };
        let n = element_count(&shape).map_err(anyhow::Error::msg)?;
        let size = datatype
            .size()
            .with_context(|| format!("input {name}: {dt} inputs cannot be synthesized"))?;
        if n.checked_mul(size).is_none_or(|b| b > 1 << 30) {
            bail!("input {name}: shape {shape:?} is over 1 GiB per request");
        }
        let mut data = Vec::with_capacity(n * size);
        let mut values = Vec::with_capacity(n);
        let fill = fills.iter().find(|(f, _)| *f == name).map(|(_, v)| *v);
        for _ in 0..n {
            if let Some(v) = fill {
                push_value(&mut data, &mut values, datatype, v);
                continue;
            }
            let r = rng.next();
            // Integers in 0..100 are valid token ids, byte values and class indices alike;
            // floats in [-1, 1).
            let small = r % 100;
            match datatype {
                DataType::F32 => {
                    let x = (r >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
                    data.extend_from_slice(&x.to_le_bytes());
                    values.push(json!(x));
                }
                DataType::F64 => {
                    let x = (r >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
                    data.extend_from_slice(&x.to_le_bytes());
                    values.push(json!(x));
                }
                DataType::Bool => {
                    data.push(u8::from(r & 1 == 1));
                    values.push(json!(r & 1 == 1));
                }
                DataType::F16 | DataType::Bf16 => {
                    data.extend_from_slice(&[0, 0]);
                    values.push(json!(0));
                }
                _ => {
                    data.extend_from_slice(&small.to_le_bytes()[..size]);
                    values.push(json!(small));
                }
            }
        }
        out.push(Input {
            name,
            datatype,
            shape,
            data,
            values,
        });
    }
    Ok(out)
}

/// One element of value `v` in `datatype`'s little-endian bytes and as JSON.
fn push_value(data: &mut Vec<u8>, values: &mut Vec<Value>, datatype: DataType, v: f64) {
    match datatype {
        DataType::F32 => data.extend_from_slice(&(v as f32).to_le_bytes()),
        DataType::F64 => data.extend_from_slice(&v.to_le_bytes()),
        DataType::Bool => data.push(u8::from(v != 0.0)),
        DataType::U8 | DataType::I8 => data.push(v as i64 as u8),
        DataType::U16 | DataType::I16 => data.extend_from_slice(&(v as i64 as u16).to_le_bytes()),
        DataType::U32 | DataType::I32 => data.extend_from_slice(&(v as i64 as u32).to_le_bytes()),
        DataType::U64 | DataType::I64 => data.extend_from_slice(&(v as i64).to_le_bytes()),
        DataType::F16 | DataType::Bf16 | DataType::Bytes => data.extend_from_slice(&[0, 0]),
    }
    values.push(match datatype {
        DataType::F32 | DataType::F64 => json!(v),
        DataType::Bool => json!(v != 0.0),
        _ => json!(v as i64),
    });
}

/// Parses `--fill name=1`.
pub fn parse_fill(s: &str) -> Result<(String, f64)> {
    let (name, v) = s
        .split_once('=')
        .with_context(|| format!("--fill {s}: expected NAME=VALUE"))?;
    let v: f64 = v
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .with_context(|| format!("--fill {s}: {v} is not a number"))?;
    Ok((name.to_owned(), v))
}

enum Target {
    Http {
        client: Client<HttpConnector, Full<Bytes>>,
        uri: hyper::Uri,
        body: Bytes,
        header_len: Option<usize>,
    },
    Grpc {
        client: proto::grpc_inference_service_client::GrpcInferenceServiceClient<
            tonic::transport::Channel,
        >,
        request: proto::ModelInferRequest,
    },
}

impl Target {
    async fn send(&self) -> Result<(), String> {
        match self {
            Target::Http {
                client,
                uri,
                body,
                header_len,
            } => {
                let mut req = hyper::Request::post(uri.clone());
                req = match header_len {
                    Some(n) => req
                        .header("content-type", "application/octet-stream")
                        .header("inference-header-content-length", *n),
                    None => req.header("content-type", "application/json"),
                };
                let req = req
                    .body(Full::new(body.clone()))
                    .map_err(|e| format!("request: {e}"))?;
                let resp = client.request(req).await.map_err(|e| {
                    if e.is_connect() {
                        "connect".to_owned()
                    } else {
                        "io".to_owned()
                    }
                })?;
                let status = resp.status();
                // Read the whole answer: a server is not done until it has sent it.
                resp.into_body()
                    .collect()
                    .await
                    .map_err(|_| "io".to_owned())?;
                if status.is_success() {
                    Ok(())
                } else {
                    Err(format!("http {}", status.as_u16()))
                }
            }
            Target::Grpc { client, request } => {
                let mut c = client.clone();
                c.model_infer(request.clone())
                    .await
                    .map(|_| ())
                    .map_err(|s| format!("grpc {:?}", s.code()))
            }
        }
    }
}

async fn http_metadata(
    client: &Client<HttpConnector, Full<Bytes>>,
    base: &str,
    model: &str,
) -> Result<Value> {
    let uri: hyper::Uri = format!("{base}/v2/models/{model}")
        .parse()
        .with_context(|| format!("{base}: not a URL"))?;
    let resp = client
        .get(uri.clone())
        .await
        .with_context(|| format!("{uri}: cannot connect"))?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!("{uri}: {status}: {}", String::from_utf8_lossy(&body).trim());
    }
    serde_json::from_slice(&body).with_context(|| format!("{uri}: not KServe v2 model metadata"))
}

async fn target(opts: &BenchOptions) -> Result<(Target, Protocol, usize)> {
    let (protocol, host) = if let Some(h) = opts.url.strip_prefix("grpc://") {
        (Protocol::Grpc, h)
    } else if let Some(h) = opts.url.strip_prefix("http://") {
        (Protocol::Http, h)
    } else {
        bail!(
            "{}: give the server as http://HOST:PORT (REST) or grpc://HOST:PORT",
            opts.url
        );
    };
    let host = host.trim_end_matches('/');
    match protocol {
        Protocol::Http => http_target(opts, host).await,
        Protocol::Grpc => grpc_target(opts, host).await,
    }
}

async fn http_target(opts: &BenchOptions, host: &str) -> Result<(Target, Protocol, usize)> {
    let protocol = Protocol::Http;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(usize::MAX)
        .build(connector);
    let base = format!("http://{host}");
    let meta = http_metadata(&client, &base, &opts.model).await?;
    let inputs = synthesize(&meta, &opts.shapes, &opts.fills)?;
    let outputs: Vec<Value> = opts
        .outputs
        .iter()
        .map(|o| json!({ "name": o, "parameters": { "binary_data": !opts.json } }))
        .collect();
    let (body, header_len) = if opts.json {
        let mut j = json!({ "inputs": inputs.iter().map(|i| json!({
            "name": i.name, "shape": i.shape, "datatype": i.datatype.name(), "data": i.values,
        })).collect::<Vec<_>>() });
        if !outputs.is_empty() {
            j["outputs"] = Value::Array(outputs);
        }
        (Bytes::from(serde_json::to_vec(&j)?), None)
    } else {
        let mut j = json!({
            "inputs": inputs.iter().map(|i| json!({
                "name": i.name, "shape": i.shape, "datatype": i.datatype.name(),
                "parameters": { "binary_data_size": i.data.len() },
            })).collect::<Vec<_>>(),
            "parameters": { "binary_data_output": true },
        });
        if !outputs.is_empty() {
            j["outputs"] = Value::Array(outputs);
        }
        let mut b = serde_json::to_vec(&j)?;
        let n = b.len();
        for i in &inputs {
            b.extend_from_slice(&i.data);
        }
        (Bytes::from(b), Some(n))
    };
    let uri = format!("{base}/v2/models/{}/infer", opts.model).parse()?;
    let size = body.len();
    Ok((
        Target::Http {
            client,
            uri,
            body,
            header_len,
        },
        protocol,
        size,
    ))
}

async fn grpc_target(opts: &BenchOptions, host: &str) -> Result<(Target, Protocol, usize)> {
    let protocol = Protocol::Grpc;
    if opts.json {
        bail!("--json applies to HTTP only");
    }
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{host}"))?
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("{}: cannot connect", opts.url))?;
    let mut client = proto::grpc_inference_service_client::GrpcInferenceServiceClient::new(channel)
        .max_decoding_message_size(usize::MAX);
    let m = client
        .model_metadata(proto::ModelMetadataRequest {
            name: opts.model.clone(),
            version: String::new(),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}: model {}: {}", opts.url, opts.model, s.message()))?
        .into_inner();
    let meta = json!({ "inputs": m.inputs.iter().map(|t| json!({
        "name": t.name, "datatype": t.datatype, "shape": t.shape,
    })).collect::<Vec<_>>() });
    let inputs = synthesize(&meta, &opts.shapes, &opts.fills)?;
    let size = inputs.iter().map(|i| i.data.len()).sum();
    let request = proto::ModelInferRequest {
        model_name: opts.model.clone(),
        inputs: inputs
            .iter()
            .map(|i| proto::model_infer_request::InferInputTensor {
                name: i.name.clone(),
                datatype: i.datatype.name().into(),
                shape: i.shape.clone(),
                ..Default::default()
            })
            .collect(),
        raw_input_contents: inputs.into_iter().map(|i| Bytes::from(i.data)).collect(),
        outputs: opts
            .outputs
            .iter()
            .map(|o| proto::model_infer_request::InferRequestedOutputTensor {
                name: o.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    Ok((Target::Grpc { client, request }, protocol, size))
}

struct Tally {
    hist: Histogram<u64>,
    ok: u64,
    sent: u64,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn record(&mut self, result: Result<(), String>, latency: Duration) {
        self.sent += 1;
        match result {
            Ok(()) => {
                self.ok += 1;
                let us = u64::try_from(latency.as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let _ = self.hist.record(us.min(self.hist.high()));
            }
            Err(kind) => *self.errors.entry(kind).or_default() += 1,
        }
    }
}

async fn one(target: &Target, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, target.send()).await {
        Ok(r) => r,
        Err(_) => Err("timeout".to_owned()),
    }
}

/// Runs the benchmark on its own async runtime.
pub fn bench(opts: &BenchOptions) -> Result<BenchReport> {
    if let Some(r) = opts.rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
        bail!("--rate {r}: expected a positive number of requests per second");
    }
    if opts.rate.is_some() && opts.concurrency.is_some() {
        bail!("give --rate (open loop) or --concurrency (closed loop), not both");
    }
    if opts.concurrency == Some(0) {
        bail!("--concurrency 0: expected at least 1");
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(run(opts))
}

async fn run(opts: &BenchOptions) -> Result<BenchReport> {
    let (target, protocol, request_bytes) = target(opts).await?;
    // One request first: a model that cannot answer fails the bench at once, with its reason.
    if let Err(e) = one(&target, opts.timeout).await {
        bail!("the first request failed ({e}); check the model and --shape");
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

impl BenchReport {
    /// The latency histogram, for the HTML page.
    pub fn histogram_figure(&self) -> everybyte_core::chart::Figure {
        let title = format!("{} model {}: latency histogram", self.url, self.model);
        let bars: Vec<(String, f64)> = self
            .histogram
            .iter()
            .map(|&(ms, n)| (format!("≤ {ms:.1} ms"), n as f64))
            .collect();
        everybyte_core::chart::Figure {
            svg: everybyte_core::chart::bars(&title, "requests", &bars),
            title,
        }
    }

    /// The latency percentile curve, for the HTML page.
    pub fn figure(&self) -> everybyte_core::chart::Figure {
        use everybyte_core::chart::{Figure, Mark, Series, lines};
        let title = format!(
            "{} model {}: latency by percentile ({} req/s served)",
            self.url,
            self.model,
            self.throughput.round()
        );
        // The x axis is the percentile on a log scale of the tail: -log10(1 - p).
        let x = |p: f64| -(1.0 - (p / 100.0).min(0.99999)).log10();
        let points = self.percentiles.iter().map(|&(p, v)| (x(p), v)).collect();
        let marks = [
            Mark::X(x(50.0), "p50".into()),
            Mark::X(x(99.0), "p99".into()),
            Mark::X(x(99.9), "p99.9".into()),
        ];
        Figure {
            svg: lines(
                &title,
                "tail: -log10(1 - percentile)  (1 = p90, 2 = p99, 3 = p99.9)",
                "latency ms",
                &[Series {
                    name: format!("{} {}", self.mode, self.encoding),
                    points,
                }],
                &marks,
            ),
            title,
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

/// Parses `10s`, `500ms`, `2m` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v * scale < 1e9)
        .map(|v| Duration::from_secs_f64(v * scale))
        .with_context(|| format!("{s}: not a duration (10s, 500ms, 2m)"))
}

/// Parses `--shape name=1,128`.
pub fn parse_shape(s: &str) -> Result<(String, Vec<i64>)> {
    let (name, dims) = s
        .split_once('=')
        .with_context(|| format!("--shape {s}: expected NAME=D1,D2,…"))?;
    let dims = dims
        .split(',')
        .map(|d| d.trim().parse::<i64>().ok().filter(|&d| d >= 0))
        .collect::<Option<Vec<_>>>()
        .with_context(|| format!("--shape {s}: dimensions must be non-negative integers"))?;
    Ok((name.to_owned(), dims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_and_fit() {
        assert_eq!(
            parse_shape("input_ids=1,128").unwrap(),
            ("input_ids".into(), vec![1, 128])
        );
        assert!(parse_shape("x").is_err());
        assert!(parse_shape("x=1,-2").is_err());
        let meta = json!({ "inputs": [{ "name": "ids", "datatype": "INT64", "shape": [-1, -1] }] });
        let e = synthesize(&meta, &[], &[]).err().unwrap().to_string();
        assert!(e.contains("--shape ids=1,128"), "{e}");
        let e = synthesize(&meta, &[("ids".into(), vec![1])], &[])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("does not fit"), "{e}");
        let ok = synthesize(&meta, &[("ids".into(), vec![2, 3])], &[]).unwrap();
        assert_eq!(ok[0].data.len(), 48);
        assert!(
            ok[0]
                .values
                .iter()
                .all(|v| v.as_u64().is_some_and(|x| x < 100))
        );
        let ones = synthesize(
            &meta,
            &[("ids".into(), vec![1, 2])],
            &[parse_fill("ids=1").unwrap()],
        )
        .unwrap();
        assert_eq!(
            ones[0].data,
            [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        );
        assert!(parse_fill("ids=x").is_err());
    }
}
