//! The server's core, shared by both transports: one worker thread per model owning its
//! session, a bounded queue in front of it, dynamic batching, validation before compute,
//! statistics and Prometheus metrics.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use tokio::sync::oneshot;

use crate::engine::{Engine, IoSpec, ModelInfo};
use crate::tensor::{Tensor, element_count};

/// Why a request failed; each transport maps it to its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400 / INVALID_ARGUMENT
    Invalid,
    /// 404 / NOT_FOUND
    NotFound,
    /// 503 / UNAVAILABLE: the queue is full, or the server is not ready or draining.
    Unavailable,
    /// 500 / INTERNAL
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferError {
    pub kind: ErrorKind,
    pub message: String,
}

impl InferError {
    pub fn invalid(m: impl Into<String>) -> Self {
        InferError {
            kind: ErrorKind::Invalid,
            message: m.into(),
        }
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        InferError {
            kind: ErrorKind::NotFound,
            message: m.into(),
        }
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        InferError {
            kind: ErrorKind::Unavailable,
            message: m.into(),
        }
    }
    pub fn internal(m: impl Into<String>) -> Self {
        InferError {
            kind: ErrorKind::Internal,
            message: m.into(),
        }
    }
}

impl std::fmt::Display for InferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// An inference request, decoded from either transport.
#[derive(Debug, Default)]
pub struct InferRequest {
    pub id: String,
    pub inputs: Vec<Tensor>,
    /// Requested outputs by name; empty: every output.
    pub outputs: Vec<String>,
}

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
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
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
    fn add(&mut self, d: Duration, n: u64) {
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

type Reply = oneshot::Sender<Result<Vec<Tensor>, InferError>>;

struct Job {
    inputs: Vec<Tensor>,
    rows: usize,
    enqueued: Instant,
    reply: Reply,
}

/// A served model: what it is, its queue, its statistics.
pub struct Model {
    pub info: Arc<ModelInfo>,
    tx: Mutex<Option<SyncSender<Job>>>,
    depth: Arc<AtomicUsize>,
    pub stats: Arc<Mutex<Stats>>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// All models, readiness, and the shutdown switch.
pub struct Server {
    pub models: BTreeMap<String, Arc<Model>>,
    pub ready: AtomicBool,
    pub request_limit: usize,
    pub runtime_version: String,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

/// One line of JSON on standard error: the server's structured log.
pub fn log(level: &str, event: &str, fields: &[(&str, serde_json::Value)]) {
    let mut m = serde_json::Map::new();
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    m.insert(
        "ts".into(),
        serde_json::json!((ts * 1000.0).round() / 1000.0),
    );
    m.insert("level".into(), level.into());
    m.insert("event".into(), event.into());
    for (k, v) in fields {
        m.insert((*k).to_owned(), v.clone());
    }
    let line = serde_json::Value::Object(m).to_string();
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{line}");
    }
}

impl Model {
    /// Starts the model's worker thread, which owns the engine.
    pub fn start(engine: Engine) -> std::io::Result<Arc<Model>> {
        let info = Arc::clone(&engine.info);
        let (tx, rx) = std::sync::mpsc::sync_channel(info.settings.queue);
        let depth = Arc::new(AtomicUsize::new(0));
        let stats = Arc::new(Mutex::new(Stats::default()));
        let worker = {
            let (depth, stats) = (Arc::clone(&depth), Arc::clone(&stats));
            std::thread::Builder::new()
                .name(format!("model-{}", info.name))
                .spawn(move || worker(engine, &rx, &depth, &stats))?
        };
        Ok(Arc::new(Model {
            info,
            tx: Mutex::new(Some(tx)),
            depth,
            stats,
            worker: Mutex::new(Some(worker)),
        }))
    }

    /// Requests waiting in the queue now.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Closes the queue; with `wait`, waits for the worker to finish what it holds.
    pub fn stop(&self, wait: bool) {
        everybyte_core::par::lock(&self.tx).take();
        if let Some(h) = everybyte_core::par::lock(&self.worker)
            .take()
            .filter(|_| wait)
        {
            let _ = h.join();
        }
    }

    /// Counts a request that could not be decoded.
    pub fn record_invalid(&self) {
        self.count("invalid");
    }

    fn count(&self, outcome: &'static str) {
        let mut s = everybyte_core::par::lock(&self.stats);
        *s.outcomes.entry(outcome).or_default() += 1;
    }

    /// Validates, queues and awaits one request.
    pub async fn infer(&self, req: InferRequest) -> Result<Vec<Tensor>, InferError> {
        let start = Instant::now();
        let validated = validate(&self.info, req);
        let (inputs, rows, wanted) = match validated {
            Ok(v) => v,
            Err(e) => {
                self.count("invalid");
                return Err(e);
            }
        };
        let (reply, rx) = oneshot::channel();
        let job = Job {
            inputs,
            rows,
            enqueued: start,
            reply,
        };
        let sent = {
            let tx = everybyte_core::par::lock(&self.tx);
            match tx.as_ref() {
                None => Err(InferError::unavailable("the server is shutting down")),
                Some(tx) => {
                    self.depth.fetch_add(1, Ordering::Relaxed);
                    tx.try_send(job).map_err(|e| {
                        self.depth.fetch_sub(1, Ordering::Relaxed);
                        match e {
                            TrySendError::Full(_) => InferError::unavailable(format!(
                                "model {} is overloaded: its queue of {} requests is full; retry later",
                                self.info.name, self.info.settings.queue
                            )),
                            TrySendError::Disconnected(_) => {
                                InferError::unavailable("the server is shutting down")
                            }
                        }
                    })
                }
            }
        };
        if let Err(e) = sent {
            self.count("overloaded");
            return Err(e);
        }
        let result = match rx.await {
            Ok(r) => r,
            Err(_) => Err(InferError::internal("the model's worker stopped")),
        };
        let elapsed = start.elapsed();
        let mut s = everybyte_core::par::lock(&self.stats);
        if result.is_ok() {
            s.success.add(elapsed, 1);
            *s.outcomes.entry("success").or_default() += 1;
            s.request_seconds.observe(elapsed.as_secs_f64());
        } else {
            s.fail.add(elapsed, 1);
            *s.outcomes.entry("error").or_default() += 1;
        }
        drop(s);
        let outputs = result?;
        Ok(if wanted.is_empty() {
            outputs
        } else {
            let mut by_name: HashMap<String, Tensor> =
                outputs.into_iter().map(|t| (t.name.clone(), t)).collect();
            wanted.iter().filter_map(|n| by_name.remove(n)).collect()
        })
    }
}

fn io_names(specs: &[IoSpec]) -> String {
    specs
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a request against the model before anything is computed: every input present once,
/// its datatype, its shape against the model's fixed dimensions, one batch size across inputs
/// when the model batches, and the requested outputs. Returns the inputs in model order.
pub fn validate(
    info: &ModelInfo,
    req: InferRequest,
) -> Result<(Vec<Tensor>, usize, Vec<String>), InferError> {
    let mut given: HashMap<String, Tensor> = HashMap::new();
    for t in req.inputs {
        if !info.inputs.iter().any(|s| s.name == t.name) {
            return Err(InferError::invalid(format!(
                "model {} has no input {:?}; its inputs are: {}",
                info.name,
                t.name,
                io_names(&info.inputs)
            )));
        }
        let name = t.name.clone();
        if given.insert(name.clone(), t).is_some() {
            return Err(InferError::invalid(format!("input {name} is given twice")));
        }
    }
    let mut ordered = Vec::with_capacity(info.inputs.len());
    let mut rows: Option<usize> = None;
    for spec in &info.inputs {
        let Some(t) = given.remove(&spec.name) else {
            return Err(InferError::invalid(format!(
                "input {} is missing; model {} needs: {}",
                spec.name,
                info.name,
                io_names(&info.inputs)
            )));
        };
        if t.datatype != spec.datatype {
            return Err(InferError::invalid(format!(
                "input {}: datatype {}, but the model expects {}",
                spec.name,
                t.datatype.name(),
                spec.datatype.name()
            )));
        }
        let fits = t.shape.len() == spec.shape.len()
            && t.shape
                .iter()
                .zip(&spec.shape)
                .all(|(&d, &m)| d >= 0 && (m < 0 || d == m));
        if !fits {
            return Err(InferError::invalid(format!(
                "input {}: shape {:?} does not fit the model's {:?} (-1: any size)",
                spec.name, t.shape, spec.shape
            )));
        }
        element_count(&t.shape)
            .map_err(|e| InferError::invalid(format!("input {}: {e}", spec.name)))?;
        if info.max_batch > 0 {
            let b = usize::try_from(t.shape[0]).unwrap_or(0);
            if b == 0 || b > info.max_batch {
                return Err(InferError::invalid(format!(
                    "input {}: batch size {b} in shape {:?}; model {} takes 1 to {} rows (max_batch_size)",
                    spec.name, t.shape, info.name, info.max_batch
                )));
            }
            match rows {
                Some(r) if r != b => {
                    return Err(InferError::invalid(format!(
                        "input {}: batch size {b}, but another input has {r}",
                        spec.name
                    )));
                }
                _ => rows = Some(b),
            }
        }
        ordered.push(t);
    }
    for o in &req.outputs {
        if !info.outputs.iter().any(|s| &s.name == o) {
            return Err(InferError::invalid(format!(
                "model {} has no output {o:?}; its outputs are: {}",
                info.name,
                io_names(&info.outputs)
            )));
        }
    }
    Ok((ordered, rows.unwrap_or(1), req.outputs))
}

/// Two requests can share a batch when every input agrees on all but the first dimension.
fn compatible(a: &Job, b: &Job) -> bool {
    a.inputs
        .iter()
        .zip(&b.inputs)
        .all(|(x, y)| x.shape.get(1..) == y.shape.get(1..))
}

fn worker(mut engine: Engine, rx: &Receiver<Job>, depth: &AtomicUsize, stats: &Mutex<Stats>) {
    let info = Arc::clone(&engine.info);
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(j) => j,
            None => match rx.recv() {
                Ok(j) => {
                    depth.fetch_sub(1, Ordering::Relaxed);
                    j
                }
                Err(_) => return,
            },
        };
        let mut rows = first.rows;
        let mut jobs = vec![first];
        if info.max_batch > 0 {
            let target = info
                .settings
                .preferred
                .iter()
                .copied()
                .filter(|&p| p <= info.max_batch)
                .max()
                .unwrap_or(info.max_batch);
            let deadline = jobs[0]
                .enqueued
                .checked_add(info.settings.max_delay)
                .unwrap_or_else(Instant::now);
            while rows < target {
                let next = if info.settings.max_delay.is_zero() {
                    rx.try_recv().ok()
                } else {
                    let left = deadline.saturating_duration_since(Instant::now());
                    rx.recv_timeout(left).ok()
                };
                let Some(j) = next else { break };
                depth.fetch_sub(1, Ordering::Relaxed);
                if compatible(&jobs[0], &j) && rows + j.rows <= info.max_batch {
                    rows += j.rows;
                    jobs.push(j);
                } else {
                    carry = Some(j);
                    break;
                }
            }
        }
        execute(&mut engine, jobs, rows, stats);
    }
}

fn concat(jobs: &[Job], rows: usize) -> Vec<Tensor> {
    let first = &jobs[0].inputs;
    (0..first.len())
        .map(|i| {
            let len: usize = jobs.iter().map(|j| j.inputs[i].data.len()).sum();
            let mut data = BytesMut::with_capacity(len);
            for j in jobs {
                data.extend_from_slice(&j.inputs[i].data);
            }
            let mut shape = first[i].shape.clone();
            shape[0] = i64::try_from(rows).unwrap_or(i64::MAX);
            Tensor {
                name: first[i].name.clone(),
                datatype: first[i].datatype,
                shape,
                data: data.freeze(),
            }
        })
        .collect()
}

/// Splits batched outputs back along dimension 0, without copying.
fn split(outputs: &[Tensor], jobs: &[Job], rows: usize) -> Result<Vec<Vec<Tensor>>, String> {
    let mut per_job: Vec<Vec<Tensor>> = jobs.iter().map(|_| Vec::new()).collect();
    for o in outputs {
        if o.shape.first().and_then(|&d| usize::try_from(d).ok()) != Some(rows) {
            return Err(format!(
                "output {} has shape {:?}, not {rows} rows: the model cannot be batched (set max-batch = 0)",
                o.name, o.shape
            ));
        }
        let row_bytes = o.data.len() / rows.max(1);
        let mut at = 0;
        for (job, out) in jobs.iter().zip(per_job.iter_mut()) {
            let n = job.rows * row_bytes;
            let mut shape = o.shape.clone();
            shape[0] = i64::try_from(job.rows).unwrap_or(i64::MAX);
            out.push(Tensor {
                name: o.name.clone(),
                datatype: o.datatype,
                shape,
                data: o.data.slice(at..at + n),
            });
            at += n;
        }
    }
    Ok(per_job)
}

fn execute(engine: &mut Engine, jobs: Vec<Job>, rows: usize, stats: &Mutex<Stats>) {
    let started = Instant::now();
    let queue_times: Vec<Duration> = jobs
        .iter()
        .map(|j| started.saturating_duration_since(j.enqueued))
        .collect();
    let batched = jobs.len() > 1;
    let t0 = Instant::now();
    let inputs = if batched {
        concat(&jobs, rows)
    } else {
        Vec::new()
    };
    let t_input = t0.elapsed();
    let t1 = Instant::now();
    let result = if batched {
        engine.run(&inputs)
    } else {
        engine.run(&jobs[0].inputs)
    };
    let t_infer = t1.elapsed();
    let t2 = Instant::now();
    let results: Result<Vec<Vec<Tensor>>, String> = match result {
        Ok(outputs) if batched => split(&outputs, &jobs, rows),
        Ok(outputs) => Ok(vec![outputs]),
        Err(e) => Err(e.to_string()),
    };
    let t_output = t2.elapsed();
    {
        let mut s = everybyte_core::par::lock(stats);
        s.last_inference_ms = now_ms();
        s.execution_count += 1;
        s.inference_count += rows as u64;
        let n = jobs.len() as u64;
        for q in &queue_times {
            s.queue.add(*q, 1);
            s.queue_seconds.observe(q.as_secs_f64());
        }
        s.compute_input.add(t_input, n);
        s.compute_infer.add(t_infer, n);
        s.compute_output.add(t_output, n);
        s.compute_seconds
            .observe((t_input + t_infer + t_output).as_secs_f64());
        s.batch_size.observe(rows as f64);
        let b = s.batches.entry(rows).or_default();
        b.input.add(t_input, 1);
        b.infer.add(t_infer, 1);
        b.output.add(t_output, 1);
    }
    match results {
        Ok(per_job) => {
            for (job, out) in jobs.into_iter().zip(per_job) {
                let _ = job.reply.send(Ok(out));
            }
        }
        Err(e) => {
            log("error", "inference_failed", &[("error", e.clone().into())]);
            for job in jobs {
                let _ = job.reply.send(Err(InferError::internal(e.clone())));
            }
        }
    }
}

impl Server {
    pub fn model(&self, name: &str, version: Option<&str>) -> Result<&Arc<Model>, InferError> {
        let m = self
            .models
            .get(name)
            .ok_or_else(|| InferError::not_found(format!("no model named {name:?}")))?;
        match version {
            Some(v) if !v.is_empty() && v != m.info.version => Err(InferError::not_found(format!(
                "model {name} has no version {v:?} (serving version {})",
                m.info.version
            ))),
            _ => Ok(m),
        }
    }

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
    use crate::repo::ModelSettings;
    use crate::tensor::DataType;
    use bytes::Bytes;

    fn info(max_batch: usize) -> ModelInfo {
        ModelInfo {
            name: "m".into(),
            version: "1".into(),
            path: "m.onnx".into(),
            inputs: vec![
                IoSpec {
                    name: "ids".into(),
                    datatype: DataType::I64,
                    shape: vec![-1, -1],
                },
                IoSpec {
                    name: "mask".into(),
                    datatype: DataType::I64,
                    shape: vec![-1, -1],
                },
            ],
            outputs: vec![IoSpec {
                name: "emb".into(),
                datatype: DataType::F32,
                shape: vec![-1, 4],
            }],
            max_batch,
            unbatchable: None,
            settings: ModelSettings::default(),
            warmup: Ok(()),
        }
    }

    fn t(name: &str, dt: DataType, shape: &[i64]) -> Tensor {
        let n = element_count(shape).unwrap() * dt.size().unwrap();
        Tensor {
            name: name.into(),
            datatype: dt,
            shape: shape.to_vec(),
            data: Bytes::from(vec![0u8; n]),
        }
    }

    fn req(inputs: Vec<Tensor>, outputs: &[&str]) -> InferRequest {
        InferRequest {
            id: String::new(),
            inputs,
            outputs: outputs.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn validation_names_the_input_and_the_reason() {
        let m = info(8);
        let ok = validate(
            &m,
            req(
                vec![
                    t("mask", DataType::I64, &[2, 5]),
                    t("ids", DataType::I64, &[2, 5]),
                ],
                &["emb"],
            ),
        )
        .unwrap();
        assert_eq!(ok.0[0].name, "ids");
        assert_eq!(ok.1, 2);
        let cases: [(InferRequest, &str); 8] = [
            (
                req(
                    vec![
                        t("ids", DataType::I64, &[9, 5]),
                        t("mask", DataType::I64, &[9, 5]),
                    ],
                    &[],
                ),
                "batch size 9 in shape [9, 5]; model m takes 1 to 8 rows",
            ),
            (
                req(vec![t("ids", DataType::I64, &[1, 5])], &[]),
                "input mask is missing",
            ),
            (
                req(
                    vec![
                        t("ids", DataType::I64, &[1, 5]),
                        t("ids", DataType::I64, &[1, 5]),
                    ],
                    &[],
                ),
                "given twice",
            ),
            (
                req(
                    vec![
                        t("ids", DataType::I32, &[1, 5]),
                        t("mask", DataType::I64, &[1, 5]),
                    ],
                    &[],
                ),
                "input ids: datatype INT32, but the model expects INT64",
            ),
            (
                req(
                    vec![
                        t("ids", DataType::I64, &[5]),
                        t("mask", DataType::I64, &[1, 5]),
                    ],
                    &[],
                ),
                "input ids: shape [5] does not fit",
            ),
            (
                req(
                    vec![
                        t("ids", DataType::I64, &[2, 5]),
                        t("mask", DataType::I64, &[3, 5]),
                    ],
                    &[],
                ),
                "batch size 3, but another input has 2",
            ),
            (
                req(
                    vec![
                        t("ids", DataType::I64, &[1, 5]),
                        t("mask", DataType::I64, &[1, 5]),
                    ],
                    &["nope"],
                ),
                "no output \"nope\"; its outputs are: emb",
            ),
            (
                req(vec![t("idz", DataType::I64, &[1, 5])], &[]),
                "no input \"idz\"; its inputs are: ids, mask",
            ),
        ];
        for (r, want) in cases {
            let e = validate(&m, r).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Invalid);
            assert!(e.message.contains(want), "{} / {want}", e.message);
        }
    }

    #[test]
    fn batches_split_back_along_the_first_dimension() {
        let (tx, _rx) = oneshot::channel();
        let (tx2, _rx2) = oneshot::channel();
        let job = |rows: usize, reply| Job {
            inputs: vec![t("ids", DataType::I64, &[i64::try_from(rows).unwrap(), 3])],
            rows,
            enqueued: Instant::now(),
            reply,
        };
        let jobs = vec![job(1, tx), job(2, tx2)];
        assert!(compatible(&jobs[0], &jobs[1]));
        let merged = concat(&jobs, 3);
        assert_eq!(merged[0].shape, [3, 3]);
        assert_eq!(merged[0].data.len(), 72);
        let out = Tensor {
            name: "emb".into(),
            datatype: DataType::F32,
            shape: vec![3, 4],
            data: Bytes::from((0u8..48).collect::<Vec<_>>()),
        };
        let parts = split(std::slice::from_ref(&out), &jobs, 3).unwrap();
        assert_eq!(parts[0][0].shape, [1, 4]);
        assert_eq!(&parts[0][0].data[..], &(0u8..16).collect::<Vec<_>>()[..]);
        assert_eq!(parts[1][0].shape, [2, 4]);
        assert_eq!(&parts[1][0].data[..], &(16u8..48).collect::<Vec<_>>()[..]);
        let bad = Tensor {
            shape: vec![1, 4],
            ..out
        };
        assert!(
            split(&[bad], &jobs, 3)
                .unwrap_err()
                .contains("cannot be batched")
        );
    }

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
