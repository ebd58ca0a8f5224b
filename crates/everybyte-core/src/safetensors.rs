//! The one reader of safetensors headers: the 8-byte length, the JSON table of tensors, and
//! the checks that the table describes the file (offsets inside the data, sizes matching
//! shapes, no overlaps, no gaps). Data scans, checkpoint comparison and model sizing all use it.

use std::io::Read;
use std::path::Path;

/// A header longer than this is not a real model's (the largest seen are a few MiB).
pub const MAX_HEADER_BYTES: u64 = 100 << 20;

/// A tensor in a safetensors header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    /// Byte offsets in the data region (after the header).
    pub start: u64,
    pub end: u64,
}

impl Tensor {
    /// The number of elements (the product of the shape).
    pub fn elements(&self) -> u64 {
        self.shape.iter().product()
    }
}

/// A parsed and checked header: the tensors sorted by offset, and where the data region
/// starts in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub tensors: Vec<Tensor>,
    pub data_start: u64,
}

/// What is wrong with a safetensors file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetensorsError {
    #[error("shorter than 8 bytes")]
    TooShort,
    #[error("header length {0} is implausible (over 100 MiB)")]
    ImplausibleLength(u64),
    #[error("header longer than the file (truncated)")]
    HeaderTruncated,
    #[error("header is not JSON: {0}")]
    NotJson(String),
    #[error("header is not a JSON object")]
    NotAnObject,
    #[error("tensor `{name}` {problem}")]
    Tensor { name: String, problem: String },
    #[error("tensor `{name}`: {what} overflows")]
    Overflow { name: String, what: &'static str },
    #[error(
        "tensor `{name}`: offsets {start}..{end} hold {held} bytes, shape {shape:?} of {dtype} needs {need}"
    )]
    SizeMismatch {
        name: String,
        start: u64,
        end: u64,
        held: u64,
        shape: Vec<u64>,
        dtype: String,
        need: u64,
    },
    #[error("tensor `{name}` ends at byte {end} of a {data_len}-byte data region (truncated)")]
    PastEnd {
        name: String,
        end: u64,
        data_len: u64,
    },
    #[error("tensor `{0}` overlaps the tensor before it")]
    Overlap(String),
    #[error("{bytes} bytes before tensor `{name}` belong to no tensor (a gap)")]
    Gap { name: String, bytes: u64 },
    #[error("{0} bytes after the last tensor belong to no tensor")]
    Trailing(u64),
    #[error("cannot read: {0}")]
    Io(String),
}

/// The size in bytes of one element of a safetensors dtype (`F32` is 4), or `None` for a dtype
/// the format does not define.
pub fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 1,
        _ => return None,
    })
}

fn tensor_err(name: &str, problem: impl Into<String>) -> SafetensorsError {
    SafetensorsError::Tensor {
        name: name.to_owned(),
        problem: problem.into(),
    }
}

/// The header's length from the file's first 8 bytes, checked for plausibility.
pub fn header_len(first: &[u8]) -> Result<u64, SafetensorsError> {
    let b: [u8; 8] = first
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or(SafetensorsError::TooShort)?;
    let n = u64::from_le_bytes(b);
    if n > MAX_HEADER_BYTES {
        return Err(SafetensorsError::ImplausibleLength(n));
    }
    Ok(n)
}

/// Parses and checks a header. `head` holds at least the file's first `8 + header length`
/// bytes; `file_len` is the whole file's length, against which the offsets are checked.
pub fn parse_header(head: &[u8], file_len: u64) -> Result<Header, SafetensorsError> {
    let n = header_len(head)?;
    let json = usize::try_from(8 + n)
        .ok()
        .and_then(|end| head.get(8..end))
        .ok_or(SafetensorsError::HeaderTruncated)?;
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| SafetensorsError::NotJson(e.to_string()))?;
    let map = v.as_object().ok_or(SafetensorsError::NotAnObject)?;
    let data_start = 8 + n;
    let data_len = file_len.saturating_sub(data_start);
    let mut tensors = Vec::new();
    for (name, t) in map {
        if name == "__metadata__" {
            continue;
        }
        let dtype = t
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| tensor_err(name, "has no dtype"))?;
        let size = dtype_size(dtype)
            .ok_or_else(|| tensor_err(name, format!("has unknown dtype {dtype}")))?;
        let shape: Vec<u64> = t
            .get("shape")
            .and_then(|s| s.as_array())
            .ok_or_else(|| tensor_err(name, "has no shape"))?
            .iter()
            .map(|x| {
                x.as_u64()
                    .ok_or_else(|| tensor_err(name, "has a bad shape"))
            })
            .collect::<Result<_, _>>()?;
        let offs = t
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .filter(|o| o.len() == 2)
            .ok_or_else(|| tensor_err(name, "has no data_offsets"))?;
        let (Some(start), Some(end)) = (offs[0].as_u64(), offs[1].as_u64()) else {
            return Err(tensor_err(name, "has bad data_offsets"));
        };
        let elements = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| SafetensorsError::Overflow {
                name: name.clone(),
                what: "shape",
            })?;
        let need = elements
            .checked_mul(size)
            .ok_or_else(|| SafetensorsError::Overflow {
                name: name.clone(),
                what: "size",
            })?;
        if end < start || end - start != need {
            return Err(SafetensorsError::SizeMismatch {
                name: name.clone(),
                start,
                end,
                held: end.saturating_sub(start),
                shape,
                dtype: dtype.to_owned(),
                need,
            });
        }
        if end > data_len {
            return Err(SafetensorsError::PastEnd {
                name: name.clone(),
                end,
                data_len,
            });
        }
        tensors.push(Tensor {
            name: name.clone(),
            dtype: dtype.to_owned(),
            shape,
            start,
            end,
        });
    }
    tensors.sort_by_key(|t| (t.start, t.end));
    let mut at = 0;
    for t in &tensors {
        if t.start < at {
            return Err(SafetensorsError::Overlap(t.name.clone()));
        }
        if t.start > at {
            return Err(SafetensorsError::Gap {
                name: t.name.clone(),
                bytes: t.start - at,
            });
        }
        at = t.end;
    }
    if at != data_len {
        return Err(SafetensorsError::Trailing(data_len.saturating_sub(at)));
    }
    Ok(Header {
        tensors,
        data_start,
    })
}

/// Reads and checks the header of a safetensors file, reading only the header's bytes.
pub fn read_header(path: &Path) -> Result<Header, SafetensorsError> {
    let io = |e: std::io::Error| SafetensorsError::Io(e.to_string());
    let mut f = std::fs::File::open(path).map_err(io)?;
    let file_len = f.metadata().map_err(io)?.len();
    let mut first = [0u8; 8];
    f.read_exact(&mut first)
        .map_err(|_| SafetensorsError::TooShort)?;
    let n = header_len(&first)?;
    let mut head = first.to_vec();
    (&mut f).take(n).read_to_end(&mut head).map_err(io)?;
    parse_header(&head, file_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut f = (header.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(header.as_bytes());
        f.resize(f.len() + data, 0);
        f
    }

    #[test]
    fn reads_a_layout_and_sorts_by_offset() {
        let f = file(
            r#"{"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"x":"y"}}"#,
            12,
        );
        let h = parse_header(&f, f.len() as u64).unwrap();
        assert_eq!(
            h.tensors
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(h.tensors[0].elements(), 2);
        assert_eq!(h.data_start, f.len() as u64 - 12);
    }

    #[test]
    fn names_each_problem() {
        let one = |header: &str, data: usize| {
            let f = file(header, data);
            parse_header(&f, f.len() as u64).unwrap_err().to_string()
        };
        assert_eq!(
            one(
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                4
            ),
            "tensor `a` ends at byte 8 of a 4-byte data region (truncated)"
        );
        assert_eq!(
            one(
                r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                8
            ),
            "tensor `a`: offsets 0..8 hold 8 bytes, shape [3] of F32 needs 12"
        );
        assert_eq!(
            one(
                r#"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}}"#,
                1
            ),
            "tensor `a` has unknown dtype Q9"
        );
        assert_eq!(
            one(
                r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
                2
            ),
            "1 bytes before tensor `a` belong to no tensor (a gap)"
        );
        assert_eq!(
            one(
                r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
                3
            ),
            "2 bytes after the last tensor belong to no tensor"
        );
        assert_eq!(
            one(
                r#"{"a":{"dtype":"U8","shape":[4294967296,4294967296,2],"data_offsets":[0,1]}}"#,
                1
            ),
            "tensor `a`: shape overflows"
        );
        assert_eq!(
            parse_header(&[1, 2, 3], 3).unwrap_err(),
            SafetensorsError::TooShort
        );
        let mut f = file("{}", 0);
        f.truncate(9);
        assert_eq!(
            parse_header(&f, 9).unwrap_err(),
            SafetensorsError::HeaderTruncated
        );
    }

    #[test]
    fn reads_only_the_header_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        std::fs::write(
            &p,
            file(
                r#"{"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}}"#,
                12,
            ),
        )
        .unwrap();
        let h = read_header(&p).unwrap();
        assert_eq!(h.tensors[0].shape, [2, 3]);
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(read_header(&p).unwrap_err(), SafetensorsError::TooShort);
    }
}
