//! `data pack`: a dataset into one `.safetensors` file that PyTorch users load zero-copy
//! (`safetensors.numpy.load_file`, `numpy.memmap`). Numeric CSV columns become one
//! `[rows, cols]` tensor; an image folder becomes `uint8 [N, H, W, C]` at a fixed size plus
//! `int64` labels from the sub-folder names. Written streaming (the dataset never has to fit
//! in memory), through a temporary file renamed into place.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::DataError;
pub use crate::error::PackError;
use crate::table;

/// The `--size WIDTHxHEIGHT` of an image pack: both positive, at most 2^26 pixels.
pub fn parse_size(size: &str) -> Result<(u32, u32), DataError> {
    size.split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .filter(|(w, h)| *w > 0 && *h > 0 && u64::from(*w) * u64::from(*h) <= 1 << 26)
        .ok_or_else(|| DataError::Size(size.to_owned()))
}

/// What to do with a NaN or infinite cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NanPolicy {
    Error,
    DropRow,
    Fill(f64),
}

impl std::str::FromStr for NanPolicy {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s {
            "error" => Ok(NanPolicy::Error),
            "drop-row" => Ok(NanPolicy::DropRow),
            _ => s
                .strip_prefix("fill=")
                .and_then(|v| v.parse().ok())
                .map(NanPolicy::Fill)
                .ok_or_else(|| DataError::NanPolicy(s.to_owned())),
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PackError + '_ {
    move |source| PackError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One tensor's header entry, and the header's bytes padded to 8 as safetensors writers do.
fn header(tensors: &[(&str, &str, Vec<u64>, u64)], metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut map = serde_json::Map::new();
    if !metadata.is_empty() {
        map.insert(
            "__metadata__".into(),
            serde_json::to_value(metadata).unwrap_or_default(),
        );
    }
    let mut offset = 0u64;
    for (name, dtype, shape, bytes) in tensors {
        map.insert(
            (*name).to_owned(),
            serde_json::json!({ "dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes] }),
        );
        offset += bytes;
    }
    let mut h = serde_json::to_vec(&map).unwrap_or_default();
    while !(8 + h.len()).is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out
}

/// Summary of a pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub rows: u64,
    pub columns: Vec<String>,
    pub dropped_rows: u64,
}

impl Packed {
    /// What `data pack` prints when it is done: `wrote OUT: N rows (D dropped for NaN/inf), COLUMNS`.
    pub fn describe(&self, output: &Path) -> String {
        let dropped = if self.dropped_rows > 0 {
            format!(" ({} dropped for NaN/inf)", self.dropped_rows)
        } else {
            String::new()
        };
        format!(
            "wrote {}: {} rows{dropped}, {}",
            output.display(),
            self.rows,
            self.columns.join(", ")
        )
    }
}

#[allow(clippy::too_many_lines)] // two passes over the same records
/// Packs the numeric columns of a CSV/TSV into `[rows, cols]` of `f32` (or `f64`).
pub fn pack_csv(
    input: &Path,
    output: &Path,
    f64_out: bool,
    policy: NanPolicy,
    only: &[String],
) -> Result<Packed, PackError> {
    let delim = if input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
    {
        b'\t'
    } else {
        b','
    };
    let open = || std::fs::File::open(input).map_err(io_err(input));
    // Pass 1: the columns, their types, and how many rows survive the NaN policy.
    let scan = table::scan(open()?, delim).map_err(io_err(input))?;
    let names: Vec<String> = scan.columns.iter().map(|c| c.name.clone()).collect();
    let chosen: Vec<usize> = if only.is_empty() {
        (0..names.len())
            .filter(|&i| matches!(scan.columns[i].inferred(), "int" | "float"))
            .collect()
    } else {
        only.iter()
            .map(|n| {
                names
                    .iter()
                    .position(|c| c == n)
                    .ok_or_else(|| PackError::Input {
                        path: input.to_owned(),
                        problem: format!("no column `{n}` (columns: {})", names.join(", ")),
                    })
            })
            .collect::<Result<_, _>>()?
    };
    if chosen.is_empty() {
        return Err(PackError::Input {
            path: input.to_owned(),
            problem: "no numeric column to pack".into(),
        });
    }
    let mut kept: u64 = 0;
    let mut dropped: u64 = 0;
    let mut first = true;
    let mut failure: Option<PackError> = None;
    let row_values = |line: u64, rec: &[Vec<u8>]| -> Result<Option<Vec<f64>>, PackError> {
        let mut vals = Vec::with_capacity(chosen.len());
        for &i in &chosen {
            let cell = rec.get(i).map_or(&b""[..], Vec::as_slice);
            let column = names[i].clone();
            // Empty and NA-like cells are missing values: the NaN policy decides.
            let missing = matches!(
                table::trim_cell(cell),
                b"" | b"NA" | b"N/A" | b"n/a" | b"NULL" | b"null" | b"None" | b"nil" | b"#N/A"
            );
            let parsed = if missing {
                Some(f64::NAN)
            } else {
                table::parse_number(cell)
            };
            let v = parsed.ok_or_else(|| PackError::Cell {
                path: input.to_owned(),
                line,
                column: column.clone(),
                problem: format!("`{}` is not a number", String::from_utf8_lossy(cell).trim()),
            })?;
            if v.is_finite() {
                vals.push(v);
            } else {
                match policy {
                    NanPolicy::Error => {
                        return Err(PackError::Cell {
                            path: input.to_owned(),
                            line,
                            column,
                            problem: format!("{v} (use --nan-policy drop-row or fill=VALUE)"),
                        });
                    }
                    NanPolicy::DropRow => return Ok(None),
                    NanPolicy::Fill(x) => vals.push(x),
                }
            }
        }
        Ok(Some(vals))
    };
    table::for_each_record(open()?, delim, |line, rec| {
        if std::mem::take(&mut first) {
            return Ok(true);
        }
        match row_values(line, rec) {
            Ok(Some(_)) => kept += 1,
            Ok(None) => dropped += 1,
            Err(e) => {
                failure = Some(e);
                return Ok(false);
            }
        }
        Ok(true)
    })
    .map_err(io_err(input))?;
    if let Some(e) = failure {
        return Err(e);
    }
    // Pass 2: stream the rows.
    let size = if f64_out { 8 } else { 4 };
    let columns: Vec<String> = chosen.iter().map(|&i| names[i].clone()).collect();
    let mut meta = BTreeMap::new();
    meta.insert(
        "columns".into(),
        serde_json::to_string(&columns).unwrap_or_default(),
    );
    meta.insert("source".into(), input.display().to_string());
    meta.insert("format".into(), "everybyte data pack".into());
    let bytes = kept * chosen.len() as u64 * size;
    let head = header(
        &[(
            "data",
            if f64_out { "F64" } else { "F32" },
            vec![kept, chosen.len() as u64],
            bytes,
        )],
        &meta,
    );
    everybyte_core::write_atomic(output, |w| {
        w.write_all(&head)?;
        let mut first = true;
        let mut err = None;
        table::for_each_record(
            open().map_err(|e| io::Error::other(e.to_string()))?,
            delim,
            |line, rec| {
                if std::mem::take(&mut first) {
                    return Ok(true);
                }
                match row_values(line, rec) {
                    Ok(Some(vals)) => {
                        for v in vals {
                            if f64_out {
                                w.write_all(&v.to_le_bytes())?;
                            } else {
                                w.write_all(&(v as f32).to_le_bytes())?;
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        err = Some(e);
                        return Ok(false);
                    }
                }
                Ok(true)
            },
        )?;
        match err {
            Some(e) => Err(io::Error::other(e.to_string())),
            None => Ok(()),
        }
    })
    .map_err(io_err(output))?;
    Ok(Packed {
        rows: kept,
        columns,
        dropped_rows: dropped,
    })
}

/// Packs an image folder (`ROOT/CLASS/*.jpg`) into `images: uint8 [N, H, W, 3]` resized to
/// `width × height` (triangle filter), and `labels: int64 [N]` indexing the sorted class names.
pub fn pack_images(
    root: &Path,
    output: &Path,
    width: u32,
    height: u32,
) -> Result<Packed, PackError> {
    let mut classes: Vec<String> = std::fs::read_dir(root)
        .map_err(io_err(root))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    classes.sort();
    if classes.is_empty() {
        return Err(PackError::Input {
            path: root.to_owned(),
            problem: "no class folders (expected ROOT/CLASS/IMAGE)".into(),
        });
    }
    let mut items: Vec<(PathBuf, i64)> = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(class))
            .map_err(io_err(&root.join(class)))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && crate::scan::by_extension(&p.to_string_lossy()).is_some_and(|k| {
                        matches!(
                            k,
                            crate::scan::Kind::Jpeg
                                | crate::scan::Kind::Png
                                | crate::scan::Kind::Gif
                                | crate::scan::Kind::Webp
                                | crate::scan::Kind::Bmp
                        )
                    })
            })
            .collect();
        files.sort();
        let label = i64::try_from(label).unwrap_or(i64::MAX);
        items.extend(files.into_iter().map(|p| (p, label)));
    }
    let n = items.len() as u64;
    let per = u64::from(width) * u64::from(height) * 3;
    let mut meta = BTreeMap::new();
    meta.insert(
        "classes".into(),
        serde_json::to_string(&classes).unwrap_or_default(),
    );
    meta.insert("source".into(), root.display().to_string());
    meta.insert("format".into(), "everybyte data pack".into());
    let head = header(
        &[
            ("labels", "I64", vec![n], n * 8),
            (
                "images",
                "U8",
                vec![n, u64::from(height), u64::from(width), 3],
                n * per,
            ),
        ],
        &meta,
    );
    let mut failed: Option<PackError> = None;
    everybyte_core::write_atomic(output, |w| {
        w.write_all(&head)?;
        for (_, label) in &items {
            w.write_all(&label.to_le_bytes())?;
        }
        for (path, _) in &items {
            let loaded = std::fs::read(path)
                .map_err(image::ImageError::from)
                .and_then(|b| image::load_from_memory(&b));
            let img = match loaded {
                Ok(i) => i,
                Err(e) => {
                    failed = Some(PackError::Input { path: path.clone(), problem: format!("cannot decode: {e} (run everybyte data scan --decode to list every bad file)") });
                    return Err(io::Error::other("decode failed"));
                }
            };
            let rgb = img.to_rgb8();
            let resized = image::imageops::resize(&rgb, width, height, image::imageops::FilterType::Triangle);
            w.write_all(resized.as_raw())?;
        }
        Ok(())
    })
    .map_err(|e| failed.take().unwrap_or_else(|| PackError::Io { path: output.to_owned(), source: e }))?;
    Ok(Packed {
        rows: n,
        columns: classes,
        dropped_rows: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_or_say_what_is_expected() {
        assert_eq!(parse_size("224x224").unwrap(), (224, 224));
        assert_eq!(parse_size("64X48").unwrap(), (64, 48));
        for bad in ["224", "0x10", "10x0", "axb", "8192x8193", "-1x2", ""] {
            assert_eq!(
                parse_size(bad).unwrap_err().to_string(),
                format!("--size {bad}: expected WIDTHxHEIGHT, e.g. 224x224")
            );
        }
        assert_eq!(parse_size("8192x8192").unwrap(), (8192, 8192));
    }

    #[test]
    fn nan_policies_parse_or_say_what_is_expected() {
        assert_eq!("error".parse::<NanPolicy>().unwrap(), NanPolicy::Error);
        assert_eq!("drop-row".parse::<NanPolicy>().unwrap(), NanPolicy::DropRow);
        assert_eq!(
            "fill=0.5".parse::<NanPolicy>().unwrap(),
            NanPolicy::Fill(0.5)
        );
        assert_eq!(
            "fill".parse::<NanPolicy>().unwrap_err().to_string(),
            "`fill`: expected error, drop-row or fill=VALUE"
        );
    }
}
