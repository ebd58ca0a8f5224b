//! The memory rules (one file each).

pub mod gpu_memory_full;
pub mod gpu_stall;
pub mod gpu_throttling;
