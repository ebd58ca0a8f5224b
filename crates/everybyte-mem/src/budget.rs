//! `mem budget`: the GPU memory a training or inference run needs, before it runs.
//!
//! Weights, gradients and optimizer states are what PyTorch holds under the chosen precision
//! (fp32 and autocast: 4 + 4 + 8 bytes per parameter with AdamW; bf16: 2 + 2 + 4, the states in
//! the parameters' dtype; `mixed`, the ZeRO paper's accounting: 2 + 2 + 12, divided over N GPUs
//! by stages 1–3). Activations are the tensors autograd saves, modelled per implementation
//! family in [`crate::activations`] and validated against PyTorch; for a shape with no known
//! family, Korthikanti et al. (2022): `s·b·h·(34 + 5·a·s/h)` bytes without recomputation,
//! `34·s·b·h` with selective recomputation, `2·s·b·h` (the layer input) with full.

// The papers' notation: s, b, h, a, l, p.
#![allow(clippy::many_single_char_names)]

use serde::Serialize;

pub use crate::error::{ConfigError, UnknownOptimizer};

/// What the model looks like: parameters, and the transformer shape when known.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelShape {
    pub params: u64,
    pub layers: Option<u64>,
    pub hidden: Option<u64>,
    pub heads: Option<u64>,
    pub kv_heads: Option<u64>,
    pub vocab: Option<u64>,
    pub max_seq: Option<u64>,
    pub architecture: Option<String>,
    /// The implementation family whose saved tensors the activation budget models.
    pub family: Option<crate::activations::Family>,
    /// The MLP's inner size.
    pub intermediate: Option<u64>,
    pub head_dim: Option<u64>,
    /// The MLP activation as the implementation runs it.
    pub activation: Option<crate::activations::Act>,
    /// Dropout probabilities in training: attention probabilities, hidden states, embeddings.
    pub attn_dropout: f64,
    pub hidden_dropout: f64,
    pub embd_dropout: f64,
    /// A vision model's sequence: its patches and class token (the `--seq` of images).
    pub patch_seq: Option<u64>,
    /// A vision model's input values per image (channels × height × width).
    pub pixels: Option<u64>,
}

fn u(v: &serde_json::Value, keys: &[&str]) -> Option<u64> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(serde_json::Value::as_u64))
}

/// The total byte size a sharded `model.safetensors.index.json` declares (`metadata.total_size`).
pub fn index_total_size(index: &serde_json::Value) -> Option<u64> {
    index.get("metadata")?.get("total_size")?.as_u64()
}

/// Reads a Hugging Face `config.json` and counts the parameters from the architecture
/// (GPT-2, BERT, Llama/Mistral/Qwen-style decoders, ViT).
#[allow(clippy::too_many_lines)] // one arm per architecture
pub fn from_hf_config(v: &serde_json::Value) -> Result<ModelShape, ConfigError> {
    let arch = v
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(|a| a.as_str())
        .unwrap_or("")
        .to_owned();
    let model_type = v.get("model_type").and_then(|m| m.as_str()).unwrap_or("");
    let h =
        u(v, &["hidden_size", "n_embd", "d_model"]).ok_or(ConfigError("hidden_size / n_embd"))?;
    let l = u(v, &["num_hidden_layers", "n_layer", "num_layers"])
        .ok_or(ConfigError("num_hidden_layers / n_layer"))?;
    let a = u(v, &["num_attention_heads", "n_head"])
        .ok_or(ConfigError("num_attention_heads / n_head"))?;
    let vocab = u(v, &["vocab_size"]);
    let kv = u(v, &["num_key_value_heads"]).unwrap_or(a);
    let tied = v
        .get("tie_word_embeddings")
        .and_then(serde_json::Value::as_bool);
    let max_seq = u(v, &["max_position_embeddings", "n_positions", "n_ctx"]);
    let params = match model_type {
        "gpt2" => {
            let vocab = vocab.ok_or(ConfigError("vocab_size"))?;
            let p = max_seq.unwrap_or(1024);
            let per_layer = 2 * h
                + (h * 3 * h + 3 * h)
                + (h * h + h)
                + 2 * h
                + (h * 4 * h + 4 * h)
                + (4 * h * h + h);
            vocab * h + p * h + l * per_layer + 2 * h
        }
        "bert" | "roberta" => {
            let vocab = vocab.ok_or(ConfigError("vocab_size"))?;
            let i = u(v, &["intermediate_size"]).unwrap_or(4 * h);
            let p = max_seq.unwrap_or(512);
            let t = u(v, &["type_vocab_size"]).unwrap_or(2);
            let per_layer =
                3 * (h * h + h) + (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h;
            // The base model (BertModel, with its pooler): the count models publish.
            vocab * h + p * h + t * h + 2 * h + l * per_layer + (h * h + h)
        }
        "vit" => {
            let i = u(v, &["intermediate_size"]).unwrap_or(4 * h);
            let img = u(v, &["image_size"]).unwrap_or(224);
            let patch = u(v, &["patch_size"]).unwrap_or(16);
            let ch = u(v, &["num_channels"]).unwrap_or(3);
            let patches = (img / patch.max(1)).pow(2);
            let per_layer =
                2 * h + 3 * (h * h + h) + (h * h + h) + 2 * h + (h * i + i) + (i * h + h);
            let embed = ch * patch * patch * h + h + h + (patches + 1) * h;
            let pooler = if arch.contains("ForImageClassification") {
                0
            } else {
                h * h + h
            };
            embed + l * per_layer + 2 * h + pooler
        }
        _ => {
            // Decoder-only, Llama-style: q, k, v, o projections (grouped-query k/v), a gated
            // MLP (gate, up, down), two RMSNorms per layer, a final norm, the LM head unless tied.
            let vocab = vocab.ok_or(ConfigError("vocab_size"))?;
            let i = u(v, &["intermediate_size"]).ok_or(ConfigError("intermediate_size"))?;
            let head_dim = u(v, &["head_dim"]).unwrap_or(h / a.max(1));
            let bias = v
                .get("attention_bias")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(model_type == "qwen2");
            let q = h * a * head_dim + if bias { a * head_dim } else { 0 };
            let kvp = 2 * (h * kv * head_dim + if bias { kv * head_dim } else { 0 });
            let o = a * head_dim * h;
            let mlp = 3 * h * i;
            let per_layer = q + kvp + o + mlp + 2 * h;
            let head = if tied.unwrap_or(false) { 0 } else { vocab * h };
            vocab * h + l * per_layer + h + head
        }
    };
    let f = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| v.get(*k).and_then(serde_json::Value::as_f64))
            .unwrap_or(0.0)
    };
    let family = crate::activations::Family::of(model_type);
    let intermediate = match family {
        crate::activations::Family::Gpt2 => u(v, &["n_inner"]).or(Some(4 * h)),
        _ => u(v, &["intermediate_size"]).or(Some(4 * h)),
    };
    let activation = crate::activations::Act::of(
        v.get("activation_function")
            .or_else(|| v.get("hidden_act"))
            .and_then(|x| x.as_str())
            .unwrap_or(""),
        family,
    );
    let vision = family == crate::activations::Family::Vit;
    let img = u(v, &["image_size"]).unwrap_or(224);
    let patch_seq = vision.then(|| {
        let patch = u(v, &["patch_size"]).unwrap_or(16).max(1);
        (img / patch).pow(2) + 1
    });
    let pixels = vision.then(|| u(v, &["num_channels"]).unwrap_or(3) * img * img);
    Ok(ModelShape {
        params,
        layers: Some(l),
        hidden: Some(h),
        heads: Some(a),
        kv_heads: Some(kv),
        vocab,
        max_seq,
        architecture: Some(if arch.is_empty() {
            model_type.to_owned()
        } else {
            arch
        }),
        family: Some(family),
        intermediate,
        head_dim: u(v, &["head_dim"]).or(Some(h / a.max(1))),
        activation: Some(activation),
        attn_dropout: f(&[
            "attn_pdrop",
            "attention_probs_dropout_prob",
            "attention_dropout",
        ]),
        hidden_dropout: f(&["resid_pdrop", "hidden_dropout_prob", "hidden_dropout"]),
        embd_dropout: f(&["embd_pdrop", "hidden_dropout_prob"]),
        patch_seq,
        pixels,
    })
}

/// Parses `7B`, `1.3b`, `350M`, `125m`, `70e9`, `124439808`.
pub fn parse_params(s: &str) -> Option<u64> {
    let t = s.trim();
    let (num, mult) = match t.chars().last()? {
        'B' | 'b' => (&t[..t.len() - 1], 1e9),
        'M' | 'm' => (&t[..t.len() - 1], 1e6),
        'K' | 'k' => (&t[..t.len() - 1], 1e3),
        'T' | 't' => (&t[..t.len() - 1], 1e12),
        _ => (t, 1.0),
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v > 0.0).then(|| (v * mult).round() as u64)
}

/// Bytes per element of a dtype name.
pub fn dtype_bytes(d: &str) -> Option<u64> {
    Some(match d.to_ascii_lowercase().as_str() {
        "fp32" | "float32" | "f32" => 4,
        "fp16" | "float16" | "f16" | "half" | "bf16" | "bfloat16" => 2,
        "fp8" | "int8" | "i8" | "f8" => 1,
        "int4" | "nf4" | "fp4" => return Some(0), // handled as half a byte by the caller
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Optimizer {
    Adamw,
    Adam,
    Sgd,
    SgdMomentum,
    Adafactor,
    Adam8bit,
}

impl std::str::FromStr for Optimizer {
    type Err = UnknownOptimizer;
    fn from_str(s: &str) -> Result<Self, UnknownOptimizer> {
        Ok(match s {
            "adamw" => Optimizer::Adamw,
            "adam" => Optimizer::Adam,
            "sgd" => Optimizer::Sgd,
            "sgd-momentum" => Optimizer::SgdMomentum,
            "adafactor" => Optimizer::Adafactor,
            "adam-8bit" | "adamw-8bit" => Optimizer::Adam8bit,
            other => {
                return Err(UnknownOptimizer(other.to_owned()));
            }
        })
    }
}

impl Optimizer {
    /// Optimizer-state bytes per parameter (fp32 states; 8-bit Adam: one byte each).
    fn state_bytes(self) -> f64 {
        match self {
            Optimizer::Adamw | Optimizer::Adam => 8.0,
            Optimizer::SgdMomentum => 4.0,
            Optimizer::Sgd => 0.0,
            // Factored second moments: O(rows + cols) per matrix; about 1/1000 of the
            // parameters for the matrices of a large model, plus no first moment by default.
            Optimizer::Adafactor => 0.01,
            Optimizer::Adam8bit => 2.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recompute {
    None,
    Selective,
    Full,
}

/// What to budget.
#[derive(Debug, Clone)]
pub struct BudgetInput {
    pub model: ModelShape,
    pub train: bool,
    /// Bytes per weight element (2 for bf16/fp16, 4 for fp32).
    pub weight_bytes: f64,
    pub optimizer: Optimizer,
    /// bf16/fp16 weights and gradients with fp32 master weights (the ZeRO accounting).
    pub mixed_precision: bool,
    pub batch: u64,
    pub seq: u64,
    pub recompute: Recompute,
    pub zero_stage: u8,
    pub gpus: u64,
    pub capacity: Option<u64>,
    /// Fraction of the card kept free (default 0.15).
    pub buffer: f64,
    /// The CUDA context and library workspaces (default 512 MiB).
    pub context_bytes: u64,
    /// How training computes and stores; `None`: the bytes of `weight_bytes` and
    /// `mixed_precision` alone (int8 and int4 weights).
    pub precision: Option<crate::activations::Precision>,
    pub attention: crate::activations::Attention,
    pub device: crate::activations::Device,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Component {
    pub name: &'static str,
    pub bytes: u64,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Budget {
    pub components: Vec<Component>,
    /// The peak: everything but the buffer, less what is never alive at once (see `peak`).
    pub required: u64,
    /// How the peak differs from the sum of the components, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak: Option<String>,
    pub capacity: Option<u64>,
    /// What may be used: capacity × (1 − buffer).
    pub usable: Option<u64>,
    pub fits: Option<bool>,
    /// Positive: bytes to spare; negative: bytes short.
    pub margin: Option<i128>,
    /// The largest batch size that fits at this sequence length.
    pub max_batch: Option<u64>,
}

/// Activation bytes of the whole model for `batch` sequences (Korthikanti et al. 2022).
pub fn activation_bytes(m: &ModelShape, batch: u64, seq: u64, recompute: Recompute) -> Option<u64> {
    let (l, h, a) = (m.layers?, m.hidden?, m.heads?);
    let (s, b) = (seq as f64, batch as f64);
    let hf = h as f64;
    let per_layer = match recompute {
        Recompute::None => s * b * hf * (34.0 + 5.0 * a as f64 * s / hf),
        Recompute::Selective => 34.0 * s * b * hf,
        Recompute::Full => 2.0 * s * b * hf,
    };
    Some((per_layer * l as f64) as u64)
}

impl Budget {
    /// The components as one stacked bar against the card, the buffer kept free marked.
    pub fn figure(&self, title: &str, buffer: f64) -> everybyte_core::chart::Figure {
        let parts: Vec<(String, f64)> = self
            .components
            .iter()
            .filter(|c| c.bytes > 0)
            .map(|c| (c.name.to_owned(), c.bytes as f64))
            .collect();
        everybyte_core::chart::Figure {
            title: title.to_owned(),
            path: None,
            svg: everybyte_core::chart::stacked(
                title,
                &parts,
                self.capacity.map(|c| c as f64),
                buffer,
                everybyte_core::chart::Scale::Bytes,
            ),
        }
    }
}

/// The budget of a run: its components, its peak against the card, and the largest batch
/// that fits.
pub fn budget(i: &BudgetInput) -> Budget {
    let c = parts(i);
    let (required, peak) = peak_of(i, &c);
    let usable = i.capacity.map(|cap| (cap as f64 * (1.0 - i.buffer)) as u64);
    let at = |batch: u64| {
        let x = BudgetInput { batch, ..i.clone() };
        peak_of(&x, &parts(&x)).0
    };
    // The peak grows with the batch, not always in a straight line (one process's peak is
    // the larger of two ends): search it.
    let max_batch = usable.and_then(|u| {
        if at(2) == at(1) {
            return None;
        }
        if at(1) > u {
            return Some(0);
        }
        let (mut lo, mut hi) = (1u64, 2u64);
        while at(hi) <= u {
            lo = hi;
            if hi >= 1 << 24 {
                return Some(hi);
            }
            hi *= 2;
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if at(mid) <= u {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    });
    Budget {
        components: c,
        required,
        peak,
        capacity: i.capacity,
        usable,
        fits: usable.map(|u| required <= u),
        margin: usable.map(|u| i128::from(u) - i128::from(required)),
        max_batch,
    }
}

/// The peak of components `c`, and the note that says how it differs from their sum.
fn peak_of(i: &BudgetInput, c: &[Component]) -> (u64, Option<String>) {
    let sum: u64 = c.iter().map(|x| x.bytes).sum();
    match overlap(i, c) {
        Some((saved, note)) => (sum - saved, Some(note)),
        None => (sum, None),
    }
}

#[allow(clippy::too_many_lines)] // one push per component, training then inference
fn parts(i: &BudgetInput) -> Vec<Component> {
    let p = i.model.params as f64;
    let n = i.gpus.max(1) as f64;
    let mut c = Vec::new();
    let mut push = |name: &'static str, bytes: f64, note: String| {
        c.push(Component {
            name,
            bytes: bytes.max(0.0) as u64,
            note,
        });
    };
    let shard = |stage: u8| if i.zero_stage >= stage { n } else { 1.0 };
    if let (true, Some(precision)) = (i.train, i.precision) {
        train_components(i, precision, &mut push);
    } else if i.train {
        let (w, g) = if i.mixed_precision {
            (2.0, 2.0)
        } else {
            (i.weight_bytes, i.weight_bytes)
        };
        push(
            "weights",
            p * w / shard(3),
            format!(
                "{p:.3e} params × {w} bytes{}",
                zero_note(i, 3, "parameters")
            ),
        );
        push(
            "gradients",
            p * g / shard(2),
            format!("{g} bytes/param{}", zero_note(i, 2, "gradients")),
        );
        let s = i.optimizer.state_bytes();
        push(
            "optimizer states",
            p * s / shard(1),
            format!(
                "{:?}: {s} bytes/param{}",
                i.optimizer,
                zero_note(i, 1, "states")
            ),
        );
        if i.mixed_precision {
            push(
                "fp32 master weights",
                p * 4.0 / shard(1),
                "4 bytes/param (mixed precision)".into(),
            );
        }
        korthikanti(i, &mut push, "logits (fp32, for the loss)", "");
    } else {
        push(
            "weights",
            p * i.weight_bytes,
            format!("{p:.3e} params × {} bytes", i.weight_bytes),
        );
        if let (Some(l), Some(h), Some(a)) = (i.model.layers, i.model.hidden, i.model.heads) {
            let kv = i.model.kv_heads.unwrap_or(a);
            let head_dim = h / a.max(1);
            let bytes = 2.0 * (l * i.batch * i.seq * kv * head_dim) as f64 * i.weight_bytes;
            push(
                "KV cache",
                bytes,
                format!(
                    "2 × {l} layers × batch {} × seq {} × {kv} kv heads × {head_dim} × {} bytes",
                    i.batch, i.seq, i.weight_bytes
                ),
            );
            // One layer's activations live at a time in inference.
            push(
                "activations (one layer)",
                (i.batch * i.seq * h) as f64 * i.weight_bytes * 16.0,
                "batch × seq × hidden × 16 (attention and MLP buffers)".into(),
            );
        }
    }
    push(
        "CUDA context and workspaces",
        i.context_bytes as f64,
        "per process".into(),
    );
    c
}

/// What a note adds when ZeRO `stage` shards `what` over the GPUs: ` / 8 GPUs (ZeRO-2,
/// gradients)`; nothing below that stage.
fn zero_note(i: &BudgetInput, stage: u8, what: &str) -> String {
    if i.zero_stage >= stage {
        format!(" / {} GPUs (ZeRO-{stage}, {what})", i.gpus.max(1))
    } else {
        String::new()
    }
}

/// Whether the gradients are allocated for the whole step: DDP's buckets and ZeRO's gradient
/// partitions are; one process's are not (`zero_grad(set_to_none=True)`, the default since
/// PyTorch 2.0, frees them before the forward pass).
fn gradients_persist(i: &BudgetInput) -> bool {
    i.gpus > 1 || i.zero_stage > 0
}

/// The bytes of the loss's backward temporaries: the gradients of the log-softmax and of the
/// logits over the vocabulary, alive together at the start of backward. Hugging Face's causal
/// LM loss upcasts the logits to fp32 whatever the precision, and autocast runs the cross
/// entropy in fp32; BERT's masked LM loss with half-precision weights stays in their dtype.
fn loss_backward_bytes(i: &BudgetInput) -> Option<f64> {
    use crate::activations::{Family, Precision};
    let family = i.model.family?;
    let v = i.model.vocab?;
    let bytes = match (family, i.precision?) {
        (Family::Vit, _) => return None,
        (Family::Bert, Precision::Bf16 | Precision::Fp16 | Precision::Mixed) => 2.0,
        _ => 4.0,
    };
    Some(2.0 * bytes * (i.batch * i.seq * v) as f64)
}

/// Without persistent gradients, one training process peaks either at the start of backward
/// (activations and the loss's gradients alive, no parameter gradients yet) or at its end
/// (the gradients, the activations freed): the peak is the sum less the smaller of the two.
/// Returns the bytes never alive at once and the note that says so.
fn overlap(i: &BudgetInput, c: &[Component]) -> Option<(u64, String)> {
    if !i.train || i.precision.is_none() || gradients_persist(i) {
        return None;
    }
    let of = |names: &[&str]| -> u64 {
        c.iter()
            .filter(|x| names.contains(&x.name))
            .map(|x| x.bytes)
            .sum()
    };
    let grads = of(&["gradients"]);
    let live = of(&[
        "activations",
        "autocast weight copies",
        "embeddings, head and loss",
        "loss gradients (backward)",
    ]);
    let saved = grads.min(live);
    (saved > 0).then(|| {
        (
            saved,
            format!(
                "the peak is the sum less {}: one process's gradients and its activations are not alive at once (zero_grad(set_to_none=True) frees the gradients before the forward pass, backward frees activations as it makes gradients); with DDP or ZeRO (--gpus N) the gradient buffers stay and the sum is the peak",
                everybyte_core::bytesize::Bytes(saved)
            ),
        )
    })
}

fn setup(i: &BudgetInput, precision: crate::activations::Precision) -> crate::activations::Setup {
    crate::activations::Setup {
        precision,
        attention: i.attention,
        device: i.device,
        recompute: i.recompute,
    }
}

/// Training under a precision: what PyTorch holds for the weights, gradients and optimizer
/// states in it, and the tensors autograd saves (by implementation family; the paper's
/// formula where the family is unknown).
#[allow(clippy::too_many_lines)] // one push per component, then the activation parts
fn train_components(
    i: &BudgetInput,
    precision: crate::activations::Precision,
    push: &mut impl FnMut(&'static str, f64, String),
) {
    use crate::activations::Precision as P;
    let p = i.model.params as f64;
    let n = i.gpus.max(1) as f64;
    let shard = |stage: u8| if i.zero_stage >= stage { n } else { 1.0 };
    let w = precision.param();
    let zero = |stage: u8, what: &str| zero_note(i, stage, what);
    push(
        "weights",
        p * w / shard(3),
        format!(
            "{p:.3e} params × {w} bytes ({precision:?}){}",
            zero(3, "parameters")
        ),
    );
    push(
        "gradients",
        p * w / shard(2),
        format!("{w} bytes/param{}", zero(2, "gradients")),
    );
    let s = i.optimizer.state_bytes() * precision.state_scale();
    push(
        "optimizer states",
        p * s / shard(1),
        format!(
            "{:?}: {s} bytes/param{}{}",
            i.optimizer,
            if precision.state_scale() < 1.0 {
                " (in the parameters' dtype)"
            } else {
                ""
            },
            zero(1, "states")
        ),
    );
    if precision == P::Mixed {
        push(
            "fp32 master weights",
            p * 4.0 / shard(1),
            "4 bytes/param (mixed precision)".into(),
        );
    }
    let setup = setup(i, precision);
    if let Some(saved) = crate::activations::saved(&i.model, setup, i.batch, i.seq) {
        let seq = i.model.patch_seq.unwrap_or(i.seq);
        push(
            "activations",
            saved.layers,
            format!(
                "batch {} × seq {seq} × {} layers: what autograd saves in {} layers as Hugging Face implements them, {} attention, {:?} on {:?}, recomputation {:?}",
                i.batch,
                i.model.layers.unwrap_or(0),
                i.model
                    .family
                    .map_or("transformer".to_owned(), |f| format!("{f:?}")),
                match i.attention {
                    crate::activations::Attention::Eager => "eager",
                    crate::activations::Attention::Sdpa => "fused (sdpa)",
                },
                precision,
                i.device,
                i.recompute
            ),
        );
        if saved.weight_copies > 0.0 {
            push(
                "autocast weight copies",
                saved.weight_copies,
                "the half-precision copies of the matmul weights autocast keeps for backward"
                    .into(),
            );
        }
        push(
            "embeddings, head and loss",
            saved.head,
            "token ids, embedding dropout, final norm, head input and the loss's fp32 log-softmax"
                .into(),
        );
        if let Some(bytes) = loss_backward_bytes(i) {
            push(
                "loss gradients (backward)",
                bytes,
                format!(
                    "2 × batch × seq × vocab {}: the gradients of the log-softmax and of the logits",
                    i.model.vocab.unwrap_or(0)
                ),
            );
        }
    } else {
        korthikanti(
            i,
            push,
            "embeddings, head and loss",
            " (Korthikanti et al.: no implementation known)",
        );
    }
}

/// The activations of Korthikanti et al.'s formula and the fp32 logits the loss keeps, under
/// the name `head` gives them.
fn korthikanti(
    i: &BudgetInput,
    push: &mut impl FnMut(&'static str, f64, String),
    head: &'static str,
    why: &str,
) {
    if let Some(act) = activation_bytes(&i.model, i.batch, i.seq, i.recompute) {
        push(
            "activations",
            act as f64,
            format!(
                "batch {} × seq {} × {} layers, recomputation {:?}{why}",
                i.batch,
                i.seq,
                i.model.layers.unwrap_or(0),
                i.recompute
            ),
        );
    }
    if let Some(v) = i.model.vocab {
        push(
            head,
            4.0 * (i.batch * i.seq * v) as f64,
            format!("batch × seq × vocab {v} × 4 bytes"),
        );
    }
}

/// Known cards: memory in bytes.
pub fn card(name: &str) -> Option<u64> {
    const G: u64 = 1 << 30;
    Some(
        match name.to_ascii_lowercase().replace(['_', ' '], "-").as_str() {
            "rtx3090" | "rtx-3090" | "3090" | "rtx4090" | "rtx-4090" | "4090" | "a10g" | "a10"
            | "l4" | "rtx3090ti" => 24 * G,
            "t4" | "v100-16g" | "v100" | "rtx4080" => 16 * G,
            "v100-32g" | "rtx5090" => 32 * G,
            "a100-40g" | "a100-40gb" => 40 * G,
            "a100-80g" | "a100-80gb" | "a100" | "h100" | "h100-80g" | "h100-sxm" | "h100-pcie" => {
                80 * G
            }
            "l40s" | "l40" | "a6000" | "rtx-a6000" | "a40" => 48 * G,
            "h100-nvl" => 94 * G,
            "h200" => 141 * G,
            "b200" => 180 * G,
            "mi300x" => 192 * G,
            _ => return None,
        },
    )
}

#[cfg(test)]
mod tests {

    #[test]
    fn one_process_peaks_without_its_gradients_ddp_with_them() {
        // GPT-2 small, 4 × 512, fp32, eager, on the CPU: PyTorch's memory tracker under fake
        // tensors measured a whole step's peak at 6.368 GiB (bench/mem_validate.py --full-step).
        let gpt2 = serde_json::json!({
            "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
            "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
            "vocab_size": 50257, "activation_function": "gelu_new",
            "attn_pdrop": 0.1, "embd_pdrop": 0.1, "resid_pdrop": 0.1
        });
        let mut i = BudgetInput {
            model: from_hf_config(&gpt2).unwrap(),
            train: true,
            weight_bytes: 4.0,
            optimizer: Optimizer::Adamw,
            mixed_precision: false,
            batch: 4,
            seq: 512,
            recompute: Recompute::None,
            zero_stage: 0,
            gpus: 1,
            capacity: None,
            buffer: 0.15,
            context_bytes: 0,
            precision: Some(crate::activations::Precision::Fp32),
            attention: crate::activations::Attention::Eager,
            device: crate::activations::Device::Cpu,
        };
        let one = budget(&i);
        let gib = one.required as f64 / (1u64 << 30) as f64;
        assert!((gib / 6.368 - 1.0).abs() < 0.01, "{gib}");
        let loss = one
            .components
            .iter()
            .find(|c| c.name == "loss gradients (backward)")
            .unwrap();
        assert_eq!(loss.bytes, 8 * 4 * 512 * 50257);
        assert!(
            one.peak
                .as_deref()
                .is_some_and(|n| n.contains("less 474.70 MiB"))
        );
        // DDP keeps its gradient buckets: the sum is the peak.
        i.gpus = 2;
        let ddp = budget(&i);
        assert_eq!(
            ddp.required,
            ddp.components.iter().map(|c| c.bytes).sum::<u64>()
        );
        assert_eq!(ddp.required - one.required, 124_439_808 * 4);
        assert!(ddp.peak.is_none());
    }
    use super::*;

    fn input(params: u64) -> BudgetInput {
        BudgetInput {
            model: ModelShape {
                params,
                ..ModelShape::default()
            },
            train: true,
            weight_bytes: 2.0,
            optimizer: Optimizer::Adamw,
            mixed_precision: true,
            batch: 1,
            seq: 1,
            recompute: Recompute::None,
            zero_stage: 0,
            gpus: 1,
            capacity: None,
            buffer: 0.15,
            context_bytes: 0,
            precision: None,
            attention: crate::activations::Attention::Sdpa,
            device: crate::activations::Device::Cuda,
        }
    }

    #[test]
    fn mixed_precision_adam_is_16_bytes_per_param() {
        let b = budget(&input(1_000_000_000));
        assert_eq!(b.required, 16_000_000_000);
    }

    #[test]
    fn zero_stages_divide_as_published() {
        // ZeRO paper, Figure 1: Ψ = 7.5B, N = 64, K = 12: baseline 120 GB; Pos 31.4 GB;
        // Pos+g 16.6 GB; Pos+g+p 1.9 GB.
        let psi = 7_500_000_000u64;
        let gb = |stage: u8| {
            let mut i = input(psi);
            i.zero_stage = stage;
            i.gpus = 64;
            budget(&i).required as f64 / 1e9
        };
        assert!((gb(0) - 120.0).abs() < 0.05, "{}", gb(0));
        assert!((gb(1) - 31.4).abs() < 0.05, "{}", gb(1));
        assert!((gb(2) - 16.6).abs() < 0.05, "{}", gb(2));
        assert!((gb(3) - 1.9).abs() < 0.05, "{}", gb(3));
    }

    #[test]
    fn korthikanti_activations() {
        let m = ModelShape {
            params: 1,
            layers: Some(1),
            hidden: Some(4096),
            heads: Some(32),
            ..ModelShape::default()
        };
        let (s, b, h, a) = (2048.0, 4.0, 4096.0, 32.0);
        let none = activation_bytes(&m, 4, 2048, Recompute::None).unwrap() as f64;
        assert!((none - s * b * h * (34.0 + 5.0 * a * s / h)).abs() < 1.0);
        assert_eq!(
            activation_bytes(&m, 4, 2048, Recompute::Selective).unwrap(),
            34 * 2048 * 4 * 4096
        );
        assert_eq!(
            activation_bytes(&m, 4, 2048, Recompute::Full).unwrap(),
            2 * 2048 * 4 * 4096
        );
    }

    #[test]
    fn max_batch_is_the_largest_that_fits() {
        let m = ModelShape {
            params: 124_439_808,
            layers: Some(12),
            hidden: Some(768),
            heads: Some(12),
            vocab: Some(50257),
            ..ModelShape::default()
        };
        let mut i = input(0);
        i.model = m;
        i.seq = 1024;
        i.capacity = Some(24 << 30);
        i.context_bytes = 512 << 20;
        let b = budget(&i);
        let best = b.max_batch.unwrap();
        let fits = |batch| budget(&BudgetInput { batch, ..i.clone() }).fits.unwrap();
        assert!(fits(best) && !fits(best + 1), "max batch {best}");
    }

    #[test]
    fn parameter_counts_of_real_configs_match_published_counts() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/fixtures/configs");
        for (file, published) in [
            ("gpt2.json", 124_439_808u64),
            ("bert-base-uncased.json", 109_482_240),
            ("Llama-2-7b-hf.json", 6_738_415_616),
            ("Mistral-7B-v0.1.json", 7_241_732_096),
            ("TinyLlama-1.1B.json", 1_100_048_384),
            ("Qwen2-0.5B.json", 494_032_768),
        ] {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
            let got = from_hf_config(&v).unwrap().params;
            let err = (got as f64 - published as f64).abs() / published as f64;
            assert!(
                err <= 0.001,
                "{file}: {got} vs published {published} ({:.3}%)",
                err * 100.0
            );
        }
    }

    #[test]
    fn params_parse() {
        assert_eq!(parse_params("7B"), Some(7_000_000_000));
        assert_eq!(parse_params("1.3b"), Some(1_300_000_000));
        assert_eq!(parse_params("350M"), Some(350_000_000));
        assert_eq!(parse_params("x"), None);
        assert_eq!(parse_params("-1B"), None);
    }
}
