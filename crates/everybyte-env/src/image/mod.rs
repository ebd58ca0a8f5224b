//! Container images: a position-keeping Dockerfile parser and a small shell parser for `RUN`
//! commands.

pub mod dockerfile;
pub mod shell;
