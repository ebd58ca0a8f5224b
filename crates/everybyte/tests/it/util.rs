//! What the CLI tests share: everybyte-test-support's harness bound to this crate's binary
//! (a fresh directory per test, the real binary run in it, as ripgrep's tests do).

use std::ops::Deref;
use std::path::PathBuf;
use std::process::Command;

pub use everybyte_test_support::{stderr, stdout};

/// A fresh temporary directory in which `everybyte` runs.
#[derive(Default)]
pub struct Dir(everybyte_test_support::Dir);

impl Dir {
    pub fn new() -> Dir {
        Dir(everybyte_test_support::Dir::new())
    }

    /// `everybyte` run in this directory, with colour neutralised and no standard input.
    pub fn command(&self) -> Command {
        self.0.command(env!("CARGO_BIN_EXE_everybyte"))
    }
}

impl Deref for Dir {
    type Target = everybyte_test_support::Dir;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

pub fn workspace_root() -> PathBuf {
    everybyte_test_support::workspace_root(env!("CARGO_MANIFEST_DIR"))
}

/// The Python of the test environment that scripts/test prepares (jsonschema installed).
pub fn test_python() -> PathBuf {
    everybyte_test_support::test_python(env!("CARGO_MANIFEST_DIR"))
}

pub const CRASH_LOG: &str = "\
[2023-10-27T14:22:01.442Z] kernel: [12409.552101] python3[14201]: segfault at 0 ip 00007f8e12a34b12 sp 00007ffc8e12a340 error 4 in libtorch_cuda.so[7f8e10000000+12a34000]
[2023-10-27T14:22:01.443Z] torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 12.50 GiB (GPU 0; 23.65 GiB total capacity; 18.21 GiB already allocated; 4.12 GiB free; 19.00 GiB reserved in total by PyTorch) If reserved memory is >> allocated memory try setting max_split_size_mb to avoid fragmentation.
[2023-10-27T14:22:01.445Z] Terminated: 15 (SIGTERM)
[2023-10-27T14:22:01.446Z] Environment: Ubuntu 22.04.3 LTS, Python 3.10.12, PyTorch 2.0.1+cu118, NVIDIA-SMI 535.104.05, Driver 535.104.05, CUDA 12.1, Hardware: 1x RTX 3090 (24GB), 64GB DDR4 RAM, i9-12900K.
";
