//! The inputs a benchmark sends: shaped from the model's metadata and the given sizes of its
//! dynamic dimensions, filled from a fixed pseudo-random sequence (or one value), as bytes
//! and as JSON.

use everybyte_core::rng::Rng;
use serde_json::{Value, json};

use crate::error::BenchError;
use crate::tensor::{DataType, element_count};

/// One input of the model, synthesized: its bytes, and the same values as JSON.
pub(crate) struct Input {
    pub(crate) name: String,
    pub(crate) datatype: DataType,
    pub(crate) shape: Vec<i64>,
    pub(crate) data: Vec<u8>,
    pub(crate) values: Vec<Value>,
}

/// The inputs the model's metadata lists, with the given sizes of their dynamic dimensions
/// and fills: the same data on every run.
pub(crate) fn synthesize(
    meta: &Value,
    shapes: &[(String, Vec<i64>)],
    fills: &[(String, f64)],
) -> Result<Vec<Input>, BenchError> {
    // A fixed pseudo-random sequence, so every run sends the same data.
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let inputs = meta["inputs"].as_array().ok_or(BenchError::NoInputs)?;
    let mut out = Vec::new();
    for i in inputs {
        let name = i["name"]
            .as_str()
            .ok_or(BenchError::UnnamedInput)?
            .to_owned();
        let dt = i["datatype"].as_str().unwrap_or("");
        let datatype = DataType::parse(dt).ok_or_else(|| BenchError::Datatype {
            input: name.clone(),
            datatype: dt.to_owned(),
        })?;
        let model_shape: Vec<i64> = i["shape"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        let shape = match shapes.iter().find(|(n, _)| *n == name) {
            Some((_, s)) => {
                let fits = s.len() == model_shape.len()
                    && s.iter().zip(&model_shape).all(|(&a, &m)| m < 0 || a == m);
                if !fits {
                    return Err(BenchError::ShapeMismatch {
                        input: name,
                        given: s.clone(),
                        model: model_shape,
                    });
                }
                s.clone()
            }
            None if model_shape.iter().any(|&d| d < 0) => {
                return Err(BenchError::DynamicShape {
                    example: example_shape(&model_shape),
                    input: name,
                    model: model_shape,
                });
            }
            None => model_shape,
        };
        let n = element_count(&shape)?;
        let size = datatype.size().ok_or_else(|| BenchError::Unsynthesizable {
            input: name.clone(),
            datatype: dt.to_owned(),
        })?;
        if n.checked_mul(size).is_none_or(|b| b > 1 << 30) {
            return Err(BenchError::TooLarge { input: name, shape });
        }
        let mut data = Vec::with_capacity(n * size);
        let mut values = Vec::with_capacity(n);
        let fill = fills.iter().find(|(f, _)| *f == name).map(|(_, v)| *v);
        for _ in 0..n {
            if let Some(v) = fill {
                push_value(&mut data, &mut values, datatype, v);
                continue;
            }
            let r = rng.next_u64();
            // Integers in 0..100 are valid token ids, byte values and class indices alike;
            // floats in [-1, 1).
            let small = r % 100;
            match datatype {
                DataType::F32 => {
                    let x = (r >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
                    data.extend_from_slice(&x.to_le_bytes());
                    values.push(json!(x));
                }
                DataType::F64 => {
                    let x = (r >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
                    data.extend_from_slice(&x.to_le_bytes());
                    values.push(json!(x));
                }
                DataType::Bool => {
                    data.push(u8::from(r & 1 == 1));
                    values.push(json!(r & 1 == 1));
                }
                DataType::F16 | DataType::Bf16 => {
                    data.extend_from_slice(&[0, 0]);
                    values.push(json!(0));
                }
                _ => {
                    data.extend_from_slice(&small.to_le_bytes()[..size]);
                    values.push(json!(small));
                }
            }
        }
        out.push(Input {
            name,
            datatype,
            shape,
            data,
            values,
        });
    }
    Ok(out)
}

/// A `--shape` for a model shape: its fixed dimensions, 1 for a dynamic first one, 128 for
/// the other dynamic ones.
fn example_shape(model_shape: &[i64]) -> String {
    model_shape
        .iter()
        .enumerate()
        .map(|(k, &d)| {
            if d >= 0 {
                d.to_string()
            } else if k == 0 {
                "1".into()
            } else {
                "128".into()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One element of value `v` in `datatype`'s little-endian bytes and as JSON.
fn push_value(data: &mut Vec<u8>, values: &mut Vec<Value>, datatype: DataType, v: f64) {
    match datatype {
        DataType::F32 => data.extend_from_slice(&(v as f32).to_le_bytes()),
        DataType::F64 => data.extend_from_slice(&v.to_le_bytes()),
        DataType::Bool => data.push(u8::from(v != 0.0)),
        DataType::U8 | DataType::I8 => data.push(v as i64 as u8),
        DataType::U16 | DataType::I16 => data.extend_from_slice(&(v as i64 as u16).to_le_bytes()),
        DataType::U32 | DataType::I32 => data.extend_from_slice(&(v as i64 as u32).to_le_bytes()),
        DataType::U64 | DataType::I64 => data.extend_from_slice(&(v as i64).to_le_bytes()),
        DataType::F16 | DataType::Bf16 | DataType::Bytes => data.extend_from_slice(&[0, 0]),
    }
    values.push(match datatype {
        DataType::F32 | DataType::F64 => json!(v),
        DataType::Bool => json!(v != 0.0),
        _ => json!(v as i64),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::parse_fill;
    use crate::bench::parse_shape;

    #[test]
    fn shapes_parse_and_fit() {
        assert_eq!(
            parse_shape("input_ids=1,128").unwrap(),
            ("input_ids".into(), vec![1, 128])
        );
        assert!(parse_shape("x").is_err());
        assert!(parse_shape("x=1,-2").is_err());
        let meta = json!({ "inputs": [{ "name": "ids", "datatype": "INT64", "shape": [-1, -1] }] });
        let e = synthesize(&meta, &[], &[]).err().unwrap().to_string();
        assert!(e.contains("--shape ids=1,128"), "{e}");
        let e = synthesize(&meta, &[("ids".into(), vec![1])], &[])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("does not fit"), "{e}");
        let ok = synthesize(&meta, &[("ids".into(), vec![2, 3])], &[]).unwrap();
        assert_eq!(ok[0].data.len(), 48);
        assert!(
            ok[0]
                .values
                .iter()
                .all(|v| v.as_u64().is_some_and(|x| x < 100))
        );
        let ones = synthesize(
            &meta,
            &[("ids".into(), vec![1, 2])],
            &[parse_fill("ids=1").unwrap()],
        )
        .unwrap();
        assert_eq!(
            ones[0].data,
            [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        );
        assert!(parse_fill("ids=x").is_err());
    }
}
