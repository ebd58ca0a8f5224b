//! `mem budget` from what a person types: a model file or a parameter count, a dtype name, a
//! card by name, size or `auto`, a recomputation mode; checked, with errors that name the flag.

use std::path::Path;

use crate::activations::{Attention, Device, Precision};
use crate::budget::{BudgetInput, ModelShape, Recompute, card, dtype_bytes};
use crate::error::{AutoGpuError, ModelError, UnknownOptimizer};

/// The options of `mem budget` as given.
#[derive(Debug, Clone, Copy)]
pub struct BudgetRequest<'a> {
    pub model: Option<&'a Path>,
    pub params: Option<&'a str>,
    pub train: bool,
    pub dtype: &'a str,
    pub optimizer: &'a str,
    pub mixed_precision: bool,
    pub batch: u64,
    pub seq: Option<u64>,
    pub grad_checkpointing: &'a str,
    pub zero_stage: u8,
    pub gpus: u64,
    /// A card name (`a100-80g`), a size (`24GiB`) or `auto` (the first visible GPU, by NVML).
    pub gpu: Option<&'a str>,
    pub buffer: f64,
    /// `fp32`, `autocast-bf16`, `autocast-fp16`, `bf16`, `fp16`, `mixed`; `None`: from `dtype`
    /// and `mixed_precision`.
    pub precision: Option<&'a str>,
    /// `eager` or `sdpa`.
    pub attention: &'a str,
    /// `cuda` or `cpu`.
    pub device: &'a str,
}

/// A checked request: what to budget, the model it describes, and the card's line when it was
/// read through NVML.
#[derive(Debug, Clone)]
pub struct BudgetPlan {
    pub shape: ModelShape,
    pub input: BudgetInput,
    pub card_label: Option<String>,
}

/// What is wrong with a `mem budget` request.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("--dtype {0}: expected bf16, fp16, fp32, int8 or int4")]
    Dtype(String),
    #[error("--gpu {0}: not a known card or a size (24GiB)")]
    Gpu(String),
    #[error("--buffer {0}: expected a fraction in [0, 1)")]
    Buffer(f64),
    #[error("--grad-checkpointing {0}: expected none, selective or full")]
    Recompute(String),
    #[error("--precision {0}: expected fp32, autocast-bf16, autocast-fp16, bf16, fp16 or mixed")]
    Precision(String),
    #[error("--attention {0}: expected eager or sdpa")]
    Attention(String),
    #[error("--device {0}: expected cuda or cpu")]
    Device(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Optimizer(#[from] UnknownOptimizer),
    #[error(transparent)]
    AutoGpu(#[from] AutoGpuError),
}

impl BudgetRequest<'_> {
    /// Checks every option, reads the model and (for `--gpu auto`) the card.
    pub fn plan(&self) -> Result<BudgetPlan, RequestError> {
        let weight_bytes = match dtype_bytes(self.dtype) {
            Some(0) => 0.5,
            Some(b) => b as f64,
            None => return Err(RequestError::Dtype(self.dtype.to_owned())),
        };
        let shape = crate::model::model_shape(self.model, self.params, weight_bytes)?;
        let mut card_label = None;
        let capacity = match self.gpu {
            None => None,
            Some("auto") => {
                let (label, total) = crate::card::auto_gpu()?;
                card_label = Some(label);
                Some(total)
            }
            Some(g) => Some(
                card(g)
                    .or_else(|| everybyte_core::bytesize::parse_bytes(g))
                    .ok_or_else(|| RequestError::Gpu(g.to_owned()))?,
            ),
        };
        if !(0.0..1.0).contains(&self.buffer) {
            return Err(RequestError::Buffer(self.buffer));
        }
        let recompute = match self.grad_checkpointing {
            "none" | "false" => Recompute::None,
            "selective" => Recompute::Selective,
            "full" | "true" => Recompute::Full,
            other => return Err(RequestError::Recompute(other.to_owned())),
        };
        let precision = match self.precision {
            Some(p) => Some(p.parse::<Precision>().map_err(RequestError::Precision)?),
            None if self.mixed_precision => Some(Precision::Mixed),
            None => match self.dtype.to_ascii_lowercase().as_str() {
                "fp32" | "float32" | "f32" => Some(Precision::Fp32),
                "bf16" | "bfloat16" => Some(Precision::Bf16),
                "fp16" | "float16" | "f16" | "half" => Some(Precision::Fp16),
                _ => None,
            },
        };
        let attention = match self.attention {
            "eager" => Attention::Eager,
            "sdpa" | "flash" | "flash_attention_2" => Attention::Sdpa,
            other => return Err(RequestError::Attention(other.to_owned())),
        };
        let device = match self.device {
            "cuda" | "gpu" => Device::Cuda,
            "cpu" => Device::Cpu,
            other => return Err(RequestError::Device(other.to_owned())),
        };
        let seq = self
            .seq
            .unwrap_or_else(|| shape.max_seq.unwrap_or(2048).min(2048));
        let input = BudgetInput {
            model: shape.clone(),
            train: self.train,
            weight_bytes,
            optimizer: self.optimizer.parse()?,
            mixed_precision: self.mixed_precision,
            batch: self.batch,
            seq,
            recompute,
            zero_stage: self.zero_stage,
            gpus: self.gpus,
            capacity,
            buffer: self.buffer,
            context_bytes: if device == Device::Cpu { 0 } else { 512 << 20 },
            precision,
            attention,
            device,
        };
        Ok(BudgetPlan {
            shape,
            input,
            card_label,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> BudgetRequest<'static> {
        BudgetRequest {
            model: None,
            params: Some("7B"),
            train: true,
            dtype: "bf16",
            optimizer: "adamw",
            mixed_precision: false,
            batch: 1,
            seq: None,
            grad_checkpointing: "none",
            zero_stage: 0,
            gpus: 1,
            gpu: Some("24GiB"),
            buffer: 0.15,
            precision: None,
            attention: "sdpa",
            device: "cuda",
        }
    }

    #[test]
    fn a_request_becomes_a_budget_input() {
        let plan = request().plan().unwrap();
        assert_eq!(plan.shape.params, 7_000_000_000);
        assert_eq!(plan.input.capacity, Some(24 << 30));
        assert_eq!(plan.input.seq, 2048);
        assert!(plan.card_label.is_none());
    }

    #[test]
    fn each_bad_option_is_named() {
        let err = |r: BudgetRequest<'_>| r.plan().unwrap_err().to_string();
        assert_eq!(
            err(BudgetRequest {
                dtype: "fp12",
                ..request()
            }),
            "--dtype fp12: expected bf16, fp16, fp32, int8 or int4"
        );
        assert_eq!(
            err(BudgetRequest {
                gpu: Some("tpu"),
                ..request()
            }),
            "--gpu tpu: not a known card or a size (24GiB)"
        );
        assert_eq!(
            err(BudgetRequest {
                buffer: 1.0,
                ..request()
            }),
            "--buffer 1: expected a fraction in [0, 1)"
        );
        assert_eq!(
            err(BudgetRequest {
                grad_checkpointing: "some",
                ..request()
            }),
            "--grad-checkpointing some: expected none, selective or full"
        );
        assert!(
            err(BudgetRequest {
                optimizer: "lion9",
                ..request()
            })
            .contains("unknown optimizer `lion9`")
        );
    }
}
