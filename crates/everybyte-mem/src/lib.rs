//! GPU memory knowledge: what a CUDA out-of-memory error says, and whether the card was full
//! or the caching allocator's pool was fragmented. `triage` and `audit` call this crate for
//! OOM lines, so one implementation serves every command.

pub mod oom;
pub mod pickle;
pub mod snapshot;

pub use oom::{CudaOom, OomAnalysis, OomForm, Verdict, parse_cuda_oom};
