//! The two clients of the load generator: KServe v2 over HTTP (binary tensor extension or
//! JSON) and over gRPC. Each reads the model's metadata, synthesizes its inputs once, and
//! sends the same request again and again.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::bench::synth::synthesize;
use crate::bench::{BenchOptions, Protocol};
use crate::error::{BenchError, Failure};
use crate::proto;

/// Where the requests go, and the one request sent again and again.
pub(crate) enum Target {
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
    /// Sends the request once and reads the whole answer.
    pub(crate) async fn send(&self) -> Result<(), Failure> {
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
                    .map_err(Failure::Request)?;
                let resp = client.request(req).await.map_err(|e| {
                    if e.is_connect() {
                        Failure::Connect
                    } else {
                        Failure::Io
                    }
                })?;
                let status = resp.status();
                // Read the whole answer: a server is not done until it has sent it.
                resp.into_body().collect().await.map_err(|_| Failure::Io)?;
                if status.is_success() {
                    Ok(())
                } else {
                    Err(Failure::Http(status.as_u16()))
                }
            }
            Target::Grpc { client, request } => {
                let mut c = client.clone();
                c.model_infer(request.clone())
                    .await
                    .map(|_| ())
                    .map_err(|s| Failure::Grpc(s.code()))
            }
        }
    }
}

async fn http_metadata(
    client: &Client<HttpConnector, Full<Bytes>>,
    base: &str,
    model: &str,
) -> Result<Value, BenchError> {
    let uri: hyper::Uri = format!("{base}/v2/models/{model}")
        .parse()
        .map_err(|source| BenchError::Url {
            base: base.to_owned(),
            source,
        })?;
    let resp = client
        .get(uri.clone())
        .await
        .map_err(|source| BenchError::Connect {
            uri: uri.to_string(),
            source,
        })?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        return Err(BenchError::Status {
            uri: uri.to_string(),
            status,
            body: String::from_utf8_lossy(&body).trim().to_owned(),
        });
    }
    serde_json::from_slice(&body).map_err(|source| BenchError::Metadata {
        uri: uri.to_string(),
        source,
    })
}

/// Connects to the server of `opts.url`, reads the model's metadata and builds the request:
/// the target, its protocol and the request's size in bytes.
pub(crate) async fn target(opts: &BenchOptions) -> Result<(Target, Protocol, usize), BenchError> {
    let (protocol, host) = if let Some(h) = opts.url.strip_prefix("grpc://") {
        (Protocol::Grpc, h)
    } else if let Some(h) = opts.url.strip_prefix("http://") {
        (Protocol::Http, h)
    } else {
        return Err(BenchError::Scheme {
            url: opts.url.clone(),
        });
    };
    let host = host.trim_end_matches('/');
    match protocol {
        Protocol::Http => http_target(opts, host).await,
        Protocol::Grpc => grpc_target(opts, host).await,
    }
}

async fn http_target(
    opts: &BenchOptions,
    host: &str,
) -> Result<(Target, Protocol, usize), BenchError> {
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

async fn grpc_target(
    opts: &BenchOptions,
    host: &str,
) -> Result<(Target, Protocol, usize), BenchError> {
    let protocol = Protocol::Grpc;
    if opts.json {
        return Err(BenchError::JsonOverGrpc);
    }
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{host}"))?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|source| BenchError::GrpcConnect {
            url: opts.url.clone(),
            source,
        })?;
    let mut client = proto::grpc_inference_service_client::GrpcInferenceServiceClient::new(channel)
        .max_decoding_message_size(usize::MAX);
    let m = client
        .model_metadata(proto::ModelMetadataRequest {
            name: opts.model.clone(),
            version: String::new(),
        })
        .await
        .map_err(|s| BenchError::GrpcMetadata {
            url: opts.url.clone(),
            model: opts.model.clone(),
            message: s.message().to_owned(),
        })?
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
