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
use crate::onnx::{self, OnnxEngine};
use crate::server::{Model, Server};

pub struct ServeOptions {
    pub repository: PathBuf,
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    /// Threads of the compute pool shared by all models (0: one per core).
    pub threads: usize,
    pub ort_library: Option<PathBuf>,
    /// `[serve] ort-library` of the configuration, resolved.
    pub configured_library: Option<PathBuf>,
    /// Largest request body or message, in bytes.
    pub request_limit: usize,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub drain: Duration,
    /// Let idle compute threads spin before sleeping.
    pub spin: bool,
}

async fn shutdown_signal(mut term: tokio::signal::unix::Signal) -> &'static str {
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

/// Runs the server; returns when it has drained after a signal.
pub fn serve(opts: &ServeOptions) -> Result<(), ServeError> {
    let entries = crate::repo::scan(&opts.repository)?;
    let library = onnx::find_library(
        opts.ort_library.as_deref(),
        opts.configured_library.as_deref(),
    )?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let threads = if opts.threads == 0 {
        cores
    } else {
        opts.threads
    };
    let env = onnx::init(&library, threads, opts.spin)?;
    log(
        "info",
        "runtime",
        &[
            ("library", library.display().to_string().into()),
            ("onnxruntime", onnx::runtime_version(&library).into()),
            ("threads", threads.into()),
            ("spin", opts.spin.into()),
        ],
    );
    let mut models = BTreeMap::new();
    for entry in &entries {
        let t = Instant::now();
        let engine = OnnxEngine::load(&env, entry)?;
        let info = Arc::clone(&engine.info);
        let warm = &info.warmup;
        log(
            if *warm == Warmup::Ok { "info" } else { "warn" },
            "model_loaded",
            &[
                ("model", info.name.clone().into()),
                ("version", info.version.clone().into()),
                ("path", info.path.display().to_string().into()),
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
            ],
        );
        let model = Model::start(engine).map_err(|source| ServeError::Worker {
            model: info.name.clone(),
            source,
        })?;
        models.insert(info.name.clone(), model);
    }
    let server = Arc::new(Server {
        models,
        ready: AtomicBool::new(false),
        request_limit: opts.request_limit,
        runtime_version: onnx::runtime_version(&library),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.max(2))
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
    // After a drain that ran out of time, queued work is abandoned, not waited for.
    server.stop(matches!(result, Ok(true)));
    log("info", "stopped", &[]);
    result.map(|_| ())
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
