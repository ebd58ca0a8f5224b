//! The triage rules, one file each (a file may hold two rules when one detector decides
//! between them), and the table that maps trigger words to detectors.

pub mod crash_loop;
pub mod cuda_compat;
pub mod cuda_kernel_fault;
pub mod cuda_library_status;
pub mod cuda_oom;
pub mod dataloader_shm;
pub mod gpu_xid;
pub mod host_oom;
pub mod nccl;
pub mod nonfinite_loss;
pub mod probe_failed;
pub mod python_exception;
pub mod segfault;
pub mod shared_library;
pub mod symbol_version;
pub mod termination;

use everybyte_core::Rule;

use crate::hit::Hit;

/// Every rule of the triage area, in code order.
pub static RULES: &[&Rule] = &[
    &cuda_oom::CUDA_OOM_CAPACITY,
    &cuda_oom::CUDA_OOM_FRAGMENTATION,
    &segfault::SEGFAULT,
    &termination::KILLED_BY_SIGNAL,
    &host_oom::OOM_KILLED,
    &crash_loop::CRASH_LOOP,
    &probe_failed::PROBE_FAILED,
    &gpu_xid::GPU_XID,
    &nccl::NCCL_FAILURE,
    &dataloader_shm::DATALOADER_SHM,
    &symbol_version::SYMBOL_VERSION_NOT_FOUND,
    &cuda_kernel_fault::CUDA_KERNEL_FAULT,
    &cuda_library_status::CUDA_LIBRARY_STATUS,
    &nonfinite_loss::NONFINITE_LOSS,
    &python_exception::PYTHON_EXCEPTION,
    &shared_library::SHARED_LIBRARY_NOT_FOUND,
    &cuda_compat::CUDA_INCOMPATIBLE,
    &cuda_oom::CUDA_OOM_REQUEST_EXCEEDS_CARD,
    &cuda_oom::CUDA_OOM_FREE_BUT_FAILED,
    &cuda_oom::CUDA_OOM_HELD_ELSEWHERE,
];

/// A detector: the words (matched case-sensitively, so list the spellings logs use) that
/// make a line worth its attention, and the function that diagnoses the line (pushing zero or
/// more hits). Case-sensitive words keep the scan on the SIMD path; the detectors themselves
/// may be as lenient as they like on the few lines that reach them.
pub struct Detector {
    pub triggers: &'static [&'static str],
    pub detect: fn(&str, &mut Vec<Hit>),
}

const EXIT: [&str; 4] = ["exit", "Exit", "eturn code", "eturncode"];

/// All line detectors. The scanner searches for every trigger at once and runs only the
/// detectors whose triggers occur in a line. Keep the distinct words (with the traceback's and
/// the environment's) at 64 or fewer: beyond that the search leaves its SIMD path and runs at
/// a third of the speed.
pub static DETECTORS: &[Detector] = &[
    Detector {
        triggers: &["out of memory", "Out of memory", "OUT_OF_MEMORY"],
        detect: cuda_oom::detect,
    },
    Detector {
        triggers: &[
            "segfault",
            "Segmentation fault",
            "SIG",
            "killed by signal",
            EXIT[0],
            EXIT[1],
            EXIT[2],
            EXIT[3],
        ],
        detect: segfault::detect,
    },
    Detector {
        triggers: &[
            "Terminated",
            "Kill",
            "SIG",
            EXIT[0],
            EXIT[1],
            EXIT[2],
            EXIT[3],
        ],
        detect: termination::detect,
    },
    Detector {
        triggers: &["Kill", "oom-kill:", "OOMKilled"],
        detect: host_oom::detect,
    },
    Detector {
        triggers: &["CrashLoopBackOff", "Back-off restarting"],
        detect: crash_loop::detect,
    },
    Detector {
        triggers: &["probe"],
        detect: probe_failed::detect,
    },
    Detector {
        triggers: &["Xid", "fallen off the bus"],
        detect: gpu_xid::detect,
    },
    Detector {
        triggers: &["NCCL", "nccl", "Watchdog caught"],
        detect: nccl::detect,
    },
    Detector {
        triggers: &["us error", "shared memory"],
        detect: dataloader_shm::detect,
    },
    Detector {
        triggers: &["' not found", "\u{2019} not found"],
        detect: symbol_version::detect,
    },
    Detector {
        triggers: &[
            "device-side assert",
            "illegal memory access",
            "misaligned address",
            "unspecified launch failure",
            "illegal instruction",
            "Assertion `",
        ],
        detect: cuda_kernel_fault::detect,
    },
    Detector {
        triggers: &["CUBLAS_STATUS", "CUDNN_STATUS"],
        detect: cuda_library_status::detect,
    },
    Detector {
        triggers: &["nan", "NaN", "inf", "Inf"],
        detect: nonfinite_loss::detect,
    },
    Detector {
        triggers: &["cannot open shared object"],
        detect: shared_library::detect,
    },
    Detector {
        triggers: &[
            "driver on your system is too old",
            "driver version is insufficient",
            "no kernel image",
            "not compatible with the current PyTorch",
        ],
        detect: cuda_compat::detect,
    },
];
