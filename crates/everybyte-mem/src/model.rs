//! A model's size and shape, from what the user points at: a parameter count (`--params 7B`), a
//! Hugging Face `config.json`, a sharded `*.safetensors.index.json`, a `.safetensors` file or an
//! `.onnx` model (with the `config.json` beside the weights for the transformer shape), and the
//! largest model a project holds.

use std::path::Path;

use everybyte_core::FileKind;
use everybyte_core::discover::Project;

use crate::budget::{ModelShape, from_hf_config, index_total_size, parse_params};
pub use crate::error::ModelError;

/// The shape from a `config.json` beside a weights file, when there is one (the default shape
/// otherwise).
pub fn config_beside(path: &Path) -> ModelShape {
    path.parent()
        .map(|d| d.join("config.json"))
        .filter(|c| c.is_file())
        .and_then(|c| {
            let text = std::fs::read_to_string(c).ok()?;
            from_hf_config(&serde_json::from_str(&text).ok()?).ok()
        })
        .unwrap_or_default()
}

/// The model's shape from `--model` or `--params` (`params` wins). `dtype_bytes` (bytes per
/// weight) turns a sharded index's total size into a parameter count.
#[allow(clippy::case_sensitive_file_extension_comparisons)] // the name is lowercased first
pub fn model_shape(
    model: Option<&Path>,
    params: Option<&str>,
    dtype_bytes: f64,
) -> Result<ModelShape, ModelError> {
    if let Some(p) = params {
        let n = parse_params(p).ok_or_else(|| ModelError::Params(p.to_owned()))?;
        return Ok(ModelShape {
            params: n,
            ..ModelShape::default()
        });
    }
    let Some(path) = model else {
        return Err(ModelError::NoModel);
    };
    let lower = path.display().to_string().to_ascii_lowercase();
    if lower.ends_with(".onnx") {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
            path: path.to_owned(),
            source,
        })?;
        let w = crate::onnx::onnx_weights(&bytes).map_err(|reason| ModelError::Onnx {
            path: path.to_owned(),
            reason,
        })?;
        let mut shape = config_beside(path);
        shape.params = w.params;
        shape.architecture = Some(format!("ONNX, {} initializers", w.tensors));
        return Ok(shape);
    }
    if lower.ends_with(".safetensors") {
        let header = everybyte_core::safetensors::read_header(path).map_err(|reason| {
            ModelError::Safetensors {
                path: path.to_owned(),
                reason: Box::new(reason),
            }
        })?;
        // The shape comes from a config.json beside the weights, when there is one.
        let mut shape = config_beside(path);
        shape.params = header
            .tensors
            .iter()
            .map(everybyte_core::safetensors::Tensor::elements)
            .sum();
        return Ok(shape);
    }
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
        path: path.to_owned(),
        source,
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| ModelError::NotJson {
            path: path.to_owned(),
            source,
        })?;
    if let Some(total) = index_total_size(&v) {
        // A sharded index: its total size in bytes, and the config beside it for the shape.
        let mut shape = config_beside(path);
        shape.params = (total as f64 / dtype_bytes.max(0.5)) as u64;
        return Ok(shape);
    }
    from_hf_config(&v).map_err(|reason| ModelError::Config {
        path: path.to_owned(),
        reason,
    })
}

/// The size of the largest model the project holds, with where it was read: a sharded
/// index's `metadata.total_size`, else the largest `.safetensors` / `.onnx` / `.pt` file.
pub fn largest_model(project: &Project) -> Option<(u64, String)> {
    let mut best: Option<(u64, String)> = None;
    for f in &project.files {
        let size = if f.rel.ends_with(".safetensors.index.json") {
            std::fs::read_to_string(&f.path)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| index_total_size(&v))
        } else if f.kind == FileKind::ModelFile {
            std::fs::metadata(&f.path).ok().map(|m| m.len())
        } else {
            None
        };
        if let Some(s) = size.filter(|&s| best.as_ref().is_none_or(|(b, _)| s > *b)) {
            best = Some((s, f.rel.clone()));
        }
    }
    best
}

#[cfg(test)]
mod tests;
