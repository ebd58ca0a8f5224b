//! The REST infer request and response bodies: JSON tensors, or Triton's binary tensor data
//! extension (a JSON header of `Inference-Header-Content-Length` bytes, then the tensors'
//! bytes).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::HEADER_LENGTH;
use crate::engine::ModelInfo;
use crate::server::{InferError, InferRequest};
use crate::tensor::{DataType, Tensor, byte_length, check_length, from_json, to_json};

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
pub(crate) struct Decoded {
    pub(crate) request: InferRequest,
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
pub(crate) fn decode(
    body: &Bytes,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Decoded, InferError> {
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

pub(crate) fn encode(
    info: &ModelInfo,
    d: &Decoded,
    outputs: Vec<Tensor>,
) -> Result<Response, InferError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ErrorKind;

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
