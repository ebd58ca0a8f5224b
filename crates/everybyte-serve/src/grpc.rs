//! The KServe v2 gRPC service, `inference.GRPCInferenceService`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tonic::{Request, Response, Status};

use crate::engine::{IoSpec, ModelInfo};
use crate::proto::{self, grpc_inference_service_server::GrpcInferenceService};
use crate::server::{ErrorKind, InferError, InferRequest, Server, Timing};
use crate::tensor::{DataType, Tensor, byte_length, check_length, element_count};

pub use proto::grpc_inference_service_server::GrpcInferenceServiceServer;

pub struct Service(pub Arc<Server>);

fn status(e: &InferError) -> Status {
    match e.kind {
        ErrorKind::Invalid => Status::invalid_argument(e.message.clone()),
        ErrorKind::NotFound => Status::not_found(e.message.clone()),
        ErrorKind::Unavailable => Status::unavailable(e.message.clone()),
        ErrorKind::Internal => Status::internal(e.message.clone()),
    }
}

fn tensor_meta(v: &[IoSpec]) -> Vec<proto::model_metadata_response::TensorMetadata> {
    v.iter()
        .map(|s| proto::model_metadata_response::TensorMetadata {
            name: s.name.clone(),
            datatype: s.datatype.name().to_owned(),
            shape: s.shape.clone(),
        })
        .collect()
}

fn config(info: &ModelInfo, plan: Option<&crate::plan::Chosen>) -> proto::ModelConfig {
    let dims = |s: &IoSpec| info.config_dims(s);
    proto::ModelConfig {
        name: info.name.clone(),
        platform: "onnxruntime_onnx".into(),
        backend: "onnxruntime".into(),
        max_batch_size: i32::try_from(info.max_batch).unwrap_or(i32::MAX),
        input: info
            .inputs
            .iter()
            .map(|s| proto::ModelInput {
                name: s.name.clone(),
                data_type: s.datatype.config_code(),
                dims: dims(s),
                ..Default::default()
            })
            .collect(),
        output: info
            .outputs
            .iter()
            .map(|s| proto::ModelOutput {
                name: s.name.clone(),
                data_type: s.datatype.config_code(),
                dims: dims(s),
                ..Default::default()
            })
            .collect(),
        dynamic_batching: (info.max_batch > 0).then(|| proto::ModelDynamicBatching {
            preferred_batch_size: info
                .settings
                .preferred
                .iter()
                .map(|&p| i32::try_from(p).unwrap_or(i32::MAX))
                .collect(),
            max_queue_delay_microseconds: info.settings.max_delay.as_micros() as u64,
            ..Default::default()
        }),
        instance_group: plan
            .map(|p| {
                let (kind, gpus) = match p.device {
                    crate::onnx::Device::Cpu => (proto::model_instance_group::Kind::Cpu, vec![]),
                    crate::onnx::Device::Cuda(n) => {
                        (proto::model_instance_group::Kind::Gpu, vec![n])
                    }
                };
                proto::ModelInstanceGroup {
                    name: info.name.clone(),
                    count: i32::try_from(p.plan.runs).unwrap_or(i32::MAX),
                    gpus,
                    kind: kind.into(),
                }
            })
            .into_iter()
            .collect(),
        parameters: plan
            .map(crate::plan::parameters)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, proto::ModelParameter { string_value: v }))
            .collect(),
    }
}

fn duration(t: Timing) -> proto::StatisticDuration {
    proto::StatisticDuration {
        count: t.count,
        ns: t.ns,
    }
}

fn statistics(m: &crate::server::Model) -> proto::ModelStatistics {
    let s = everybyte_core::par::lock(&m.stats).clone();
    proto::ModelStatistics {
        name: m.info.name.clone(),
        version: m.info.version.clone(),
        last_inference: s.last_inference_ms,
        inference_count: s.inference_count,
        execution_count: s.execution_count,
        inference_stats: Some(proto::InferStatistics {
            success: Some(duration(s.success)),
            fail: Some(duration(s.fail)),
            queue: Some(duration(s.queue)),
            compute_input: Some(duration(s.compute_input)),
            compute_infer: Some(duration(s.compute_infer)),
            compute_output: Some(duration(s.compute_output)),
            cache_hit: Some(duration(Timing::default())),
            cache_miss: Some(duration(Timing::default())),
        }),
        batch_stats: s
            .batches
            .iter()
            .map(|(size, b)| proto::InferBatchStatistics {
                batch_size: *size as u64,
                compute_input: Some(duration(b.input)),
                compute_infer: Some(duration(b.infer)),
                compute_output: Some(duration(b.output)),
            })
            .collect(),
        memory_usage: Vec::new(),
    }
}

fn le<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * N);
    for &x in v {
        out.extend_from_slice(&f(x));
    }
    out
}

/// The bytes of a typed `contents` field for `datatype`; values out of range are an error.
fn from_contents(
    name: &str,
    datatype: DataType,
    c: &proto::InferTensorContents,
) -> Result<Vec<u8>, InferError> {
    let range =
        |what: &str| InferError::invalid(format!("input {name}: a value does not fit {what}"));
    Ok(match datatype {
        DataType::Bool => c.bool_contents.iter().map(|&b| u8::from(b)).collect(),
        DataType::I8 => c
            .int_contents
            .iter()
            .map(|&x| i8::try_from(x).map(|v| v.to_le_bytes()[0]))
            .collect::<Result<_, _>>()
            .map_err(|_| range("INT8"))?,
        DataType::I16 => {
            let v: Vec<i16> = c
                .int_contents
                .iter()
                .map(|&x| i16::try_from(x))
                .collect::<Result<_, _>>()
                .map_err(|_| range("INT16"))?;
            le(&v, i16::to_le_bytes)
        }
        DataType::I32 => le(&c.int_contents, i32::to_le_bytes),
        DataType::I64 => le(&c.int64_contents, i64::to_le_bytes),
        DataType::U8 => c
            .uint_contents
            .iter()
            .map(|&x| u8::try_from(x))
            .collect::<Result<_, _>>()
            .map_err(|_| range("UINT8"))?,
        DataType::U16 => {
            let v: Vec<u16> = c
                .uint_contents
                .iter()
                .map(|&x| u16::try_from(x))
                .collect::<Result<_, _>>()
                .map_err(|_| range("UINT16"))?;
            le(&v, u16::to_le_bytes)
        }
        DataType::U32 => le(&c.uint_contents, u32::to_le_bytes),
        DataType::U64 => le(&c.uint64_contents, u64::to_le_bytes),
        DataType::F32 => le(&c.fp32_contents, f32::to_le_bytes),
        DataType::F64 => le(&c.fp64_contents, f64::to_le_bytes),
        DataType::F16 | DataType::Bf16 | DataType::Bytes => {
            return Err(InferError::invalid(format!(
                "input {name}: send {} as raw_input_contents",
                datatype.name()
            )));
        }
    })
}

/// Decodes a gRPC request: inputs from `raw_input_contents` (one per input, in order) or
/// from each input's typed `contents`.
pub fn decode(r: proto::ModelInferRequest, limit: usize) -> Result<InferRequest, InferError> {
    let raw = r.raw_input_contents;
    if !raw.is_empty() && raw.len() != r.inputs.len() {
        return Err(InferError::invalid(format!(
            "{} raw_input_contents for {} inputs: give one per input, in order, or none",
            raw.len(),
            r.inputs.len()
        )));
    }
    let mut inputs = Vec::with_capacity(r.inputs.len());
    for (i, t) in r.inputs.into_iter().enumerate() {
        let datatype = DataType::parse(&t.datatype).ok_or_else(|| {
            InferError::invalid(format!(
                "input {}: unknown datatype {:?}",
                t.name, t.datatype
            ))
        })?;
        let expected = byte_length(datatype, &t.shape, limit)
            .map_err(|e| InferError::invalid(format!("input {}: {e}", t.name)))?;
        let data: Bytes = if raw.is_empty() {
            let c = t.contents.as_ref().ok_or_else(|| {
                InferError::invalid(format!(
                    "input {}: no contents and no raw_input_contents",
                    t.name
                ))
            })?;
            element_count(&t.shape)
                .map_err(|e| InferError::invalid(format!("input {}: {e}", t.name)))?;
            Bytes::from(from_contents(&t.name, datatype, c)?)
        } else {
            raw[i].clone()
        };
        check_length(&t.name, datatype, &t.shape, expected, data.len())
            .map_err(|e| InferError::invalid(e.to_string()))?;
        inputs.push(Tensor {
            name: t.name,
            datatype,
            shape: t.shape,
            data,
        });
    }
    Ok(InferRequest {
        id: r.id,
        inputs,
        outputs: r.outputs.into_iter().map(|o| o.name).collect(),
    })
}

#[tonic::async_trait]
impl GrpcInferenceService for Service {
    async fn server_live(
        &self,
        _: Request<proto::ServerLiveRequest>,
    ) -> Result<Response<proto::ServerLiveResponse>, Status> {
        Ok(Response::new(proto::ServerLiveResponse { live: true }))
    }

    async fn server_ready(
        &self,
        _: Request<proto::ServerReadyRequest>,
    ) -> Result<Response<proto::ServerReadyResponse>, Status> {
        Ok(Response::new(proto::ServerReadyResponse {
            ready: self.0.ready.load(Ordering::Relaxed),
        }))
    }

    async fn model_ready(
        &self,
        r: Request<proto::ModelReadyRequest>,
    ) -> Result<Response<proto::ModelReadyResponse>, Status> {
        let r = r.into_inner();
        let ready =
            self.0.model(&r.name, Some(&r.version)).is_ok() && self.0.ready.load(Ordering::Relaxed);
        Ok(Response::new(proto::ModelReadyResponse { ready }))
    }

    async fn server_metadata(
        &self,
        _: Request<proto::ServerMetadataRequest>,
    ) -> Result<Response<proto::ServerMetadataResponse>, Status> {
        Ok(Response::new(proto::ServerMetadataResponse {
            name: "everybyte".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: vec![
                "binary_tensor_data".into(),
                "statistics".into(),
                "model_configuration".into(),
            ],
        }))
    }

    async fn model_metadata(
        &self,
        r: Request<proto::ModelMetadataRequest>,
    ) -> Result<Response<proto::ModelMetadataResponse>, Status> {
        let r = r.into_inner();
        let m = self
            .0
            .model(&r.name, Some(&r.version))
            .map_err(|e| status(&e))?;
        Ok(Response::new(proto::ModelMetadataResponse {
            name: m.info.name.clone(),
            versions: vec![m.info.version.clone()],
            platform: "onnxruntime_onnx".into(),
            inputs: tensor_meta(&m.info.inputs),
            outputs: tensor_meta(&m.info.outputs),
        }))
    }

    async fn model_infer(
        &self,
        r: Request<proto::ModelInferRequest>,
    ) -> Result<Response<proto::ModelInferResponse>, Status> {
        let r = r.into_inner();
        let model = Arc::clone(
            self.0
                .model(&r.model_name, Some(&r.model_version))
                .map_err(|e| status(&e))?,
        );
        if !self.0.ready.load(Ordering::Relaxed) {
            return Err(Status::unavailable("the server is not ready"));
        }
        let req = match decode(r, self.0.request_limit) {
            Ok(req) => req,
            Err(e) => {
                model.record_invalid();
                return Err(status(&e));
            }
        };
        let id = req.id.clone();
        let outputs = model.infer(req).await.map_err(|e| status(&e))?;
        let mut resp = proto::ModelInferResponse {
            model_name: model.info.name.clone(),
            model_version: model.info.version.clone(),
            id,
            ..Default::default()
        };
        for t in outputs {
            resp.outputs
                .push(proto::model_infer_response::InferOutputTensor {
                    name: t.name,
                    datatype: t.datatype.name().into(),
                    shape: t.shape,
                    ..Default::default()
                });
            resp.raw_output_contents.push(t.data);
        }
        Ok(Response::new(resp))
    }

    async fn model_config(
        &self,
        r: Request<proto::ModelConfigRequest>,
    ) -> Result<Response<proto::ModelConfigResponse>, Status> {
        let r = r.into_inner();
        let m = self
            .0
            .model(&r.name, Some(&r.version))
            .map_err(|e| status(&e))?;
        Ok(Response::new(proto::ModelConfigResponse {
            config: Some(config(&m.info, m.plan().as_deref())),
        }))
    }

    async fn model_statistics(
        &self,
        r: Request<proto::ModelStatisticsRequest>,
    ) -> Result<Response<proto::ModelStatisticsResponse>, Status> {
        let r = r.into_inner();
        let model_stats = if r.name.is_empty() {
            self.0.models.values().map(|m| statistics(m)).collect()
        } else {
            vec![statistics(
                self.0
                    .model(&r.name, Some(&r.version))
                    .map_err(|e| status(&e))?,
            )]
        };
        Ok(Response::new(proto::ModelStatisticsResponse {
            model_stats,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::model_infer_request::InferInputTensor;

    fn input(
        name: &str,
        dt: &str,
        shape: &[i64],
        contents: Option<proto::InferTensorContents>,
    ) -> InferInputTensor {
        InferInputTensor {
            name: name.into(),
            datatype: dt.into(),
            shape: shape.to_vec(),
            parameters: std::collections::HashMap::default(),
            contents,
        }
    }

    #[test]
    fn typed_contents_and_raw_contents_decode_alike() {
        let typed = proto::ModelInferRequest {
            inputs: vec![input(
                "a",
                "INT16",
                &[2],
                Some(proto::InferTensorContents {
                    int_contents: vec![1, -2],
                    ..Default::default()
                }),
            )],
            ..Default::default()
        };
        let raw = proto::ModelInferRequest {
            inputs: vec![input("a", "INT16", &[2], None)],
            raw_input_contents: vec![Bytes::from_static(&[1, 0, 0xfe, 0xff])],
            ..Default::default()
        };
        let a = decode(typed, 1 << 20).unwrap();
        let b = decode(raw, 1 << 20).unwrap();
        assert_eq!(a.inputs, b.inputs);
    }

    #[test]
    fn bad_grpc_requests_are_invalid_arguments() {
        let cases = [
            (
                proto::ModelInferRequest {
                    inputs: vec![input(
                        "a",
                        "INT8",
                        &[1],
                        Some(proto::InferTensorContents {
                            int_contents: vec![300],
                            ..Default::default()
                        }),
                    )],
                    ..Default::default()
                },
                "does not fit INT8",
            ),
            (
                proto::ModelInferRequest {
                    inputs: vec![
                        input("a", "FP32", &[2], None),
                        input("b", "FP32", &[2], None),
                    ],
                    raw_input_contents: vec![Bytes::from_static(&[0; 8])],
                    ..Default::default()
                },
                "1 raw_input_contents for 2 inputs",
            ),
            (
                proto::ModelInferRequest {
                    inputs: vec![input("a", "FP32", &[3], None)],
                    raw_input_contents: vec![Bytes::from_static(&[0; 8])],
                    ..Default::default()
                },
                "8 bytes of data, but shape [3] of FP32 needs 12",
            ),
            (
                proto::ModelInferRequest {
                    inputs: vec![input("a", "FP32", &[i64::MAX, 2], None)],
                    raw_input_contents: vec![Bytes::new()],
                    ..Default::default()
                },
                "request limit",
            ),
            (
                proto::ModelInferRequest {
                    inputs: vec![input("a", "FP32", &[2], None)],
                    ..Default::default()
                },
                "no contents",
            ),
        ];
        for (r, want) in cases {
            let e = decode(r, 1 << 20).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Invalid);
            assert!(e.message.contains(want), "{} / {want}", e.message);
        }
    }
}
