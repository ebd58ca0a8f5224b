//! The server's core, shared by both transports: every model behind its queue and worker
//! ([`crate::worker`]), validation before compute ([`crate::validate`]), readiness, and the
//! statistics each model keeps ([`crate::metrics`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::engine::{Engine, ModelInfo};
pub use crate::error::{ErrorKind, InferError};
pub use crate::log::log;
pub use crate::metrics::{BatchStats, Histogram, Stats, Timing};
use crate::tensor::Tensor;
pub use crate::validate::validate;
use crate::worker::{Job, worker};

/// An inference request, decoded from either transport.
#[derive(Debug, Default)]
pub struct InferRequest {
    pub id: String,
    pub inputs: Vec<Tensor>,
    /// Requested outputs by name; empty: every output.
    pub outputs: Vec<String>,
}

/// A served model: what it is, its queue, its statistics.
pub struct Model {
    pub info: Arc<ModelInfo>,
    tx: Mutex<Option<SyncSender<Job>>>,
    depth: Arc<AtomicUsize>,
    pub stats: Arc<Mutex<Stats>>,
    /// How the model computes, and how that was decided.
    plan: Mutex<Option<Arc<crate::plan::Chosen>>>,
    queue: Arc<Mutex<std::sync::mpsc::Receiver<Job>>>,
    /// Bumped when the runners are replaced: the old ones finish their batch and leave.
    generation: Arc<std::sync::atomic::AtomicU64>,
    runners: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Runners replaced and maybe still finishing a batch.
    retired: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// All models, readiness, and the shutdown switch.
pub struct Server {
    pub models: BTreeMap<String, Arc<Model>>,
    pub ready: AtomicBool,
    pub request_limit: usize,
    pub runtime_version: String,
}

impl Model {
    /// Starts the model's runner threads (one per concurrent run, at least one), which
    /// share the engine and the queue.
    pub fn start<E: Engine>(engine: E, runs: usize) -> std::io::Result<Arc<Model>> {
        Self::start_planned(engine, runs, None)
    }

    /// [`Model::start`], keeping the plan the runs come from for the model's configuration
    /// and statistics.
    pub fn start_planned<E: Engine>(
        engine: E,
        runs: usize,
        plan: Option<Arc<crate::plan::Chosen>>,
    ) -> std::io::Result<Arc<Model>> {
        let info = Arc::clone(engine.info());
        let (tx, rx) = std::sync::mpsc::sync_channel(info.settings.queue);
        let model = Arc::new(Model {
            info,
            tx: Mutex::new(Some(tx)),
            depth: Arc::new(AtomicUsize::new(0)),
            stats: Arc::new(Mutex::new(Stats::default())),
            plan: Mutex::new(None),
            queue: Arc::new(Mutex::new(rx)),
            generation: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            runners: Mutex::new(Vec::new()),
            retired: Mutex::new(Vec::new()),
        });
        model.replace(engine, runs, plan)?;
        Ok(model)
    }

    /// Puts `runs` runners of `engine` on the model's queue in place of the current ones,
    /// which finish the batch they hold (or the next one they take) and leave. Requests keep
    /// their place in the queue.
    pub fn replace<E: Engine>(
        &self,
        engine: E,
        runs: usize,
        plan: Option<Arc<crate::plan::Chosen>>,
    ) -> std::io::Result<()> {
        let engine = Arc::new(engine);
        // The new runners work beside the old ones until the generation moves on, which
        // happens only once at least one of them runs: a model is never left without any.
        let mine = self.generation.load(Ordering::SeqCst) + 1;
        let mut fresh = Vec::new();
        let mut failed = None;
        for i in 0..runs.max(1) {
            let (engine, queue) = (Arc::clone(&engine), Arc::clone(&self.queue));
            let (depth, stats) = (Arc::clone(&self.depth), Arc::clone(&self.stats));
            let generation = Arc::clone(&self.generation);
            match std::thread::Builder::new()
                .name(format!("model-{}-{i}", self.info.name))
                .spawn(move || worker(&*engine, &queue, &depth, &stats, &generation, mine))
            {
                Ok(h) => fresh.push(h),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if fresh.is_empty() {
            return Err(failed.unwrap_or_else(|| std::io::Error::other("no runner started")));
        }
        self.generation.store(mine, Ordering::SeqCst);
        *everybyte_core::par::lock(&self.plan) = plan;
        let old = std::mem::replace(&mut *everybyte_core::par::lock(&self.runners), fresh);
        // The old runners finish what they hold and leave; `stop` waits for them too.
        everybyte_core::par::lock(&self.retired).extend(old);
        if let Some(e) = failed {
            log(
                "warn",
                "runners_short",
                &[
                    ("model", self.info.name.clone().into()),
                    ("wanted", runs.into()),
                    ("error", e.to_string().into()),
                ],
            );
        }
        Ok(())
    }

    /// The plan the model runs with now.
    pub fn plan(&self) -> Option<Arc<crate::plan::Chosen>> {
        everybyte_core::par::lock(&self.plan).clone()
    }

    /// Requests waiting in the queue now.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Closes the queue; with `wait`, waits for the runners to finish what they hold.
    pub fn stop(&self, wait: bool) {
        everybyte_core::par::lock(&self.tx).take();
        let mut runners = std::mem::take(&mut *everybyte_core::par::lock(&self.runners));
        runners.append(&mut everybyte_core::par::lock(&self.retired));
        if wait {
            for h in runners {
                let _ = h.join();
            }
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

impl Server {
    /// Closes every model's queue; with `wait`, waits for each worker to finish what it holds.
    pub fn stop(&self, wait: bool) {
        for m in self.models.values() {
            m.stop(wait);
        }
    }

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
}
