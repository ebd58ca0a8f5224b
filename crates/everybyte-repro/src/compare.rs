//! Compares one output of two runs: tensors by tensor (`.npy`, `.safetensors`, `torch.save`
//! checkpoints), metrics by value (`.json`, `.csv`, `.tsv`) with a tolerance, anything else
//! byte for byte. Reports the first difference in the file's own order.

#![allow(clippy::many_single_char_names)] // a/b and x/y: the two runs' copies

use std::path::Path;

use serde::Serialize;

use crate::error::TensorFileError;
use crate::torchzip::{itemsize, read_checkpoint};

/// Two numbers are equal when `|a − b| ≤ atol + rtol·|b|` (NaN equals NaN).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

impl Tolerance {
    #[allow(clippy::float_cmp)] // exact equality first, then the tolerance
    pub fn equal(&self, a: f64, b: f64) -> bool {
        if a.is_nan() || b.is_nan() {
            return a.is_nan() && b.is_nan();
        }
        // An infinity matches only itself: a tolerance must not make a diverged value match.
        if a.is_infinite() || b.is_infinite() {
            return a == b;
        }
        a == b || (a - b).abs() <= self.atol + self.rtol * b.abs()
    }
}

/// How two runs' copies of an output differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    /// Only one run wrote it.
    Missing {
        run: usize,
    },
    Bytes {
        offset: u64,
        len_a: u64,
        len_b: u64,
    },
    /// The first tensor that differs, in file order.
    Tensor {
        tensor: String,
        shape: Vec<u64>,
        elements: u64,
        differing: u64,
        first_index: u64,
        max_abs: f64,
        max_rel: f64,
    },
    /// Tensor names, dtypes or shapes differ.
    Layout {
        detail: String,
    },
    /// A metric (JSON path or CSV cell) differs beyond the tolerance.
    Value {
        at: String,
        a: String,
        b: String,
    },
    /// The file cannot be read as its kind.
    Unreadable {
        run: usize,
        error: String,
    },
}

impl Difference {
    pub fn describe(&self) -> String {
        match self {
            Difference::Missing { run } => format!("missing from run {run}"),
            Difference::Bytes {
                offset,
                len_a,
                len_b,
            } => {
                format!("bytes differ from offset {offset} ({len_a} vs {len_b} bytes)")
            }
            Difference::Tensor {
                tensor,
                shape,
                elements,
                differing,
                first_index,
                max_abs,
                max_rel,
            } => format!(
                "first differing tensor {tensor} {shape:?}: {differing} of {elements} elements differ (first at flat index {first_index}), max abs diff {max_abs:.3e}, max rel diff {max_rel:.3e}"
            ),
            Difference::Layout { detail } => detail.clone(),
            Difference::Value { at, a, b } => format!("{at}: {a} vs {b}"),
            Difference::Unreadable { run, error } => format!("run {run}: {error}"),
        }
    }
}

/// A tensor as compared: name, numpy-style dtype (`f4`, `bf2`, `i8`, `u1`, `b1`), shape, bytes.
#[derive(Debug, Clone)]
pub struct Named {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    pub data: Vec<u8>,
}

fn half(bits: u16) -> f64 {
    let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

fn element(dtype: &str, b: &[u8]) -> f64 {
    let arr = |n: usize| -> [u8; 8] {
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(&b[..n]);
        a
    };
    match dtype {
        "f8" => f64::from_le_bytes(arr(8)),
        "f4" => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        "f2" => half(u16::from_le_bytes([b[0], b[1]])),
        "bf2" => f64::from(f32::from_bits(
            u32::from(u16::from_le_bytes([b[0], b[1]])) << 16,
        )),
        "i1" => f64::from(b[0].cast_signed()),
        "i2" => f64::from(i16::from_le_bytes([b[0], b[1]])),
        "i4" => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        "i8" => i64::from_le_bytes(arr(8)) as f64,
        "u2" => f64::from(u16::from_le_bytes([b[0], b[1]])),
        "u4" => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        "u8" => u64::from_le_bytes(arr(8)) as f64,
        _ => f64::from(b[0]),
    }
}

/// The first tensor that differs between two lists, matched by name in `a`'s order.
pub fn tensors(a: &[Named], b: &[Named], tol: Tolerance) -> Option<Difference> {
    let names_a: Vec<&str> = a.iter().map(|t| t.name.as_str()).collect();
    let names_b: Vec<&str> = b.iter().map(|t| t.name.as_str()).collect();
    if names_a != names_b {
        let only_a: Vec<&str> = names_a
            .iter()
            .filter(|n| !names_b.contains(n))
            .copied()
            .collect();
        let only_b: Vec<&str> = names_b
            .iter()
            .filter(|n| !names_a.contains(n))
            .copied()
            .collect();
        return Some(Difference::Layout {
            detail: format!(
                "tensors differ: only in run 1: {only_a:?}; only in run 2: {only_b:?}{}",
                if only_a.is_empty() && only_b.is_empty() {
                    " (same names, another order)"
                } else {
                    ""
                }
            ),
        });
    }
    for (x, y) in a.iter().zip(b) {
        if x.dtype != y.dtype || x.shape != y.shape {
            return Some(Difference::Layout {
                detail: format!(
                    "tensor {}: {} {:?} vs {} {:?}",
                    x.name, x.dtype, x.shape, y.dtype, y.shape
                ),
            });
        }
        if x.data == y.data {
            continue;
        }
        let size = itemsize(&x.dtype).max(1);
        let mut differing = 0u64;
        let mut first = None;
        let (mut max_abs, mut max_rel) = (0f64, 0f64);
        for (i, (p, q)) in x
            .data
            .chunks_exact(size)
            .zip(y.data.chunks_exact(size))
            .enumerate()
        {
            if p == q {
                continue;
            }
            let (u, v) = (element(&x.dtype, p), element(&x.dtype, q));
            if tol.equal(u, v) {
                continue;
            }
            differing += 1;
            first.get_or_insert(i as u64);
            let d = (u - v).abs();
            if d.is_finite() {
                max_abs = max_abs.max(d);
                if v != 0.0 {
                    max_rel = max_rel.max(d / v.abs());
                }
            } else {
                max_abs = f64::INFINITY;
            }
        }
        if let Some(first_index) = first {
            return Some(Difference::Tensor {
                tensor: x.name.clone(),
                shape: x.shape.clone(),
                elements: (x.data.len() / size) as u64,
                differing,
                first_index,
                max_abs,
                max_rel,
            });
        }
    }
    None
}

/// Reads the tensors of one file kind.
type Reader = fn(&[u8]) -> Result<Vec<Named>, TensorFileError>;

/// A file offset as an index into its bytes.
fn index(offset: u64) -> Result<usize, TensorFileError> {
    usize::try_from(offset).map_err(|_| TensorFileError::BadOffset(offset))
}

fn npy(bytes: &[u8]) -> Result<Vec<Named>, TensorFileError> {
    let h = everybyte_data::array::npy_header(bytes, bytes.len() as u64)?;
    if !h.dtype.little && h.dtype.size > 1 {
        return Err(TensorFileError::BigEndian { size: h.dtype.size });
    }
    let dtype = match h.dtype.kind {
        'b' => "b1".to_owned(),
        k @ ('f' | 'i' | 'u') => format!("{k}{}", h.dtype.size),
        k => return Err(TensorFileError::DtypeKind(k)),
    };
    let start = index(h.data_offset)?;
    Ok(vec![Named {
        name: "(array)".into(),
        dtype,
        shape: h.shape,
        data: bytes.get(start..).unwrap_or(&[]).to_vec(),
    }])
}

fn safetensors(bytes: &[u8]) -> Result<Vec<Named>, TensorFileError> {
    let header = everybyte_core::safetensors::parse_header(bytes, bytes.len() as u64)?;
    let data_start = header.data_start;
    header
        .tensors
        .into_iter()
        .map(|t| {
            let Some(d) = everybyte_data::array::safetensors_dtype(&t.dtype) else {
                return Err(TensorFileError::SafetensorsDtype {
                    name: t.name,
                    dtype: t.dtype,
                });
            };
            let dtype = match (d.kind, d.bf16) {
                ('f', true) => "bf2".to_owned(),
                ('b', _) => "b1".to_owned(),
                (k, _) => format!("{k}{}", d.size),
            };
            let s = index(data_start + t.start)?;
            let e = index(data_start + t.end)?;
            let Some(data) = bytes.get(s..e) else {
                return Err(TensorFileError::PastEnd { name: t.name });
            };
            Ok(Named {
                name: t.name,
                dtype,
                shape: t.shape,
                data: data.to_vec(),
            })
        })
        .collect()
}

fn checkpoint(bytes: &[u8]) -> Result<Vec<Named>, TensorFileError> {
    Ok(read_checkpoint(bytes)?
        .into_iter()
        .map(|t| Named {
            name: t.name,
            dtype: t.dtype.to_owned(),
            shape: t.shape,
            data: t.data,
        })
        .collect())
}

fn json_diff(
    at: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    tol: Tolerance,
) -> Option<Difference> {
    use serde_json::Value as V;
    let here = |x: &V, y: &V| Difference::Value {
        at: if at.is_empty() {
            "$".into()
        } else {
            at.to_owned()
        },
        a: x.to_string(),
        b: y.to_string(),
    };
    match (a, b) {
        (V::Number(x), V::Number(y)) => {
            // Integers (seeds, counts, hashes) compare exactly: f64 cannot hold them past 2^53.
            let exact = tol.atol == 0.0 && tol.rtol == 0.0;
            let ints = (
                x.as_i64().map(i128::from).or(x.as_u64().map(i128::from)),
                y.as_i64().map(i128::from).or(y.as_u64().map(i128::from)),
            );
            if let (true, (Some(p), Some(q))) = (exact, ints) {
                return (p != q).then(|| here(a, b));
            }
            let (x2, y2) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (!tol.equal(x2, y2)).then(|| here(a, b))
        }
        (V::Object(x), V::Object(y)) => {
            for (k, v) in x {
                let path = format!("{at}.{k}");
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = json_diff(&path, v, w, tol) {
                            return Some(d);
                        }
                    }
                    None => {
                        return Some(Difference::Value {
                            at: path,
                            a: v.to_string(),
                            b: "(absent)".into(),
                        });
                    }
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| Difference::Value {
                    at: format!("{at}.{k}"),
                    a: "(absent)".into(),
                    b: y[k].to_string(),
                })
        }
        (V::Array(x), V::Array(y)) => {
            if x.len() != y.len() {
                return Some(Difference::Value {
                    at: format!("{at} (length)"),
                    a: x.len().to_string(),
                    b: y.len().to_string(),
                });
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| json_diff(&format!("{at}[{i}]"), v, w, tol))
        }
        _ => (a != b).then(|| here(a, b)),
    }
}

fn table_diff(a: &str, b: &str, sep: char, tol: Tolerance) -> Option<Difference> {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let header: Vec<&str> = la
        .first()
        .map(|h| h.split(sep).collect())
        .unwrap_or_default();
    for (row, (x, y)) in la.iter().zip(&lb).enumerate() {
        let (cx, cy): (Vec<&str>, Vec<&str>) = (x.split(sep).collect(), y.split(sep).collect());
        for (col, (p, q)) in cx.iter().zip(&cy).enumerate() {
            let exact = tol.atol == 0.0 && tol.rtol == 0.0;
            let same = match (p.trim().parse::<i128>(), q.trim().parse::<i128>()) {
                (Ok(u), Ok(v)) if exact => u == v,
                _ => match (p.trim().parse::<f64>(), q.trim().parse::<f64>()) {
                    (Ok(u), Ok(v)) => tol.equal(u, v),
                    _ => p == q,
                },
            };
            if !same {
                let name = header
                    .get(col)
                    .filter(|_| row > 0)
                    .map_or_else(|| format!("column {}", col + 1), |h| (*h).to_owned());
                return Some(Difference::Value {
                    at: format!("row {}, {name}", row + 1),
                    a: (*p).to_owned(),
                    b: (*q).to_owned(),
                });
            }
        }
        if cx.len() != cy.len() {
            return Some(Difference::Value {
                at: format!("row {} (cells)", row + 1),
                a: cx.len().to_string(),
                b: cy.len().to_string(),
            });
        }
    }
    (la.len() != lb.len()).then(|| Difference::Value {
        at: "rows".into(),
        a: la.len().to_string(),
        b: lb.len().to_string(),
    })
}

/// Compares two copies of one output; `None` when they match.
pub fn compare(rel: &str, a: &Path, b: &Path, tol: Tolerance) -> Option<Difference> {
    let (x, y) = match (std::fs::read(a), std::fs::read(b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) => {
            return Some(Difference::Unreadable {
                run: 1,
                error: e.to_string(),
            });
        }
        (_, Err(e)) => {
            return Some(Difference::Unreadable {
                run: 2,
                error: e.to_string(),
            });
        }
    };
    let ext = rel.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    let parsed = |f: Reader| -> Result<(Vec<Named>, Vec<Named>), Difference> {
        let unreadable = |run: usize| {
            move |e: TensorFileError| Difference::Unreadable {
                run,
                error: e.to_string(),
            }
        };
        let ta = f(&x).map_err(unreadable(1))?;
        let tb = f(&y).map_err(unreadable(2))?;
        Ok((ta, tb))
    };
    let tensor_reader: Option<Reader> = match ext.as_str() {
        "npy" => Some(npy),
        "safetensors" => Some(safetensors),
        "pt" | "pth" | "ckpt" | "bin" if x.starts_with(b"PK") => Some(checkpoint),
        _ => None,
    };
    if let Some(f) = tensor_reader {
        if x == y {
            return None;
        }
        return match parsed(f) {
            Ok((ta, tb)) => tensors(&ta, &tb, tol).or_else(|| {
                // Same tensors; other bytes (metadata, pickle memo order) differ.
                (tol.atol == 0.0 && tol.rtol == 0.0)
                    .then(|| bytes_diff(&x, &y))
                    .flatten()
            }),
            Err(d) => Some(d),
        };
    }
    match ext.as_str() {
        "json" => {
            let (ja, jb) = match (serde_json::from_slice(&x), serde_json::from_slice(&y)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) => {
                    return Some(Difference::Unreadable {
                        run: 1,
                        error: format!("JSON: {e}"),
                    });
                }
                (_, Err(e)) => {
                    return Some(Difference::Unreadable {
                        run: 2,
                        error: format!("JSON: {e}"),
                    });
                }
            };
            json_diff("", &ja, &jb, tol)
        }
        "csv" | "tsv" => table_diff(
            &String::from_utf8_lossy(&x),
            &String::from_utf8_lossy(&y),
            if ext == "tsv" { '\t' } else { ',' },
            tol,
        ),
        _ => bytes_diff(&x, &y),
    }
}

fn bytes_diff(x: &[u8], y: &[u8]) -> Option<Difference> {
    if x == y {
        return None;
    }
    let offset = x
        .iter()
        .zip(y)
        .position(|(p, q)| p != q)
        .unwrap_or(x.len().min(y.len()));
    Some(Difference::Bytes {
        offset: offset as u64,
        len_a: x.len() as u64,
        len_b: y.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str, v: &[f32]) -> Named {
        Named {
            name: name.into(),
            dtype: "f4".into(),
            shape: vec![v.len() as u64],
            data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    #[test]
    fn the_first_differing_tensor_with_counts() {
        let a = [
            named("a", &[1.0, 2.0]),
            named("b", &[1.0, 2.0, 3.0]),
            named("c", &[0.0]),
        ];
        let b = [
            named("a", &[1.0, 2.0]),
            named("b", &[1.0, 2.5, 3.5]),
            named("c", &[9.0]),
        ];
        let d = tensors(&a, &b, Tolerance::default()).unwrap();
        assert_eq!(
            d,
            Difference::Tensor {
                tensor: "b".into(),
                shape: vec![3],
                elements: 3,
                differing: 2,
                first_index: 1,
                max_abs: 0.5,
                max_rel: 0.2,
            }
        );
        let loose = Tolerance {
            rtol: 0.25,
            atol: 0.0,
        };
        assert!(
            matches!(tensors(&a, &b, loose), Some(Difference::Tensor { tensor, .. }) if tensor == "c")
        );
    }

    #[test]
    fn unreadable_tensor_files_keep_their_readers_words() {
        let err = npy(b"not an array").unwrap_err();
        assert!(matches!(err, TensorFileError::Npy(_)), "{err:?}");
        assert_eq!(err.to_string(), "no \\x93NUMPY magic");
        assert!(std::error::Error::source(&err).is_some());
        let err = safetensors(b"1234").unwrap_err();
        assert!(matches!(err, TensorFileError::Safetensors(_)), "{err:?}");
        assert_eq!(err.to_string(), "shorter than 8 bytes");
        assert!(std::error::Error::source(&err).is_some());
        let err = checkpoint(b"PK").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no zip end-of-central-directory record: not a torch.save zip"
        );

        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"two").unwrap();
        assert_eq!(
            compare("x.npy", &a, &b, Tolerance::default()),
            Some(Difference::Unreadable {
                run: 1,
                error: "no \\x93NUMPY magic".into()
            })
        );
    }

    #[test]
    fn halves_and_metrics() {
        assert_eq!(half(0x3c00).to_bits(), 1.0f64.to_bits());
        assert_eq!(half(0xc000).to_bits(), (-2.0f64).to_bits());
        assert!(half(0x7e00).is_nan());
        let a = serde_json::json!({"loss": 0.5, "acc": [0.9, 0.8]});
        let b = serde_json::json!({"loss": 0.5, "acc": [0.9, 0.81]});
        let d = json_diff("", &a, &b, Tolerance::default()).unwrap();
        assert_eq!(d.describe(), ".acc[1]: 0.8 vs 0.81");
        assert!(
            json_diff(
                "",
                &a,
                &b,
                Tolerance {
                    rtol: 0.0,
                    atol: 0.02
                }
            )
            .is_none()
        );
        // A diverged value never matches within a tolerance; integers compare exactly.
        let loose = Tolerance {
            rtol: 0.5,
            atol: 1.0,
        };
        assert!(!loose.equal(0.5, f64::INFINITY) && loose.equal(f64::INFINITY, f64::INFINITY));
        let big = (
            serde_json::json!(9_007_199_254_740_993_u64),
            serde_json::json!(9_007_199_254_740_992_u64),
        );
        assert!(json_diff("", &big.0, &big.1, Tolerance::default()).is_some());
        assert!(
            table_diff(
                "s\n9007199254740993\n",
                "s\n9007199254740992\n",
                ',',
                Tolerance::default()
            )
            .is_some()
        );
        let t = table_diff(
            "epoch,loss\n1,0.5\n2,0.25\n",
            "epoch,loss\n1,0.5\n2,0.26\n",
            ',',
            Tolerance::default(),
        )
        .unwrap();
        assert_eq!(t.describe(), "row 3, loss: 0.25 vs 0.26");
    }
}
