//! The deploy rules: Kubernetes manifests held to the measured numbers of the workload. Each
//! rule is one file (its documentation, its declaration and the check that judges a parsed
//! [`Manifest`]); this table is the one list of them.

use everybyte_core::{Check, Location};

use crate::k8s::{Container, Manifest};

mod cpu_limit_throttles;
mod gpu_not_guaranteed;
mod gpu_scheduling;
mod image_not_pinned;
mod liveness_before_ready;
mod memory_limit;
mod model_copies;
mod probe_timeout;
mod pull_always;
mod readiness_missing;
mod shm_missing;

pub use cpu_limit_throttles::CPU_LIMIT_THROTTLES;
pub use gpu_not_guaranteed::GPU_NOT_GUARANTEED;
pub use gpu_scheduling::GPU_SCHEDULING;
pub use image_not_pinned::IMAGE_NOT_PINNED;
pub use liveness_before_ready::LIVENESS_BEFORE_READY;
pub use memory_limit::MEMORY_LIMIT;
pub use model_copies::MODEL_COPIES;
pub use probe_timeout::PROBE_TIMEOUT;
pub use pull_always::PULL_ALWAYS;
pub use readiness_missing::READINESS_MISSING;
pub use shm_missing::SHM_MISSING;

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
];

fn at(path: &str, line: u64) -> Location {
    Location::line(path, line, 1)
}

/// A container loads a model: it has a GPU, or a model named in its environment.
fn loads_model(c: &Container) -> bool {
    c.gpus().is_some() || c.env.iter().any(|(k, _)| k.contains("MODEL"))
}

/// Whether an image is pinned by digest, and its tag.
fn image_ref(image: &str) -> (bool, Option<&str>) {
    let last = image.rsplit('/').next().unwrap_or(image);
    (
        image.contains("@sha256:"),
        last.split_once(':').map(|(_, t)| t),
    )
}
