//! The KServe v2 REST protocol, with Triton's binary tensor data extension
//! (`Inference-Header-Content-Length`), statistics, model configuration and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::engine::{IoSpec, ModelInfo};
use crate::server::{ErrorKind, InferError, Model, Server};

mod codec;

pub use codec::parse_request;
use codec::{decode, encode};

pub const HEADER_LENGTH: &str = "inference-header-content-length";

fn error(e: &InferError) -> Response {
    let status = match e.kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, axum::Json(json!({ "error": e.message }))).into_response()
}

type Shared = Arc<Server>;

/// The REST routes.
pub fn router(server: Shared) -> Router {
    let limit = server.request_limit;
    Router::new()
        .route("/v2/health/live", get(|| async { StatusCode::OK }))
        .route("/v2/health/ready", get(ready))
        .route("/v2", get(server_metadata))
        .route("/v2/models/stats", get(all_stats))
        .route("/v2/models/{m}", get(model_metadata))
        .route("/v2/models/{m}/versions/{v}", get(model_metadata_v))
        .route("/v2/models/{m}/ready", get(model_ready))
        .route("/v2/models/{m}/versions/{v}/ready", get(model_ready_v))
        .route("/v2/models/{m}/config", get(model_config))
        .route("/v2/models/{m}/versions/{v}/config", get(model_config_v))
        .route("/v2/models/{m}/stats", get(model_stats))
        .route("/v2/models/{m}/versions/{v}/stats", get(model_stats_v))
        .route("/v2/models/{m}/infer", post(infer))
        .route("/v2/models/{m}/versions/{v}/infer", post(infer_v))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            error(&InferError::not_found(
                "no such endpoint; the KServe v2 routes are under /v2",
            ))
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            limit,
            refuse_oversized,
        ))
        .with_state(server)
}

/// A body declared larger than the limit is refused before a byte of it is read.
async fn refuse_oversized(
    State(limit): State<usize>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > limit as u64) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(json!({ "error": format!("the request declares {n} bytes; the limit is {limit} (--max-request)") })),
        )
            .into_response();
    }
    next.run(req).await
}

async fn ready(State(s): State<Shared>) -> StatusCode {
    if s.ready.load(Ordering::Relaxed) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn server_metadata(State(s): State<Shared>) -> Response {
    axum::Json(json!({
        "name": "everybyte",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data", "statistics", "model_configuration"],
        "onnxruntime": s.runtime_version,
    }))
    .into_response()
}

/// Model metadata as KServe v2 gives it.
pub fn metadata_json(info: &ModelInfo) -> Value {
    let io = |v: &[crate::engine::IoSpec]| -> Vec<Value> {
        v.iter()
            .map(|s| json!({ "name": s.name, "datatype": s.datatype.name(), "shape": s.shape }))
            .collect()
    };
    json!({
        "name": info.name,
        "versions": [info.version],
        "platform": "onnxruntime_onnx",
        "inputs": io(&info.inputs),
        "outputs": io(&info.outputs),
    })
}

async fn model_metadata(State(s): State<Shared>, Path(m): Path<String>) -> Response {
    metadata(&s, &m, None)
}

async fn model_metadata_v(
    State(s): State<Shared>,
    Path((m, v)): Path<(String, String)>,
) -> Response {
    metadata(&s, &m, Some(&v))
}

fn metadata(s: &Server, m: &str, v: Option<&str>) -> Response {
    match s.model(m, v) {
        Ok(model) => axum::Json(metadata_json(&model.info)).into_response(),
        Err(e) => error(&e),
    }
}

async fn model_ready(State(s): State<Shared>, Path(m): Path<String>) -> Response {
    readiness(&s, &m, None)
}

async fn model_ready_v(State(s): State<Shared>, Path((m, v)): Path<(String, String)>) -> Response {
    readiness(&s, &m, Some(&v))
}

fn readiness(s: &Server, m: &str, v: Option<&str>) -> Response {
    match s.model(m, v) {
        Ok(_) if s.ready.load(Ordering::Relaxed) => StatusCode::OK.into_response(),
        Ok(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Err(e) => error(&e),
    }
}

/// The model configuration in Triton's JSON form: the dims exclude the batch dimension when
/// the model batches (`max_batch_size` > 0), as Triton writes them.
pub fn config_json(info: &ModelInfo, plan: Option<&crate::plan::Chosen>) -> Value {
    let dims = |s: &IoSpec| info.config_dims(s);
    let io = |v: &[crate::engine::IoSpec]| -> Vec<Value> {
        v.iter()
            .map(|s| json!({ "name": s.name, "data_type": s.datatype.config_name(), "dims": dims(s) }))
            .collect()
    };
    let mut c = json!({
        "name": info.name,
        "platform": "onnxruntime_onnx",
        "backend": "onnxruntime",
        "max_batch_size": info.max_batch,
        "input": io(&info.inputs),
        "output": io(&info.outputs),
    });
    if info.max_batch > 0 {
        c["dynamic_batching"] = json!({
            "preferred_batch_size": info.settings.preferred,
            "max_queue_delay_microseconds": info.settings.max_delay.as_micros() as u64,
            "default_queue_policy": { "max_queue_size": info.settings.queue },
        });
    }
    if let Some(p) = plan {
        let (kind, gpus) = match p.device {
            crate::onnx::Device::Cpu => ("KIND_CPU", json!([])),
            crate::onnx::Device::Cuda(n) => ("KIND_GPU", json!([n])),
        };
        c["instance_group"] = json!([{
            "name": info.name, "kind": kind, "count": p.plan.runs, "gpus": gpus,
        }]);
        c["parameters"] = crate::plan::parameters(p)
            .into_iter()
            .map(|(k, v)| (k, json!({ "string_value": v })))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    c
}

async fn model_config(State(s): State<Shared>, Path(m): Path<String>) -> Response {
    config(&s, &m, None)
}

async fn model_config_v(State(s): State<Shared>, Path((m, v)): Path<(String, String)>) -> Response {
    config(&s, &m, Some(&v))
}

fn config(s: &Server, m: &str, v: Option<&str>) -> Response {
    match s.model(m, v) {
        Ok(model) => axum::Json(config_json(&model.info, model.plan().as_deref())).into_response(),
        Err(e) => error(&e),
    }
}

fn timing(t: crate::server::Timing) -> Value {
    json!({ "count": t.count, "ns": t.ns })
}

fn stats_json(model: &Model) -> Value {
    let s = everybyte_core::par::lock(&model.stats).clone();
    json!({
        "name": model.info.name,
        "version": model.info.version,
        "last_inference": s.last_inference_ms,
        "inference_count": s.inference_count,
        "execution_count": s.execution_count,
        "plan": model.plan().map(|p| p.to_json()),
        "inference_stats": {
            "success": timing(s.success),
            "fail": timing(s.fail),
            "queue": timing(s.queue),
            "compute_input": timing(s.compute_input),
            "compute_infer": timing(s.compute_infer),
            "compute_output": timing(s.compute_output),
            "cache_hit": timing(crate::server::Timing::default()),
            "cache_miss": timing(crate::server::Timing::default()),
        },
        "batch_stats": s.batches.iter().map(|(size, b)| json!({
            "batch_size": size,
            "compute_input": timing(b.input),
            "compute_infer": timing(b.infer),
            "compute_output": timing(b.output),
        })).collect::<Vec<_>>(),
    })
}

async fn all_stats(State(s): State<Shared>) -> Response {
    let all: Vec<Value> = s.models.values().map(|m| stats_json(m)).collect();
    axum::Json(json!({ "model_stats": all })).into_response()
}

async fn model_stats(State(s): State<Shared>, Path(m): Path<String>) -> Response {
    stats(&s, &m, None)
}

async fn model_stats_v(State(s): State<Shared>, Path((m, v)): Path<(String, String)>) -> Response {
    stats(&s, &m, Some(&v))
}

fn stats(s: &Server, m: &str, v: Option<&str>) -> Response {
    match s.model(m, v) {
        Ok(model) => axum::Json(json!({ "model_stats": [stats_json(model)] })).into_response(),
        Err(e) => error(&e),
    }
}

async fn metrics(State(s): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics(),
    )
        .into_response()
}

async fn infer(
    State(s): State<Shared>,
    Path(m): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run(&s, &m, None, &headers, &body).await
}

async fn infer_v(
    State(s): State<Shared>,
    Path((m, v)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run(&s, &m, Some(&v), &headers, &body).await
}

async fn run(s: &Server, m: &str, v: Option<&str>, headers: &HeaderMap, body: &Bytes) -> Response {
    let model = match s.model(m, v) {
        Ok(model) => Arc::clone(model),
        Err(e) => return error(&e),
    };
    if !s.ready.load(Ordering::Relaxed) {
        return error(&InferError::unavailable("the server is not ready"));
    }
    if let Some(enc) = headers
        .get(header::CONTENT_ENCODING)
        .filter(|e| *e != "identity")
    {
        return error(&InferError::invalid(format!(
            "Content-Encoding {enc:?} is not supported; send the body uncompressed"
        )));
    }
    let mut decoded = match decode(body, headers, s.request_limit) {
        Ok(d) => d,
        Err(e) => {
            model.record_invalid();
            return error(&e);
        }
    };
    let request = std::mem::take(&mut decoded.request);
    match model.infer(request).await {
        Ok(outputs) => encode(&model.info, &decoded, outputs).unwrap_or_else(|e| error(&e)),
        Err(e) => error(&e),
    }
}
