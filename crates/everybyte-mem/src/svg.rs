//! The segment map of an allocator snapshot as SVG: one bar per segment (one `cudaMalloc`),
//! its length proportional to the segment's size, its blocks coloured by state. Free blocks
//! inside segments that also hold live tensors (split blocks, which `empty_cache()` cannot
//! return) get their own colour: that is what fragmentation looks like.

use std::fmt::Write as _;

use everybyte_core::bytesize::Bytes;
use everybyte_core::chart::{FONT, escape, shorten, text_width};

use crate::snapshot::{BlockState, SnapshotReport};

const WIDTH: f64 = 960.0;
const LABEL: f64 = 170.0;
const ROW: f64 = 14.0;
const GAP: f64 = 4.0;
const TOP: f64 = 56.0;
/// Segments drawn; the rest are summed in one line below the map.
pub const MAX_SEGMENTS: usize = 400;

// Okabe–Ito colours, apart for colour-blind readers; releasable free memory in grey.
const ALLOCATED: &str = "#0072B2";
const PENDING: &str = "#E69F00";
const SPLIT_FREE: &str = "#D55E00";
const FREE: &str = "#BBBBBB";

/// (colour, label) of a block, given whether its segment holds any active block.
fn style(state: BlockState, segment_active: bool) -> (&'static str, &'static str) {
    match state {
        BlockState::ActiveAllocated => (ALLOCATED, "allocated"),
        BlockState::ActivePendingFree => (PENDING, "pending free"),
        BlockState::Inactive if segment_active => (SPLIT_FREE, "free, split (not releasable)"),
        BlockState::Inactive => (FREE, "free (releasable by empty_cache)"),
    }
}

/// Renders the map. Segments are drawn largest first; consecutive blocks of the same state
/// are drawn as one run, whose tooltip gives the count and bytes.
#[allow(clippy::many_single_char_names, clippy::too_many_lines)] // one picture, drawn in order
pub fn segment_map_svg(report: &SnapshotReport) -> String {
    let mut order: Vec<usize> = (0..report.segments.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(report.segments[i].total_size));
    let shown = order.len().min(MAX_SEGMENTS);
    let largest = order
        .first()
        .map_or(1, |&i| report.segments[i].total_size.max(1));
    // The address column is as wide as its widest label.
    let label_w = order
        .iter()
        .take(shown)
        .map(|&i| {
            let seg = &report.segments[i];
            text_width(
                &format!("0x{:x} {}", seg.address, Bytes(seg.total_size)),
                11.0,
            )
        })
        .fold(LABEL - 8.0, f64::max)
        + 8.0;
    let bar = WIDTH - label_w - 10.0;
    let rows = shown.max(1) as f64;
    let height = TOP + rows * (ROW + GAP) + 40.0;
    let t = &report.totals;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="{FONT}" font-size="11" fill="currentColor" role="img">"#
    );
    let _ = write!(
        s,
        "<title>CUDA allocator segment map: {} reserved, {} allocated, {} free of which {} split; fragmentation {:.1}%</title>",
        Bytes(t.reserved),
        Bytes(t.allocated),
        Bytes(t.inactive),
        Bytes(t.inactive_split),
        t.fragmentation * 100.0
    );
    let header = format!(
        "{} segment{}, {} reserved, {} allocated, largest free block {}, fragmentation {:.1}%",
        t.segments,
        if t.segments == 1 { "" } else { "s" },
        Bytes(t.reserved),
        Bytes(t.allocated),
        Bytes(t.largest_free),
        t.fragmentation * 100.0
    );
    let shown_header = shorten(&header, WIDTH, 13.0 * 1.1).unwrap_or_else(|| header.clone());
    let _ = write!(
        s,
        r#"<text x="0" y="14" font-size="13" font-weight="bold">{}</text>"#,
        escape(&shown_header)
    );
    let mut x = 0.0;
    for (colour, label) in [
        (ALLOCATED, "allocated"),
        (PENDING, "pending free"),
        (SPLIT_FREE, "free, split (not releasable)"),
        (FREE, "free (releasable)"),
    ] {
        let _ = write!(
            s,
            r#"<rect x="{x:.0}" y="26" width="12" height="12" fill="{colour}"/><text x="{:.0}" y="36">{label}</text>"#,
            x + 16.0
        );
        x += 30.0 + text_width(label, 11.0);
    }
    let mut largest_drawn: Option<(f64, f64, f64)> = None;
    for (row, &i) in order.iter().take(shown).enumerate() {
        let seg = &report.segments[i];
        let y = TOP + row as f64 * (ROW + GAP);
        let len = bar * seg.total_size as f64 / largest as f64;
        let _ = write!(
            s,
            r#"<text x="0" y="{:.1}">0x{:x} {}</text>"#,
            y + ROW - 3.0,
            seg.address,
            Bytes(seg.total_size)
        );
        let _ = write!(
            s,
            r##"<rect x="{label_w:.1}" y="{y:.1}" width="{len:.2}" height="{ROW}" fill="none" stroke="#666" stroke-width="0.5"/>"##
        );
        let segment_active = seg.active > 0;
        let scale = len / seg.total_size.max(1) as f64;
        // The largest free block of the whole cache: the biggest request it can serve.
        if report.totals.largest_free > 0
            && let Some(b) = seg
                .blocks
                .iter()
                .find(|b| b.state == BlockState::Inactive && b.size == report.totals.largest_free)
        {
            largest_drawn.get_or_insert((
                label_w + b.offset as f64 * scale,
                y,
                (b.size as f64 * scale).max(2.0),
            ));
        }
        let mut k = 0;
        while k < seg.blocks.len() {
            let first = &seg.blocks[k];
            let mut end = k + 1;
            let mut bytes = first.size;
            while end < seg.blocks.len() && seg.blocks[end].state == first.state {
                bytes += seg.blocks[end].size;
                end += 1;
            }
            let (colour, label) = style(first.state, segment_active);
            let bx = label_w + first.offset as f64 * scale;
            let bw = (bytes as f64 * scale).max(0.5);
            let site = if end - k == 1 {
                first
                    .site
                    .as_deref()
                    .map(|p| format!("\n{}", escape(p)))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let _ = write!(
                s,
                r#"<rect x="{bx:.2}" y="{y:.1}" width="{bw:.2}" height="{ROW}" fill="{colour}"><title>{label}: {} in {} block{} at +0x{:x}{site}</title></rect>"#,
                Bytes(bytes),
                end - k,
                if end - k == 1 { "" } else { "s" },
                first.offset
            );
            k = end;
        }
    }
    if let Some((x, y, w)) = largest_drawn {
        // The label starts at the block, or ends at the picture's edge when it would cross it.
        let text = format!("largest free block {}", Bytes(t.largest_free));
        let (lx, anchor) = if x + text_width(&text, 10.0) <= WIDTH {
            (x, "start")
        } else {
            (WIDTH, "end")
        };
        let _ = write!(
            s,
            r#"<rect x="{x:.2}" y="{:.1}" width="{w:.2}" height="{:.1}" fill="none" stroke="currentColor" stroke-width="2"/><text x="{lx:.1}" y="{:.1}" font-size="10" text-anchor="{anchor}">{}</text>"#,
            y - 1.5,
            ROW + 3.0,
            y - 3.0,
            escape(&text)
        );
    }
    let y = TOP + rows * (ROW + GAP) + 16.0;
    if shown < order.len() {
        let rest: u64 = order[shown..]
            .iter()
            .map(|&i| report.segments[i].total_size)
            .sum();
        let _ = write!(
            s,
            r#"<text x="0" y="{y:.0}">and {} smaller segment{} holding {} (not drawn)</text>"#,
            order.len() - shown,
            if order.len() - shown == 1 { "" } else { "s" },
            Bytes(rest)
        );
    } else if order.is_empty() {
        let _ = write!(
            s,
            r#"<text x="0" y="{y:.0}">no segments: the allocator held no memory</text>"#
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_frame_names() {
        assert_eq!(
            escape("<lambda> & \"x\"\u{1}"),
            "&lt;lambda&gt; &amp; &quot;x&quot; "
        );
    }

    #[test]
    fn real_snapshot_draws_every_segment_and_run() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/resources/fixtures/snapshots/ctx128_fullstep.pickle"
        ))
        .unwrap();
        let r = crate::snapshot::read_snapshot(&bytes).unwrap();
        let svg = segment_map_svg(&r);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        // One outline per segment drawn.
        let outlines = svg.matches("fill=\"none\" stroke=\"#666\"").count();
        let marked = usize::from(svg.contains("largest free block"));
        assert_eq!(marked, 1, "the largest free block is marked");
        assert_eq!(outlines, r.segments.len().min(MAX_SEGMENTS));
        // Each run of same-state blocks of a drawn segment is one rectangle with its tooltip.
        let mut drawn: Vec<_> = r.segments.iter().collect();
        drawn.sort_by_key(|s| std::cmp::Reverse(s.total_size));
        drawn.truncate(MAX_SEGMENTS);
        assert!(
            svg.contains(&format!(
                "and {} smaller segments",
                r.segments.len() - drawn.len()
            )) || r.segments.len() <= MAX_SEGMENTS
        );
        let mut runs = 0;
        for seg in drawn {
            let mut k = 0;
            while k < seg.blocks.len() {
                let st = seg.blocks[k].state;
                while k < seg.blocks.len() && seg.blocks[k].state == st {
                    k += 1;
                }
                runs += 1;
            }
        }
        assert_eq!(
            svg.matches("<rect x=").count(),
            4 + outlines + runs + marked
        );
        assert_eq!(svg.matches("<title>").count(), 1 + runs);
    }
}
