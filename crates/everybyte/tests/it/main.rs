//! The command-line tests: one test binary (as ripgrep's `tests/tests.rs`), one module per
//! area, each running the real `everybyte` binary.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod util;

mod cli;
mod data;
mod deploy;
mod env;
mod env_truth;
mod fuzz_regressions;
mod gpu_watch;
mod hard_faults;
mod mem;
mod registry;
mod repro;
mod serve;
