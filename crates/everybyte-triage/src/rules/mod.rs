//! The triage rules, one file each (a file may hold two rules when one detector decides
//! between them), and the table that maps trigger words to detectors.

pub mod abort;
pub mod crash_loop;
pub mod cuda_compat;
pub mod cuda_kernel_fault;
pub mod cuda_library_status;
pub mod cuda_oom;
pub mod dataloader_shm;
pub mod ecc_error;
pub mod gpu_lost;
pub mod gpu_xid;
pub mod host_oom;
pub mod illegal_instruction;
pub mod loss_scale;
pub mod nccl;
pub mod nonfinite_loss;
pub mod oom_other;
pub mod pod_evicted;
pub mod pod_unschedulable;
pub mod probe_failed;
pub mod python_exception;
pub mod segfault;
pub mod shared_library;
pub mod symbol_version;
pub mod termination;
pub mod undefined_symbol;

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
    &illegal_instruction::ILLEGAL_INSTRUCTION,
    &abort::ABORT,
    &ecc_error::ECC_ERROR,
    &loss_scale::LOSS_SCALE_COLLAPSE,
    &pod_unschedulable::POD_UNSCHEDULABLE,
    &pod_evicted::POD_EVICTED,
    &undefined_symbol::UNDEFINED_SYMBOL,
    &gpu_lost::GPU_LOST,
];

/// How a detector reads a line.
#[derive(Clone, Copy)]
pub enum Detect {
    /// Diagnoses the line on its own.
    Line(fn(&str, &mut Vec<Hit>)),
    /// Keeps what it needs across lines in the scan's [`Memory`] (given the line's number),
    /// and may report at the end of the input ([`Memory::finish`]).
    Tracking(fn(&str, u64, &mut Memory, &mut Vec<Hit>)),
}

/// What the tracking detectors remember over one scan.
#[derive(Default)]
pub struct Memory {
    pub loss_scale: loss_scale::Tracker,
    pub host_oom: host_oom::Tracker,
}

impl Memory {
    /// The incidents only the whole input decides, with their line numbers and texts.
    pub fn finish(self) -> Vec<(u64, String, Hit)> {
        let mut out = Vec::new();
        self.loss_scale.finish(&mut out);
        self.host_oom.finish(&mut out);
        out
    }
}

/// A detector: the words (matched case-sensitively, so list the spellings logs use) that
/// make a line worth its attention, and the function that diagnoses the line (pushing zero or
/// more hits). Case-sensitive words keep the scan on the SIMD path; the detectors themselves
/// may be as lenient as they like on the few lines that reach them.
pub struct Detector {
    pub triggers: &'static [&'static str],
    pub detect: Detect,
}

/// `exit`, `Exit`, `exited`, `exitcode` (one word for both cases, to save a trigger), and
/// `return code`/`returncode` (one word too).
const EXIT: [&str; 3] = ["xit", "eturn", "eturn"];

/// All line detectors. The scanner searches for every trigger at once and runs only the
/// detectors whose triggers occur in a line. Keep the distinct words (with the traceback's and
/// the environment's) at 64 or fewer: beyond that the search leaves its SIMD path and runs at
/// a third of the speed.
pub static DETECTORS: &[Detector] = &[
    Detector {
        // TensorFlow's `OOM when allocating tensor`
        triggers: &["ut of memory", "OUT_OF_MEMORY", "OOM when allocating"],
        detect: Detect::Line(cuda_oom::detect),
    },
    Detector {
        triggers: &[
            // `segfault`, PyTorch's `Segfault encountered`
            "egfault",
            // `Segmentation fault`, `Segmentation Fault`, `segmentation fault`
            "egmentation",
            // a sanitizer's `SEGV on unknown address`
            "SEGV",
            // the zh_CN shell's `段错误`
            "段错误",
            "SIG",
            "killed by signal",
            EXIT[0],
            EXIT[1],
            EXIT[2],
        ],
        detect: Detect::Line(segfault::detect),
    },
    Detector {
        triggers: &["erminate", "Kill", "SIG", EXIT[0], EXIT[1], EXIT[2]],
        detect: Detect::Line(termination::detect),
    },
    Detector {
        // `OOMKilled` holds `Kill`; `oom-kill` is in `oom-kill:` and `invoked oom-killer`.
        // newer Slurm's `oom_kill events`; Ray's memory monitor `… to avoid running out of
        // memory`
        triggers: &["Kill", "oom-kill", "oom_kill", "ut of memory"],
        detect: Detect::Tracking(host_oom::detect),
    },
    Detector {
        triggers: &["CrashLoopBackOff", "Back-off restarting"],
        detect: Detect::Line(crash_loop::detect),
    },
    Detector {
        triggers: &["probe"],
        detect: Detect::Line(probe_failed::detect),
    },
    Detector {
        // `GPU has fallen off the bus`; `GPU` is also the environment's word.
        triggers: &["Xid", "GPU"],
        detect: Detect::Line(gpu_xid::detect),
    },
    Detector {
        triggers: &["NCCL", "nccl", "Watchdog caught"],
        detect: Detect::Line(nccl::detect),
    },
    Detector {
        triggers: &["us error", "shared memory"],
        detect: Detect::Line(dataloader_shm::detect),
    },
    Detector {
        triggers: &["' not found", "\u{2019} not found"],
        detect: Detect::Line(symbol_version::detect),
    },
    Detector {
        triggers: &[
            "device-side assert",
            // `illegal memory access`, `illegal instruction`
            "llegal",
            "misaligned address",
            "unspecified launch failure",
            "Assertion `",
        ],
        detect: Detect::Line(cuda_kernel_fault::detect),
    },
    Detector {
        // `CUBLAS_STATUS_…`, `CUDNN_STATUS_…`
        triggers: &["_STATUS"],
        detect: Detect::Line(cuda_library_status::detect),
    },
    Detector {
        triggers: &["nan", "NaN", "inf", "Inf"],
        detect: Detect::Line(nonfinite_loss::detect),
    },
    Detector {
        triggers: &["cannot open shared object", "Unable to load any of"],
        detect: Detect::Line(shared_library::detect),
    },
    Detector {
        // `Illegal instruction`, zsh's `illegal hardware instruction`; SIGILL; 132/-4.
        // and the zh_CN shell's `非法指令`
        triggers: &["llegal", "SIG", "非法指令", EXIT[0], EXIT[1], EXIT[2]],
        detect: Detect::Line(illegal_instruction::detect),
    },
    Detector {
        // `terminate called …` (with `Terminated`: one word), `Aborted`, SIGABRT, systemd's
        // `status=6/ABRT`, 134/-6.
        triggers: &[
            "erminate",
            "Aborted",
            "SIG",
            "ABRT",
            // the zh_CN shell's `已放弃`
            "已放弃",
            EXIT[0],
            EXIT[1],
            EXIT[2],
        ],
        detect: Detect::Line(abort::detect),
    },
    Detector {
        triggers: &["ECC"],
        detect: Detect::Line(ecc_error::detect),
    },
    Detector {
        triggers: &["loss scale"],
        detect: Detect::Tracking(loss_scale::detect),
    },
    Detector {
        triggers: &["nodes are available"],
        detect: Detect::Line(pod_unschedulable::detect),
    },
    Detector {
        triggers: &["Evicted"],
        detect: Detect::Line(pod_evicted::detect),
    },
    Detector {
        triggers: &["undefined symbol"],
        detect: Detect::Line(undefined_symbol::detect),
    },
    Detector {
        // `GPU has fallen off the bus`, `NVRM: … RmInitAdapter failed`, `The NVIDIA probe
        // routine failed`: `GPU` and `NVIDIA` are the environment's words too.
        triggers: &["GPU", "NVIDIA", "NVRM"],
        detect: Detect::Line(gpu_lost::detect),
    },
    Detector {
        triggers: &[
            // `driver on your system is too old`, `driver version is insufficient` (and the
            // environment's `Driver`)
            "river",
            "no kernel image",
            "not compatible with the current PyTorch",
        ],
        detect: Detect::Line(cuda_compat::detect),
    },
];
