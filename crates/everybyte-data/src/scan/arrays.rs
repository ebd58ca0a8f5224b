//! The array pass: an `.npy` header or a `.safetensors` header read and checked, and the NaN
//! and inf values of each float array counted, for the rules to judge.

use std::io::Read;
use std::path::Path;

use everybyte_core::Finding;

use crate::array::{self, Dtype, NonFinite};
use crate::facts::{ArrayFacts, ArrayFault, Fact, Facts, NonFiniteCount};

/// Counts the non-finite values of `elements` elements of `dtype` from byte `offset` on.
fn count_from(path: &Path, offset: u64, dtype: Dtype, elements: u64) -> std::io::Result<NonFinite> {
    let mut f = std::fs::File::open(path)?;
    std::io::copy(&mut (&mut f).take(offset), &mut std::io::sink())?;
    array::count_nonfinite(f, dtype, elements)
}

/// The NaN/inf count of an `.npy` array, its dtype named as NumPy names it.
pub(crate) fn npy_count(h: &array::Npy, counts: NonFinite) -> NonFiniteCount {
    let dtype = match h.descr.trim_start_matches(['<', '>', '|', '=']) {
        "f2" => "float16",
        "f4" => "float32",
        "f8" => "float64",
        other => other,
    };
    NonFiniteCount {
        tensor: None,
        dtype: dtype.to_owned(),
        elements: h.elements,
        counts,
    }
}

/// Checks an `.npy` file of `size` bytes.
pub(crate) fn check_npy(path: &Path, size: u64, facts: &mut Facts, findings: &mut Vec<Finding>) {
    let mut head = vec![0u8; 1 << 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head.truncate(n);
    let mut a = ArrayFacts::default();
    match array::npy_header(&head, size) {
        Err(e) => a.fault = Some(ArrayFault::Npy(e)),
        Ok(h) => {
            if let Ok(counts) = count_from(path, h.data_offset, h.dtype, h.elements) {
                a.nonfinite.push(npy_count(&h, counts));
            }
        }
    }
    facts.fact = Fact::Array(a);
    crate::rules::judge(facts, findings);
}

/// Checks a `.safetensors` file of `size` bytes.
pub(crate) fn check_safetensors(
    path: &Path,
    size: u64,
    facts: &mut Facts,
    findings: &mut Vec<Finding>,
) {
    let read_head = || -> std::io::Result<Vec<u8>> {
        let mut f = std::fs::File::open(path)?;
        let mut len = [0u8; 8];
        f.read_exact(&mut len)?;
        let n = u64::from_le_bytes(len)
            .min(everybyte_core::safetensors::MAX_HEADER_BYTES)
            .min(size.saturating_sub(8));
        let mut head = len.to_vec();
        f.take(n).read_to_end(&mut head)?;
        Ok(head)
    };
    let mut a = ArrayFacts::default();
    match read_head() {
        Err(e) => a.fault = Some(ArrayFault::SafetensorsUnreadable(e)),
        Ok(head) => match everybyte_core::safetensors::parse_header(&head, size) {
            Err(e) => a.fault = Some(ArrayFault::Safetensors(e)),
            Ok(header) => {
                for t in header.tensors {
                    let Some(dt) = array::safetensors_dtype(&t.dtype) else {
                        continue;
                    };
                    if dt.kind != 'f' {
                        continue;
                    }
                    let elements = (t.end - t.start) / dt.size as u64;
                    if let Ok(counts) = count_from(path, header.data_start + t.start, dt, elements)
                    {
                        a.nonfinite.push(NonFiniteCount {
                            tensor: Some(t.name),
                            dtype: t.dtype,
                            elements,
                            counts,
                        });
                    }
                }
            }
        },
    }
    facts.fact = Fact::Array(a);
    crate::rules::judge(facts, findings);
}
