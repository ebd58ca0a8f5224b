//! The weights of an ONNX model, counted from its protobuf without decoding any tensor data:
//! `ModelProto.graph` (field 7) → `GraphProto.initializer` (field 5) → each `TensorProto`'s
//! `dims` (field 1) and `data_type` (field 2). Every length is checked against the input.

pub use crate::error::OnnxError;

/// What the initializers add up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnnxWeights {
    pub tensors: u64,
    pub params: u64,
    pub bytes: u64,
}

fn varint(b: &[u8], pos: &mut usize) -> Result<u64, OnnxError> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos).ok_or(OnnxError::TruncatedVarint(*pos))?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(OnnxError::LongVarint(*pos))
}

/// Calls `f(field, wire_type, payload)` for each field of a message; length-delimited
/// payloads are the bytes, varints are returned in `value`.
fn fields(
    b: &[u8],
    mut f: impl FnMut(u64, u8, &[u8], u64) -> Result<(), OnnxError>,
) -> Result<(), OnnxError> {
    let mut pos = 0;
    while pos < b.len() {
        let key = varint(b, &mut pos)?;
        let (field, wire) = (key >> 3, (key & 7) as u8);
        match wire {
            0 => {
                let v = varint(b, &mut pos)?;
                f(field, 0, &[], v)?;
            }
            1 => {
                pos = pos
                    .checked_add(8)
                    .filter(|p| *p <= b.len())
                    .ok_or(OnnxError::Truncated64)?;
            }
            2 => {
                let len =
                    usize::try_from(varint(b, &mut pos)?).map_err(|_| OnnxError::LengthOverflow)?;
                let end = pos
                    .checked_add(len)
                    .filter(|e| *e <= b.len())
                    .ok_or(OnnxError::PastEnd { field, len })?;
                f(field, 2, &b[pos..end], 0)?;
                pos = end;
            }
            5 => {
                pos = pos
                    .checked_add(4)
                    .filter(|p| *p <= b.len())
                    .ok_or(OnnxError::Truncated32)?;
            }
            w => {
                return Err(OnnxError::WireType { wire: w, at: pos });
            }
        }
    }
    Ok(())
}

fn dtype_bytes(t: u64) -> u64 {
    match t {
        2 | 3 | 9 | 17..=20 => 1,
        4 | 5 | 10 | 16 => 2,
        1 | 6 | 12 => 4,
        7 | 11 | 13 | 14 => 8,
        15 => 16,
        _ => 0,
    }
}

/// Counts the initializers of an ONNX model.
pub fn onnx_weights(model: &[u8]) -> Result<OnnxWeights, OnnxError> {
    let mut out = OnnxWeights::default();
    let mut graphs = 0;
    fields(model, |field, wire, payload, _| {
        if field == 7 && wire == 2 {
            graphs += 1;
            fields(payload, |gf, gw, tensor, _| {
                if gf == 5 && gw == 2 {
                    let mut dims: Vec<u64> = Vec::new();
                    let mut dtype = 0;
                    fields(tensor, |tf, tw, p, v| {
                        match (tf, tw) {
                            (1, 0) => dims.push(v),
                            (1, 2) => {
                                let mut pos = 0;
                                while pos < p.len() {
                                    dims.push(varint(p, &mut pos)?);
                                }
                            }
                            (2, 0) => dtype = v,
                            _ => {}
                        }
                        Ok(())
                    })?;
                    let n = dims
                        .iter()
                        .try_fold(1u64, |a, &d| a.checked_mul(d))
                        .ok_or(OnnxError::DimsOverflow)?;
                    out.tensors += 1;
                    out.params = out.params.saturating_add(n);
                    out.bytes = out
                        .bytes
                        .saturating_add(n.saturating_mul(dtype_bytes(dtype)));
                }
                Ok(())
            })?;
        }
        Ok(())
    })?;
    if graphs == 0 {
        return Err(OnnxError::NoGraph);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(tag: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![tag, u8::try_from(payload.len()).unwrap()];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn counts_initializers_packed_and_unpacked() {
        // TensorProto { dims: 3, dims: 4 (unpacked), data_type: FLOAT }
        let t1 = [0x08, 3, 0x08, 4, 0x10, 1];
        // TensorProto { dims: [4, 5] packed, data_type: FLOAT16, name: "b" }
        let t2 = [0x0A, 2, 4, 5, 0x10, 10, 0x42, 1, b'b'];
        let mut graph = ld(0x2A, &t1);
        graph.extend(ld(0x2A, &t2));
        graph.extend(ld(0x0A, b"node-ignored"));
        let mut model = vec![0x08, 8]; // ir_version
        model.extend(ld(0x3A, &graph));
        let w = onnx_weights(&model).unwrap();
        assert_eq!(
            w,
            OnnxWeights {
                tensors: 2,
                params: 32,
                bytes: 12 * 4 + 20 * 2
            }
        );
        for cut in 0..model.len() {
            let _ = onnx_weights(&model[..cut]);
        }
        assert!(onnx_weights(b"not protobuf at all \xff\xff").is_err());
    }
}
