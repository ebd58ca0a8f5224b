//! Host memory: what a training or serving pod holds in RAM, the figure its memory limit and
//! its `/dev/shm` must cover. The GPU budget says whether the card fits; this says whether the
//! pod does — a 15.5 GB model loaded the classic way into a 16 Gi limit is OOMKilled before a
//! single byte reaches the GPU.
//!
//! What each process holds, as measured with `bench/host-validate.sh` (PyTorch 2.9,
//! transformers 4.57, safetensors 0.8; peak RSS of the process tree within a few percent):
//! - the interpreter with torch (and transformers) imported: about 350 MiB of its own memory
//!   plus 300 MiB of shared libraries, mapped once per pod;
//! - the weights while loading: `torch.load` materialises the whole checkpoint, and
//!   `load_state_dict` into a model built with random weights holds both (two copies);
//!   building on the meta device and assigning (`assign=True`, `from_pretrained`) holds one.
//!   `torch.load(mmap=True)` and safetensors through `safe_open`/`from_pretrained` map the file
//!   instead: page cache, shared by every process of the pod that maps it (resident once the
//!   weights are first read, reclaimable, but counted by the pod's memory cgroup);
//!   `safetensors.torch.load_file` copies every tensor out of the map;
//! - DataLoader workers (forked): about 20 MiB each of their own until they touch the
//!   parent's Python objects (a dataset that is a list of Python objects is copied page by page
//!   as its reference counts change), and the batches in flight — `prefetch_factor` per
//!   worker — which pass through `/dev/shm`;
//! - the batch in use, and with `pin_memory` its page-locked copy.

use serde::Serialize;

use crate::budget::Component;

/// The interpreter's own memory with torch and transformers imported.
pub const RUNTIME_PRIVATE: u64 = 350 << 20;
/// The shared libraries torch maps (page cache, once per pod).
pub const RUNTIME_SHARED: u64 = 300 << 20;
/// A forked DataLoader worker's own memory before it copies the parent's objects.
pub const WORKER_PRIVATE: u64 = 20 << 20;
/// What a pod limit adds to the peak (as K8S001 asks).
pub const HEADROOM: f64 = 1.2;

/// How the checkpoint is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checkpoint {
    /// `torch.load` of a pickle checkpoint: every tensor read into memory.
    Torch,
    /// `torch.load(mmap=True)`: the tensors map the file.
    TorchMmap,
    /// safetensors: mapped by `safe_open`/`from_pretrained`, copied by `load_file`.
    Safetensors,
}

impl std::str::FromStr for Checkpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "torch" | "pt" | "bin" | "pickle" => Ok(Checkpoint::Torch),
            "torch-mmap" => Ok(Checkpoint::TorchMmap),
            "safetensors" => Ok(Checkpoint::Safetensors),
            other => Err(other.to_owned()),
        }
    }
}

/// How the weights get into the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loading {
    /// The model is built (random weights), then `load_state_dict` copies the checkpoint in.
    StateDict,
    /// Built on the meta device and the loaded tensors assigned (`from_pretrained`,
    /// `load_state_dict(assign=True)`): one copy.
    Direct,
}

impl std::str::FromStr for Loading {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "state-dict" | "load-state-dict" => Ok(Loading::StateDict),
            "direct" | "assign" | "from-pretrained" => Ok(Loading::Direct),
            other => Err(other.to_owned()),
        }
    }
}

/// What the pod runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostInput {
    /// The weights as the process holds them (parameters × bytes per weight).
    pub weights: u64,
    pub checkpoint: Checkpoint,
    pub loading: Loading,
    /// Processes in the pod (DDP ranks, server workers), each loading the model.
    pub processes: u64,
    /// DataLoader workers per process.
    pub workers: u64,
    pub prefetch_factor: u64,
    /// Bytes of one batch as the loader yields it.
    pub batch_bytes: u64,
    pub pin_memory: bool,
    /// What stays on the host besides the loaded weights when the model runs on the CPU
    /// (gradients, optimizer states, activations); 0 when it runs on a GPU.
    pub cpu_training: u64,
}

/// The host budget of a pod.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostBudget {
    pub components: Vec<Component>,
    /// The most the pod holds at once (the loading peak, or the steady run, whichever is more).
    pub peak: u64,
    /// The memory limit to set: the peak × 1.2.
    pub limit: u64,
    /// The batches in flight through `/dev/shm`.
    pub shm_in_flight: u64,
    /// The `/dev/shm` size to give the pod (twice what is in flight, at least 1 GiB).
    pub shm: u64,
}

fn gib_up(bytes: f64) -> u64 {
    let gib = (1u64 << 30) as f64;
    ((bytes / gib).ceil().max(1.0) * gib) as u64
}

/// The DataLoader's components: its workers, the batches in flight through `/dev/shm` (returned)
/// and the batch in use.
fn loader(h: &HostInput, procs: u64, components: &mut Vec<Component>) -> u64 {
    let in_flight = procs
        .saturating_mul(h.workers)
        .saturating_mul(h.prefetch_factor)
        .saturating_mul(h.batch_bytes);
    if h.workers > 0 {
        components.push(Component {
            name: "DataLoader workers",
            bytes: procs
                .saturating_mul(h.workers)
                .saturating_mul(WORKER_PRIVATE),
            note: format!(
                "{procs} × {} forked workers, {} each of their own",
                h.workers,
                everybyte_core::bytesize::Bytes(WORKER_PRIVATE)
            ),
        });
        components.push(Component {
            name: "batches in flight (/dev/shm)",
            bytes: in_flight,
            note: format!(
                "{procs} × {} workers × prefetch_factor {} × {} per batch",
                h.workers,
                h.prefetch_factor,
                everybyte_core::bytesize::Bytes(h.batch_bytes)
            ),
        });
    }
    let in_use = procs
        .saturating_mul(h.batch_bytes)
        .saturating_mul(if h.pin_memory { 2 } else { 1 });
    if in_use > 0 {
        components.push(Component {
            name: "the batch in use",
            bytes: in_use,
            note: if h.pin_memory {
                "and its page-locked copy (pin_memory)".into()
            } else {
                "in the main process".into()
            },
        });
    }
    in_flight
}

/// The host memory of a pod.
pub fn host_budget(h: &HostInput) -> HostBudget {
    let procs = h.processes.max(1);
    let w = h.weights;
    let mapped = matches!(h.checkpoint, Checkpoint::TorchMmap)
        || (h.checkpoint == Checkpoint::Safetensors && h.loading == Loading::Direct);
    // Own copies per process, and mapped copies (once per pod).
    let (own, shared, how) = match (h.loading, mapped) {
        (Loading::StateDict, false) => (
            w.saturating_mul(2),
            0,
            "the built model and the loaded state dict, both in memory (load_state_dict)",
        ),
        (Loading::StateDict, true) => (
            w,
            w,
            "the built model, and the mapped checkpoint it is copied from (page cache)",
        ),
        (Loading::Direct, false) => (
            w,
            0,
            "one copy: the loaded tensors assigned to a model built on the meta device",
        ),
        (Loading::Direct, true) => (
            0,
            w,
            "one copy, the mapped file (page cache shared by the pod's processes)",
        ),
    };
    let mut components = vec![Component {
        name: "Python and PyTorch runtime",
        bytes: procs.saturating_mul(RUNTIME_PRIVATE) + RUNTIME_SHARED,
        note: format!(
            "{procs} × {} interpreter with torch imported + {} shared libraries",
            everybyte_core::bytesize::Bytes(RUNTIME_PRIVATE),
            everybyte_core::bytesize::Bytes(RUNTIME_SHARED)
        ),
    }];
    let load = procs.saturating_mul(own).saturating_add(shared);
    components.push(Component {
        name: "weights while loading",
        bytes: load,
        note: format!("{procs} × {how}"),
    });
    // Training on the CPU holds one copy of the weights and the rest of the step; beyond what
    // loading already counted, that is the rest less the loading's extra copy.
    let extra = (w.saturating_add(h.cpu_training)).saturating_sub(own + shared);
    if h.cpu_training > 0 && extra > 0 {
        components.push(Component {
            name: "training state on the CPU",
            bytes: procs.saturating_mul(extra),
            note:
                "gradients, optimizer states and activations beyond the loading peak (--device cpu)"
                    .into(),
        });
    }
    let in_flight = loader(h, procs, &mut components);
    let peak = components
        .iter()
        .fold(0u64, |a, c| a.saturating_add(c.bytes));
    HostBudget {
        components,
        peak,
        limit: (peak as f64 * HEADROOM) as u64,
        shm_in_flight: in_flight,
        shm: gib_up(2.0 * in_flight as f64),
    }
}

/// The host options of `mem budget` as given.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostRequest<'a> {
    /// `torch`, `torch-mmap` or `safetensors`; `None`: from the model's files.
    pub checkpoint: Option<&'a str>,
    /// `state-dict` or `direct`; `None`: direct for safetensors, state-dict for torch.
    pub loading: Option<&'a str>,
    /// Processes per pod; `None`: one per GPU.
    pub processes: Option<u64>,
    pub workers: u64,
    pub prefetch_factor: u64,
    /// One sample's bytes as the loader yields it; `None`: from the model (a token model's
    /// input ids, attention mask and labels in int64; an image model's pixels in fp32).
    pub sample_bytes: Option<u64>,
    pub pin_memory: bool,
}

/// What is wrong with the host options.
#[derive(Debug, thiserror::Error)]
pub enum HostRequestError {
    #[error("--checkpoint {0}: expected torch, torch-mmap or safetensors")]
    Checkpoint(String),
    #[error("--load {0}: expected state-dict or direct")]
    Loading(String),
    #[error("--prefetch-factor 0: expected at least 1")]
    Prefetch,
}

/// The checkpoint format a model path implies: safetensors files, else a pickle checkpoint
/// (`pytorch_model.bin`, `*.pt`, `*.pth`) beside a config.json, else safetensors.
pub fn checkpoint_of(model: Option<&std::path::Path>) -> Checkpoint {
    let Some(p) = model else {
        return Checkpoint::Safetensors;
    };
    let name = p.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".safetensors") || name.ends_with(".safetensors.index.json") {
        return Checkpoint::Safetensors;
    }
    if [".bin", ".pt", ".pth", ".ckpt"]
        .iter()
        .any(|e| name.ends_with(e))
    {
        return Checkpoint::Torch;
    }
    let files: Vec<String> = p
        .parent()
        .and_then(|d| std::fs::read_dir(d).ok())
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let ext = |n: &str| {
        std::path::Path::new(n)
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let has = |exts: &[&str]| files.iter().any(|n| exts.contains(&ext(n).as_str()));
    if !has(&["safetensors"]) && has(&["bin", "pt", "pth"]) {
        Checkpoint::Torch
    } else {
        Checkpoint::Safetensors
    }
}

impl HostRequest<'_> {
    /// The host input for a model of `params` parameters held in `weight_bytes` each, trained
    /// (or served) at `batch` × `seq` on `gpus` GPUs; `cpu_rest` is what a CPU run keeps besides
    /// the weights (0 on a GPU).
    #[allow(clippy::too_many_arguments)]
    pub fn input(
        &self,
        model: Option<&std::path::Path>,
        shape: &crate::budget::ModelShape,
        weight_bytes: f64,
        batch: u64,
        seq: u64,
        gpus: u64,
        cpu_rest: u64,
    ) -> Result<HostInput, HostRequestError> {
        let checkpoint = match self.checkpoint {
            Some(c) => c.parse().map_err(HostRequestError::Checkpoint)?,
            None => checkpoint_of(model),
        };
        let loading = match self.loading {
            Some(l) => l.parse().map_err(HostRequestError::Loading)?,
            None if checkpoint == Checkpoint::Torch => Loading::StateDict,
            None => Loading::Direct,
        };
        if self.prefetch_factor == 0 {
            return Err(HostRequestError::Prefetch);
        }
        let sample = self.sample_bytes.unwrap_or_else(|| match shape.pixels {
            Some(p) => p.saturating_mul(4),
            None => seq.saturating_mul(24),
        });
        Ok(HostInput {
            weights: (shape.params as f64 * weight_bytes) as u64,
            checkpoint,
            loading,
            processes: self.processes.unwrap_or(gpus).max(1),
            workers: self.workers,
            prefetch_factor: self.prefetch_factor,
            batch_bytes: sample.saturating_mul(batch),
            pin_memory: self.pin_memory,
            cpu_training: cpu_rest,
        })
    }
}

/// The host section of the budget's text; with the pod's limit, whether the pod fits.
pub fn host_text(h: &HostBudget, pod_limit: Option<u64>) -> String {
    use everybyte_core::bytesize::Bytes;
    use std::fmt::Write as _;
    let mut out = String::from("host memory of the pod (RAM):\n");
    for c in &h.components {
        let _ = writeln!(
            out,
            "  {:<30} {:>12}   {}",
            c.name,
            Bytes(c.bytes).to_string(),
            c.note
        );
    }
    let _ = writeln!(out, "  {:<30} {:>12}", "peak", Bytes(h.peak).to_string());
    let _ = writeln!(
        out,
        "pod memory limit to set: {} (the peak × {HEADROOM}); /dev/shm: {} ({} in flight × 2, at least 1 GiB; it counts against the limit)",
        Bytes(h.limit),
        Bytes(h.shm),
        Bytes(h.shm_in_flight)
    );
    if let Some(limit) = pod_limit {
        if limit >= h.limit {
            let _ = writeln!(
                out,
                "pod limit {}: fits, {} to spare",
                Bytes(limit),
                Bytes(limit - h.peak)
            );
        } else if limit >= h.peak {
            let _ = writeln!(
                out,
                "pod limit {}: fits with only {} to spare, under the {HEADROOM} headroom (page cache, allocator slack and a larger batch can push it over)",
                Bytes(limit),
                Bytes(limit - h.peak)
            );
        } else {
            let _ = writeln!(
                out,
                "pod limit {}: does NOT fit: short by {} — the pod is OOMKilled (exit 137) while loading",
                Bytes(limit),
                Bytes(h.peak - limit)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn input(checkpoint: Checkpoint, loading: Loading) -> HostInput {
        HostInput {
            weights: 1_419_300_000,
            checkpoint,
            loading,
            processes: 1,
            workers: 0,
            prefetch_factor: 2,
            batch_bytes: 0,
            pin_memory: false,
            cpu_training: 0,
        }
    }

    #[test]
    fn the_loading_path_decides_the_copies() {
        // GPT-2 medium in fp32, as measured (bench/host-validate.sh): 3.32 GiB for
        // torch.load + load_state_dict, 1.98 GiB assigned from a map.
        let two = host_budget(&input(Checkpoint::Torch, Loading::StateDict)).peak;
        let one = host_budget(&input(Checkpoint::Safetensors, Loading::Direct)).peak;
        assert!((3.2..3.45).contains(&(two as f64 / GIB as f64)), "{two}");
        assert!((1.9..2.1).contains(&(one as f64 / GIB as f64)), "{one}");
        assert_eq!(
            host_budget(&input(Checkpoint::Safetensors, Loading::StateDict)).peak,
            two
        );
        assert_eq!(
            host_budget(&input(Checkpoint::Torch, Loading::Direct)).peak,
            one
        );
    }

    #[test]
    fn processes_share_the_map_and_the_libraries_not_their_copies() {
        let mapped = HostInput {
            processes: 8,
            ..input(Checkpoint::Safetensors, Loading::Direct)
        };
        let copied = HostInput {
            processes: 8,
            ..input(Checkpoint::Torch, Loading::StateDict)
        };
        let m = host_budget(&mapped).peak;
        let c = host_budget(&copied).peak;
        assert_eq!(m, 8 * RUNTIME_PRIVATE + RUNTIME_SHARED + 1_419_300_000);
        assert_eq!(c, 8 * RUNTIME_PRIVATE + RUNTIME_SHARED + 16 * 1_419_300_000);
    }

    #[test]
    fn loader_batches_go_through_shm() {
        let h = HostInput {
            workers: 4,
            prefetch_factor: 2,
            batch_bytes: 32 * 3 * 224 * 224 * 4,
            pin_memory: true,
            ..input(Checkpoint::Safetensors, Loading::Direct)
        };
        let b = host_budget(&h);
        assert_eq!(b.shm_in_flight, 8 * 32 * 3 * 224 * 224 * 4);
        assert_eq!(b.shm, GIB);
        assert_eq!(b.limit, (b.peak as f64 * 1.2) as u64);
        let names: Vec<&str> = b.components.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "Python and PyTorch runtime",
                "weights while loading",
                "DataLoader workers",
                "batches in flight (/dev/shm)",
                "the batch in use"
            ]
        );
    }
}
