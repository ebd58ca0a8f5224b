//! A tiny harness in the manner of ripgrep's: a fresh directory per test and the real binary.
#![allow(dead_code)] // each test binary uses part of it

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Default for Dir {
    fn default() -> Self {
        Dir::new()
    }
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn create(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.tmp.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// `everybyte` run in this directory, with colour and config discovery neutralised.
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_everybyte"));
        c.current_dir(self.path())
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        c
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The Python of the test environment that scripts/test prepares (jsonschema installed).
pub fn test_python() -> PathBuf {
    if let Some(p) = std::env::var_os("EVERYBYTE_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = workspace_root().join(".venv/test/bin/python");
    assert!(
        p.exists(),
        "this test needs the Python test environment: run scripts/test (it creates .venv/test from scripts/test-requirements.txt)"
    );
    p
}

pub const CRASH_LOG: &str = "\
[2023-10-27T14:22:01.442Z] kernel: [12409.552101] python3[14201]: segfault at 0 ip 00007f8e12a34b12 sp 00007ffc8e12a340 error 4 in libtorch_cuda.so[7f8e10000000+12a34000]
[2023-10-27T14:22:01.443Z] torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 12.50 GiB (GPU 0; 23.65 GiB total capacity; 18.21 GiB already allocated; 4.12 GiB free; 19.00 GiB reserved in total by PyTorch) If reserved memory is >> allocated memory try setting max_split_size_mb to avoid fragmentation.
[2023-10-27T14:22:01.445Z] Terminated: 15 (SIGTERM)
[2023-10-27T14:22:01.446Z] Environment: Ubuntu 22.04.3 LTS, Python 3.10.12, PyTorch 2.0.1+cu118, NVIDIA-SMI 535.104.05, Driver 535.104.05, CUDA 12.1, Hardware: 1x RTX 3090 (24GB), 64GB DDR4 RAM, i9-12900K.
";
