//! The deploy rules: Kubernetes manifests held to the measured numbers of the workload. Each
//! rule is one file (its documentation, its declaration and the check that judges a parsed
//! [`Manifest`]); this table is the one list of them.

use everybyte_core::{Check, Location};

use everybyte_core::{Finding, Rule};

use crate::k8s::{Container, Doc, Manifest, Mount, Pod, Volume, Workload, is_hub_id};

mod api_removed;
mod checkpoint_ephemeral;
mod cpu_limit_throttles;
mod download_storage;
mod fetch_at_start;
mod gpu_driver;
mod gpu_not_guaranteed;
mod gpu_scheduling;
mod host_ipc;
mod image_not_pinned;
mod liveness_before_ready;
mod liveness_missing;
mod memory_limit;
mod model_cache_small;
mod model_copies;
mod model_download;
mod model_revision;
mod name_invalid;
mod nccl_disabled;
mod never_exits;
mod no_restart;
mod placeholder;
mod privileged;
mod probe_timeout;
mod pull_always;
mod readiness_missing;
mod schema;
mod shm_missing;
mod shm_unbounded;
mod tensor_parallel;
mod world_size;

pub use api_removed::API_REMOVED;
pub use checkpoint_ephemeral::CHECKPOINT_EPHEMERAL;
pub use cpu_limit_throttles::CPU_LIMIT_THROTTLES;
pub use download_storage::DOWNLOAD_NO_EPHEMERAL_STORAGE;
pub use fetch_at_start::FETCH_AT_START;
pub use gpu_driver::GPU_DRIVER_FLOATING;
pub use gpu_not_guaranteed::GPU_NOT_GUARANTEED;
pub use gpu_scheduling::GPU_SCHEDULING;
pub use host_ipc::HOST_IPC;
pub use image_not_pinned::IMAGE_NOT_PINNED;
pub use liveness_before_ready::LIVENESS_BEFORE_READY;
pub use liveness_missing::LIVENESS_MISSING;
pub use memory_limit::MEMORY_LIMIT;
pub use model_cache_small::MODEL_CACHE_SMALL;
pub use model_copies::MODEL_COPIES;
pub use model_download::MODEL_DOWNLOAD_EVERY_START;
pub use model_revision::MODEL_REVISION_UNPINNED;
pub use name_invalid::NAME_INVALID;
pub use nccl_disabled::NCCL_TRANSPORT_DISABLED;
pub use never_exits::NEVER_EXITS;
pub use no_restart::NO_RESTART_POLICY;
pub use placeholder::PLACEHOLDER_UNRENDERED;
pub use privileged::PRIVILEGED;
pub use probe_timeout::PROBE_TIMEOUT;
pub use pull_always::PULL_ALWAYS;
pub use readiness_missing::READINESS_MISSING;
pub use schema::SCHEMA_UNKNOWN_FIELD;
pub use shm_missing::SHM_MISSING;
pub use shm_unbounded::SHM_UNBOUNDED;
pub use tensor_parallel::TENSOR_PARALLEL_MISMATCH;
pub use world_size::WORLD_SIZE_MISMATCH;

/// Every rule of the area with its check, in code order. Adding a rule is one file and one
/// line here.
pub static RULES: &[Check<Manifest>] = &[
    Check {
        rule: &MEMORY_LIMIT,
        check: memory_limit::check,
    },
    Check {
        rule: &GPU_NOT_GUARANTEED,
        check: gpu_not_guaranteed::check,
    },
    Check {
        rule: &LIVENESS_BEFORE_READY,
        check: liveness_before_ready::check,
    },
    Check {
        rule: &READINESS_MISSING,
        check: readiness_missing::check,
    },
    Check {
        rule: &IMAGE_NOT_PINNED,
        check: image_not_pinned::check,
    },
    Check {
        rule: &PULL_ALWAYS,
        check: pull_always::check,
    },
    Check {
        rule: &GPU_SCHEDULING,
        check: gpu_scheduling::check,
    },
    Check {
        rule: &SHM_MISSING,
        check: shm_missing::check,
    },
    Check {
        rule: &MODEL_COPIES,
        check: model_copies::check,
    },
    Check {
        rule: &CPU_LIMIT_THROTTLES,
        check: cpu_limit_throttles::check,
    },
    Check {
        rule: &PROBE_TIMEOUT,
        check: probe_timeout::check,
    },
    Check {
        rule: &LIVENESS_MISSING,
        check: liveness_missing::check,
    },
    Check {
        rule: &SHM_UNBOUNDED,
        check: shm_unbounded::check,
    },
    Check {
        rule: &HOST_IPC,
        check: host_ipc::check,
    },
    Check {
        rule: &CHECKPOINT_EPHEMERAL,
        check: checkpoint_ephemeral::check,
    },
    Check {
        rule: &WORLD_SIZE_MISMATCH,
        check: world_size::check,
    },
    Check {
        rule: &NEVER_EXITS,
        check: never_exits::check,
    },
    Check {
        rule: &MODEL_CACHE_SMALL,
        check: model_cache_small::check,
    },
    Check {
        rule: &MODEL_DOWNLOAD_EVERY_START,
        check: model_download::check,
    },
    Check {
        rule: &MODEL_REVISION_UNPINNED,
        check: model_revision::check,
    },
    Check {
        rule: &DOWNLOAD_NO_EPHEMERAL_STORAGE,
        check: download_storage::check,
    },
    Check {
        rule: &FETCH_AT_START,
        check: fetch_at_start::check,
    },
    Check {
        rule: &GPU_DRIVER_FLOATING,
        check: gpu_driver::check,
    },
    Check {
        rule: &TENSOR_PARALLEL_MISMATCH,
        check: tensor_parallel::check,
    },
    Check {
        rule: &NO_RESTART_POLICY,
        check: no_restart::check,
    },
    Check {
        rule: &NCCL_TRANSPORT_DISABLED,
        check: nccl_disabled::check,
    },
    Check {
        rule: &PRIVILEGED,
        check: privileged::check,
    },
    Check {
        rule: &PLACEHOLDER_UNRENDERED,
        check: placeholder::check,
    },
    Check {
        rule: &API_REMOVED,
        check: api_removed::check,
    },
    Check {
        rule: &NAME_INVALID,
        check: name_invalid::check,
    },
    Check {
        rule: &SCHEMA_UNKNOWN_FIELD,
        check: schema::check,
    },
];

fn at(path: &str, line: u64) -> Location {
    Location::line(path, line, 1)
}

/// A finding on workload `w` (and container `c`): the data names both and the role the
/// container was given, and a workload of a kind not recognised says so.
fn on(
    rule: &'static Rule,
    m: &Manifest,
    w: &Workload,
    c: Option<&Container>,
    line: u64,
    message: impl Into<String>,
) -> Finding {
    let mut message = message.into();
    if !w.recognised {
        message.push_str(&format!(
            " (kind {} is not one everybyte knows: its pod template was found by shape)",
            w.kind
        ));
    }
    let mut f = Finding::new(rule, at(&m.path, line), message).with_data("workload", w.id());
    if let Some(c) = c {
        f = f
            .with_data("container", c.name.clone())
            .with_data("role", c.role.as_str());
    }
    f
}

/// A finding on a whole document (any kind, workload or not).
fn on_doc(
    rule: &'static Rule,
    m: &Manifest,
    d: &Doc,
    line: u64,
    message: impl Into<String>,
) -> Finding {
    Finding::new(rule, at(&m.path, line), message).with_data("workload", d.id())
}

/// `container NAME of Kind/name`, as messages say it.
fn who(w: &Workload, c: &Container) -> String {
    format!("container {} of {}", c.name, w.id())
}

/// A container loads a model: it has an accelerator, runs an inference server or a trainer
/// that names a hub model, or names a model file in its environment.
fn loads_model(c: &Container) -> bool {
    c.names_a_model() || c.server().is_some() || hub_model(c).is_some()
}

/// Whether an image is pinned by digest, and its tag.
fn image_ref(image: &str) -> (bool, Option<&str>) {
    let last = image.rsplit('/').next().unwrap_or(image);
    (
        image.contains("@sha256:"),
        last.split('@')
            .next()
            .unwrap_or(last)
            .split_once(':')
            .map(|(_, t)| t),
    )
}

/// An image reference that is a template placeholder (`$IMAGE`, `<image>`, `{{ … }}`):
/// K8S028's, not judged as an image.
fn image_placeholder(image: &str) -> bool {
    let (_, tag) = image_ref(image);
    let repo = image.rsplit('/').next().unwrap_or(image);
    match tag {
        // `gcr.io/<<PROJECT>>/app:latest`: the tag is written, so it is judged.
        Some(t) => t.contains(['$', '<', '{', '>', '}']),
        // `$REGION-docker.pkg.dev/$PROJECT/app`: the name is written, and it has no tag.
        None => repo.contains(['$', '<', '{', '>', '}']),
    }
}

/// The flags that name the model a server or trainer loads.
const MODEL_FLAGS: &[&str] = &[
    "--model",
    "--model-id",
    "--model_id",
    "--model-path",
    "--model_path",
    "--model_name_or_path",
    "--model-name-or-path",
    "--pretrained_model_name_or_path",
    "--base_model",
    "--hf-model",
    "--model_name",
    "--model-name",
];

/// The environment variables that name the model.
const MODEL_ENV: &[&str] = &[
    "MODEL_ID",
    "MODEL_NAME",
    "HF_MODEL_ID",
    "MODEL",
    "MODEL_PATH",
    "BASE_MODEL",
    "MODEL_NAME_OR_PATH",
];

/// The hub model a container loads, and the line that names it: only a container that can
/// load one (an accelerator, an inference server, a trainer) loads what it names.
fn hub_model(c: &Container) -> Option<(String, u64)> {
    if !(c.accelerated() || c.server().is_some() || c.trains() || c.serves()) {
        return None;
    }
    if let Some(u) = c
        .storage_uri
        .as_ref()
        .filter(|u| u.text.starts_with("hf://") && is_hub_id(&u.text))
    {
        return Some((u.text.clone(), u.line));
    }
    let line = c.argv_line.unwrap_or(c.line);
    if let Some(v) = c.flag(MODEL_FLAGS).filter(|v| is_hub_id(v)) {
        return Some((v, line));
    }
    // `vllm serve ORG/NAME`
    let words: Vec<&str> = c.words().collect();
    if let Some(i) = words
        .windows(2)
        .position(|w| w[0] == "vllm" && w[1] == "serve")
        && let Some(v) = words.get(i + 2).map(|w| crate::k8s::unquote(w))
        && is_hub_id(v)
    {
        return Some((v.to_owned(), line));
    }
    for name in MODEL_ENV {
        if let Some(v) = c.env_value(name).filter(|v| is_hub_id(&v.text)) {
            return Some((v.text.clone(), v.line));
        }
    }
    // `STORAGE_URI=hf://org/name` and the like (not a dataset's).
    let data = |s: &str| s.to_ascii_lowercase().contains("dataset");
    c.env
        .iter()
        .filter(|e| !data(&e.name) && !data(&c.name))
        .filter_map(|e| e.value.as_ref())
        .find(|v| v.text.starts_with("hf://") && is_hub_id(&v.text))
        .map(|v| (v.text.clone(), v.line))
}

/// Parameters (billions) and bytes per parameter, from a model id (`Llama-3.1-70B-Instruct`,
/// `Mixtral-8x7B`, `gemma-2-27b-it-AWQ`).
fn model_size(id: &str) -> Option<f64> {
    let name = id.rsplit('/').next().unwrap_or(id).to_ascii_lowercase();
    let mut best: Option<f64> = None;
    for p in name.split(['-', '_']) {
        let num = |s: &str| s.parse::<f64>().ok();
        let billions = if let Some((e, b)) = p.split_once('x') {
            b.strip_suffix('b')
                .and_then(num)
                .zip(num(e))
                .map(|(b, e)| b * e * 0.85)
        } else if let Some(b) = p.strip_suffix('b') {
            num(b)
        } else if let Some(m) = p.strip_suffix('m') {
            num(m).map(|m| m / 1000.0)
        } else {
            None
        };
        if let Some(b) = billions.filter(|b| *b > 0.0 && *b < 5000.0) {
            best = Some(best.map_or(b, |x: f64| x.max(b)));
        }
    }
    let per = if ["awq", "gptq", "int4", "4bit", "gguf", "q4"]
        .iter()
        .any(|q| name.contains(q))
    {
        0.55
    } else if ["int8", "fp8", "8bit", "w8a8"]
        .iter()
        .any(|q| name.contains(q))
    {
        1.05
    } else {
        2.05
    };
    best.map(|b| b * 1e9 * per)
}

/// Where a container keeps its hub cache: `HF_HOME` and kin, `--download-dir`, the server's
/// default; and the volume there.
fn cache_volume<'a>(p: &'a Pod, c: &'a Container) -> Option<(&'a Mount, &'a Volume)> {
    let mut paths: Vec<String> = [
        "HF_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "TRANSFORMERS_CACHE",
        "NIM_CACHE_PATH",
        "MODEL_CACHE",
        "VLLM_CACHE_ROOT",
    ]
    .iter()
    .filter_map(|k| c.env_value(k).map(|v| v.text.clone()))
    .collect();
    paths.extend(c.flag(&[
        "--download-dir",
        "--download_dir",
        "--huggingface-hub-cache",
        "--cache-dir",
        "--cache_dir",
    ]));
    paths.extend([
        "/root/.cache".to_owned(),
        "/data".to_owned(),
        "/opt/nim/.cache".to_owned(),
        "/home/ray/.cache".to_owned(),
    ]);
    // Google's Hugging Face serving images set HUGGINGFACE_HUB_CACHE=/tmp.
    if c.image.as_ref().is_some_and(|i| {
        i.text.contains("deeplearning-platform-release") && i.text.contains("huggingface")
    }) {
        paths.push("/tmp".to_owned());
    }
    if let Some(found) = paths.iter().find_map(|path| p.volume_at(c, path)) {
        return Some(found);
    }
    // An inference server with its own cache flag that is not written: a mount named for
    // models or caches. A trainer caches where the Hugging Face libraries do (above).
    c.server()?;
    // A mount named for models or caches.
    c.mounts
        .iter()
        .filter(|m| {
            let path = m.path.to_ascii_lowercase();
            [
                "cache",
                "model",
                "huggingface",
                "/hf",
                "weights",
                "checkpoint",
            ]
            .iter()
            .any(|k| path.contains(k))
                && !["credential", "token", "secret", "config"]
                    .iter()
                    .any(|k| path.contains(k) || m.name.to_ascii_lowercase().contains(k))
        })
        .find_map(|m| p.volume(&m.name).map(|v| (m, v)))
}
