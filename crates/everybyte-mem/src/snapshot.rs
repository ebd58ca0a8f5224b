//! PyTorch caching-allocator snapshots and memory summaries.
//!
//! `torch.cuda.memory._snapshot()` returns a dict that people pickle to a file: `segments` (one
//! dict per `cudaMalloc`ed segment with its `blocks`), `device_traces`, `allocator_settings` and
//! `external_annotations`. Older PyTorch (`torch.cuda.memory_snapshot()`) returns the bare list
//! of segments, and records each block's stack under `history` instead of `frames`. The file is
//! read with [`crate::pickle`], which never executes anything; a value of the wrong shape is an
//! error that names where it was found.
//!
//! `torch.cuda.memory_summary()` prints a table of the same totals; [`read_memory_summary`]
//! reads its current and peak columns.

use std::collections::{BTreeMap, HashMap};

use everybyte_core::bytesize::{Bytes, parse_bytes};
use serde::Serialize;

pub use crate::error::SnapshotError;
use crate::pickle::{Value, read_pickle};

/// How many allocation sites [`SnapshotReport::top_sites`] keeps.
pub const TOP_SITES: usize = 10;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The allocator's state for a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockState {
    /// Holds a live tensor.
    ActiveAllocated,
    /// Freed by its tensor but still in use by a stream; not yet reusable.
    ActivePendingFree,
    /// Free: cached by the allocator, reusable.
    Inactive,
}

impl BlockState {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "active_allocated" => Some(BlockState::ActiveAllocated),
            "active_pending_free" => Some(BlockState::ActivePendingFree),
            "inactive" => Some(BlockState::Inactive),
            _ => None,
        }
    }

    /// Active blocks are not reusable: allocated or pending free.
    pub fn is_active(self) -> bool {
        self != BlockState::Inactive
    }
}

/// One block of a segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Block {
    /// Offset from the segment's start, in bytes.
    pub offset: u64,
    pub size: u64,
    pub requested_size: Option<u64>,
    pub state: BlockState,
    /// `filename:line name` of the frame that allocated it (see [`SnapshotReport::top_sites`]),
    /// when the snapshot recorded stacks.
    pub site: Option<String>,
}

/// One segment (one `cudaMalloc`) and its totals, in bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Segment {
    pub device: i64,
    pub address: u64,
    pub stream: u64,
    /// `large` or `small` (`unknown` when the snapshot does not say).
    pub segment_type: String,
    pub total_size: u64,
    /// Blocks `active_allocated`.
    pub allocated: u64,
    /// Blocks `active_allocated` or `active_pending_free`.
    pub active: u64,
    /// Blocks `inactive` (cached, free).
    pub inactive: u64,
    /// Sizes the program asked for, of the allocated blocks (0 when not recorded).
    pub requested: u64,
    /// The largest inactive block.
    pub largest_free: u64,
    pub block_count: usize,
    #[serde(skip)]
    pub blocks: Vec<Block>,
}

/// Totals over all segments, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Sum of the segments' sizes: what the allocator holds from the driver.
    pub reserved: u64,
    pub allocated: u64,
    pub active: u64,
    pub requested: u64,
    /// All free (inactive) bytes in reserved segments.
    pub inactive: u64,
    /// Free bytes in segments that also hold active blocks: split blocks that
    /// `empty_cache()` cannot release.
    pub inactive_split: u64,
    /// The largest free block: the biggest request the cache can serve without `cudaMalloc`.
    pub largest_free: u64,
    /// `1 − largest_free / inactive`; 0 when nothing is free.
    pub fragmentation: f64,
    pub segments: usize,
    pub blocks: usize,
}

/// Active memory grouped by the frame that allocated it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AllocationSite {
    /// `filename:line name`, or `<no stack recorded>`.
    pub site: String,
    pub bytes: u64,
    pub blocks: usize,
}

/// What a snapshot says, in exact bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SnapshotReport {
    pub totals: Totals,
    /// Segment count per `segment_type`.
    pub segments_by_type: BTreeMap<String, usize>,
    /// Up to [`TOP_SITES`] sites holding the most active memory, largest first.
    pub top_sites: Vec<AllocationSite>,
    /// Entries in `device_traces`, over all devices.
    pub trace_entries: usize,
    /// `allocator_settings.expandable_segments`, when present.
    pub expandable_segments: Option<bool>,
    /// `allocator_settings.max_split_size` (−1 for unlimited), when present.
    pub max_split_size: Option<i64>,
    pub segments: Vec<Segment>,
}

/// A segment laid out for drawing: each block's offset from the segment start, size and state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentView {
    pub address: u64,
    pub total: u64,
    pub blocks: Vec<(u64, u64, BlockState)>,
}

/// Reads a pickled allocator snapshot. Nothing in the pickle is executed.
pub fn read_snapshot(bytes: &[u8]) -> Result<SnapshotReport, SnapshotError> {
    let root = read_pickle(bytes)?;
    let (segments_value, top) = match &root {
        Value::Dict(_) => {
            let segs = root.get("segments").ok_or(SnapshotError::MissingKey {
                context: "snapshot".to_string(),
                key: "segments",
            })?;
            (segs, Some(&root))
        }
        Value::List(_) => (&root, None),
        other => return Err(SnapshotError::NotASnapshot(other.kind())),
    };
    let list = segments_value
        .as_list()
        .ok_or_else(|| SnapshotError::WrongType {
            context: "snapshot".to_string(),
            key: "segments",
            found: segments_value.kind(),
            expected: "a list",
        })?;
    let segments = list
        .iter()
        .enumerate()
        .map(|(i, v)| read_segment(v, &format!("segments[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;

    let trace_entries = top
        .and_then(|t| t.get("device_traces"))
        .and_then(Value::as_list)
        .map_or(0, |devs| {
            devs.iter()
                .map(|d| d.as_list().map_or(0, <[Value]>::len))
                .sum()
        });
    let settings = top.and_then(|t| t.get("allocator_settings"));
    let expandable_segments = settings
        .and_then(|s| s.get("expandable_segments"))
        .and_then(Value::as_bool);
    let max_split_size = settings
        .and_then(|s| s.get("max_split_size"))
        .and_then(Value::as_i64);

    Ok(SnapshotReport {
        totals: totals(&segments),
        segments_by_type: segments.iter().fold(BTreeMap::new(), |mut m, s| {
            *m.entry(s.segment_type.clone()).or_insert(0) += 1;
            m
        }),
        top_sites: top_sites(&segments),
        trace_entries,
        expandable_segments,
        max_split_size,
        segments,
    })
}

fn totals(segments: &[Segment]) -> Totals {
    let mut t = Totals {
        segments: segments.len(),
        ..Totals::default()
    };
    for s in segments {
        t.reserved += s.total_size;
        t.allocated += s.allocated;
        t.active += s.active;
        t.requested += s.requested;
        t.inactive += s.inactive;
        if s.active > 0 {
            t.inactive_split += s.inactive;
        }
        t.largest_free = t.largest_free.max(s.largest_free);
        t.blocks += s.block_count;
    }
    t.fragmentation = if t.inactive == 0 {
        0.0
    } else {
        1.0 - t.largest_free as f64 / t.inactive as f64
    };
    t
}

fn top_sites(segments: &[Segment]) -> Vec<AllocationSite> {
    let mut by_site: HashMap<&str, (u64, usize)> = HashMap::new();
    for b in segments.iter().flat_map(|s| &s.blocks) {
        if b.state.is_active() {
            let e = by_site
                .entry(b.site.as_deref().unwrap_or("<no stack recorded>"))
                .or_insert((0, 0));
            e.0 += b.size;
            e.1 += 1;
        }
    }
    let mut sites: Vec<AllocationSite> = by_site
        .into_iter()
        .map(|(site, (bytes, blocks))| AllocationSite {
            site: site.to_string(),
            bytes,
            blocks,
        })
        .collect();
    sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.site.cmp(&b.site)));
    sites.truncate(TOP_SITES);
    sites
}

fn dict<'a>(v: &'a Value, context: &str) -> Result<&'a Value, SnapshotError> {
    match v {
        Value::Dict(_) => Ok(v),
        other => Err(SnapshotError::NotADict {
            context: context.to_string(),
            found: other.kind(),
        }),
    }
}

fn required<'a>(
    d: &'a Value,
    key: &'static str,
    context: &str,
) -> Result<&'a Value, SnapshotError> {
    d.get(key).ok_or_else(|| SnapshotError::MissingKey {
        context: context.to_string(),
        key,
    })
}

fn wrong(v: &Value, key: &'static str, context: &str, expected: &'static str) -> SnapshotError {
    SnapshotError::WrongType {
        context: context.to_string(),
        key,
        found: v.kind(),
        expected,
    }
}

fn required_u64(d: &Value, key: &'static str, context: &str) -> Result<u64, SnapshotError> {
    let v = required(d, key, context)?;
    v.as_u64()
        .ok_or_else(|| wrong(v, key, context, "a non-negative integer"))
}

fn optional_u64(d: &Value, key: &'static str, context: &str) -> Result<Option<u64>, SnapshotError> {
    match d.get(key) {
        None | Some(Value::None) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| wrong(v, key, context, "a non-negative integer")),
    }
}

fn read_segment(v: &Value, context: &str) -> Result<Segment, SnapshotError> {
    let d = dict(v, context)?;
    let address = required_u64(d, "address", context)?;
    let total_size = required_u64(d, "total_size", context)?;
    let device = match d.get("device") {
        None => 0,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| wrong(v, "device", context, "an integer"))?,
    };
    let stream = optional_u64(d, "stream", context)?.unwrap_or(0);
    let segment_type = match d.get("segment_type") {
        None => "unknown".to_string(),
        Some(v) => v
            .as_str()
            .ok_or_else(|| wrong(v, "segment_type", context, "a string"))?
            .to_string(),
    };
    let blocks_value = required(d, "blocks", context)?;
    let list = blocks_value
        .as_list()
        .ok_or_else(|| wrong(blocks_value, "blocks", context, "a list"))?;
    let mut blocks = Vec::with_capacity(list.len());
    let mut running = 0u64;
    for (i, b) in list.iter().enumerate() {
        let block = read_block(b, &format!("{context}.blocks[{i}]"), address, running)?;
        running = block.offset.saturating_add(block.size);
        blocks.push(block);
    }
    let mut seg = Segment {
        device,
        address,
        stream,
        segment_type,
        total_size,
        allocated: 0,
        active: 0,
        inactive: 0,
        requested: 0,
        largest_free: 0,
        block_count: blocks.len(),
        blocks: Vec::new(),
    };
    for b in &blocks {
        match b.state {
            BlockState::ActiveAllocated => {
                seg.allocated += b.size;
                seg.active += b.size;
                seg.requested += b.requested_size.unwrap_or(0);
            }
            BlockState::ActivePendingFree => seg.active += b.size,
            BlockState::Inactive => {
                seg.inactive += b.size;
                seg.largest_free = seg.largest_free.max(b.size);
            }
        }
    }
    seg.blocks = blocks;
    Ok(seg)
}

fn read_block(
    v: &Value,
    context: &str,
    segment_address: u64,
    running: u64,
) -> Result<Block, SnapshotError> {
    let d = dict(v, context)?;
    let size = required_u64(d, "size", context)?;
    let state_value = required(d, "state", context)?;
    let state_text = state_value
        .as_str()
        .ok_or_else(|| wrong(state_value, "state", context, "a string"))?;
    let state = BlockState::parse(state_text).ok_or_else(|| SnapshotError::UnknownState {
        context: context.to_string(),
        state: state_text.to_string(),
    })?;
    let requested_size = optional_u64(d, "requested_size", context)?;
    // Old snapshots lack block addresses; blocks are listed in address order.
    let offset = match optional_u64(d, "address", context)? {
        Some(a) => a
            .checked_sub(segment_address)
            .ok_or_else(|| SnapshotError::WrongType {
                context: context.to_string(),
                key: "address",
                found: "address below its segment's",
                expected: "an address inside the segment",
            })?,
        None => running,
    };
    let frames = match d.get("frames").and_then(Value::as_list) {
        Some(f) => Some(f),
        // Older PyTorch: `history`, a list of allocations of this block, newest last.
        None => d
            .get("history")
            .and_then(Value::as_list)
            .and_then(<[Value]>::last)
            .and_then(|h| h.get("frames"))
            .and_then(Value::as_list),
    };
    Ok(Block {
        offset,
        size,
        requested_size,
        state,
        site: frames.and_then(site_of),
    })
}

/// Picks the frame that best names who allocated: the first Python frame outside installed
/// packages and the standard library (the user's code), else the first Python frame outside
/// PyTorch, else (a C++-only stack, such as the autograd thread's) the first frame that is not
/// stack capture, the allocator or ATen/c10 dispatch, else the first frame. Frames are
/// innermost first.
fn site_of(frames: &[Value]) -> Option<String> {
    let parsed: Vec<(&str, i64, &str)> = frames
        .iter()
        .filter_map(|f| {
            Some((
                f.get("filename")?.as_str()?,
                f.get("line").and_then(Value::as_i64).unwrap_or(0),
                f.get("name").and_then(Value::as_str).unwrap_or(""),
            ))
        })
        .collect();
    let is_py = |f: &str| {
        std::path::Path::new(f)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("py"))
    };
    let in_torch = |f: &str| f.contains("/torch/") || f.starts_with("torch/");
    let installed = |f: &str| {
        f.contains("site-packages/") || f.contains("dist-packages/") || f.contains("/lib/python")
    };
    let pick = parsed
        .iter()
        .find(|(f, _, _)| is_py(f) && !installed(f) && !in_torch(f))
        .or_else(|| parsed.iter().find(|(f, _, _)| is_py(f) && !in_torch(f)))
        .or_else(|| parsed.iter().find(|(_, _, n)| !is_machinery(n)))
        .or_else(|| parsed.first())?;
    Some(format!("{}:{} {}", pick.0, pick.1, pick.2))
}

/// C++ frames every allocation passes through: capture, allocator, dispatch.
fn is_machinery(name: &str) -> bool {
    let name = name.strip_prefix("void ").unwrap_or(name);
    name.is_empty()
        || [
            "torch::unwind",
            "torch::CapturedTraceback",
            "torch::cuda::",
            "c10::",
            "at::",
            "std::",
        ]
        .iter()
        .any(|p| name.starts_with(p))
}

fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / GIB)
}

impl SnapshotReport {
    /// Each segment's blocks as (offset, size, state), in snapshot order.
    pub fn segment_map(&self) -> Vec<SegmentView> {
        self.segments
            .iter()
            .map(|s| SegmentView {
                address: s.address,
                total: s.total_size,
                blocks: s
                    .blocks
                    .iter()
                    .map(|b| (b.offset, b.size, b.state))
                    .collect(),
            })
            .collect()
    }

    /// The totals in GiB with two decimals, then the top allocation sites.
    pub fn render_text(&self) -> String {
        let t = &self.totals;
        let types: Vec<String> = self
            .segments_by_type
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        let mut out = format!(
            "allocator snapshot: {} segments ({}), {} blocks\n",
            t.segments,
            if types.is_empty() {
                "none".to_string()
            } else {
                types.join(", ")
            },
            t.blocks
        );
        for (label, v) in [
            ("reserved", t.reserved),
            ("allocated", t.allocated),
            ("active", t.active),
            ("requested", t.requested),
            ("inactive", t.inactive),
            ("inactive split", t.inactive_split),
            ("largest free", t.largest_free),
        ] {
            out.push_str(&format!("  {label:<15}{:>12}\n", gib(v)));
        }
        out.push_str(&format!(
            "  {:<15}{:>11.1}%\n",
            "fragmentation",
            t.fragmentation * 100.0
        ));
        if !self.top_sites.is_empty() {
            out.push_str("top allocation sites (active memory):\n");
            for s in &self.top_sites {
                out.push_str(&format!(
                    "  {:>12}  {:>5} blocks  {}\n",
                    Bytes(s.bytes).to_string(),
                    s.blocks,
                    s.site
                ));
            }
        }
        out
    }
}

/// Current and peak of one row of `torch.cuda.memory_summary()`, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub current: u64,
    pub peak: u64,
}

/// The totals of `torch.cuda.memory_summary()`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SummaryReport {
    pub device: Option<u32>,
    pub ooms: Option<u64>,
    pub malloc_retries: Option<u64>,
    pub allocated: Usage,
    pub active: Option<Usage>,
    pub requested: Option<Usage>,
    pub reserved: Usage,
    pub non_releasable: Option<Usage>,
}

impl SummaryReport {
    /// Reserved but not allocated now: the cache.
    pub fn cached(&self) -> u64 {
        self.reserved.current.saturating_sub(self.allocated.current)
    }
}

/// Reads the table `torch.cuda.memory_summary()` prints. The `Allocated memory` and
/// `GPU reserved memory` rows are required.
pub fn read_memory_summary(text: &str) -> Result<SummaryReport, SnapshotError> {
    let mut report = SummaryReport::default();
    let mut allocated = None;
    let mut reserved = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(n) = number_after(line, "device ID") {
            report.device = u32::try_from(n).ok();
        }
        if let Some(n) = number_after(line, "CUDA OOMs:") {
            report.ooms = Some(n);
        }
        if let Some(n) = number_after(line, "cudaMalloc retries:") {
            report.malloc_retries = Some(n);
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[0].is_empty() {
            continue;
        }
        let slot = match cells[1] {
            "Allocated memory" => &mut allocated,
            "Active memory" => &mut report.active,
            "Requested memory" => &mut report.requested,
            "GPU reserved memory" => &mut reserved,
            "Non-releasable memory" => &mut report.non_releasable,
            _ => continue,
        };
        let size = |cell: &str, column: &str| {
            parse_bytes(cell).ok_or_else(|| {
                SnapshotError::Summary(format!("`{}` {column} `{cell}` is not a size", cells[1]))
            })
        };
        *slot = Some(Usage {
            current: size(cells[2], "Cur Usage")?,
            peak: size(cells[3], "Peak Usage")?,
        });
    }
    report.allocated = allocated.ok_or_else(|| {
        SnapshotError::Summary(
            "no `Allocated memory` row (is this torch.cuda.memory_summary() output?)".to_string(),
        )
    })?;
    report.reserved = reserved
        .ok_or_else(|| SnapshotError::Summary("no `GPU reserved memory` row".to_string()))?;
    Ok(report)
}

fn number_after(line: &str, label: &str) -> Option<u64> {
    let rest = &line[line.find(label)? + label.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

pub mod file;

#[cfg(test)]
mod tests;
