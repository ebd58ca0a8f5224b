//! `everybyte serve`: load every model once, warm it up, then answer both transports until
//! SIGTERM or SIGINT, which stops accepting, drains what is in flight, and exits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::engine::Warmup;
use crate::error::ServeError;
use crate::log::log;
use crate::onnx::{self, Exec, OnnxEngine};
use crate::plan;
use crate::server::{Model, Server};

#[derive(Clone)]
pub struct ServeOptions {
    pub repository: PathBuf,
    /// Only these models of the repository (all when empty).
    pub load_models: Vec<String>,
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    /// Intra-op threads of one run, for every model (pins that part of the plan).
    pub threads: Option<usize>,
    /// Concurrent runs of each model (pins that part of the plan).
    pub runs: Option<usize>,
    /// Time given to measuring each model's execution plan; zero: the fixed default plan.
    pub plan_seconds: f64,
    /// Input shapes to plan with, by input name, for every model that has the input.
    pub plan_shapes: std::collections::BTreeMap<String, Vec<i64>>,
    /// Where models run unless their configuration says otherwise.
    pub device: crate::onnx::Device,
    /// Cap on each model's CUDA memory arena, in bytes (0: none).
    pub gpu_mem_limit: usize,
    pub ort_library: Option<PathBuf>,
    /// `[serve] ort-library` of the configuration, resolved.
    pub configured_library: Option<PathBuf>,
    /// Largest request body or message, in bytes.
    pub request_limit: usize,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub drain: Duration,
    /// Whether idle compute threads spin before sleeping (pins that part of the plan).
    pub spin: Option<bool>,
}

async fn shutdown_signal(mut term: tokio::signal::unix::Signal) -> &'static str {
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

/// Runs the server; returns when it has drained after a signal.
pub fn serve(opts: &ServeOptions) -> Result<(), ServeError> {
    let entries = crate::repo::select(
        &opts.repository,
        crate::repo::scan(&opts.repository)?,
        &opts.load_models,
    )?;
    let library = onnx::find_library(
        opts.ort_library.as_deref(),
        opts.configured_library.as_deref(),
    )?;
    let env = onnx::init(&library)?;
    let cores = crate::plan::cores();
    log(
        "info",
        "runtime",
        &[
            ("library", library.display().to_string().into()),
            ("onnxruntime", onnx::runtime_version(&library).into()),
            ("cores", cores.usable.into()),
            ("affinity_cores", cores.affinity.into()),
            ("cpu_quota", json!(cores.quota)),
        ],
    );
    let models = load_all(&env, &entries, opts, &library, cores)?;
    plan::release_freed_memory();
    let server = Arc::new(Server {
        models,
        ready: AtomicBool::new(false),
        request_limit: opts.request_limit,
        runtime_version: onnx::runtime_version(&library),
    });
    let done = Arc::new(AtomicBool::new(false));
    let watcher = watch_cores(
        Arc::clone(&server),
        Replan {
            env,
            entries,
            opts: opts.clone(),
            library: library.clone(),
        },
        cores,
        Arc::clone(&done),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.usable.max(2))
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let result = rt.block_on(async {
        let http = listen("--http", opts.http).await?;
        let grpc = listen("--grpc", opts.grpc).await?;
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(ServeError::Signal)?;
        run(
            Arc::clone(&server),
            http,
            grpc,
            opts.drain,
            shutdown_signal(term),
        )
        .await
    });
    done.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        let _ = w.join();
    }
    // After a drain that ran out of time, queued work is abandoned, not waited for.
    server.stop(matches!(result, Ok(true)));
    log("info", "stopped", &[]);
    result.map(|_| ())
}

/// A planning shape given for an input of the model must have the input's rank.
fn check_ranks(
    info: &crate::engine::ModelInfo,
    shapes: &BTreeMap<String, Vec<i64>>,
) -> Result<(), ServeError> {
    for (name, dims) in shapes {
        if let Some(input) = info.inputs.iter().find(|i| &i.name == name)
            && input.shape.len() != dims.len()
        {
            return Err(ServeError::Plan {
                model: info.name.clone(),
                why: format!(
                    "plan shape {name}: {dims:?} has {} dimensions, the input has {} ({:?})",
                    dims.len(),
                    input.shape.len(),
                    input.shape
                ),
            });
        }
    }
    Ok(())
}

/// Loads every model, decides its plan and starts its runners.
fn load_all(
    env: &ort::environment::Environment,
    entries: &[crate::repo::ModelEntry],
    opts: &ServeOptions,
    library: &std::path::Path,
    cores: plan::Cores,
) -> Result<BTreeMap<String, Arc<Model>>, ServeError> {
    let mut models = BTreeMap::new();
    for entry in entries {
        let t = Instant::now();
        let (engine, chosen) = load_planned(env, entry, opts, library, cores)?;
        let info = Arc::clone(&engine.info);
        let warm = &info.warmup;
        log(
            if *warm == Warmup::Ok { "info" } else { "warn" },
            "model_loaded",
            &[
                ("model", info.name.clone().into()),
                ("version", info.version.clone().into()),
                ("path", info.path.display().to_string().into()),
                ("device", engine.inner.exec.device.to_string().into()),
                ("inputs", info.inputs.len().into()),
                ("outputs", info.outputs.len().into()),
                ("max_batch", info.max_batch.into()),
                (
                    "batching",
                    info.unbatchable.as_ref().map_or_else(
                        || json!(info.max_batch > 0),
                        |why| json!(format!("off: {why}")),
                    ),
                ),
                ("queue", info.settings.queue.into()),
                ("load_ms", (t.elapsed().as_millis() as u64).into()),
                ("warmup", json!(warm.to_string())),
                ("plan", chosen.to_json()),
            ],
        );
        let runs = chosen.plan.runs;
        let model =
            Model::start_planned(engine, runs, Some(Arc::new(chosen))).map_err(|source| {
                ServeError::Worker {
                    model: info.name.clone(),
                    source,
                }
            })?;
        models.insert(info.name.clone(), model);
    }
    Ok(models)
}

/// Loads one model and decides its execution plan: measured within the time budget unless
/// planning is off or every part is pinned; on a GPU, one run of the batches the model allows.
fn load_planned(
    env: &ort::environment::Environment,
    entry: &crate::repo::ModelEntry,
    opts: &ServeOptions,
    library: &std::path::Path,
    cores: plan::Cores,
) -> Result<(plan::Planned<OnnxEngine>, plan::Chosen), ServeError> {
    let set = &entry.settings;
    let device = set.device.unwrap_or(opts.device);
    let on_gpu = device != onnx::Device::Cpu;
    if on_gpu {
        let from = if set.device.is_some() {
            "device in its everybyte.toml:"
        } else {
            "--device"
        };
        crate::gpu::check(library, device, &entry.name, from)?;
    }
    let mut pins = plan::Pins {
        threads: set.threads.or(opts.threads),
        runs: set.runs.or(opts.runs),
        max_batch: set.max_batch,
        spin: set.spin.or(opts.spin),
    };
    if on_gpu {
        // The GPU computes; one CPU thread feeds it, without spinning.
        pins.threads = Some(1);
        pins.runs = Some(pins.runs.unwrap_or(1));
        pins.spin = Some(false);
    }
    let exec = |threads: usize, spin: bool| Exec {
        threads,
        spin,
        device,
        gpu_mem_limit: opts.gpu_mem_limit,
    };
    let mut shapes = opts.plan_shapes.clone();
    shapes.extend(set.plan_shapes.clone());
    let first = OnnxEngine::load(
        env,
        entry,
        exec(
            pins.threads
                .unwrap_or(if on_gpu { 1 } else { cores.usable }),
            pins.spin.unwrap_or(!on_gpu),
        ),
    )?;
    let info = Arc::clone(&first.info);
    check_ranks(&info, &shapes)?;
    let why_fixed = if on_gpu {
        Some(format!(
            "on {device} the plan is one run of the batches the model allows"
        ))
    } else if info.warmup != Warmup::Ok {
        Some("the warm-up inference failed".to_owned())
    } else {
        None
    };
    let (chosen, engine) = if why_fixed.is_some() || opts.plan_seconds <= 0.0 || pins.all() {
        let chosen = plan::fixed(&info, &pins, cores, device, why_fixed);
        let engine =
            if chosen.plan.threads == first.exec.threads && chosen.plan.spin == first.exec.spin {
                Arc::new(first)
            } else {
                Arc::new(OnnxEngine::load(
                    env,
                    entry,
                    exec(chosen.plan.threads, chosen.plan.spin),
                )?)
            };
        (chosen, engine)
    } else {
        drop(first);
        let build = |threads: usize, spin: bool| {
            OnnxEngine::load(env, entry, exec(threads, spin)).map_err(|e| e.to_string())
        };
        plan::search(&plan::Search {
            info: Arc::clone(&info),
            pins,
            cores,
            shapes: &shapes,
            budget: Duration::from_secs_f64(opts.plan_seconds),
            build: &build,
        })
        .map_err(|why| ServeError::Plan {
            model: entry.name.clone(),
            why,
        })?
    };
    let mut planned = (*engine.info).clone();
    planned.batch_limit = chosen.plan.max_batch;
    Ok((
        plan::Planned {
            inner: engine,
            info: Arc::new(planned),
        },
        chosen,
    ))
}

/// What re-planning a model needs.
struct Replan {
    env: ort::environment::Environment,
    entries: Vec<crate::repo::ModelEntry>,
    opts: ServeOptions,
    library: PathBuf,
}

/// Every few seconds, reads the usable cores (affinity and cgroup quota); when they change,
/// measures each model's plan again on the new cores and swaps its runners, requests keeping
/// their place in the queue. Models on a GPU keep theirs.
fn watch_cores(
    server: Arc<Server>,
    r: Replan,
    mut cores: plan::Cores,
    done: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("cores-watch".into())
        .spawn(move || {
            let every = Duration::from_secs(2);
            let mut last = Instant::now();
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() < every {
                    continue;
                }
                last = Instant::now();
                let now = plan::cores();
                if now.usable == cores.usable {
                    continue;
                }
                log(
                    "info",
                    "cores_changed",
                    &[
                        ("from", cores.usable.into()),
                        ("to", now.usable.into()),
                        ("affinity_cores", now.affinity.into()),
                        ("cpu_quota", json!(now.quota)),
                    ],
                );
                cores = now;
                for entry in &r.entries {
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    let Some(model) = server.models.get(&entry.name) else {
                        continue;
                    };
                    if model.plan().is_some_and(|p| p.device != onnx::Device::Cpu) {
                        continue;
                    }
                    let replanned = load_planned(&r.env, entry, &r.opts, &r.library, cores)
                        .map_err(|e| e.to_string())
                        .and_then(|(engine, chosen)| {
                            let json = chosen.to_json();
                            model
                                .replace(engine, chosen.plan.runs, Some(Arc::new(chosen)))
                                .map(|()| json)
                                .map_err(|e| e.to_string())
                        });
                    plan::release_freed_memory();
                    match replanned {
                        Ok(plan) => log(
                            "info",
                            "model_replanned",
                            &[("model", entry.name.clone().into()), ("plan", plan)],
                        ),
                        Err(e) => log(
                            "warn",
                            "replan_failed",
                            &[
                                ("model", entry.name.clone().into()),
                                ("error", e.into()),
                                ("kept", "the previous plan".into()),
                            ],
                        ),
                    }
                }
            }
        })
        .ok()
}

async fn listen(
    flag: &'static str,
    addr: SocketAddr,
) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { flag, addr, source })
}

/// Serves both transports on their listeners until `shutdown` resolves (to the name of what
/// stopped it, for the log), then stops accepting and drains what is in flight for at most
/// `drain`. `Ok(true)` when every request in flight finished in time. The server must be
/// ready to be marked ready: its models started. The caller stops the models afterwards
/// ([`Server::stop`]).
pub async fn run(
    server: Arc<Server>,
    http: tokio::net::TcpListener,
    grpc: tokio::net::TcpListener,
    drain: Duration,
    shutdown: impl Future<Output = &'static str>,
) -> Result<bool, ServeError> {
    let (http_addr, grpc_addr) = (http.local_addr()?, grpc.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let app = crate::http::router(Arc::clone(&server));
    let http_task = tokio::spawn(
        axum::serve(
            axum::serve::ListenerExt::tap_io(http, |tcp| {
                let _ = tcp.set_nodelay(true);
            }),
            app,
        )
        .with_graceful_shutdown(wait(stop_rx.clone()))
        .into_future(),
    );
    let svc =
        crate::grpc::GrpcInferenceServiceServer::new(crate::grpc::Service(Arc::clone(&server)))
            .max_decoding_message_size(server.request_limit)
            .max_encoding_message_size(usize::MAX);
    let incoming = tokio_stream_from(grpc);
    let grpc_task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming_shutdown(incoming, wait(stop_rx)),
    );
    server.ready.store(true, Ordering::Relaxed);
    log(
        "info",
        "ready",
        &[
            ("http", http_addr.to_string().into()),
            ("grpc", grpc_addr.to_string().into()),
            (
                "models",
                server.models.keys().cloned().collect::<Vec<_>>().into(),
            ),
        ],
    );
    let sig = shutdown.await;
    server.ready.store(false, Ordering::Relaxed);
    let in_flight: usize = server.models.values().map(|m| m.queue_depth()).sum();
    log(
        "info",
        "draining",
        &[("signal", sig.into()), ("queued", in_flight.into())],
    );
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(drain, async {
        let _ = http_task.await;
        let _ = grpc_task.await;
    })
    .await;
    if drained.is_err() {
        log(
            "warn",
            "drain_timeout",
            &[("seconds", drain.as_secs().into())],
        );
    }
    Ok(drained.is_ok())
}

/// The accepted connections of a listener as the stream tonic serves, with TCP_NODELAY.
fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt as _;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|r| {
        r.inspect(|s| {
            let _ = s.set_nodelay(true);
        })
    })
}
