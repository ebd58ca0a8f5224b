//! What the server needs of a model runtime: a small [`Engine`] trait (run a batch of
//! validated inputs, describe the model's inputs and outputs, say whether batching is proven
//! safe), and the model description it gives. ONNX Runtime's engine is [`crate::onnx`]; the
//! queue, batching, validation and drain work with any engine.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

pub use crate::error::EngineError;
pub use crate::onnx::{
    Device, Exec, LibraryNotFound, OnnxEngine, find_library, init, runtime_version,
};
use crate::repo::ModelSettings;
use crate::tensor::{DataType, Tensor};

/// A loaded model that runs batches; the model's runner threads share it, and may run it
/// at the same time.
pub trait Engine: Send + Sync + 'static {
    /// What the model is: its inputs and outputs (validation and metadata), and its batching
    /// (`max_batch` 0 unless batching along dimension 0 is proven safe).
    fn info(&self) -> &Arc<ModelInfo>;

    /// Runs the model on `inputs` (one per model input, in model order, already validated;
    /// the first dimension the batch of every request concatenated) and returns every output,
    /// in the order of [`ModelInfo::outputs`].
    fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, EngineError>;
}

/// One input or output of a model. `shape` holds -1 for a dynamic dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct IoSpec {
    pub name: String,
    pub datatype: DataType,
    pub shape: Vec<i64>,
}

/// What a loaded model is, for validation, metadata and batching.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    pub inputs: Vec<IoSpec>,
    pub outputs: Vec<IoSpec>,
    /// Most rows one request may carry along dimension 0 (Triton's `max_batch_size`); 0: the
    /// model does not batch, and each request runs alone.
    pub max_batch: usize,
    /// Largest batch the runners form from queued requests: the execution plan's
    /// ([`crate::plan`]), `max_batch` until one is chosen. Requests are accepted up to
    /// `max_batch` rows whatever it is.
    pub batch_limit: usize,
    /// Why batching is off, when the model's shapes forbid it.
    pub unbatchable: Option<String>,
    pub settings: ModelSettings,
    /// The warm-up inference (zeros; dynamic dimensions 16, the batch 1 or 2).
    pub warmup: Warmup,
}

/// How the warm-up inference of a model went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warmup {
    NotRun,
    Ok,
    /// It failed: what the engine said.
    Failed(String),
}

impl std::fmt::Display for Warmup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warmup::NotRun => f.write_str("not run"),
            Warmup::Ok => f.write_str("ok"),
            Warmup::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

impl ModelInfo {
    /// An input's or output's dims as a model configuration gives them: without the batch
    /// dimension when the model batches (`max_batch_size` > 0), as Triton writes them.
    pub fn config_dims(&self, s: &IoSpec) -> Vec<i64> {
        if self.max_batch > 0 {
            s.shape.get(1..).unwrap_or(&[]).to_vec()
        } else {
            s.shape.clone()
        }
    }
}

/// Zero-filled inputs: dynamic dimensions become `rows` (the first) or 16.
pub fn warmup_inputs(info: &ModelInfo, rows: i64) -> Vec<Tensor> {
    zero_inputs(info, |_, i, d| match (d >= 0, i) {
        (true, _) => d,
        (false, 0) => rows,
        (false, _) => 16,
    })
}

/// Zero-filled inputs, each dimension `dim(input, index, declared)` (declared: -1 where
/// dynamic).
pub fn zero_inputs(info: &ModelInfo, dim: impl Fn(&IoSpec, usize, i64) -> i64) -> Vec<Tensor> {
    info.inputs
        .iter()
        .map(|s| {
            let shape: Vec<i64> = s
                .shape
                .iter()
                .enumerate()
                .map(|(i, &d)| dim(s, i, d))
                .collect();
            let n =
                crate::tensor::element_count(&shape).unwrap_or(0) * s.datatype.size().unwrap_or(1);
            Tensor {
                name: s.name.clone(),
                datatype: s.datatype,
                shape,
                data: Bytes::from(vec![0u8; n]),
            }
        })
        .collect()
}
