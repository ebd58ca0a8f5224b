//! Validation before compute: a request is checked against the model's inputs and outputs
//! before it is queued, so a malformed request never reaches the engine.

use std::collections::HashMap;

use crate::engine::{IoSpec, ModelInfo};
use crate::error::InferError;
use crate::server::InferRequest;
use crate::tensor::{Tensor, element_count};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
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
            batch_limit: max_batch,
            unbatchable: None,
            settings: ModelSettings::default(),
            warmup: crate::engine::Warmup::Ok,
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
}
