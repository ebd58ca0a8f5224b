//! LOG001, LOG002, LOG018, LOG019 and LOG020: one detector reads PyTorch's CUDA OOM message
//! and decides its cause from the numbers (the analysis lives in `everybyte-mem`): a card too
//! small for the step, a fragmented cache, one request larger than the card, an allocation that
//! failed with enough memory free, or memory held by others.

use everybyte_mem::{Verdict, parse_cuda_oom};

use crate::hit::{Hit, Role};
use crate::line::find_ci;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A CUDA (or ROCm HIP) out-of-memory error whose request exceeds everything the allocator
    /// could have obtained: the memory free on the device plus the memory PyTorch's caching
    /// allocator reserved but had not allocated. Both message forms are read: the one before
    /// PyTorch 2.1 (`… already allocated; … free; … reserved in total by PyTorch`, and before
    /// 1.4 `… cached`, the unallocated part) and the one from 2.1 on (`… of which … is free …
    /// reserved by PyTorch but unallocated`). The other allocators' device OOMs are reported
    /// here too, with what their messages give: XLA's (JAX) `RESOURCE_EXHAUSTED: Out of memory
    /// while trying to allocate N bytes`, TensorFlow's `OOM when allocating tensor with shape[…]
    /// and type …` (its size computed), and PyTorch's `cudaMallocAsync` backend (`Allocation
    /// on device 0 would exceed allowed memory`, its numbers read from the lines after it).
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

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A CUDA out-of-memory error whose single request is larger than the card's total
    /// capacity, as the message states it.
    /// ## Why it matters
    /// No batch size elsewhere, allocator setting or idle GPU can satisfy one allocation bigger
    /// than the card. It is a shape bug: an attention score matrix of batch × heads × seq² when
    /// the sequence is far longer than intended, logits of batch × seq × vocab in fp32, a
    /// broadcast that made a square of a vector, a forgotten `.view`. Retrying with a smaller
    /// batch wastes runs when one dimension is wrong by orders of magnitude.
    /// ## Example
    /// ```text
    /// torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 96.00 GiB (GPU 0; 79.15 GiB total capacity; 2.10 GiB already allocated; 76.40 GiB free; 2.20 GiB reserved in total by PyTorch)
    /// ```
    /// ## Fix
    /// Find the tensor: record the allocator's history
    /// (`torch.cuda.memory._record_memory_history()`) and read the failing allocation's stack,
    /// or print the shapes before the line the traceback names. Then chunk the computation
    /// (`scaled_dot_product_attention` instead of materialised scores, the loss per chunk of
    /// the sequence) or fix the reshape.
    pub static CUDA_OOM_REQUEST_EXCEEDS_CARD = { code: "LOG018", name: "cuda-oom-request-exceeds-card", severity: Error, summary: "CUDA out of memory: one allocation is larger than the whole card" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A CUDA out-of-memory error although the device reported at least the requested memory
    /// free (`free` >= `Tried to allocate` in the message).
    /// ## Why it matters
    /// Neither the card's capacity nor PyTorch's cache is the cause, so the usual advice (a
    /// smaller batch, `max_split_size_mb`) changes nothing. What limits the process is
    /// elsewhere: `torch.cuda.set_per_process_memory_fraction`, a MIG slice or vGPU profile, the
    /// Windows driver's limits under WSL/WDDM, another process allocating between the check and
    /// the call, or device memory itself fragmented by other allocations.
    /// ## Example
    /// ```text
    /// RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total capacity; 4.00 GiB already allocated; 12.30 GiB free; 4.10 GiB reserved in total by PyTorch)
    /// ```
    /// ## Fix
    /// Look for a memory fraction in the code (`set_per_process_memory_fraction`) and the
    /// environment (`PYTORCH_CUDA_ALLOC_CONF`); list MIG devices (`nvidia-smi -L`) and vGPU
    /// profiles (`nvidia-smi -q`); watch the other processes on the card while the job runs
    /// (`nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv -l 1`).
    pub static CUDA_OOM_FREE_BUT_FAILED = { code: "LOG019", name: "cuda-oom-free-but-failed", severity: Error, summary: "CUDA out of memory although the device reported enough free memory" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A CUDA out-of-memory error where a large share of the card (at least a quarter, at
    /// least 1 GiB, and enough that the request would have fit without it) is held outside
    /// this process's PyTorch: by the other processes the message
    /// lists (`Process 1811 has 22.00 GiB memory in use`, PyTorch 2.1+), or by what the total,
    /// the free memory and this process's use leave over.
    /// ## Why it matters
    /// The job itself may fit the card; someone else's memory does not leave room for it. A
    /// leftover run that never exited, a notebook kernel holding the GPU, two jobs scheduled onto
    /// one card, or another framework in the same process (TensorFlow and JAX take most of the
    /// card by default). Shrinking the model is the wrong fix.
    /// ## Example
    /// ```text
    /// torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 4.00 GiB. GPU 0 has a total capacity of 39.39 GiB of which 1.50 GiB is free. Process 1811 has 22.00 GiB memory in use. Process 2930 has 15.80 GiB memory in use. Including non-PyTorch memory, this process has 15.80 GiB memory in use. Of the allocated memory 14.90 GiB is allocated by PyTorch, and 300.00 MiB is reserved by PyTorch but unallocated.
    /// ```
    /// ## Fix
    /// See who holds the card (`nvidia-smi --query-compute-apps=pid,process_name,used_memory
    /// --format=csv`), stop the leftover process, give each job its own GPU
    /// (`CUDA_VISIBLE_DEVICES`, one GPU per pod), or cap the other library
    /// (`XLA_PYTHON_CLIENT_MEM_FRACTION`, TensorFlow's memory growth).
    pub static CUDA_OOM_HELD_ELSEWHERE = { code: "LOG020", name: "cuda-oom-held-elsewhere", severity: Error, summary: "CUDA out of memory: much of the card is held by other processes" };
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    if let Some(hit) = super::oom_other::detect(line) {
        out.push(hit);
        return;
    }
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
            Verdict::RequestExceedsCard => &CUDA_OOM_REQUEST_EXCEEDS_CARD,
            Verdict::FreeButFailed => &CUDA_OOM_FREE_BUT_FAILED,
            Verdict::HeldElsewhere => &CUDA_OOM_HELD_ELSEWHERE,
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
        if let Some(e) = a.elsewhere {
            hit = hit.data("held_elsewhere_bytes", e);
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
