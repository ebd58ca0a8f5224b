//! Parsing and explaining PyTorch's CUDA out-of-memory message.
//!
//! Two forms exist. Before PyTorch 2.1:
//! `Tried to allocate 12.50 GiB (GPU 0; 23.65 GiB total capacity; 18.21 GiB already allocated;
//! 4.12 GiB free; 19.00 GiB reserved in total by PyTorch)`. From 2.1 on:
//! `Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 79.15 GiB of which 5.81 MiB is
//! free. … Of the allocated memory 77.92 GiB is allocated by PyTorch, and 616.46 MiB is
//! reserved by PyTorch but unallocated.`
//!
//! Since 2.1 the message can also list the processes on the GPU (`Process 4242 has 30.00 GiB
//! memory in use`) and this process's own use including non-PyTorch memory.
//!
//! Free device memory and PyTorch's reserved-but-unallocated cache are two pools, not one:
//! when `cudaMalloc` fails, the caching allocator releases the cached segments that are wholly
//! free and retries, but cache inside segments that also hold live tensors cannot be given
//! back. The cause follows from the numbers, in this order (see [`Verdict`]): one request larger
//! than the card; the device reporting enough free memory and failing anyway; a fragmented
//! cache that could have served the request and is a real share (5%) of what PyTorch
//! reserved; memory held outside this process's PyTorch that is a large share of the card (a
//! quarter, at least 1 GiB) and without which the request would have fit; else capacity.

use std::sync::LazyLock;

use everybyte_core::bytesize::{Bytes, parse_bytes};
use regex::Regex;
use serde::Serialize;

/// Which message form the numbers came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OomForm {
    /// PyTorch before 2.1 (`… reserved in total by PyTorch`, or `… cached` before 1.4).
    Legacy,
    /// PyTorch 2.1 and later (`… reserved by PyTorch but unallocated`).
    Modern,
}

/// The numbers of one CUDA OOM message, in bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CudaOom {
    pub form: OomForm,
    /// `cuda` or `hip`.
    pub backend: &'static str,
    pub gpu: Option<u32>,
    pub requested: u64,
    pub total: Option<u64>,
    pub free: u64,
    /// Allocated by PyTorch's tensors.
    pub allocated: u64,
    /// Reserved by the caching allocator but not allocated to any tensor.
    pub reserved_unallocated: u64,
    /// Memory this process holds including non-PyTorch memory (modern form), if stated.
    pub process_in_use: Option<u64>,
    /// The processes the message lists with their memory (`Process 4242 has 30.00 GiB memory
    /// in use`), this one usually among them.
    pub processes: Vec<(u64, u64)>,
}

/// What the numbers mean, decided in the order of the variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// One request is larger than the whole card: a shape bug, not a batch-size problem.
    RequestExceedsCard,
    /// The device reported at least the requested memory free and the allocation failed: a
    /// memory-fraction cap, a MIG/vGPU/WSL limit, a race with another process, or fragmented
    /// device memory; neither capacity nor PyTorch's cache.
    FreeButFailed,
    /// PyTorch's reserved-but-unallocated cache could have served the request and is a real
    /// share of what it reserved, but not in one block.
    Fragmentation,
    /// A large share of the card is held outside this process's PyTorch (other processes, other
    /// libraries).
    HeldElsewhere,
    /// The card is full with this process's own tensors: the step needs less memory.
    Capacity,
}

/// Cache at least this share of what PyTorch reserved is worth defragmenting; below it, the
/// card is full and the unallocated cache is a sliver.
const FRAGMENTATION_SHARE: f64 = 0.05;
/// Memory held outside this process's PyTorch is named the cause at this share of the card
/// (and when the request would have fit without it).
const ELSEWHERE_SHARE: f64 = 0.25;

/// The analysis of a [`CudaOom`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OomAnalysis {
    pub verdict: Verdict,
    /// Reserved by PyTorch in total (allocated + unallocated cache).
    pub reserved: u64,
    /// Free on the device plus cached-but-unallocated: the most the allocator could obtain.
    pub obtainable: u64,
    /// How much more would have been needed (0 for fragmentation).
    pub shortfall: u64,
    /// Device memory held outside PyTorch's allocator: the CUDA context, other libraries,
    /// other processes. `None` when the total is unknown.
    pub outside_pytorch: Option<u64>,
    /// Device memory held outside this process: the other processes the message lists, or
    /// what the total, free and this process's use leave. `None` when it cannot be told.
    pub elsewhere: Option<u64>,
    /// The processes other than this one that the message lists, with their memory.
    pub other_processes: Vec<(u64, u64)>,
}

static LEGACY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(CUDA|HIP) out of memory(?:\*{1,2}|_{1,2}|`)?\.(?:\*{1,2}|_{1,2}|`)?\s*Tried to allocate ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) \(GPU (\d+); ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) total capacity; ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) already allocated; ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) free; (?:([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) reserved in total by PyTorch|([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) cached)",
    )
    .expect("valid regex")
});

static MODERN_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(CUDA|HIP) out of memory(?:\*{1,2}|_{1,2}|`)?\.(?:\*{1,2}|_{1,2}|`)?\s*Tried to allocate ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes)\. GPU (\d+) has a total capac(?:i)?ty of ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) of which ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) is free\.",
    )
    .expect("valid regex")
});

static MODERN_ALLOC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"Of the allocated memory ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) is allocated by PyTorch, (?:with [0-9.]+ ?[KMGTP]?i?B allocated in private pools \([^)]*\), )?and ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) is reserved by PyTorch but unallocated",
    )
    .expect("valid regex")
});

static PROCESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Process (\d+) has ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) memory in use")
        .expect("valid regex")
});

static PROCESS_IN_USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"Including non-PyTorch memory, this process has ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) memory in use",
    )
    .expect("valid regex")
});

/// Whether a line looks like a CUDA/HIP OOM at all (cheap; used before [`parse_cuda_oom`]).
pub fn mentions_oom(line: &str) -> bool {
    let l = line.as_bytes();
    memfind_ci(l, b"out of memory")
}

fn memfind_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Parses either form of PyTorch's CUDA (or ROCm HIP) OOM message. `None` when the text holds
/// no complete set of numbers (an OOM message cut off, say).
pub fn parse_cuda_oom(text: &str) -> Option<CudaOom> {
    if let Some(c) = LEGACY.captures(text) {
        let allocated = parse_bytes(&c[5])?;
        // `reserved in total by PyTorch` counts what is allocated too; the older `cached`
        // counted only what the allocator held unallocated (allocated + cached + free adds up
        // to the card less its context).
        let reserved = match (c.get(7), c.get(8)) {
            (Some(total), _) => parse_bytes(total.as_str())?,
            (None, Some(cached)) => allocated + parse_bytes(cached.as_str())?,
            (None, None) => return None,
        };
        return Some(CudaOom {
            form: OomForm::Legacy,
            backend: backend(&c[1]),
            gpu: c[3].parse().ok(),
            requested: parse_bytes(&c[2])?,
            total: parse_bytes(&c[4]),
            free: parse_bytes(&c[6])?,
            allocated,
            reserved_unallocated: reserved.saturating_sub(allocated),
            process_in_use: None,
            processes: processes(text),
        });
    }
    let head = MODERN_HEAD.captures(text)?;
    let alloc = MODERN_ALLOC.captures(text)?;
    Some(CudaOom {
        form: OomForm::Modern,
        backend: backend(&head[1]),
        gpu: head[3].parse().ok(),
        requested: parse_bytes(&head[2])?,
        total: parse_bytes(&head[4]),
        free: parse_bytes(&head[5])?,
        allocated: parse_bytes(&alloc[1])?,
        reserved_unallocated: parse_bytes(&alloc[2])?,
        process_in_use: PROCESS_IN_USE
            .captures(text)
            .and_then(|c| parse_bytes(&c[1])),
        processes: processes(text),
    })
}

fn processes(text: &str) -> Vec<(u64, u64)> {
    PROCESS
        .captures_iter(text)
        .filter_map(|c| Some((c[1].parse().ok()?, parse_bytes(&c[2])?)))
        .collect()
}

fn backend(s: &str) -> &'static str {
    if s.eq_ignore_ascii_case("hip") {
        "hip"
    } else {
        "cuda"
    }
}

impl CudaOom {
    /// The processes the message lists other than this one. This process is the one whose
    /// use matches `process_in_use`, else the one holding at least what PyTorch reserved
    /// (the largest such).
    fn others(&self, reserved: u64) -> Vec<(u64, u64)> {
        let own = match self.process_in_use {
            Some(mine) => self
                .processes
                .iter()
                .position(|&(_, m)| m.abs_diff(mine) <= mine / 100 + (64 << 20)),
            None => self
                .processes
                .iter()
                .enumerate()
                .filter(|(_, (_, m))| *m >= reserved)
                .max_by_key(|(_, (_, m))| *m)
                .map(|(i, _)| i),
        };
        self.processes
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != own)
            .map(|(_, p)| *p)
            .collect()
    }

    pub fn analyze(&self) -> OomAnalysis {
        let reserved = self.allocated + self.reserved_unallocated;
        let obtainable = self.free + self.reserved_unallocated;
        let shortfall = self.requested.saturating_sub(obtainable);
        let outside_pytorch = self
            .total
            .map(|t| t.saturating_sub(reserved).saturating_sub(self.free));
        let other_processes = self.others(reserved);
        let elsewhere = if other_processes.is_empty() {
            self.total.map(|t| {
                t.saturating_sub(self.free)
                    .saturating_sub(self.process_in_use.unwrap_or(reserved).max(reserved))
            })
        } else {
            Some(other_processes.iter().map(|(_, m)| m).sum())
        };
        let fragmented = self.requested <= obtainable
            && self.reserved_unallocated as f64 >= FRAGMENTATION_SHARE * reserved as f64;
        let held_elsewhere = match (elsewhere, self.total) {
            (Some(e), Some(t)) => {
                e >= 1 << 30 && e >= shortfall && e as f64 >= ELSEWHERE_SHARE * t as f64
            }
            _ => false,
        };
        let verdict = if self.total.is_some_and(|t| self.requested > t) {
            Verdict::RequestExceedsCard
        } else if self.free >= self.requested {
            Verdict::FreeButFailed
        } else if fragmented {
            Verdict::Fragmentation
        } else if held_elsewhere {
            Verdict::HeldElsewhere
        } else {
            Verdict::Capacity
        };
        OomAnalysis {
            verdict,
            reserved,
            obtainable,
            shortfall,
            outside_pytorch,
            elsewhere,
            other_processes,
        }
    }

    fn device(&self) -> String {
        let name = if self.backend == "hip" { "HIP" } else { "CUDA" };
        match self.gpu {
            Some(g) => format!("{name} out of memory on GPU {g}"),
            None => format!("{name} out of memory"),
        }
    }

    /// A one-line diagnosis with the numbers that prove it.
    pub fn message(&self) -> String {
        let a = self.analyze();
        let dev = self.device();
        let req = Bytes(self.requested);
        let cache = Bytes(self.reserved_unallocated);
        match a.verdict {
            Verdict::RequestExceedsCard => format!(
                "{dev}: one allocation of {req} is larger than the whole card ({}): a shape bug (an s×s attention matrix, batch × seq × vocab logits in fp32, a missing .view), not something a smaller batch elsewhere, an allocator setting or another process can fix",
                Bytes(self.total.unwrap_or(0))
            ),
            Verdict::FreeButFailed => {
                let mut m = format!(
                    "{dev}: tried to allocate {req} while the device reported {} free: neither the card's capacity nor PyTorch's cache is the cause; a per-process memory fraction, a MIG/vGPU/WSL limit, another process allocating in between, or fragmented device memory",
                    Bytes(self.free)
                );
                if !a.other_processes.is_empty() {
                    let list: Vec<String> = a
                        .other_processes
                        .iter()
                        .map(|(pid, mem)| format!("process {pid} holds {}", Bytes(*mem)))
                        .collect();
                    m.push_str(&format!(
                        "; the card is shared ({}), the first suspect",
                        list.join(", ")
                    ));
                }
                m
            }
            Verdict::Fragmentation => format!(
                "{dev}: tried to allocate {req} with {} free on the device and {cache} reserved by PyTorch but unallocated ({:.0}% of the {} it reserved): {} was obtainable but not in one block — fragmentation of the allocator's cache",
                Bytes(self.free),
                pct(self.reserved_unallocated, a.reserved),
                Bytes(a.reserved),
                Bytes(a.obtainable)
            ),
            Verdict::HeldElsewhere => {
                let who = if a.other_processes.is_empty() {
                    "outside this process's PyTorch (other processes or libraries)".to_owned()
                } else {
                    let list: Vec<String> = a
                        .other_processes
                        .iter()
                        .map(|(pid, m)| format!("process {pid} holds {}", Bytes(*m)))
                        .collect();
                    format!("by other processes ({})", list.join(", "))
                };
                format!(
                    "{dev}: tried to allocate {req} with {} free; {} of the {} card is held {who} while this process's PyTorch reserved {} — memory held elsewhere, not this job's size",
                    Bytes(self.free),
                    Bytes(a.elsewhere.unwrap_or(0)),
                    Bytes(self.total.unwrap_or(0)),
                    Bytes(a.reserved)
                )
            }
            Verdict::Capacity => {
                let mut m = format!(
                    "{dev}: tried to allocate {req} with {} free on the device and {cache} reserved by PyTorch but unallocated",
                    Bytes(self.free)
                );
                if a.shortfall > 0 {
                    m.push_str(&format!(
                        ": at most {} was obtainable, short by {} — capacity, not fragmentation",
                        Bytes(a.obtainable),
                        Bytes(a.shortfall)
                    ));
                } else {
                    m.push_str(&format!(
                        ": the card is full ({} allocated by PyTorch); the unallocated cache is a sliver ({:.1}% of reserved) — capacity, not fragmentation",
                        Bytes(self.allocated),
                        pct(self.reserved_unallocated, a.reserved)
                    ));
                }
                m
            }
        }
    }

    /// What to do, with the commands to run.
    pub fn help(&self) -> String {
        let a = self.analyze();
        let mut lines = Vec::new();
        match a.verdict {
            Verdict::RequestExceedsCard => lines.push(format!(
                "find the tensor of {}: run the step under torch.cuda.memory._record_memory_history() and read the failing allocation's stack (or print the shapes before the line in the traceback); chunk the attention (scaled_dot_product_attention), compute the loss per chunk, or fix the missing reshape",
                Bytes(self.requested)
            )),
            Verdict::FreeButFailed => {
                lines.push("a cap on this process: grep -rn 'set_per_process_memory_fraction' . and echo \"$PYTORCH_CUDA_ALLOC_CONF\"".to_owned());
                lines.push("a partitioned or virtual GPU: nvidia-smi -L (MIG devices), nvidia-smi -q | grep -i -A2 'virtualization' (vGPU); under WSL the Windows driver's limits apply".to_owned());
                lines.push("another process allocating at the same moment: nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv -l 1 while the job runs".to_owned());
            }
            Verdict::Fragmentation => {
                if self.form == OomForm::Modern {
                    lines.push("export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True so cached segments grow in place instead of splitting".to_owned());
                } else {
                    lines.push(format!(
                        "export PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:{} so large cached blocks are not split (PyTorch >= 2.1: expandable_segments:True)",
                        split_size_hint(self.requested)
                    ));
                }
                lines.push("keep shapes stable (pad variable sequence lengths to a few buckets) and call torch.cuda.memory_summary() at the failure to see the split blocks".to_owned());
            }
            Verdict::HeldElsewhere => {
                lines.push("see who holds the card: nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv; stop a leftover run, give each job its own GPU (CUDA_VISIBLE_DEVICES), or set memory limits for the other libraries in the process (TensorFlow, JAX: XLA_PYTHON_CLIENT_MEM_FRACTION, cupy)".to_owned());
            }
            Verdict::Capacity => {
                let need = if a.shortfall > 0 {
                    format!("free at least {} of GPU memory: ", Bytes(a.shortfall))
                } else {
                    "the card is full of this job's tensors: ".to_owned()
                };
                lines.push(format!(
                    "{need}lower the batch size (activations scale with it), enable activation checkpointing (torch.utils.checkpoint / model.gradient_checkpointing_enable()), train in bf16/fp16 with torch.autocast, or shard optimizer state (ZeRO/FSDP); allocator settings cannot fix a card that is too small"
                ));
            }
        }
        if a.verdict != Verdict::HeldElsewhere
            && let Some(out) = a.outside_pytorch
            && out >= 1 << 30
        {
            lines.push(format!(
                "{} of the card is held outside PyTorch (CUDA context, other libraries or processes): nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv",
                Bytes(out)
            ));
        }
        lines.push(
            "watch it happen: nvidia-smi --query-gpu=memory.used,memory.free,utilization.gpu --format=csv -l 1"
                .to_owned(),
        );
        lines.join("\n")
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// A `max_split_size_mb` no larger than the request (so the request's size class is never
/// split), rounded down to a power of two, at least 128 MiB as PyTorch's docs suggest.
fn split_size_hint(requested: u64) -> u64 {
    let mib = (requested >> 20).max(128);
    1 << mib.ilog2()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRASH: &str = "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 12.50 GiB (GPU 0; 23.65 GiB total capacity; 18.21 GiB already allocated; 4.12 GiB free; 19.00 GiB reserved in total by PyTorch) If reserved memory is >> allocated memory try setting max_split_size_mb to avoid fragmentation.";

    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

    #[test]
    fn rtx3090_crash_is_capacity_short_by_7_6_gib() {
        let oom = parse_cuda_oom(CRASH).expect("parses");
        assert_eq!(oom.form, OomForm::Legacy);
        assert_eq!(oom.gpu, Some(0));
        let a = oom.analyze();
        assert_eq!(a.verdict, Verdict::Capacity);
        let short = a.shortfall as f64 / GIB;
        assert!((short - 7.59).abs() < 0.01, "{short}");
        let unalloc = oom.reserved_unallocated as f64 / GIB;
        assert!((unalloc - 0.79).abs() < 0.01, "{unalloc}");
        let outside = a.outside_pytorch.unwrap() as f64 / GIB;
        assert!((outside - 0.53).abs() < 0.01, "{outside}");
        assert!(
            oom.message().contains("short by 7.59 GiB"),
            "{}",
            oom.message()
        );
    }

    #[test]
    fn markdown_emphasis_pasted_around_the_head_is_read_through() {
        let bold = "**RuntimeError: CUDA out of memory.** Tried to allocate 1.71 GiB (GPU 0; 31.72 GiB total capacity; 23.58 GiB already allocated; 1.58 GiB free; 29.08 GiB reserved in total by PyTorch)";
        let oom = parse_cuda_oom(bold).expect("parses");
        assert_eq!(oom.analyze().verdict, Verdict::Fragmentation);
        let modern = "`torch.OutOfMemoryError: CUDA out of memory.` Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 79.15 GiB of which 5.81 MiB is free. Of the allocated memory 77.92 GiB is allocated by PyTorch, and 616.46 MiB is reserved by PyTorch but unallocated.";
        assert!(parse_cuda_oom(modern).is_some());
        for head in [
            "*CUDA out of memory.* Tried",
            "**CUDA out of memory**. Tried",
            "__CUDA out of memory.__ Tried",
        ] {
            let text = bold.replacen("**RuntimeError: CUDA out of memory.** Tried", head, 1);
            assert!(parse_cuda_oom(&text).is_some(), "{text}");
        }
    }

    #[test]
    fn a_sliver_of_cache_on_a_full_card_is_capacity() {
        // 616 MiB unallocated of 78.5 GiB reserved (0.8%), the only process on the card.
        let text = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 79.15 GiB of which 5.81 MiB is free. Process 2214 has 79.14 GiB memory in use. Of the allocated memory 77.92 GiB is allocated by PyTorch, and 616.46 MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.";
        let oom = parse_cuda_oom(text).expect("parses");
        assert_eq!(oom.form, OomForm::Modern);
        assert_eq!(
            oom.processes,
            vec![(2214, parse_bytes("79.14 GiB").unwrap())]
        );
        let a = oom.analyze();
        assert_eq!(a.verdict, Verdict::Capacity);
        assert!(a.other_processes.is_empty());
        assert!(
            oom.message().contains("the card is full"),
            "{}",
            oom.message()
        );
        assert!(
            oom.message().contains("sliver (0.8% of reserved)"),
            "{}",
            oom.message()
        );
    }

    #[test]
    fn modern_form_fragmentation() {
        let text = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.15 GiB of which 1.00 GiB is free. Of the allocated memory 60.00 GiB is allocated by PyTorch, and 17.00 GiB is reserved by PyTorch but unallocated.";
        let oom = parse_cuda_oom(text).expect("parses");
        assert_eq!(oom.analyze().verdict, Verdict::Fragmentation);
        assert!(oom.help().contains("expandable_segments:True"));
        assert!(
            oom.message().contains("(22% of the 77.00 GiB it reserved)"),
            "{}",
            oom.message()
        );
    }

    #[test]
    fn a_request_larger_than_the_card_is_a_shape_bug() {
        let text = "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 96.00 GiB (GPU 0; 79.15 GiB total capacity; 2.10 GiB already allocated; 76.40 GiB free; 2.20 GiB reserved in total by PyTorch)";
        let oom = parse_cuda_oom(text).unwrap();
        assert_eq!(oom.analyze().verdict, Verdict::RequestExceedsCard);
        assert!(
            oom.message()
                .contains("larger than the whole card (79.15 GiB)")
        );
    }

    #[test]
    fn enough_free_memory_and_still_failing_is_not_capacity() {
        let text = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total capacity; 4.00 GiB already allocated; 12.30 GiB free; 4.10 GiB reserved in total by PyTorch)";
        let oom = parse_cuda_oom(text).unwrap();
        assert_eq!(oom.analyze().verdict, Verdict::FreeButFailed);
        assert!(oom.help().contains("set_per_process_memory_fraction"));
    }

    #[test]
    fn memory_held_by_other_processes_is_named_with_them() {
        let text = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 4.00 GiB. GPU 0 has a total capacity of 39.39 GiB of which 1.50 GiB is free. Process 1811 has 22.00 GiB memory in use. Process 2930 has 15.80 GiB memory in use. Including non-PyTorch memory, this process has 15.80 GiB memory in use. Of the allocated memory 14.90 GiB is allocated by PyTorch, and 300.00 MiB is reserved by PyTorch but unallocated.";
        let oom = parse_cuda_oom(text).unwrap();
        let a = oom.analyze();
        assert_eq!(a.verdict, Verdict::HeldElsewhere);
        assert_eq!(
            a.other_processes,
            vec![(1811, parse_bytes("22.00 GiB").unwrap())]
        );
        assert!(
            oom.message().contains("process 1811 holds 22.00 GiB"),
            "{}",
            oom.message()
        );
        // Without the process list, the gap between total, free and this process says it.
        let legacy = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total capacity; 6.00 GiB already allocated; 500.00 MiB free; 6.20 GiB reserved in total by PyTorch)";
        assert_eq!(
            parse_cuda_oom(legacy).unwrap().analyze().verdict,
            Verdict::HeldElsewhere
        );
    }

    #[test]
    fn modern_form_capacity_with_process_memory() {
        let text = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 3.00 GiB. GPU 0 has a total capacity of 23.68 GiB of which 1.20 GiB is free. Including non-PyTorch memory, this process has 22.47 GiB memory in use. Of the allocated memory 21.10 GiB is allocated by PyTorch, and 1.00 GiB is reserved by PyTorch but unallocated.";
        let oom = parse_cuda_oom(text).expect("parses");
        let a = oom.analyze();
        assert_eq!(a.verdict, Verdict::Capacity);
        assert_eq!(oom.process_in_use, parse_bytes("22.47 GiB"));
        assert_eq!(
            a.shortfall,
            parse_bytes("3.00 GiB").unwrap() - parse_bytes("2.20 GiB").unwrap()
        );
    }

    #[test]
    fn pre_1_4_cached_form_and_legacy_fragmentation() {
        let text = "RuntimeError: CUDA out of memory. Tried to allocate 1.50 GiB (GPU 0; 10.76 GiB total capacity; 6.00 GiB already allocated; 1.00 GiB free; 9.00 GiB reserved in total by PyTorch)";
        let oom = parse_cuda_oom(text).unwrap();
        assert_eq!(oom.analyze().verdict, Verdict::Fragmentation);
        assert!(
            oom.help().contains("max_split_size_mb:1024"),
            "{}",
            oom.help()
        );
        // Before 1.4, `cached` was the allocator's free blocks (allocated + cached + free is
        // the card less its context), so here 1.88 GiB sat unallocated.
        let old = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 1; 7.93 GiB total capacity; 5.37 GiB already allocated; 11.56 MiB free; 1.88 GiB cached)";
        let oom = parse_cuda_oom(old).unwrap();
        assert_eq!(oom.gpu, Some(1));
        assert_eq!(oom.reserved_unallocated, parse_bytes("1.88 GiB").unwrap());
        assert_eq!(oom.analyze().verdict, Verdict::Capacity);
        let fragmented = old.replace("Tried to allocate 2.00 GiB", "Tried to allocate 1.50 GiB");
        assert_eq!(
            parse_cuda_oom(&fragmented).unwrap().analyze().verdict,
            Verdict::Fragmentation
        );
    }

    #[test]
    fn pytorch_2_1_misspelling_of_capacity() {
        let text = "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacty of 23.65 GiB of which 1.02 GiB is free. Of the allocated memory 20.10 GiB is allocated by PyTorch, and 1.80 GiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting max_split_size_mb to avoid fragmentation.";
        let oom = parse_cuda_oom(text).expect("parses");
        assert_eq!(oom.analyze().verdict, Verdict::Fragmentation);
    }

    #[test]
    fn truncated_message_is_not_parsed() {
        assert!(
            parse_cuda_oom("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.93 GiB total")
                .is_none()
        );
        assert!(parse_cuda_oom("RuntimeError: CUDA error: out of memory").is_none());
    }
}
