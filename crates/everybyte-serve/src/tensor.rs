//! Tensors as the KServe v2 protocol carries them: a name, a datatype, a shape and row-major
//! little-endian bytes; conversion from and to the JSON `data` arrays; overflow-safe sizes.

use bytes::Bytes;
use serde_json::Value;

pub use crate::error::TensorError;

/// A KServe v2 datatype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F16,
    F32,
    F64,
    Bf16,
    Bytes,
}

const ALL: [DataType; 14] = [
    DataType::Bool,
    DataType::U8,
    DataType::U16,
    DataType::U32,
    DataType::U64,
    DataType::I8,
    DataType::I16,
    DataType::I32,
    DataType::I64,
    DataType::F16,
    DataType::F32,
    DataType::F64,
    DataType::Bf16,
    DataType::Bytes,
];

impl DataType {
    /// The protocol's name (`FP32`, `INT64`, `BYTES`…).
    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "BOOL",
            DataType::U8 => "UINT8",
            DataType::U16 => "UINT16",
            DataType::U32 => "UINT32",
            DataType::U64 => "UINT64",
            DataType::I8 => "INT8",
            DataType::I16 => "INT16",
            DataType::I32 => "INT32",
            DataType::I64 => "INT64",
            DataType::F16 => "FP16",
            DataType::F32 => "FP32",
            DataType::F64 => "FP64",
            DataType::Bf16 => "BF16",
            DataType::Bytes => "BYTES",
        }
    }

    pub fn parse(s: &str) -> Option<DataType> {
        ALL.iter().copied().find(|d| d.name() == s)
    }

    /// Bytes per element; `None` for `BYTES` (variable length).
    pub fn size(self) -> Option<usize> {
        Some(match self {
            DataType::Bool | DataType::U8 | DataType::I8 => 1,
            DataType::U16 | DataType::I16 | DataType::F16 | DataType::Bf16 => 2,
            DataType::U32 | DataType::I32 | DataType::F32 => 4,
            DataType::U64 | DataType::I64 | DataType::F64 => 8,
            DataType::Bytes => return None,
        })
    }

    /// The value of Triton's `DataType` enum (`TYPE_FP32` = 11) in a model configuration.
    pub fn config_code(self) -> i32 {
        match self {
            DataType::Bool => 1,
            DataType::U8 => 2,
            DataType::U16 => 3,
            DataType::U32 => 4,
            DataType::U64 => 5,
            DataType::I8 => 6,
            DataType::I16 => 7,
            DataType::I32 => 8,
            DataType::I64 => 9,
            DataType::F16 => 10,
            DataType::F32 => 11,
            DataType::F64 => 12,
            DataType::Bytes => 13,
            DataType::Bf16 => 14,
        }
    }

    /// `TYPE_FP32`: the name in a JSON model configuration.
    pub fn config_name(self) -> String {
        match self {
            DataType::Bytes => "TYPE_STRING".to_owned(),
            d => format!("TYPE_{}", d.name()),
        }
    }

    /// From a `config.pbtxt` `data_type` (`TYPE_FP32`).
    pub fn from_config_name(s: &str) -> Option<DataType> {
        match s.strip_prefix("TYPE_")? {
            "STRING" => Some(DataType::Bytes),
            n => DataType::parse(n),
        }
    }
}

/// A tensor in a request or response.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub datatype: DataType,
    pub shape: Vec<i64>,
    /// Row-major, little-endian; for `BYTES`, each element is a 4-byte length then its bytes.
    pub data: Bytes,
}

/// The number of elements of a shape, or why it is not a valid tensor shape; never overflows.
pub fn element_count(shape: &[i64]) -> Result<usize, TensorError> {
    let mut n: usize = 1;
    for &d in shape {
        let d = usize::try_from(d).map_err(|_| TensorError::NegativeDimension {
            shape: shape.to_vec(),
        })?;
        n = n
            .checked_mul(d)
            .ok_or_else(|| TensorError::TooManyElements {
                shape: shape.to_vec(),
            })?;
    }
    Ok(n)
}

/// The byte length a fixed-size tensor must have, checked against overflow and `limit`.
pub fn byte_length(
    datatype: DataType,
    shape: &[i64],
    limit: usize,
) -> Result<Option<usize>, TensorError> {
    let n = element_count(shape)?;
    let Some(size) = datatype.size() else {
        return Ok(None);
    };
    match n.checked_mul(size) {
        Some(b) if b <= limit => Ok(Some(b)),
        _ => Err(TensorError::OverLimit {
            shape: shape.to_vec(),
            datatype: datatype.name(),
            limit,
        }),
    }
}

/// Checks that a fixed-size tensor's data has the length its shape needs.
pub fn check_length(
    name: &str,
    datatype: DataType,
    shape: &[i64],
    expected: Option<usize>,
    got: usize,
) -> Result<(), TensorError> {
    match expected {
        Some(needed) if needed != got => Err(TensorError::Length {
            input: name.to_owned(),
            got,
            shape: shape.to_vec(),
            datatype: datatype.name(),
            needed,
        }),
        _ => Ok(()),
    }
}

fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>, limit: usize) -> Result<(), TensorError> {
    match v {
        Value::Array(items) => {
            for i in items {
                if out.len() > limit {
                    return Err(TensorError::TooManyValues);
                }
                flatten(i, out, limit)?;
            }
            Ok(())
        }
        other => {
            out.push(other);
            Ok(())
        }
    }
}

macro_rules! put_int {
    ($out:ident, $v:ident, $t:ty, $i:ident) => {{
        let x = $v
            .as_i64()
            .and_then(|x| <$t>::try_from(x).ok())
            .or_else(|| $v.as_u64().and_then(|x| <$t>::try_from(x).ok()))
            .ok_or_else(|| TensorError::NotInteger {
                index: $i,
                value: $v.to_string(),
                ty: stringify!($t),
            })?;
        $out.extend_from_slice(&x.to_le_bytes());
    }};
}

/// The bytes of a JSON `data` array (flat or nested, row-major) for `datatype`.
pub fn from_json(datatype: DataType, data: &Value, count: usize) -> Result<Vec<u8>, TensorError> {
    let mut flat = Vec::with_capacity(count.min(1 << 20));
    flatten(data, &mut flat, count)?;
    if flat.len() != count {
        return Err(TensorError::ValueCount {
            got: flat.len(),
            count,
        });
    }
    let mut out = Vec::with_capacity(
        count
            .saturating_mul(datatype.size().unwrap_or(8))
            .min(1 << 26),
    );
    for (i, v) in flat.into_iter().enumerate() {
        match datatype {
            DataType::Bool => {
                let b = v.as_bool().ok_or_else(|| TensorError::NotBool {
                    index: i,
                    value: v.to_string(),
                })?;
                out.push(u8::from(b));
            }
            DataType::U8 => put_int!(out, v, u8, i),
            DataType::U16 => put_int!(out, v, u16, i),
            DataType::U32 => put_int!(out, v, u32, i),
            DataType::U64 => put_int!(out, v, u64, i),
            DataType::I8 => put_int!(out, v, i8, i),
            DataType::I16 => put_int!(out, v, i16, i),
            DataType::I32 => put_int!(out, v, i32, i),
            DataType::I64 => put_int!(out, v, i64, i),
            DataType::F32 => {
                let x = v.as_f64().ok_or_else(|| TensorError::NotNumber {
                    index: i,
                    value: v.to_string(),
                })?;
                out.extend_from_slice(&(x as f32).to_le_bytes());
            }
            DataType::F64 => {
                let x = v.as_f64().ok_or_else(|| TensorError::NotNumber {
                    index: i,
                    value: v.to_string(),
                })?;
                out.extend_from_slice(&x.to_le_bytes());
            }
            DataType::F16 | DataType::Bf16 => {
                return Err(TensorError::BinaryInput {
                    datatype: datatype.name(),
                });
            }
            DataType::Bytes => {
                let s = v.as_str().ok_or_else(|| TensorError::NotString {
                    index: i,
                    value: v.to_string(),
                })?;
                let len = u32::try_from(s.len()).map_err(|_| TensorError::TooLong { index: i })?;
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    Ok(out)
}

macro_rules! num {
    ($bytes:ident, $t:ty) => {
        $bytes
            .chunks_exact(size_of::<$t>())
            .map(|c| {
                let mut a = [0u8; size_of::<$t>()];
                a.copy_from_slice(c);
                Value::from(<$t>::from_le_bytes(a))
            })
            .collect()
    };
}

/// A flat JSON array of a tensor's elements.
pub fn to_json(datatype: DataType, bytes: &[u8]) -> Result<Value, TensorError> {
    let items: Vec<Value> = match datatype {
        DataType::Bool => bytes.iter().map(|&b| Value::Bool(b != 0)).collect(),
        DataType::U8 => bytes.iter().map(|&b| Value::from(b)).collect(),
        DataType::I8 => bytes
            .iter()
            .map(|&b| Value::from(b.cast_signed()))
            .collect(),
        DataType::U16 => num!(bytes, u16),
        DataType::I16 => num!(bytes, i16),
        DataType::U32 => num!(bytes, u32),
        DataType::I32 => num!(bytes, i32),
        DataType::U64 => num!(bytes, u64),
        DataType::I64 => num!(bytes, i64),
        DataType::F32 => bytes
            .chunks_exact(4)
            .map(|c| {
                let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                // Non-finite numbers have no JSON form: null, as Triton writes them.
                serde_json::Number::from_f64(f64::from(x)).map_or(Value::Null, Value::Number)
            })
            .collect(),
        DataType::F64 => bytes
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                serde_json::Number::from_f64(f64::from_le_bytes(a))
                    .map_or(Value::Null, Value::Number)
            })
            .collect(),
        DataType::F16 | DataType::Bf16 | DataType::Bytes => {
            return Err(TensorError::BinaryOutput {
                datatype: datatype.name(),
            });
        }
    };
    Ok(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for d in ALL {
            assert_eq!(DataType::parse(d.name()), Some(d));
            assert_eq!(DataType::from_config_name(&d.config_name()), Some(d));
        }
        assert_eq!(DataType::F32.config_code(), 11);
        assert_eq!(DataType::parse("FLOAT"), None);
    }

    #[test]
    fn sizes_never_overflow() {
        assert_eq!(element_count(&[2, 3, 4]), Ok(24));
        assert_eq!(element_count(&[]), Ok(1));
        assert!(element_count(&[-1, 3]).is_err());
        assert!(element_count(&[i64::MAX, i64::MAX]).is_err());
        assert!(byte_length(DataType::F64, &[1 << 61], usize::MAX).is_err());
        assert_eq!(byte_length(DataType::F32, &[2, 2], 16), Ok(Some(16)));
        assert!(byte_length(DataType::F32, &[2, 3], 16).is_err());
        assert_eq!(byte_length(DataType::Bytes, &[2], 16), Ok(None));
    }

    #[test]
    fn json_round_trips_and_rejects_what_does_not_fit() {
        let v: Value = serde_json::from_str("[[1, 2], [3, -4]]").unwrap();
        let b = from_json(DataType::I64, &v, 4).unwrap();
        assert_eq!(b.len(), 32);
        assert_eq!(
            to_json(DataType::I64, &b).unwrap(),
            serde_json::json!([1, 2, 3, -4])
        );
        let f = from_json(DataType::F32, &serde_json::json!([0.5, 1.25]), 2).unwrap();
        assert_eq!(
            to_json(DataType::F32, &f).unwrap(),
            serde_json::json!([0.5, 1.25])
        );
        assert!(
            from_json(DataType::U8, &serde_json::json!([256]), 1)
                .unwrap_err()
                .to_string()
                .contains("not a u8")
        );
        assert!(
            from_json(DataType::I32, &serde_json::json!([1, 2, 3]), 2)
                .unwrap_err()
                .to_string()
                .contains("holds 2")
        );
        assert!(from_json(DataType::Bool, &serde_json::json!([1]), 1).is_err());
        let nan = f32::NAN.to_le_bytes();
        assert_eq!(
            to_json(DataType::F32, &nan).unwrap(),
            serde_json::json!([null])
        );
    }
}
