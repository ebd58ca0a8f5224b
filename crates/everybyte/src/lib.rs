//! The `everybyte` command line: argument parsing and dispatch over the area crates. The binary
//! (`main.rs`) only calls [`run`]; tests and the rule registry reach the same code here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
mod commands;

pub use commands::{registry, run};
