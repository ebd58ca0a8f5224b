//! What autograd keeps for the backward pass of a training step, tensor by tensor, as the
//! Hugging Face implementations of each architecture family run it in PyTorch: the saved
//! inputs of every matmul, norm, activation, softmax and dropout, in the dtype each is saved in
//! under the chosen precision (autocast runs layer norm, softmax and the loss in fp32 and saves
//! a bf16 copy of every matmul input and weight), for eager attention (which keeps the s×s
//! probabilities) or fused `scaled_dot_product_attention` (which keeps its inputs, output and
//! log-sum-exp). Validated against PyTorch's own accounting on the CPU (`bench/mem-validate.sh`,
//! `torch.autograd.graph.saved_tensors_hooks`) for GPT-2, a Llama-style decoder, BERT and ViT.

// The papers' and the shapes' notation: b, s, h, a, t, p (precision), d (dimensions).
#![allow(clippy::many_single_char_names)]

use serde::Serialize;

use crate::budget::{ModelShape, Recompute};

/// An implementation family: what its layers save.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// GPT-2: fused QKV, LayerNorm before each block, `gelu_new`, dropout.
    Gpt2,
    /// BERT / RoBERTa: separate Q, K, V, LayerNorm after each residual, GELU, dropout.
    Bert,
    /// ViT: BERT's layer with LayerNorm before each block, on patches; eager softmax in fp32.
    Vit,
    /// Llama-style decoders (Mistral, Qwen, …): RMSNorm, rotary embeddings, grouped K/V, a
    /// gated SiLU MLP, softmax always in fp32 in eager attention.
    Llama,
}

impl Family {
    /// By `model_type`; decoders not named are Llama-style.
    pub fn of(model_type: &str) -> Family {
        match model_type {
            "gpt2" => Family::Gpt2,
            "bert" | "roberta" => Family::Bert,
            "vit" => Family::Vit,
            _ => Family::Llama,
        }
    }
}

/// The MLP activation as the implementation computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Act {
    /// `gelu_new` / `gelu_pytorch_tanh` written out in Python ops: four saved tensors.
    GeluTanhPython,
    /// One fused op that saves its input (`gelu`, `relu`).
    Fused,
    /// A gated MLP: `act(gate(x)) * up(x)` (SiLU, GeGLU).
    Gated,
}

impl Act {
    pub fn of(name: &str, family: Family) -> Act {
        if family == Family::Llama {
            return Act::Gated;
        }
        match name {
            "gelu_new" | "gelu_fast" | "quick_gelu" => Act::GeluTanhPython,
            _ => Act::Fused,
        }
    }
}

/// How a training step computes and stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// Everything in fp32.
    Fp32,
    /// fp32 weights, gradients and AdamW states; `torch.autocast` to bf16.
    AutocastBf16,
    /// The same with fp16 (and a GradScaler).
    AutocastFp16,
    /// Weights, gradients and optimizer states in bf16 (`model.to(torch.bfloat16)`).
    Bf16,
    Fp16,
    /// bf16 weights and gradients with fp32 master weights and optimizer states: the ZeRO
    /// paper's accounting (DeepSpeed, Megatron).
    Mixed,
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "fp32" => Precision::Fp32,
            "autocast-bf16" | "amp-bf16" => Precision::AutocastBf16,
            "autocast-fp16" | "amp-fp16" | "amp" => Precision::AutocastFp16,
            "bf16" => Precision::Bf16,
            "fp16" => Precision::Fp16,
            "mixed" => Precision::Mixed,
            other => return Err(other.to_owned()),
        })
    }
}

impl Precision {
    pub fn autocast(self) -> bool {
        matches!(self, Precision::AutocastBf16 | Precision::AutocastFp16)
    }
    /// Bytes of a matmul's output and saved inputs.
    pub fn compute(self) -> f64 {
        if self == Precision::Fp32 { 4.0 } else { 2.0 }
    }
    /// Bytes of the residual stream (fp32 under autocast: embeddings and residual adds).
    pub fn residual(self) -> f64 {
        match self {
            Precision::Fp32 | Precision::AutocastBf16 | Precision::AutocastFp16 => 4.0,
            _ => 2.0,
        }
    }
    /// Bytes of a weight, a gradient (`Mixed`: the bf16 working copy).
    pub fn param(self) -> f64 {
        self.residual()
    }
    /// Optimizer states are kept in the parameters' dtype (PyTorch's optimizers), in fp32
    /// for `Mixed`.
    pub fn state_scale(self) -> f64 {
        match self {
            Precision::Bf16 | Precision::Fp16 => 0.5,
            _ => 1.0,
        }
    }
}

/// The attention implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attention {
    /// Matmul, softmax, matmul: keeps the b·a·s·s probabilities.
    Eager,
    /// `scaled_dot_product_attention` (flash or memory-efficient): keeps q, k, v, the output
    /// and the log-sum-exp.
    Sdpa,
}

/// Where it runs: CUDA saves dropout masks as bool; the CPU saves them in the input's dtype
/// and runs attention with dropout through the fp32 math path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Device {
    Cuda,
    Cpu,
}

/// The saved bytes of one training forward pass, by part.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Saved {
    /// All transformer layers.
    pub layers: f64,
    pub per_layer: f64,
    /// bf16/fp16 copies of the weights autocast makes and backward keeps.
    pub weight_copies: f64,
    /// Embeddings, the final norm, the head and the loss (the fp32 log-softmax of the logits).
    pub head: f64,
}

/// What a step runs with.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    pub precision: Precision,
    pub attention: Attention,
    pub device: Device,
    pub recompute: Recompute,
}

struct Dims {
    t: f64,
    h: f64,
    i: f64,
    q: f64,
    kv: f64,
    scores: f64,
    lse: f64,
    rope: f64,
}

/// A norm's saved bytes over `t` tokens, `elems` elements in all.
fn norm(family: Family, p: Precision, t: f64, elems: f64) -> f64 {
    let stat = if p == Precision::Fp32 || p.autocast() {
        4.0
    } else {
        2.0
    };
    match family {
        // HF's RMSNorm: an fp32 copy of the input, the fp32 rstd, the normalized input in the
        // input's dtype.
        Family::Llama => 4.0 * elems + 4.0 * t + p.residual() * elems,
        // LayerNorm: its input (fp32 under autocast), mean and rstd.
        _ => p.residual() * elems + 2.0 * stat * t,
    }
}

/// One transformer layer's saved bytes.
fn layer(m: &ModelShape, family: Family, s: Setup, d: &Dims) -> (f64, f64) {
    let p = s.precision;
    let c = p.compute();
    let cpu = s.device == Device::Cpu;
    // Linear inputs: autocast casts the (fp32) input once per projection; otherwise the
    // projections share the norm's output.
    let copies = |n: f64| if p.autocast() { n } else { 1.0 };
    let qkv_proj = if family == Family::Gpt2 { 1.0 } else { 3.0 };
    let fp32_softmax =
        matches!(family, Family::Llama | Family::Vit) || p.autocast() || p == Precision::Fp32;
    let f = if fp32_softmax { 4.0 } else { c };
    let mask_h = if cpu { c } else { 1.0 };
    // GPT-2 casts the probabilities to the value's dtype before dropout; BERT drops in fp32.
    let mask_p = if cpu {
        if family == Family::Gpt2 { c } else { f }
    } else {
        1.0
    };
    let attn_dropout = m.attn_dropout > 0.0;
    let hidden_dropout = m.hidden_dropout > 0.0;
    let mut attention_scores = 0.0;
    let mut bytes = norm(family, p, d.t, d.h) + copies(qkv_proj) * c * d.h;
    if family == Family::Llama {
        // The rotary cos and sin tables.
        bytes += 2.0 * d.rope * p.residual();
    }
    let math_path = s.attention == Attention::Eager || cpu && attn_dropout;
    if math_path {
        // q and kᵀ copies for the first matmul, v for the second (K/V repeated to all heads).
        let w = if s.attention == Attention::Sdpa {
            4.0
        } else {
            c
        };
        bytes += 3.0 * w * d.q;
        let (soft, probs) = if s.attention == Attention::Sdpa {
            // The CPU's math fallback runs in fp32.
            (4.0, if attn_dropout { 4.0 + 4.0 } else { 0.0 })
        } else if attn_dropout {
            (f, mask_p + c)
        } else {
            (
                f,
                if fp32_softmax == (p == Precision::Fp32) {
                    0.0
                } else {
                    c
                },
            )
        };
        attention_scores = (soft + probs) * d.scores;
        bytes += attention_scores;
        if family == Family::Gpt2 && s.attention == Attention::Eager {
            // Each layer's causal-mask buffer (n_positions², bool), kept whole by the where.
            let n = m.max_seq.unwrap_or(1024) as f64;
            bytes += n * n;
        }
        // The merged heads, copied for the output projection.
        bytes += c * d.q;
    } else {
        // q, k, v, the output (which the output projection reads in place), the fp32
        // log-sum-exp.
        bytes += c * (d.q + 2.0 * d.kv + d.q) + 4.0 * d.lse;
    }
    if hidden_dropout {
        bytes += mask_h * d.h;
    }
    bytes += norm(family, p, d.t, d.h);
    let act = m.activation.unwrap_or(Act::Fused);
    bytes += copies(if act == Act::Gated { 2.0 } else { 1.0 }) * c * d.h;
    bytes += c
        * d.i
        * match act {
            Act::GeluTanhPython => 5.0,
            Act::Fused => 2.0,
            Act::Gated => 4.0,
        };
    if hidden_dropout {
        bytes += mask_h * d.h;
    }
    (bytes, attention_scores)
}

/// Embeddings, final norm, head and loss.
fn head(m: &ModelShape, family: Family, s: Setup, d: &Dims, batch: f64) -> f64 {
    let p = s.precision;
    let c = p.compute();
    let v = m.vocab.unwrap_or(0) as f64;
    let mask_e = if s.device == Device::Cpu {
        p.residual()
    } else {
        1.0
    };
    // The token ids (images have none).
    let mut bytes = if family == Family::Vit {
        0.0
    } else {
        8.0 * d.t
    };
    if m.embd_dropout > 0.0 {
        bytes += mask_e * d.h;
    }
    match family {
        Family::Gpt2 | Family::Llama => {
            bytes += norm(family, p, d.t, d.h) + c * d.h;
            // The loss upcasts the logits: an fp32 log-softmax over the vocabulary.
            bytes += 4.0 * d.t * v;
        }
        Family::Bert => {
            // Embedding LayerNorm; the MLM head: dense, GELU, LayerNorm, decoder.
            bytes += norm(family, p, d.t, d.h) + 4.0 * c * d.h + 8.0 * d.t;
            let loss = if p.autocast() || p == Precision::Fp32 {
                4.0
            } else {
                c
            };
            bytes += loss * d.t * v;
        }
        Family::Vit => {
            // The images the patch embedding reads, the final LayerNorm, and the classifier's
            // input: the class token, a view that keeps the whole normed output alive (under
            // autocast, a half-precision copy of the token alone).
            bytes += c * batch * m.pixels.unwrap_or(0) as f64;
            bytes += norm(family, p, d.t, d.h);
            bytes += if p.autocast() {
                c * batch * m.hidden.unwrap_or(0) as f64
            } else {
                c * d.h
            };
        }
    }
    bytes
}

/// The bytes of the weights autocast copies to bf16/fp16 for the matmuls (kept for backward).
fn weight_copies(m: &ModelShape, family: Family) -> f64 {
    let (l, h) = (m.layers.unwrap_or(0) as f64, m.hidden.unwrap_or(0) as f64);
    let i = m.intermediate.unwrap_or(0) as f64;
    let a = m.heads.unwrap_or(1) as f64;
    let kv = m.kv_heads.unwrap_or(m.heads.unwrap_or(1)) as f64;
    let hd = m.head_dim.unwrap_or(1) as f64;
    let v = m.vocab.unwrap_or(0) as f64;
    let per_layer = match family {
        // Fused or separate Q, K, V: 3h² either way, and the output projection.
        Family::Gpt2 | Family::Bert | Family::Vit => 4.0 * h * h + 2.0 * h * i,
        Family::Llama => 2.0 * h * a * hd + 2.0 * h * kv * hd + 3.0 * h * i,
    };
    let head = match family {
        Family::Gpt2 | Family::Llama => v * h,
        Family::Bert => v * h + h * h,
        // The patch embedding (3 channels × 16 × 16 per output).
        Family::Vit => 768.0 * h,
    };
    2.0 * (l * per_layer + head)
}

/// The activation memory of one forward pass of `batch` sequences of `seq` tokens; `None`
/// without the transformer shape.
pub fn saved(m: &ModelShape, setup: Setup, batch: u64, seq: u64) -> Option<Saved> {
    let family = m.family?;
    let (l, h, a) = (m.layers?, m.hidden?, m.heads?);
    let seq = m.patch_seq.unwrap_or(seq) as f64;
    let b = batch as f64;
    let t = b * seq;
    let hd = m.head_dim.unwrap_or(h / a.max(1)) as f64;
    let kv = m.kv_heads.unwrap_or(a) as f64;
    let d = Dims {
        t,
        h: t * h as f64,
        i: t * m.intermediate.unwrap_or(4 * h) as f64,
        q: t * a as f64 * hd,
        kv: t * kv * hd,
        scores: b * a as f64 * seq * seq,
        lse: b * a as f64 * seq,
        rope: seq * hd,
    };
    let (full, scores) = layer(m, family, setup, &d);
    let per_layer = match setup.recompute {
        Recompute::None => full,
        // The attention probabilities are recomputed.
        Recompute::Selective => full - scores,
        // Only each layer's input is kept.
        Recompute::Full => setup.precision.residual() * d.h,
    };
    let mut layers = per_layer * l as f64;
    if setup.recompute == Recompute::Full {
        // One layer is recomputed, with everything it saves, during the backward pass.
        layers += full;
    }
    Some(Saved {
        layers,
        per_layer,
        weight_copies: if setup.precision.autocast() {
            weight_copies(m, family)
        } else {
            0.0
        },
        head: head(m, family, setup, &d, b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shapes of bench/mem-configs/: GPT-2 small, SmolLM-135M, BERT-base, ViT-B/16.
    fn shape(family: Family) -> ModelShape {
        let (h, a, kv, i, drop, act) = match family {
            Family::Gpt2 => (768, 12, 12, 3072, 0.1, Act::GeluTanhPython),
            Family::Llama => (576, 9, 3, 1536, 0.0, Act::Gated),
            Family::Bert => (768, 12, 12, 3072, 0.1, Act::Fused),
            Family::Vit => (768, 12, 12, 3072, 0.0, Act::Fused),
        };
        ModelShape {
            params: 1,
            layers: Some(1),
            hidden: Some(h),
            heads: Some(a),
            kv_heads: Some(kv),
            vocab: Some(1),
            max_seq: Some(1024),
            family: Some(family),
            intermediate: Some(i),
            head_dim: Some(64),
            activation: Some(act),
            attn_dropout: drop,
            hidden_dropout: drop,
            embd_dropout: drop,
            patch_seq: (family == Family::Vit).then_some(197),
            ..ModelShape::default()
        }
    }

    #[test]
    fn one_layer_matches_what_pytorch_saved() {
        // Bytes torch 2.9.1 / transformers 4.57.3 saved for backward in layer 0 on the CPU,
        // batch 2 × 128 tokens (ViT: 197 patches), through saved_tensors_hooks, storages once,
        // weights and their autocast copies aside.
        use Attention::{Eager, Sdpa};
        use Family::{Bert, Gpt2, Llama, Vit};
        use Precision::{AutocastBf16 as Amp, Bf16, Fp32};
        let measured = [
            (Gpt2, Amp, Eager, 16_781_314.0),
            (Gpt2, Amp, Sdpa, 18_485_248.0),
            (Gpt2, Bf16, Eager, 15_206_402.0),
            (Gpt2, Bf16, Sdpa, 17_696_768.0),
            (Gpt2, Fp32, Eager, 29_364_228.0),
            (Gpt2, Fp32, Sdpa, 28_315_648.0),
            (Llama, Amp, Eager, 9_996_288.0),
            (Llama, Amp, Sdpa, 7_842_816.0),
            (Llama, Bf16, Eager, 8_488_960.0),
            (Llama, Bf16, Sdpa, 6_335_488.0),
            (Llama, Fp32, Eager, 13_436_928.0),
            (Llama, Fp32, Sdpa, 11_480_064.0),
            (Bert, Amp, Eager, 12_587_008.0),
            (Bert, Amp, Sdpa, 14_553_088.0),
            (Bert, Bf16, Eager, 9_439_232.0),
            (Bert, Bf16, Sdpa, 12_978_176.0),
            (Bert, Fp32, Eager, 18_878_464.0),
            (Bert, Fp32, Sdpa, 18_878_464.0),
            (Vit, Amp, Eager, 17_698_480.0),
            (Vit, Amp, Sdpa, 12_128_896.0),
            (Vit, Bf16, Eager, 15_274_592.0),
            (Vit, Bf16, Sdpa, 9_705_008.0),
            (Vit, Fp32, Eager, 23_097_856.0),
            (Vit, Fp32, Sdpa, 19_391_104.0),
        ];
        let mut worst = Vec::new();
        for (family, precision, attention, want) in measured {
            let setup = Setup {
                precision,
                attention,
                device: Device::Cpu,
                recompute: Recompute::None,
            };
            let got = saved(&shape(family), setup, 2, 128).unwrap().per_layer;
            let err = (got - want) / want;
            if err.abs() > 0.01 {
                worst.push(format!(
                    "{family:?} {precision:?} {attention:?}: {got} vs {want} ({:+.1}%)",
                    100.0 * err
                ));
            }
        }
        assert!(worst.is_empty(), "{}", worst.join("\n"));
    }

    #[test]
    fn embeddings_head_and_loss_match_what_pytorch_saved() {
        let cpu = |precision| Setup {
            precision,
            attention: Attention::Eager,
            device: Device::Cpu,
            recompute: Recompute::None,
        };
        // GPT-2, fp32, 2 × 128: ids, embedding dropout, ln_f, lm_head input, fp32 log-softmax.
        let mut gpt2 = shape(Family::Gpt2);
        gpt2.vocab = Some(50257);
        let got = saved(&gpt2, cpu(Precision::Fp32), 2, 128).unwrap().head;
        assert!((got / 53_829_636.0 - 1.0).abs() < 0.001, "{got}");
        // ViT-B/16, fp32, 8 images: the pixels, the final LayerNorm, the class-token view.
        let mut vit = shape(Family::Vit);
        vit.pixels = Some(3 * 224 * 224);
        let got = saved(&vit, cpu(Precision::Fp32), 8, 197).unwrap().head;
        assert!((got / 14_512_580.0 - 1.0).abs() < 0.001, "{got}");
    }
}
