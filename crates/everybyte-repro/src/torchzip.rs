//! PyTorch checkpoints (`torch.save`): a zip archive holding `data.pkl` and one raw storage per
//! tensor under `data/`. The pickle is read by the inert opcode reader of `everybyte-mem`
//! (nothing is imported or called); tensors are found as the `_rebuild_tensor_v2` calls the
//! pickle asks for, named by their path through dicts, lists and tuples.

use std::collections::HashMap;

use everybyte_mem::pickle::{Value, read_pickle};

use crate::error::{CheckpointError, TorchTensorError, ZipError};

/// A zip entry (stored, uncompressed, as `torch.save` writes them; deflated entries are
/// reported, not read).
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    method: u16,
    offset: usize,
    size: usize,
}

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64le(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// A little-endian field of `b` at `at`, read by `read`, or why it is missing.
fn field<T>(b: &[u8], at: usize, read: impl Fn(&[u8], usize) -> Option<T>) -> Result<T, ZipError> {
    read(b, at).ok_or(ZipError::Truncated { at })
}

/// Reads the central directory (zip64 included).
fn entries(b: &[u8]) -> Result<Vec<Entry>, ZipError> {
    let tail = b.len().saturating_sub(65_557);
    let eocd = (tail..b.len().saturating_sub(21))
        .rev()
        .find(|&i| b[i..].starts_with(b"PK\x05\x06"))
        .ok_or(ZipError::NoEndRecord)?;
    let mut count = u64::from(field(b, eocd + 10, u16le)?);
    let mut cd = u64::from(field(b, eocd + 16, u32le)?);
    if cd == u64::from(u32::MAX) || count == u64::from(u16::MAX) {
        // zip64: the locator sits just before the end record.
        let loc = eocd.checked_sub(20).ok_or(ZipError::TruncatedLocator)?;
        if !b[loc..].starts_with(b"PK\x06\x07") {
            return Err(ZipError::LocatorMissing { at: loc });
        }
        let rec = field(b, loc + 8, u64le)?;
        let rec = usize::try_from(rec).map_err(|_| ZipError::BadRecordOffset(rec))?;
        if !b.get(rec..).is_some_and(|r| r.starts_with(b"PK\x06\x06")) {
            return Err(ZipError::EndRecordMissing { at: rec });
        }
        count = field(b, rec + 32, u64le)?;
        cd = field(b, rec + 48, u64le)?;
    }
    let mut at = usize::try_from(cd).map_err(|_| ZipError::BadDirectoryOffset(cd))?;
    let mut out = Vec::new();
    for _ in 0..count.min(1_000_000) {
        if !b.get(at..).is_some_and(|r| r.starts_with(b"PK\x01\x02")) {
            return Err(ZipError::DirectoryEntry { at });
        }
        let method = field(b, at + 10, u16le)?;
        let mut size = u64::from(field(b, at + 24, u32le)?);
        let name_len = usize::from(field(b, at + 28, u16le)?);
        let extra_len = usize::from(field(b, at + 30, u16le)?);
        let comment_len = usize::from(field(b, at + 32, u16le)?);
        let mut local = u64::from(field(b, at + 42, u32le)?);
        let name = String::from_utf8_lossy(
            b.get(at + 46..at + 46 + name_len)
                .ok_or(ZipError::TruncatedName { at: at + 46 })?,
        )
        .into_owned();
        // zip64 extra field: the 64-bit sizes and offset, in order, for the fields set to max.
        let extra = b
            .get(at + 46 + name_len..at + 46 + name_len + extra_len)
            .unwrap_or(&[]);
        let mut e = 0;
        while e + 4 <= extra.len() {
            let id = u16le(extra, e).unwrap_or(0);
            let len = usize::from(u16le(extra, e + 2).unwrap_or(0));
            if id == 1 {
                let mut f = e + 4;
                let compressed_max = u32le(b, at + 20) == Some(u32::MAX);
                if size == u64::from(u32::MAX) {
                    size = u64le(extra, f).unwrap_or(size);
                    f += 8;
                }
                if compressed_max {
                    f += 8;
                }
                if local == u64::from(u32::MAX) {
                    local = u64le(extra, f).unwrap_or(local);
                }
            }
            e += 4 + len;
        }
        let Ok(local) = usize::try_from(local) else {
            return Err(ZipError::BadLocalOffset {
                name,
                offset: local,
            });
        };
        if !b.get(local..).is_some_and(|r| r.starts_with(b"PK\x03\x04")) {
            return Err(ZipError::LocalHeaderMissing { name, at: local });
        }
        let lname = usize::from(field(b, local + 26, u16le)?);
        let lextra = usize::from(field(b, local + 28, u16le)?);
        let offset = local + 30 + lname + lextra;
        let Ok(size) = usize::try_from(size) else {
            return Err(ZipError::BadSize { name, size });
        };
        if offset.checked_add(size).is_none_or(|end| end > b.len()) {
            return Err(ZipError::DataPastEnd { name, offset, size });
        }
        out.push(Entry {
            name,
            method,
            offset,
            size,
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(out)
}

/// One tensor of a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    /// `state_dict.layer.weight`: the keys leading to it.
    pub name: String,
    /// numpy-style kind and size: `f4`, `f2`, `bf2`, `i8`, `u1`, `b1`.
    pub dtype: &'static str,
    pub shape: Vec<u64>,
    /// The elements, row-major, little-endian, `itemsize` bytes each.
    pub data: Vec<u8>,
}

fn storage_dtype(name: &str) -> Option<&'static str> {
    Some(match name {
        "FloatStorage" => "f4",
        "DoubleStorage" => "f8",
        "HalfStorage" => "f2",
        "BFloat16Storage" => "bf2",
        "LongStorage" => "i8",
        "IntStorage" => "i4",
        "ShortStorage" => "i2",
        "CharStorage" => "i1",
        "ByteStorage" => "u1",
        "BoolStorage" => "b1",
        _ => return None,
    })
}

pub fn itemsize(dtype: &str) -> usize {
    dtype
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .unwrap_or(1)
}

fn ints(v: &Value) -> Option<Vec<i64>> {
    match v {
        Value::Tuple(items) | Value::List(items) => items.iter().map(Value::as_i64).collect(),
        _ => None,
    }
}

struct Walker<'a> {
    storages: &'a HashMap<String, &'a [u8]>,
    out: Vec<TorchTensor>,
    errors: Vec<TorchTensorError>,
}

impl Walker<'_> {
    fn tensor(&mut self, name: &str, args: &[Value]) {
        // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks, ...)
        let Some(Value::PersId(pid)) = args.first() else {
            self.errors.push(TorchTensorError::NoStorage {
                name: name.to_owned(),
            });
            return;
        };
        let Value::Tuple(p) = pid.as_ref() else {
            return;
        };
        let (Some(Value::Global { name: cls, .. }), Some(key)) =
            (p.get(1), p.get(2).and_then(Value::as_str))
        else {
            self.errors.push(TorchTensorError::StorageReference {
                name: name.to_owned(),
            });
            return;
        };
        let Some(dtype) = storage_dtype(cls) else {
            self.errors.push(TorchTensorError::StorageType {
                name: name.to_owned(),
                storage: cls.clone(),
            });
            return;
        };
        let (Some(offset), Some(shape), Some(stride)) = (
            args.get(1).and_then(Value::as_i64),
            args.get(2).and_then(ints),
            args.get(3).and_then(ints),
        ) else {
            self.errors.push(TorchTensorError::Arguments {
                name: name.to_owned(),
            });
            return;
        };
        let Some(storage) = self.storages.get(key) else {
            self.errors.push(TorchTensorError::MissingStorage {
                name: name.to_owned(),
                key: key.to_owned(),
            });
            return;
        };
        let size = itemsize(dtype);
        let count: Option<u64> = shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(u64::try_from(d).ok()?));
        // Views may repeat elements (stride 0) but may not reach past the storage: bound the
        // largest index they touch, with arithmetic that cannot overflow.
        let last = shape
            .iter()
            .zip(&stride)
            .try_fold(offset, |acc, (&d, &st)| {
                if d == 0 {
                    return Some(acc);
                }
                acc.checked_add((d - 1).checked_mul(st)?)
            });
        let fits = last
            .is_some_and(|l| l >= 0 && (l as u64) < (storage.len() / size.max(1)) as u64)
            || count == Some(0);
        let Some(count) = count.filter(|&c| fits && c <= 1 << 31) else {
            self.errors.push(TorchTensorError::DoesNotFit {
                name: name.to_owned(),
                shape,
                stride,
            });
            return;
        };
        let mut data = Vec::with_capacity(count as usize * size);
        // Gather element by element through the strides (views and transposes included).
        let mut index = vec![0i64; shape.len()];
        for _ in 0..count {
            let at = index
                .iter()
                .zip(&stride)
                .try_fold(offset, |acc, (i, s)| acc.checked_add(i.checked_mul(*s)?));
            let start = at
                .and_then(|a| usize::try_from(a).ok())
                .and_then(|a| a.checked_mul(size));
            let Some(bytes) = start.and_then(|s| storage.get(s..s.checked_add(size)?)) else {
                self.errors.push(TorchTensorError::PastStorage {
                    name: name.to_owned(),
                });
                return;
            };
            data.extend_from_slice(bytes);
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        self.out.push(TorchTensor {
            name: name.to_owned(),
            dtype,
            shape: shape.iter().map(|&d| d as u64).collect(),
            data,
        });
    }

    fn walk(&mut self, name: &str, v: &Value, depth: usize) {
        if depth > 64 {
            return;
        }
        let join = |k: &str| {
            if name.is_empty() {
                k.to_owned()
            } else {
                format!("{name}.{k}")
            }
        };
        match v {
            Value::Call { callable, args } => {
                if let (Value::Global { name: f, .. }, Value::Tuple(a)) =
                    (callable.as_ref(), args.as_ref())
                {
                    if f == "_rebuild_tensor_v2" || f == "_rebuild_tensor" {
                        self.tensor(name, a);
                        return;
                    }
                    if f == "_rebuild_parameter" || f == "_rebuild_parameter_with_state" {
                        if let Some(inner) = a.first() {
                            self.walk(name, inner, depth + 1);
                        }
                        return;
                    }
                }
                self.walk(name, args, depth + 1);
            }
            Value::Build { obj, state } => {
                self.walk(name, obj, depth + 1);
                self.walk(name, state, depth + 1);
            }
            Value::Dict(pairs) => {
                for (k, v) in pairs {
                    let key = match k {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        other => other.kind().to_owned(),
                    };
                    self.walk(&join(&key), v, depth + 1);
                }
            }
            Value::List(items) | Value::Tuple(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(&join(&i.to_string()), item, depth + 1);
                }
            }
            _ => {}
        }
    }
}

/// The tensors of a `torch.save` file, in pickle order. Never executes anything.
pub fn read_checkpoint(bytes: &[u8]) -> Result<Vec<TorchTensor>, CheckpointError> {
    let list = entries(bytes)?;
    let pkl = list
        .iter()
        .find(|e| e.name.ends_with("/data.pkl") || e.name == "data.pkl")
        .ok_or(CheckpointError::NoPickle)?;
    let prefix = pkl.name.trim_end_matches("data.pkl").to_owned();
    if pkl.method != 0 {
        return Err(CheckpointError::CompressedPickle {
            name: pkl.name.clone(),
        });
    }
    let mut storages: HashMap<String, &[u8]> = HashMap::new();
    for e in &list {
        if let Some(key) = e.name.strip_prefix(&format!("{prefix}data/")) {
            if e.method != 0 {
                return Err(CheckpointError::CompressedStorage {
                    name: e.name.clone(),
                });
            }
            storages.insert(key.to_owned(), &bytes[e.offset..e.offset + e.size]);
        }
    }
    let value =
        read_pickle(&bytes[pkl.offset..pkl.offset + pkl.size]).map_err(CheckpointError::Pickle)?;
    let mut w = Walker {
        storages: &storages,
        out: Vec::new(),
        errors: Vec::new(),
    };
    w.walk("", &value, 0);
    if let Some(e) = w.errors.into_iter().next() {
        return Err(e.into());
    }
    Ok(w.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [&b""[..], b"PK\x05\x06", b"not a zip at all", &[0u8; 100]] {
            assert!(read_checkpoint(bad).is_err());
        }
        let mut eocd = vec![0u8; 22];
        eocd[..4].copy_from_slice(b"PK\x05\x06");
        eocd[10] = 5;
        eocd[16..20].copy_from_slice(&1000u32.to_le_bytes());
        let err = read_checkpoint(&eocd).unwrap_err();
        assert_eq!(
            err,
            CheckpointError::Zip(ZipError::DirectoryEntry { at: 1000 })
        );
        assert_eq!(
            err.to_string(),
            "central directory entry expected at byte 1000"
        );
        assert_eq!(
            read_checkpoint(b"not a zip at all")
                .unwrap_err()
                .to_string(),
            "no zip end-of-central-directory record: not a torch.save zip"
        );
    }

    #[test]
    fn a_zip_without_a_pickle_and_a_pickle_that_does_not_read() {
        // One stored entry `name` holding `data`, then the central directory and end record.
        fn zip(name: &str, data: &[u8]) -> Vec<u8> {
            let mut z = b"PK\x03\x04".to_vec();
            z.extend([0u8; 22]);
            z.extend((name.len() as u16).to_le_bytes());
            z.extend([0u8; 2]);
            z.extend(name.as_bytes());
            z.extend(data);
            let cd = z.len();
            z.extend(b"PK\x01\x02");
            z.extend([0u8; 16]);
            z.extend((data.len() as u32).to_le_bytes());
            z.extend((data.len() as u32).to_le_bytes());
            z.extend((name.len() as u16).to_le_bytes());
            z.extend([0u8; 12]);
            z.extend(0u32.to_le_bytes());
            z.extend(name.as_bytes());
            let end = z.len();
            z.extend(b"PK\x05\x06");
            z.extend([0u8; 4]);
            z.extend(1u16.to_le_bytes());
            z.extend(1u16.to_le_bytes());
            z.extend(((end - cd) as u32).to_le_bytes());
            z.extend((cd as u32).to_le_bytes());
            z.extend([0u8; 2]);
            z
        }
        let err = read_checkpoint(&zip("archive/other", b"x")).unwrap_err();
        assert_eq!(err, CheckpointError::NoPickle);
        assert_eq!(
            err.to_string(),
            "no data.pkl in the archive: not a torch.save file"
        );
        let err = read_checkpoint(&zip("archive/data.pkl", b"\xff")).unwrap_err();
        let CheckpointError::Pickle(pickle) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(err.to_string(), format!("data.pkl: {pickle}"));
        assert!(std::error::Error::source(&err).is_some());
    }
}
