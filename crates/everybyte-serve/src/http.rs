//! The KServe v2 REST protocol, with Triton's binary tensor data extension
//! (`Inference-Header-Content-Length`), statistics, model configuration and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::engine::{IoSpec, ModelInfo};
use crate::server::{ErrorKind, InferError, InferRequest, Model, Server};
use crate::tensor::{DataType, Tensor, byte_length, check_length, from_json, to_json};

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
pub fn config_json(info: &ModelInfo) -> Value {
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
        Ok(model) => axum::Json(config_json(&model.info)).into_response(),
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRequest {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    parameters: Map<String, Value>,
    inputs: Vec<JsonInput>,
    #[serde(default)]
    outputs: Vec<JsonOutput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonInput {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonOutput {
    name: String,
    #[serde(default)]
    parameters: Map<String, Value>,
}

/// Decodes a REST infer request body exactly as the server does; `header_length` is the
/// `Inference-Header-Content-Length` of the binary extension.
pub fn parse_request(
    body: &Bytes,
    header_length: Option<usize>,
    limit: usize,
) -> Result<InferRequest, InferError> {
    let mut headers = HeaderMap::new();
    if let Some(n) = header_length {
        headers.insert(HEADER_LENGTH, HeaderValue::from(n));
    }
    decode(body, &headers, limit).map(|d| d.request)
}

/// A decoded REST request and how its outputs are to be returned.
struct Decoded {
    request: InferRequest,
    id: Option<Value>,
    /// Per requested output: binary or JSON.
    binary: Vec<(String, bool)>,
    binary_default: bool,
}

fn flag(params: &Map<String, Value>, key: &str) -> Result<Option<bool>, InferError> {
    match params.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(InferError::invalid(format!(
            "parameter {key} is {other}, not true or false"
        ))),
    }
}

#[allow(clippy::too_many_lines)] // one pass over the request, in protocol order
fn decode(body: &Bytes, headers: &HeaderMap, limit: usize) -> Result<Decoded, InferError> {
    let header_len = match headers.get(HEADER_LENGTH) {
        None => body.len(),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|&n| n <= body.len())
            .ok_or_else(|| {
                InferError::invalid(format!(
                    "Inference-Header-Content-Length {v:?} is not a length within the body of {} bytes",
                    body.len()
                ))
            })?,
    };
    let req: JsonRequest = serde_json::from_slice(&body[..header_len])
        .map_err(|e| InferError::invalid(format!("the request's JSON is malformed: {e}")))?;
    let mut binary = body.slice(header_len..);
    let mut inputs = Vec::with_capacity(req.inputs.len());
    for i in req.inputs {
        let datatype = DataType::parse(&i.datatype).ok_or_else(|| {
            InferError::invalid(format!(
                "input {}: unknown datatype {:?} (expected BOOL, UINT8…UINT64, INT8…INT64, FP16, FP32, FP64, BF16 or BYTES)",
                i.name, i.datatype
            ))
        })?;
        let expected = byte_length(datatype, &i.shape, limit)
            .map_err(|e| InferError::invalid(format!("input {}: {e}", i.name)))?;
        let data = match (i.parameters.get("binary_data_size"), i.data) {
            (Some(size), None) => {
                let size = size
                    .as_u64()
                    .and_then(|s| usize::try_from(s).ok())
                    .ok_or_else(|| {
                        InferError::invalid(format!(
                            "input {}: binary_data_size {size} is not a byte count",
                            i.name
                        ))
                    })?;
                if size > binary.len() {
                    return Err(InferError::invalid(format!(
                        "input {}: binary_data_size {size} but only {} bytes of binary data remain",
                        i.name,
                        binary.len()
                    )));
                }
                binary.split_to(size)
            }
            (None, Some(values)) => {
                let count = crate::tensor::element_count(&i.shape)
                    .map_err(|e| InferError::invalid(format!("input {}: {e}", i.name)))?;
                Bytes::from(
                    from_json(datatype, &values, count)
                        .map_err(|e| InferError::invalid(format!("input {}: {e}", i.name)))?,
                )
            }
            (Some(_), Some(_)) => {
                return Err(InferError::invalid(format!(
                    "input {}: has both data and binary_data_size",
                    i.name
                )));
            }
            (None, None) => {
                return Err(InferError::invalid(format!(
                    "input {}: no data and no binary_data_size",
                    i.name
                )));
            }
        };
        check_length(&i.name, datatype, &i.shape, expected, data.len())
            .map_err(|e| InferError::invalid(e.to_string()))?;
        inputs.push(Tensor {
            name: i.name,
            datatype,
            shape: i.shape,
            data,
        });
    }
    if !binary.is_empty() {
        return Err(InferError::invalid(format!(
            "{} bytes of binary data follow the inputs that no binary_data_size accounts for",
            binary.len()
        )));
    }
    let binary_default = flag(&req.parameters, "binary_data_output")?.unwrap_or(false);
    let mut wanted = Vec::new();
    let mut modes = Vec::new();
    for o in req.outputs {
        let b = flag(&o.parameters, "binary_data")?.unwrap_or(binary_default);
        if o.parameters.contains_key("classification") {
            return Err(InferError::invalid(format!(
                "output {}: the classification extension is not supported",
                o.name
            )));
        }
        wanted.push(o.name.clone());
        modes.push((o.name, b));
    }
    Ok(Decoded {
        request: InferRequest {
            id: match &req.id {
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            },
            inputs,
            outputs: wanted,
        },
        id: req.id,
        binary: modes,
        binary_default,
    })
}

fn encode(info: &ModelInfo, d: &Decoded, outputs: Vec<Tensor>) -> Result<Response, InferError> {
    let mut json_outputs = Vec::with_capacity(outputs.len());
    let mut blobs: Vec<Bytes> = Vec::new();
    for t in outputs {
        let binary = d
            .binary
            .iter()
            .find(|(n, _)| *n == t.name)
            .map_or(d.binary_default, |(_, b)| *b)
            || matches!(t.datatype, DataType::F16 | DataType::Bf16 | DataType::Bytes);
        let mut o = json!({ "name": t.name, "datatype": t.datatype.name(), "shape": t.shape });
        if binary {
            o["parameters"] = json!({ "binary_data_size": t.data.len() });
            blobs.push(t.data);
        } else {
            o["data"] =
                to_json(t.datatype, &t.data).map_err(|e| InferError::internal(e.to_string()))?;
        }
        json_outputs.push(o);
    }
    let mut body = json!({
        "model_name": info.name,
        "model_version": info.version,
        "outputs": json_outputs,
    });
    if let Some(id) = &d.id {
        body["id"] = id.clone();
    }
    let head = serde_json::to_vec(&body).map_err(|e| InferError::internal(e.to_string()))?;
    if blobs.is_empty() {
        return Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            head,
        )
            .into_response());
    }
    let total = head.len() + blobs.iter().map(Bytes::len).sum::<usize>();
    let mut buf = BytesMut::with_capacity(total);
    buf.extend_from_slice(&head);
    for b in &blobs {
        buf.extend_from_slice(b);
    }
    let mut resp = Response::new(Body::from(buf.freeze()));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(HEADER_LENGTH, HeaderValue::from(head.len()));
    Ok(resp)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(len: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(l) = len {
            h.insert(HEADER_LENGTH, HeaderValue::from_str(l).unwrap());
        }
        h
    }

    #[test]
    fn binary_extension_splits_header_and_blobs() {
        let head = br#"{"inputs":[{"name":"a","shape":[2],"datatype":"INT32","parameters":{"binary_data_size":8}},{"name":"b","shape":[1],"datatype":"FP32","data":[1.5]}],"parameters":{"binary_data_output":true}}"#;
        let mut body = head.to_vec();
        body.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
        let d = decode(
            &Bytes::from(body),
            &headers(Some(&head.len().to_string())),
            1 << 20,
        )
        .unwrap();
        assert_eq!(d.request.inputs.len(), 2);
        assert_eq!(&d.request.inputs[0].data[..], &[1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(&d.request.inputs[1].data[..], &1.5f32.to_le_bytes());
        assert!(d.binary_default);
    }

    #[test]
    fn malformed_requests_name_what_is_wrong() {
        let limit = 1 << 20;
        let cases: &[(&[u8], Option<&str>, &str)] = &[
            (b"{", None, "malformed"),
            (br#"{"inputs":[{"name":"a","shape":[2],"datatype":"FP31","data":[1,2]}]}"#, None, "unknown datatype \"FP31\""),
            (br#"{"inputs":[{"name":"a","shape":[3],"datatype":"FP32","data":[1,2]}]}"#, None, "holds 3"),
            (br#"{"inputs":[{"name":"a","shape":[-3],"datatype":"FP32","data":[]}]}"#, None, "negative"),
            (br#"{"inputs":[{"name":"a","shape":[4611686018427387904,4],"datatype":"FP32","data":[]}]}"#, None, "more elements than memory"),
            (br#"{"inputs":[{"name":"a","shape":[1000000],"datatype":"FP64","data":[]}]}"#, None, "request limit"),
            (br#"{"inputs":[{"name":"a","shape":[2],"datatype":"FP32"}]}"#, None, "no data"),
            (br#"{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#, Some("9999"), "not a length"),
            (br#"{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#, None, "only 0 bytes"),
            (br#"{"inputs":[],"extra":1}"#, None, "unknown field"),
            (br#"{"inputs":[],"outputs":[{"name":"o","parameters":{"binary_data":"yes"}}]}"#, None, "not true or false"),
        ];
        for (body, len, want) in cases {
            let e = decode(&Bytes::from_static(body), &headers(*len), limit)
                .err()
                .unwrap();
            assert_eq!(e.kind, ErrorKind::Invalid);
            assert!(e.message.contains(want), "{} / {want}", e.message);
        }
        // Trailing bytes no input accounts for.
        let head = br#"{"inputs":[]}"#;
        let mut body = head.to_vec();
        body.extend_from_slice(b"junk");
        let e = decode(
            &Bytes::from(body),
            &headers(Some(&head.len().to_string())),
            limit,
        )
        .err()
        .unwrap();
        assert!(
            e.message.contains("4 bytes of binary data"),
            "{}",
            e.message
        );
    }
}
