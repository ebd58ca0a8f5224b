//! The memory rules, one file each: its documentation, its declaration and its check. The
//! checks judge a parsed GPU log ([`GpuLog`]); the table below is the crate's one list of rules.

use everybyte_core::rule::Check;

use crate::gpulog::GpuLog;

pub mod gpu_memory_full;
pub mod gpu_stall;
pub mod gpu_throttling;

/// Every rule of this crate with its check, in code order (the order the checks run in).
pub static RULES: &[Check<GpuLog>] = &[
    Check {
        rule: &gpu_stall::GPU_STALL,
        check: gpu_stall::check,
    },
    Check {
        rule: &gpu_memory_full::GPU_MEMORY_FULL,
        check: gpu_memory_full::check,
    },
    Check {
        rule: &gpu_throttling::GPU_THROTTLING,
        check: gpu_throttling::check,
    },
];
