//! GPU memory knowledge: what a CUDA out-of-memory error says, and whether the card was full
//! or the caching allocator's pool was fragmented; GPU logs and their alerts; memory budgets
//! and model sizes; allocator snapshots; live GPU readings. `triage` and `audit` call this
//! crate for OOM lines, so one implementation serves every command.

pub mod activations;
pub mod audit;
pub mod budget;
pub mod card;
pub mod error;
pub mod gpulog;
pub mod host;
pub mod model;
pub mod nvml;
pub mod onnx;
pub mod oom;
pub mod pickle;
pub mod render;
pub mod request;
pub mod rules;
pub mod snapshot;
pub mod svg;
pub mod watch;

pub use audit::audit;
pub use error::Error;
pub use oom::{CudaOom, OomAnalysis, OomForm, Verdict, parse_cuda_oom};

/// The rules of this crate, in code order, for the binary's registry.
pub fn rules() -> impl Iterator<Item = &'static everybyte_core::Rule> {
    everybyte_core::Check::rules(rules::RULES)
}

/// The area's rule prefixes and the title reports give its findings.
pub static AREA: everybyte_core::Area = everybyte_core::Area {
    prefixes: &["MEM"],
    title: "mem: GPU memory",
};
