//! `everybyte serve` and `everybyte bench`: ONNX models served from one process (one copy of
//! the weights, dynamic batching) over the KServe v2 protocol on gRPC and HTTP, and a load
//! generator that measures any KServe v2 server without coordinated omission.

pub mod bench;
pub mod engine;
pub mod error;
pub mod gpu;
pub mod grpc;
pub mod http;
pub mod log;
pub mod metrics;
pub mod onnx;
pub mod plan;
pub mod repo;
pub mod serve;
pub mod server;
pub mod tensor;
pub mod validate;
mod worker;

pub use error::{
    BenchError, EngineError, InferError, LoadError, ParseError, RepoError, ServeError,
};

/// The KServe v2 gRPC protocol, compiled from `proto/inference.proto`.
#[allow(clippy::pedantic, missing_docs)]
pub mod proto {
    tonic::include_proto!("inference");
}

/// The area's rule prefixes and the title reports give its findings.
pub static AREA: everybyte_core::Area = everybyte_core::Area {
    prefixes: &["SRV"],
    title: "serve",
};
