//! The execution plan of a model, chosen by measurement at warm-up: how many intra-op threads
//! one run uses, how many runs of the one session go at once (the weights stay one copy), the
//! largest batch formed, and whether idle pool threads spin. The best plan depends on the
//! model: a small recurrent model is fastest as one single-threaded run beside the transport,
//! a transformer as concurrent single-threaded runs of batches; no fixed default is right for
//! both.
//!
//! The search, bounded by a time budget per model (`--plan-seconds`):
//! 1. threads × concurrent runs, using at least half of the usable cores, at a middle batch;
//! 2. the batch limit, at the best of those;
//! 3. spinning on and off, at the best so far (only with a pool of two or more threads);
//! 4. the plans within 10% of the best throughput are run at half of the best throughput
//!    (requests of one row, open loop, through the real queue and batching), and the plan with
//!    the best throughput whose p99 stays within 1.5× (+1 ms) of the lowest p99 wins.
//!
//! When one run of a request takes under a millisecond, the transport's own work per request
//! (parsing, validation, encoding: tens of microseconds) is a large share of the whole, so the
//! plans that leave one core to it are the ones compared.
//!
//! The usable cores are the affinity mask's, capped by the cgroup's CPU quota. Any part of a
//! plan can be pinned (flags, or the model's `everybyte.toml`); the rest is measured.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::engine::{Engine, ModelInfo};
use crate::error::EngineError;
use crate::server::{InferRequest, Model};
use crate::tensor::Tensor;

/// How a model computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Intra-op threads of one run (the calling thread counts as one).
    pub threads: usize,
    /// Runs of the session at once, each on its own runner thread.
    pub runs: usize,
    /// Largest batch formed; 0: each request runs alone.
    pub max_batch: usize,
    /// Idle pool threads spin briefly before sleeping.
    pub spin: bool,
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} run{} × {} thread{}, max batch {}, spin {}",
            self.runs,
            if self.runs == 1 { "" } else { "s" },
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            self.max_batch,
            if self.spin { "on" } else { "off" }
        )
    }
}

/// The parts of a plan fixed by the configuration; `None`: measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    pub threads: Option<usize>,
    pub runs: Option<usize>,
    pub max_batch: Option<usize>,
    pub spin: Option<bool>,
}

impl Pins {
    pub fn all(&self) -> bool {
        self.threads.is_some()
            && self.runs.is_some()
            && self.max_batch.is_some()
            && self.spin.is_some()
    }
}

/// The cores the server may use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cores {
    /// CPUs in the affinity mask.
    pub affinity: usize,
    /// The cgroup's CPU quota in cores (`cpu.max`, or `cfs_quota_us / cfs_period_us`).
    pub quota: Option<f64>,
    /// The smaller of the two, rounded up, at least 1.
    pub usable: usize,
}

/// One plan measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    pub plan: Plan,
    /// Rows per second, closed loop, every run busy.
    pub throughput: f64,
    pub run_p50_ms: f64,
    pub run_p99_ms: f64,
    /// p99 of one-row requests at half the best throughput, through the queue.
    pub half_load_p99_ms: Option<f64>,
}

/// How the plan was decided.
#[derive(Clone, Debug, PartialEq)]
pub enum How {
    Measured {
        trials: Vec<Trial>,
        seconds: f64,
    },
    /// Every part was pinned.
    Pinned,
    /// Planning was off (`--plan-seconds 0`), or the warm-up failed: the fixed default.
    Default(String),
}

/// The plan a model runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct Chosen {
    pub plan: Plan,
    pub cores: Cores,
    pub how: How,
    pub device: crate::onnx::Device,
}

/// The plan as the model configuration's parameters, in the names of Triton's ONNX Runtime
/// backend where it has them (`intra_op_thread_count`).
pub fn parameters(c: &Chosen) -> BTreeMap<String, String> {
    let chosen_by = match &c.how {
        How::Measured { .. } => "measurement",
        How::Pinned => "configuration",
        How::Default(_) => "default",
    };
    [
        ("intra_op_thread_count", c.plan.threads.to_string()),
        ("concurrent_runs", c.plan.runs.to_string()),
        ("batch_limit", c.plan.max_batch.to_string()),
        ("allow_spinning", u8::from(c.plan.spin).to_string()),
        ("cores", c.cores.usable.to_string()),
        ("device", c.device.to_string()),
        ("plan_chosen_by", chosen_by.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

impl Chosen {
    /// The plan, its cores and its measurements, for logs, configuration and statistics.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "device": self.device.to_string(),
            "threads": self.plan.threads,
            "runs": self.plan.runs,
            "max_batch": self.plan.max_batch,
            "spin": self.plan.spin,
            "cores": self.cores.usable,
            "affinity_cores": self.cores.affinity,
            "cpu_quota": self.cores.quota,
        });
        match &self.how {
            How::Measured { trials, seconds } => {
                v["chosen_by"] = json!("measurement");
                v["seconds"] = json!((seconds * 100.0).round() / 100.0);
                if let Some(t) = trials.iter().find(|t| t.plan == self.plan) {
                    v["throughput"] = json!(round1(t.throughput));
                    v["run_p99_ms"] = json!(round2(t.run_p99_ms));
                    v["half_load_p99_ms"] = json!(t.half_load_p99_ms.map(round2));
                }
                v["trials"] = trials
                    .iter()
                    .map(|t| {
                        json!({
                            "threads": t.plan.threads, "runs": t.plan.runs,
                            "max_batch": t.plan.max_batch, "spin": t.plan.spin,
                            "throughput": round1(t.throughput),
                            "run_p50_ms": round2(t.run_p50_ms), "run_p99_ms": round2(t.run_p99_ms),
                            "half_load_p99_ms": t.half_load_p99_ms.map(round2),
                        })
                    })
                    .collect();
            }
            How::Pinned => v["chosen_by"] = json!("configuration"),
            How::Default(why) => {
                v["chosen_by"] = json!("default");
                v["why"] = json!(why);
            }
        }
        v
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The most elements a planning input may hold (a 512 MiB INT64 tensor).
pub const MAX_PLAN_ELEMENTS: i64 = 1 << 26;

/// Checks a planning shape: every dimension at least 1, the product at most
/// [`MAX_PLAN_ELEMENTS`]. The error names the input.
pub fn check_shape(name: &str, dims: &[i64]) -> Result<(), String> {
    if dims.is_empty() || dims.iter().any(|&d| d < 1) {
        return Err(format!("plan shape {name}: dimensions must be 1 or more"));
    }
    let product = dims
        .iter()
        .try_fold(1i64, |a, &d| a.checked_mul(d))
        .filter(|&p| p <= MAX_PLAN_ELEMENTS);
    if product.is_none() {
        return Err(format!(
            "plan shape {name}: {dims:?} holds more than {MAX_PLAN_ELEMENTS} elements"
        ));
    }
    Ok(())
}

/// The usable cores: the affinity mask (`/proc/self/status`), capped by the cgroup's quota.
pub fn cores() -> Cores {
    let fallback = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let affinity = everybyte_core::procfs::status("self", "Cpus_allowed_list:")
        .and_then(|l| cpu_list_len(&l))
        .unwrap_or(fallback);
    let quota = cgroup_quota();
    Cores {
        affinity,
        quota,
        usable: usable(affinity, quota),
    }
}

fn usable(affinity: usize, quota: Option<f64>) -> usize {
    let by_quota = quota.map_or(usize::MAX, |q| (q.ceil() as usize).max(1));
    affinity.min(by_quota).max(1)
}

/// The number of CPUs in a list such as `0-3,8,10-11`.
fn cpu_list_len(list: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in list.split(',').filter(|p| !p.is_empty()) {
        n += if let Some((a, b)) = part.split_once('-') {
            let (a, b) = (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?);
            b.checked_sub(a)? + 1
        } else {
            part.parse::<usize>().ok()?;
            1
        };
    }
    (n > 0).then_some(n)
}

/// The CPU quota of this process's cgroup and its ancestors (the smallest), in cores.
fn cgroup_quota() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut best: Option<f64> = None;
    let mut keep = |q: Option<f64>| {
        if let Some(q) = q {
            best = Some(best.map_or(q, |b| b.min(q)));
        }
    };
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        let path = path.trim_start_matches('/');
        if controllers.is_empty() {
            // cgroup v2: cpu.max in this cgroup and every ancestor.
            let mut dir = std::path::PathBuf::from("/sys/fs/cgroup").join(path);
            loop {
                keep(
                    std::fs::read_to_string(dir.join("cpu.max"))
                        .ok()
                        .and_then(|s| quota_v2(&s)),
                );
                if dir == std::path::Path::new("/sys/fs/cgroup") || !dir.pop() {
                    break;
                }
            }
        } else if controllers.split(',').any(|c| c == "cpu") {
            let dir = std::path::PathBuf::from("/sys/fs/cgroup")
                .join(controllers)
                .join(path);
            let read = |f: &str| -> Option<i64> {
                std::fs::read_to_string(dir.join(f))
                    .ok()?
                    .trim()
                    .parse()
                    .ok()
            };
            if let (Some(q), Some(p)) = (read("cpu.cfs_quota_us"), read("cpu.cfs_period_us"))
                && q > 0
                && p > 0
            {
                keep(Some(q as f64 / p as f64));
            }
        }
    }
    best
}

/// `cpu.max` of cgroup v2: `max 100000` (no quota) or `150000 100000` (1.5 cores).
fn quota_v2(text: &str) -> Option<f64> {
    let mut f = text.split_whitespace();
    let (q, p) = (f.next()?, f.next()?);
    let (q, p) = (q.parse::<f64>().ok()?, p.parse::<f64>().ok()?);
    (q > 0.0 && p > 0.0).then(|| q / p)
}

/// An engine with its model description rewritten for a plan (its batch limit).
pub struct Planned<E> {
    pub inner: Arc<E>,
    pub info: Arc<ModelInfo>,
}

impl<E: Engine> Engine for Planned<E> {
    fn info(&self) -> &Arc<ModelInfo> {
        &self.info
    }

    fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, EngineError> {
        self.inner.run(inputs)
    }
}

/// What the search needs: the model's inputs for a batch of `rows`, and the engines for each
/// (threads, spin), built on demand (a session each; the caller keeps one at a time besides
/// the best).
pub struct Search<'a, E> {
    pub info: Arc<ModelInfo>,
    pub pins: Pins,
    pub cores: Cores,
    /// Shapes of the inputs to plan with (batch dimension included), by input name;
    /// unnamed dynamic dimensions are 128.
    pub shapes: &'a BTreeMap<String, Vec<i64>>,
    pub budget: Duration,
    pub build: &'a dyn Fn(usize, bool) -> Result<E, String>,
}

/// The inputs of a batch of `rows` rows (each input's batch dimension `rows`; others from
/// `shapes`, else 128 where dynamic, as `everybyte bench` fills them), zero-filled.
pub fn inputs(info: &ModelInfo, rows: usize, shapes: &BTreeMap<String, Vec<i64>>) -> Vec<Tensor> {
    let rows = i64::try_from(rows.max(1)).unwrap_or(1);
    crate::engine::zero_inputs(info, |s, i, d| {
        let given = shapes.get(&s.name).filter(|g| g.len() == s.shape.len());
        match (d >= 0, i, given) {
            (true, _, _) => d,
            (false, 0, _) if info.max_batch > 0 => rows,
            (false, _, Some(g)) => g[i].max(1),
            (false, 0, None) => 1,
            (false, _, None) => 128,
        }
    })
}

/// Powers of two up to `n`, and `n`.
fn splits(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |x| x.checked_mul(2))
        .take_while(|&x| x <= n)
        .collect();
    if v.last() != Some(&n) && n > 0 {
        v.push(n);
    }
    v
}

/// (threads, runs) pairs on `cores` cores: every pair of [`splits`] that uses at most the
/// cores and at least half of them.
fn shapes_of(cores: usize, pins: &Pins) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for t in splits(cores) {
        for r in splits(cores / t) {
            if t * r * 2 >= cores
                && pins.threads.is_none_or(|p| p == t)
                && pins.runs.is_none_or(|p| p == r)
            {
                out.push((t, r));
            }
        }
    }
    if out.is_empty() {
        out.push((pins.threads.unwrap_or(1), pins.runs.unwrap_or(1)));
    }
    out
}

/// The batch limits to try: 1 and powers of two from 4 up to `cap`.
fn batches(cap: usize) -> Vec<usize> {
    let mut v = vec![1];
    v.extend(std::iter::successors(Some(4usize), |x| x.checked_mul(2)).take_while(|&x| x <= cap));
    v
}

/// Runs `plan` closed loop for about `for_time`: each of its runs on its own thread, batches
/// of `max_batch` rows (1 when it does not batch). At least two runs per thread are timed.
fn closed_loop<E: Engine>(
    engine: &E,
    info: &ModelInfo,
    plan: Plan,
    shapes: &BTreeMap<String, Vec<i64>>,
    for_time: Duration,
) -> Result<Trial, String> {
    let rows = plan.max_batch.max(1);
    let batch = inputs(info, rows, shapes);
    engine.run(&batch).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let deadline = start + for_time;
    let per_thread: Vec<Result<Vec<Duration>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..plan.runs)
            .map(|_| {
                s.spawn(|| {
                    let mut times = Vec::new();
                    while times.len() < 2 || Instant::now() < deadline {
                        let t = Instant::now();
                        engine.run(&batch).map_err(|e| e.to_string())?;
                        times.push(t.elapsed());
                    }
                    Ok(times)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a run panicked".into())))
            .collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut times = Vec::new();
    for t in per_thread {
        times.extend(t?);
    }
    times.sort();
    let q = |p: f64| {
        let i = ((times.len() as f64 - 1.0) * p).round() as usize;
        times.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    Ok(Trial {
        plan,
        throughput: (times.len() * rows) as f64 / elapsed.max(1e-9),
        run_p50_ms: q(0.5),
        run_p99_ms: q(0.99),
        half_load_p99_ms: None,
    })
}

/// Sends one-row requests at `rate` per second for `for_time` through the real queue and
/// runners of `plan`, and returns the p99 latency in ms.
fn open_loop<E: Engine>(
    engine: &Arc<E>,
    info: &ModelInfo,
    plan: Plan,
    shapes: &BTreeMap<String, Vec<i64>>,
    rate: f64,
    for_time: Duration,
) -> Result<f64, String> {
    let mut planned = info.clone();
    planned.batch_limit = plan.max_batch;
    let model = Model::start(
        Planned {
            inner: Arc::clone(engine),
            info: Arc::new(planned.clone()),
        },
        plan.runs,
    )
    .map_err(|e| e.to_string())?;
    let one = inputs(&planned, 1, shapes);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| e.to_string())?;
    let latencies = rt.block_on(async {
        let gap = Duration::from_secs_f64(1.0 / rate.max(1.0));
        let n = ((for_time.as_secs_f64() * rate) as usize).max(20);
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            tokio::time::sleep_until(start + gap * u32::try_from(i).unwrap_or(u32::MAX)).await;
            let (model, inputs) = (Arc::clone(&model), one.clone());
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let r = model
                    .infer(InferRequest {
                        inputs,
                        ..InferRequest::default()
                    })
                    .await;
                r.map(|_| t.elapsed())
            }));
        }
        let mut out = Vec::with_capacity(n);
        for t in tasks {
            // A refused request (the queue full) counts as never answered.
            out.push(match t.await {
                Ok(Ok(d)) => d,
                _ => Duration::MAX,
            });
        }
        out
    });
    model.stop(true);
    if latencies.is_empty() {
        return Err("no request of the half-load run was sent".into());
    }
    let mut l = latencies;
    l.sort();
    let i = ((l.len() as f64 - 1.0) * 0.99).round() as usize;
    Ok(if l[i] == Duration::MAX {
        f64::INFINITY
    } else {
        l[i].as_secs_f64() * 1e3
    })
}

/// One single-threaded run of one row (or one request, when the model does not batch),
/// where the threads and runs are free to choose and there are two cores or more.
fn transport_probe<E: Engine>(
    s: &Search<'_, E>,
    sessions: &mut Sessions<'_, E>,
    spin: bool,
    slice: Duration,
) -> Result<Option<Trial>, String> {
    if s.cores.usable < 2 || s.pins.threads.is_some() || s.pins.runs.is_some() {
        return Ok(None);
    }
    let e = sessions.get(1, spin)?;
    let probe = Plan {
        threads: 1,
        runs: 1,
        max_batch: usize::from(s.info.max_batch > 0),
        spin,
    };
    closed_loop(&*e, &s.info, probe, s.shapes, slice).map(Some)
}

/// The sessions built for the trials, one per (threads, spin).
struct Sessions<'a, E> {
    build: &'a dyn Fn(usize, bool) -> Result<E, String>,
    map: BTreeMap<(usize, bool), Arc<E>>,
}

impl<E> Sessions<'_, E> {
    fn get(&mut self, threads: usize, spin: bool) -> Result<Arc<E>, String> {
        // A pool of one thread never spins: one session serves both settings.
        let key = (threads, spin || threads == 1);
        if let Some(e) = self.map.get(&key) {
            return Ok(Arc::clone(e));
        }
        let e = Arc::new((self.build)(threads, key.1)?);
        self.map.insert(key, Arc::clone(&e));
        Ok(e)
    }
}

/// Searches the plans of one model (see the module's note) and returns the chosen plan, its
/// engine (the session built for its threads and spin) and the trials.
pub fn search<E: Engine>(s: &Search<'_, E>) -> Result<(Chosen, Arc<E>), String> {
    let started = Instant::now();
    let cores = s.cores.usable;
    let (batch_choices, mid) = batch_choices(s);
    let spin0 = s.pins.spin.unwrap_or(true);
    let mut pairs = shapes_of(cores, &s.pins);
    let slots = pairs.len() + batch_choices.len() + 4;
    let slice =
        (s.budget.mul_f64(0.6) / u32::try_from(slots).unwrap_or(1)).max(Duration::from_millis(40));
    let mut sessions = Sessions {
        build: s.build,
        map: BTreeMap::new(),
    };
    let mut trials: Vec<Trial> = Vec::new();
    // A batch-1 run under a millisecond: leave a core to the transport.
    if let Some(t) = transport_probe(s, &mut sessions, spin0, slice)? {
        if t.run_p50_ms < 1.0 {
            pairs = shapes_of(cores - 1, &s.pins);
            if !pairs.contains(&(1, 1)) {
                pairs.push((1, 1));
            }
        }
        trials.push(t);
    }
    // The budget: once spent, no new trial starts (the first one always runs).
    let spent = |trials: &[Trial]| !trials.is_empty() && started.elapsed() >= s.budget;
    let measure = |e: &Arc<E>, plan: Plan, trials: &mut Vec<Trial>| -> Result<(), String> {
        if trials.iter().any(|t| t.plan == plan) {
            return Ok(());
        }
        trials.push(closed_loop(&**e, &s.info, plan, s.shapes, slice)?);
        Ok(())
    };
    let best_of = |trials: &[Trial]| -> Option<Plan> {
        trials
            .iter()
            .max_by(|a, b| a.throughput.total_cmp(&b.throughput))
            .map(|t| t.plan)
    };
    // 1. threads × runs at the middle batch.
    for &(t, r) in &pairs {
        let plan = Plan {
            threads: t,
            runs: r,
            max_batch: mid,
            spin: spin0,
        };
        if spent(&trials) {
            break;
        }
        let e = sessions.get(t, spin0)?;
        measure(&e, plan, &mut trials)?;
    }
    let in_pairs = |p: &Plan| pairs.contains(&(p.threads, p.runs));
    let best_pair = trials
        .iter()
        .filter(|t| in_pairs(&t.plan))
        .max_by(|a, b| a.throughput.total_cmp(&b.throughput))
        .map(|t| t.plan)
        .ok_or("no plan could be measured")?;
    // 2. the batch limit; a batch whose two runs (estimated from the middle one's) would
    // overrun the budget is not tried.
    let (mid_run, mid_rows) = trials
        .iter()
        .find(|t| t.plan == best_pair)
        .map_or((0.0, 1), |t| (t.run_p50_ms, t.plan.max_batch.max(1)));
    for &b in &batch_choices {
        let plan = Plan {
            max_batch: b,
            ..best_pair
        };
        let estimate = trial_time(mid_run, mid_rows, b, slice);
        if spent(&trials) || started.elapsed() + estimate > s.budget {
            continue;
        }
        let e = sessions.get(plan.threads, plan.spin)?;
        measure(&e, plan, &mut trials)?;
    }
    let mut best = best_of(&trials).ok_or("no plan could be measured")?;
    // 3. spinning.
    if s.pins.spin.is_none() && best.threads > 1 && !spent(&trials) {
        let plan = Plan {
            spin: !best.spin,
            ..best
        };
        let e = sessions.get(plan.threads, plan.spin)?;
        measure(&e, plan, &mut trials)?;
        best = best_of(&trials).ok_or("no plan could be measured")?;
    }
    // 4. latency at half load among the plans within 10% of the best throughput.
    let left = s.budget.saturating_sub(started.elapsed());
    best = at_half_load(s, &mut trials, best, left, &mut sessions)?;
    // A fresh session for the plan: the trial sessions' arenas grew to the largest batch
    // tried, and an arena does not shrink.
    drop(sessions);
    release_freed_memory();
    let chosen_engine = Arc::new((s.build)(best.threads, best.spin)?);
    Ok((
        Chosen {
            plan: best,
            cores: s.cores,
            how: How::Measured {
                trials,
                seconds: started.elapsed().as_secs_f64(),
            },
            device: crate::onnx::Device::Cpu,
        },
        chosen_engine,
    ))
}

/// How long a trial at batch `b` should take, from a run of `rows` rows taking `run_ms`: a
/// warm-up run and at least two timed ones, or the slice if longer.
fn trial_time(run_ms: f64, rows: usize, b: usize, slice: Duration) -> Duration {
    Duration::from_secs_f64(
        (3.0 * run_ms / 1e3 * b.max(1) as f64 / rows.max(1) as f64).clamp(0.0, 3600.0),
    )
    .max(slice)
}

/// The batch limits to try, and the one the first stage uses: none when the model does not
/// batch; the pinned one; else 1 and powers of two up to the configured limit (32 when none).
fn batch_choices<E>(s: &Search<'_, E>) -> (Vec<usize>, usize) {
    // A configured max-batch is a pin; otherwise batches of up to 32 rows are tried (each
    // request still carries at most the model's max_batch rows).
    let cap = s.pins.max_batch.unwrap_or(32);
    let choices = match (s.info.max_batch > 0, s.pins.max_batch) {
        (false, _) => vec![0],
        (true, Some(b)) => vec![b],
        (true, None) => batches(cap.max(1)),
    };
    let mid = if choices.contains(&8) {
        8
    } else {
        *choices.last().unwrap_or(&0)
    };
    (choices, mid)
}

/// Runs the plans within 10% of the best throughput (at most three) at half of that
/// throughput and returns the one with the best throughput whose p99 stays within 1.5×
/// (+1 ms) of the lowest p99.
fn at_half_load<E: Engine>(
    s: &Search<'_, E>,
    trials: &mut [Trial],
    best: Plan,
    left: Duration,
    sessions: &mut Sessions<'_, E>,
) -> Result<Plan, String> {
    let top = trials
        .iter()
        .find(|t| t.plan == best)
        .map_or(0.0, |t| t.throughput);
    let mut finalists: Vec<usize> = (0..trials.len())
        .filter(|&i| trials[i].throughput >= 0.9 * top)
        .collect();
    finalists.sort_by(|&a, &b| trials[b].throughput.total_cmp(&trials[a].throughput));
    // Each run sends at least 20 requests: as many finalists as the budget left allows.
    let need = Duration::from_secs_f64(20.0 / (top / 2.0).max(1.0));
    let fit = (left.as_secs_f64() / need.as_secs_f64().max(1e-3)) as usize;
    finalists.truncate(fit.min(3));
    if finalists.len() < 2 {
        return Ok(best);
    }
    let each = (left / u32::try_from(finalists.len()).unwrap_or(1))
        .clamp(need, Duration::from_secs(2).max(need));
    for &i in &finalists {
        let plan = trials[i].plan;
        let e = sessions.get(plan.threads, plan.spin)?;
        trials[i].half_load_p99_ms = Some(open_loop(&e, &s.info, plan, s.shapes, top / 2.0, each)?);
    }
    let lowest = finalists
        .iter()
        .filter_map(|&i| trials[i].half_load_p99_ms)
        .fold(f64::INFINITY, f64::min);
    Ok(finalists
        .iter()
        .find(|&&i| {
            trials[i]
                .half_load_p99_ms
                .is_some_and(|p| p <= 1.5 * lowest + 1.0)
        })
        .map_or(best, |&i| trials[i].plan))
}

/// Gives the memory of the sessions planning built and dropped back to the system: glibc keeps
/// freed heap for reuse, and a model's trial sessions are as large as the model.
#[allow(unsafe_code)]
pub fn release_freed_memory() {
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it takes no pointer.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The plan without measurement: every pinned part, the rest the fixed default (one run of
/// all the usable cores, spinning, the model's batch limit).
pub fn fixed(
    info: &ModelInfo,
    pins: &Pins,
    cores: Cores,
    device: crate::onnx::Device,
    why: Option<String>,
) -> Chosen {
    let plan = Plan {
        threads: pins.threads.unwrap_or(cores.usable),
        runs: pins.runs.unwrap_or(1),
        max_batch: if info.max_batch > 0 {
            pins.max_batch.unwrap_or(info.max_batch)
        } else {
            0
        },
        spin: pins.spin.unwrap_or(true),
    };
    let how = match why {
        Some(w) => How::Default(w),
        None if pins.all() => How::Pinned,
        None => How::Default("planning is off (--plan-seconds 0)".into()),
    };
    Chosen {
        plan,
        cores,
        how,
        device,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_and_quotas_give_the_usable_cores() {
        assert_eq!(cpu_list_len("0-3,8,10-11"), Some(7));
        assert_eq!(cpu_list_len("0"), Some(1));
        assert_eq!(cpu_list_len("3-1"), None);
        assert_eq!(cpu_list_len("x"), None);
        assert_eq!(quota_v2("max 100000\n"), None);
        assert_eq!(quota_v2("150000 100000\n"), Some(1.5));
        assert_eq!(usable(16, Some(1.5)), 2);
        assert_eq!(usable(2, Some(8.0)), 2);
        assert_eq!(usable(4, None), 4);
        assert_eq!(usable(4, Some(0.1)), 1);
        let c = cores();
        assert!(c.usable >= 1 && c.usable <= c.affinity);
    }

    #[test]
    fn planning_shapes_are_bounded_and_named() {
        assert!(check_shape("input_ids", &[1, 128]).is_ok());
        let e = check_shape("x", &[1_048_576, 1_048_576]).unwrap_err();
        assert!(e.contains("plan shape x") && e.contains("more than"), "{e}");
        assert!(check_shape("x", &[i64::MAX, 2]).is_err());
        assert!(check_shape("x", &[0, 3]).unwrap_err().contains("1 or more"));
        assert!(check_shape("x", &[]).is_err());
    }

    #[test]
    fn candidate_plans_use_at_least_half_the_cores() {
        assert_eq!(shapes_of(2, &Pins::default()), [(1, 1), (1, 2), (2, 1)]);
        let sixteen = shapes_of(16, &Pins::default());
        assert!(sixteen.contains(&(1, 16)) && sixteen.contains(&(16, 1)));
        assert!(sixteen.contains(&(2, 4)) && !sixteen.contains(&(1, 4)));
        assert!(sixteen.iter().all(|(t, r)| t * r <= 16 && t * r * 2 >= 16));
        let pinned = Pins {
            threads: Some(1),
            ..Pins::default()
        };
        assert_eq!(shapes_of(4, &pinned), [(1, 2), (1, 4)]);
        assert_eq!(shapes_of(1, &Pins::default()), [(1, 1)]);
        assert_eq!(batches(32), [1, 4, 8, 16, 32]);
        assert_eq!(batches(6), [1, 4]);
        assert_eq!(splits(6), [1, 2, 4, 6]);
    }
}
