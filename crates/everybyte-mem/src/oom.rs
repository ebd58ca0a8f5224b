//! Parsing and explaining PyTorch's CUDA out-of-memory message.
//!
//! Two forms exist. Before PyTorch 2.1:
//! `Tried to allocate 12.50 GiB (GPU 0; 23.65 GiB total capacity; 18.21 GiB already allocated;
//! 4.12 GiB free; 19.00 GiB reserved in total by PyTorch)`. From 2.1 on:
//! `Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 79.15 GiB of which 5.81 MiB is
//! free. … Of the allocated memory 77.92 GiB is allocated by PyTorch, and 616.46 MiB is
//! reserved by PyTorch but unallocated.`
//!
//! When `cudaMalloc` fails, the caching allocator releases every cached block that is wholly
//! free and retries. So a request fails for lack of capacity when it exceeds the device's free
//! memory plus everything PyTorch reserved but has not allocated; when it does not, the cached
//! memory existed but sat in split blocks that could not be released or merged: fragmentation.

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
}

/// What the numbers mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The request exceeds free memory plus everything cached: the card is too small for it.
    Capacity,
    /// Enough memory was cached but not in one block.
    Fragmentation,
}

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
}

static LEGACY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(CUDA|HIP) out of memory\. Tried to allocate ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) \(GPU (\d+); ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) total capacity; ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) already allocated; ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) free; (?:([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) reserved in total by PyTorch|([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) cached)",
    )
    .expect("valid regex")
});

static MODERN_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(CUDA|HIP) out of memory\. Tried to allocate ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes)\. GPU (\d+) has a total capac(?:i)?ty of ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) of which ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) is free\.",
    )
    .expect("valid regex")
});

static MODERN_ALLOC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"Of the allocated memory ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) is allocated by PyTorch, (?:with [0-9.]+ ?[KMGTP]?i?B allocated in private pools \([^)]*\), )?and ([0-9.]+ ?[KMGTP]?i?B|[0-9]+ bytes) is reserved by PyTorch but unallocated",
    )
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
        let reserved = parse_bytes(c.get(7).or_else(|| c.get(8))?.as_str())?;
        let allocated = parse_bytes(&c[5])?;
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
    })
}

fn backend(s: &str) -> &'static str {
    if s.eq_ignore_ascii_case("hip") {
        "hip"
    } else {
        "cuda"
    }
}

impl CudaOom {
    pub fn analyze(&self) -> OomAnalysis {
        let reserved = self.allocated + self.reserved_unallocated;
        let obtainable = self.free + self.reserved_unallocated;
        let (verdict, shortfall) = if self.requested > obtainable {
            (Verdict::Capacity, self.requested - obtainable)
        } else {
            (Verdict::Fragmentation, 0)
        };
        OomAnalysis {
            verdict,
            reserved,
            obtainable,
            shortfall,
            outside_pytorch: self
                .total
                .map(|t| t.saturating_sub(reserved).saturating_sub(self.free)),
        }
    }

    fn device(&self) -> String {
        let name = if self.backend == "hip" { "HIP" } else { "CUDA" };
        match self.gpu {
            Some(g) => format!("{name} out of memory on GPU {g}"),
            None => format!("{name} out of memory"),
        }
    }

    /// A one-line diagnosis with the numbers.
    pub fn message(&self) -> String {
        let a = self.analyze();
        let head = format!(
            "{}: tried to allocate {} with {} free on the device and {} reserved by PyTorch but unallocated",
            self.device(),
            Bytes(self.requested),
            Bytes(self.free),
            Bytes(self.reserved_unallocated),
        );
        match a.verdict {
            Verdict::Capacity => format!(
                "{head}: at most {} was obtainable, short by {} — capacity, not fragmentation",
                Bytes(a.obtainable),
                Bytes(a.shortfall)
            ),
            Verdict::Fragmentation => format!(
                "{head}: {} was obtainable but not in one block — fragmentation of the allocator's cache",
                Bytes(a.obtainable)
            ),
        }
    }

    /// What to do, with the commands to run.
    pub fn help(&self) -> String {
        let a = self.analyze();
        let mut lines = Vec::new();
        match a.verdict {
            Verdict::Capacity => {
                lines.push(format!(
                    "free at least {} of GPU memory: lower the batch size (activations scale with it), enable activation checkpointing (torch.utils.checkpoint / model.gradient_checkpointing_enable()), train in bf16/fp16 with torch.autocast, or shard optimizer state (ZeRO/FSDP); allocator settings cannot fix a card that is too small",
                    Bytes(a.shortfall)
                ));
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
        }
        if let Some(out) = a.outside_pytorch
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
    fn modern_form_fragmentation() {
        let text = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 79.15 GiB of which 5.81 MiB is free. Process 2214 has 79.14 GiB memory in use. Of the allocated memory 77.92 GiB is allocated by PyTorch, and 616.46 MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.";
        let oom = parse_cuda_oom(text).expect("parses");
        assert_eq!(oom.form, OomForm::Modern);
        assert_eq!(oom.analyze().verdict, Verdict::Fragmentation);
        assert!(oom.help().contains("expandable_segments:True"));
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
        let old = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 1; 7.93 GiB total capacity; 6.37 GiB already allocated; 11.56 MiB free; 1.88 GiB cached)";
        let oom = parse_cuda_oom(old).unwrap();
        assert_eq!(oom.gpu, Some(1));
        assert_eq!(oom.reserved_unallocated, 0);
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
