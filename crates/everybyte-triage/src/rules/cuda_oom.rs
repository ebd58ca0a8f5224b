//! LOG001 and LOG002: one detector reads PyTorch's CUDA OOM message and decides between a card
//! that is too small and a cache that is fragmented (the analysis lives in `everybyte-mem`).

use everybyte_mem::{Verdict, parse_cuda_oom};

use crate::hit::{Hit, Role};
use crate::line::find_ci;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A CUDA (or ROCm HIP) out-of-memory error whose request exceeds everything the allocator
    /// could have obtained: the memory free on the device plus the memory PyTorch's caching
    /// allocator reserved but had not allocated. Both message forms are read: the one before
    /// PyTorch 2.1 (`… already allocated; … free; … reserved in total by PyTorch`) and the one
    /// from 2.1 on (`… of which … is free … reserved by PyTorch but unallocated`).
    /// ## Why it matters
    /// When `cudaMalloc` fails, PyTorch releases its wholly free cached blocks and tries again;
    /// if the request is still larger than free + cached memory, no allocator setting can
    /// help, and `max_split_size_mb` (which the message itself suggests) only wastes a rerun.
    /// The numbers say how much must go: in the classic crash on a 24 GB RTX 3090, a 12.50 GiB
    /// request met 4.12 GiB free and 0.79 GiB cached, 7.59 GiB short.
    /// ## Example
    /// ```text
    /// torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 12.50 GiB (GPU 0; 23.65 GiB total capacity; 18.21 GiB already allocated; 4.12 GiB free; 19.00 GiB reserved in total by PyTorch)
    /// ```
    /// ## Fix
    /// Make the step need less: a smaller batch (activations grow linearly with it),
    /// activation checkpointing, bf16/fp16 autocast, an 8-bit or sharded optimizer (ZeRO,
    /// FSDP), or a larger card. Budget it before the run instead of after the crash.
    pub static CUDA_OOM_CAPACITY = { code: "LOG001", name: "cuda-oom-capacity", severity: Error, summary: "CUDA out of memory: the request exceeds free plus cached memory" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A CUDA out-of-memory error where the request was *smaller* than the free memory plus
    /// the memory PyTorch holds reserved but unallocated: the memory existed, but not in one
    /// block the allocator could hand out.
    /// ## Why it matters
    /// A fragmented cache fails at a fraction of the card's capacity, typically with variable
    /// sequence lengths or shapes that change every step. Lowering the batch size hides it for
    /// a while at a real cost in throughput; an allocator setting fixes it for free.
    /// ## Example
    /// ```text
    /// torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 79.15 GiB of which 5.81 MiB is free. Of the allocated memory 77.92 GiB is allocated by PyTorch, and 616.46 MiB is reserved by PyTorch but unallocated.
    /// ```
    /// ## Fix
    /// On PyTorch 2.1 or later, `export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`;
    /// before that, `PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:N` with N no larger than the
    /// typical large request. Pad variable-length inputs to a few fixed buckets, and read
    /// `torch.cuda.memory_summary()` at the failure to see the split blocks.
    pub static CUDA_OOM_FRAGMENTATION = { code: "LOG002", name: "cuda-oom-fragmentation", severity: Error, summary: "CUDA out of memory with enough cached memory, but fragmented" };
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    let Some(pos) = find_ci(line, "out of memory") else {
        return;
    };
    // The kernel's and the cgroup's OOM killer are another rule's.
    if find_ci(line, "killed process").is_some()
        || find_ci(line, "kill process").is_some()
        || find_ci(line, "memory cgroup").is_some()
    {
        return;
    }
    let anchor = exception_start(line, pos);
    if let Some(oom) = parse_cuda_oom(line) {
        let a = oom.analyze();
        let rule = match a.verdict {
            Verdict::Capacity => &CUDA_OOM_CAPACITY,
            Verdict::Fragmentation => &CUDA_OOM_FRAGMENTATION,
        };
        let mut hit = Hit::new(rule, anchor, oom.message(), oom.help())
            .role(Role::Cause("CUDA out-of-memory error"))
            .data("requested_bytes", oom.requested)
            .data("free_bytes", oom.free)
            .data("allocated_bytes", oom.allocated)
            .data("reserved_bytes", a.reserved)
            .data("reserved_unallocated_bytes", oom.reserved_unallocated)
            .data("obtainable_bytes", a.obtainable)
            .data("shortfall_bytes", a.shortfall);
        if let Some(t) = oom.total {
            hit = hit.data("total_bytes", t);
        }
        if let Some(o) = a.outside_pytorch {
            hit = hit.data("outside_pytorch_bytes", o);
        }
        if let Some(g) = oom.gpu {
            hit = hit.data("gpu", g);
        }
        out.push(hit);
        return;
    }
    // "CUDA error: out of memory" comes from the CUDA runtime (context creation, cuBLAS
    // handles, NCCL buffers), not from the caching allocator, so there are no numbers.
    let is_cuda = find_ci(line, "cuda").is_some() || find_ci(line, "hip").is_some();
    if is_cuda && find_ci(line, "host").is_none() {
        out.push(
            Hit::new(
                &CUDA_OOM_CAPACITY,
                anchor,
                "CUDA out of memory reported by the CUDA runtime, not by PyTorch's allocator: the device had no room for a context, a library workspace or a communication buffer".to_owned(),
                format!(
                    "see what holds the card: nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv; another process (or a previous run that did not exit) often does. {}",
                    "If this is the first CUDA call, set CUDA_VISIBLE_DEVICES to an idle GPU"
                ),
            )
            .role(Role::Cause("CUDA out-of-memory error"))
            .key("cuda-runtime-oom"),
        );
    }
}

/// Where the exception's name starts (`torch.cuda.OutOfMemoryError: …`), for the column.
fn exception_start(line: &str, pos: usize) -> usize {
    let head = &line[..pos];
    let stripped = crate::line::strip_decorations(line);
    let offset = line.len() - stripped.len();
    if offset <= pos { offset } else { head.len() }
}
