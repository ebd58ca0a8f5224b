//! Small SVG charts for the HTML report: horizontal bars, time series and one stacked bar.
//!
//! They are drawn to be read at a glance: ticks fall on round values (1, 2 or 5 × 10ⁿ; powers
//! of two on byte axes; 15 s, 30 s, 1 min, 2 min, 5 min, 1 h on time axes), percentages stop
//! at 100 when the data do, every label is measured ([`text_width`]) and either fits inside
//! the picture or is shortened with its full text as a tooltip, a legend appears only where
//! there are several series, and the colours are the Okabe–Ito palette, which stays apart for
//! colour-blind readers, with a different dash for each series so that a grey print keeps
//! them apart too. Text and axes are drawn in `currentColor`, so the page's light or dark
//! theme colours them. The caller's title is the SVG's `<title>`; the HTML page prints it as
//! the figure's caption.

use std::fmt::Write as _;

/// A picture for the HTML report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    pub title: String,
    /// The input the picture is about (a project-relative path, as findings name it): the
    /// HTML report draws the picture next to that file's findings.
    pub path: Option<String>,
    /// A complete `<svg>` element.
    pub svg: String,
}

/// Text made safe inside XML/HTML elements and attributes; control characters (which XML
/// forbids) become spaces.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Okabe & Ito's palette for colour-blind readers, in the order series take it (yellow, the
/// faintest on white, last).
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
];

/// A dash pattern per series, so that lines stay apart without colour (grey print).
const DASHES: [&str; 5] = ["", "7 3", "2 3", "9 3 2 3", "4 4"];

/// The font every chart names: a wide sans-serif first, so that [`text_width`] (which
/// measures with `DejaVu Sans`' advance widths) errs on the wide side for any fallback.
pub const FONT: &str = "'DejaVu Sans', Verdana, Arial, sans-serif";

/// Advance widths of `DejaVu Sans` for ASCII 32..=126, in thousandths of an em.
const ADVANCE: [u16; 95] = [
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, // ' '../
    636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, // 0..?
    1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787, // @..O
    603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, // P.._
    500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, // `..o
    635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838, // p..~
];

/// The width in pixels of `s` set in [`FONT`] at `size` pixels, rounded up by 4% so that
/// narrower fallbacks (Arial, Helvetica, Liberation) always fit in the room it reserves.
pub fn text_width(s: &str, size: f64) -> f64 {
    let em: u32 = s
        .chars()
        .map(|c| match c {
            ' '..='~' => u32::from(ADVANCE[c as usize - 32]),
            // East Asian wide characters take a full em; other scripts about a wide letter.
            '\u{1100}'..='\u{115f}'
            | '\u{2e80}'..='\u{a4cf}'
            | '\u{ac00}'..='\u{d7a3}'
            | '\u{f900}'..='\u{faff}'
            | '\u{fe30}'..='\u{fe4f}'
            | '\u{ff00}'..='\u{ff60}'
            | '…' => 1000,
            _ => 840,
        })
        .sum();
    f64::from(em) / 1000.0 * size * 1.04
}

/// `s` shortened with an ellipsis to fit `max` pixels at `size`; `None` when it fits whole.
pub fn shorten(s: &str, max: f64, size: f64) -> Option<String> {
    if text_width(s, size) <= max {
        return None;
    }
    let mut out = String::new();
    for c in s.chars() {
        out.push(c);
        if text_width(&out, size) + text_width("…", size) > max {
            out.pop();
            break;
        }
    }
    out.push('…');
    Some(out)
}

/// A `<text>` element that never leaves `0..=width`: anchored where asked when it fits,
/// otherwise pulled inside the edge it would cross; a label wider than the picture is
/// shortened, its full text kept as a tooltip.
fn label(x: f64, y: f64, anchor: Anchor, text: &str, size: f64, width: f64, attrs: &str) -> String {
    // Bold glyphs are about a tenth wider: measured as a larger regular size.
    let measure = if attrs.contains("bold") {
        size * 1.1
    } else {
        size
    };
    // Shortened to the room on the side the text runs to, so that it is never pulled back
    // over what it labels (a legend's swatch, a mark's line).
    let room = match anchor {
        Anchor::Start => width - x,
        Anchor::Middle => width,
        Anchor::End => x,
    }
    .max(measure);
    let (shown, full) = match shorten(text, room, measure) {
        Some(short) => (short, Some(text)),
        None => (text.to_owned(), None),
    };
    let w = text_width(&shown, measure);
    let (left, right) = match anchor {
        Anchor::Start => (x, x + w),
        Anchor::Middle => (x - w / 2.0, x + w / 2.0),
        Anchor::End => (x - w, x),
    };
    let (x, anchor) = if left < 0.0 {
        (0.0, Anchor::Start)
    } else if right > width {
        (width, Anchor::End)
    } else {
        (x, anchor)
    };
    let tip = full
        .map(|f| format!("<title>{}</title>", escape(f)))
        .unwrap_or_default();
    format!(
        r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{}"{attrs}>{tip}{}</text>"#,
        anchor.as_str(),
        escape(&shown)
    )
}

#[derive(Clone, Copy)]
enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// What an axis's numbers are, which decides where its ticks fall and how they read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Whole things (requests, findings): ticks at 1, 2 or 5 × 10ⁿ, never fractions.
    Count,
    /// A plain quantity: ticks at 1, 2 or 5 × 10ⁿ.
    Number,
    /// Bytes: ticks at multiples of a power of two, read in KiB, MiB, GiB or TiB.
    Bytes,
    /// Seconds: ticks at ms, s, min or h steps a clock shows (15 s, 30 s, 1 min, 2 min, …).
    Seconds,
    /// Percent: the axis ends at 100 unless a value is above it (a process on two cores).
    Percent,
    /// A latency tail, `-log10(1 - p)`: ticks at p0, p90, p99, p99.9, …
    Tail,
}

/// An axis: its label and what its numbers are.
#[derive(Clone, Copy, Debug)]
pub struct Axis<'a> {
    pub label: &'a str,
    pub scale: Scale,
}

/// The ticks of an axis that covers `lo..=hi`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ticks {
    /// From the axis's start to its end, `step` apart.
    pub values: Vec<f64>,
    pub labels: Vec<String>,
    pub step: f64,
}

impl Ticks {
    pub fn lo(&self) -> f64 {
        self.values.first().copied().unwrap_or(0.0)
    }
    pub fn hi(&self) -> f64 {
        self.values.last().copied().unwrap_or(1.0)
    }
}

const KIB: f64 = 1024.0;

/// 1024 to the `k`th power: the size of binary unit `k` (0 = B, 3 = GiB).
fn kib(k: usize) -> f64 {
    KIB.powi(i32::try_from(k).unwrap_or(0))
}
const BINARY_UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// The smallest 1, 2 or 5 × 10ⁿ at least `raw`.
fn nice(raw: f64) -> f64 {
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * base)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * base)
}

/// The step of an axis covering `span` in about `intervals` steps.
fn step_for(span: f64, intervals: f64, scale: Scale) -> f64 {
    let raw = (span / intervals).max(f64::MIN_POSITIVE);
    match scale {
        Scale::Count => nice(raw).max(1.0),
        Scale::Number | Scale::Percent => nice(raw),
        Scale::Tail => raw.ceil().max(1.0),
        Scale::Bytes => 2f64.powf(raw.log2().ceil()).max(1.0),
        Scale::Seconds => {
            const CLOCK: [f64; 17] = [
                1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
                7200.0, 10800.0, 21600.0, 43200.0,
            ];
            if raw < 1.0 {
                nice(raw)
            } else if let Some(s) = CLOCK.iter().find(|s| **s >= raw) {
                *s
            } else {
                86400.0 * nice(raw / 86400.0)
            }
        }
    }
}

/// `v` with at most `decimals` decimals and no trailing zeros.
fn trim(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" { "0".to_owned() } else { s }
}

/// Decimals that show every multiple of `step` exactly (1 for 0.5, 2 for 0.25).
fn decimals(step: f64) -> usize {
    (0..12)
        .find(|&d| {
            let scaled = step * 10f64.powi(d);
            (scaled.round() - scaled).abs() <= 1e-6
        })
        .map_or(12, |d| usize::try_from(d).unwrap_or(12))
}

/// The ticks of an axis covering `lo..=hi` in about five steps.
pub fn ticks(lo: f64, hi: f64, scale: Scale) -> Ticks {
    let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() {
        (lo.min(hi), hi.max(lo))
    } else {
        (0.0, 1.0)
    };
    if scale == Scale::Percent && hi <= 100.0 && lo >= 0.0 {
        (lo, hi) = (0.0, 100.0);
    }
    // A span too small to tick (one value, or a sliver of a large one) is widened, relative
    // to the values so that far from zero it still is.
    let min_span =
        (lo.abs().max(hi.abs()) * 1e-3).max(if scale == Scale::Bytes { KIB } else { 1e-6 });
    if hi - lo < min_span {
        hi = lo
            + if hi - lo <= 0.0 {
                min_span.max(1.0)
            } else {
                min_span
            };
    }
    let step = step_for(hi - lo, 5.0, scale);
    let first = (lo / step + 1e-9).floor();
    let last = (hi / step - 1e-9).ceil().max(first + 1.0);
    let values: Vec<f64> = (0..=((last - first) as usize).min(64))
        .map(|i| (first + i as f64) * step)
        .collect();
    let top = values.last().copied().unwrap_or(1.0);
    let labels = values
        .iter()
        .map(|&v| tick_label(v, step, top, scale))
        .collect();
    Ticks {
        values,
        labels,
        step,
    }
}

fn tick_label(v: f64, step: f64, top: f64, scale: Scale) -> String {
    match scale {
        Scale::Count | Scale::Number => trim(v, decimals(step)),
        Scale::Percent => format!("{}%", trim(v, decimals(step))),
        Scale::Tail => {
            if v <= 0.0 {
                "p0".to_owned()
            } else {
                format!(
                    "p{}",
                    trim(100.0 * (1.0 - 10f64.powf(-v)), tail_decimals(v))
                )
            }
        }
        Scale::Bytes => {
            // The largest unit the axis reaches, unless the step would need more than two
            // decimals in it (then one unit down: 0, 128, 256 MiB rather than 0.125 GiB).
            let mut k = 0;
            while k + 1 < BINARY_UNITS.len() && kib(k + 1) <= top {
                k += 1;
            }
            if k > 0 && step < kib(k) / 4.0 {
                k -= 1;
            }
            let unit = kib(k);
            format!(
                "{} {}",
                trim(v / unit, decimals(step / unit)),
                BINARY_UNITS[k]
            )
        }
        Scale::Seconds => {
            let (unit, name) = if step < 1.0 && top < 1.0 {
                (1e-3, "ms")
            } else if step < 60.0 {
                (1.0, "s")
            } else if step < 3600.0 {
                (60.0, "min")
            } else if step < 86400.0 {
                (3600.0, "h")
            } else {
                (86400.0, "d")
            };
            format!("{} {name}", trim(v / unit, decimals(step / unit)))
        }
    }
}

/// Decimals of a tail percentile: none for p90 (1), one for p99.9 (3), two for p99.99 (4).
fn tail_decimals(v: f64) -> usize {
    if v.is_finite() && v > 2.0 {
        (v.ceil() as usize - 2).min(10)
    } else {
        0
    }
}

/// One value as a person reads it: `14.2 GiB`, `350 ms`, `2.5 min`, `45%`, `1 234`.
pub fn format_value(v: f64, scale: Scale) -> String {
    let sig = |x: f64| {
        if x.abs() >= 100.0 || x.fract() == 0.0 {
            trim(x, 0)
        } else if x.abs() >= 10.0 {
            trim(x, 1)
        } else {
            trim(x, 2)
        }
    };
    match scale {
        Scale::Count => trim(v.round(), 0),
        Scale::Number => sig(v),
        Scale::Percent => format!("{}%", sig(v)),
        Scale::Tail => format!(
            "p{}",
            trim(100.0 * (1.0 - 10f64.powf(-v)), tail_decimals(v))
        ),
        Scale::Bytes => {
            let mut k = 0;
            while k + 1 < BINARY_UNITS.len() && v.abs() >= kib(k + 1) {
                k += 1;
            }
            format!("{} {}", sig(v / kib(k)), BINARY_UNITS[k])
        }
        Scale::Seconds => {
            let a = v.abs();
            if a < 1.0 {
                format!("{} ms", sig(v * 1e3))
            } else if a < 120.0 {
                format!("{} s", sig(v))
            } else if a < 7200.0 {
                format!("{} min", sig(v / 60.0))
            } else {
                format!("{} h", sig(v / 3600.0))
            }
        }
    }
}

fn svg_open(w: f64, h: f64, title: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="{FONT}" font-size="11" fill="currentColor" role="img"><title>{}</title>"#,
        escape(title)
    )
}

/// A swatch and a name per item, flowed into rows that fit `width`; returns the elements and
/// the rows used.
fn legend(items: &[(String, usize)], y0: f64, width: f64, line: bool) -> (String, usize) {
    let mut s = String::new();
    let (mut x, mut row) = (0.0, 0usize);
    for (name, i) in items {
        let w = 22.0 + text_width(name, 11.0);
        if x > 0.0 && x + w > width {
            x = 0.0;
            row += 1;
        }
        let y = y0 + row as f64 * 16.0;
        let colour = PALETTE[i % PALETTE.len()];
        if line {
            let _ = write!(
                s,
                r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2.5" stroke-dasharray="{}"/>"#,
                y - 4.0,
                x + 16.0,
                y - 4.0,
                DASHES[i % DASHES.len()]
            );
        } else {
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{:.1}" width="12" height="10" fill="{colour}"/>"#,
                y - 9.0
            );
        }
        s.push_str(&label(x + 20.0, y, Anchor::Start, name, 11.0, width, ""));
        x += w + 14.0;
    }
    (s, row + 1)
}

/// Horizontal bars of counts, one per label, each with its value and noun (`1 request`,
/// `2 requests`); `noun` is (singular, plural).
pub fn bars(title: &str, noun: (&str, &str), items: &[(String, f64)]) -> String {
    let w = 720.0;
    let row = 22.0;
    let max_label = items
        .iter()
        .map(|(l, _)| text_width(l, 12.0))
        .fold(0.0f64, f64::max);
    let label_w = max_label.min(w * 0.4) + 8.0;
    let value_text = |v: f64| {
        let n = format_value(v, Scale::Count);
        format!("{n} {}", if n == "1" { noun.0 } else { noun.1 })
    };
    let value_w = items
        .iter()
        .map(|(_, v)| text_width(&value_text(*v), 12.0))
        .fold(0.0f64, f64::max);
    let bar_room = (w - label_w - value_w - 12.0).max(40.0);
    let h = 8.0 + row * items.len().max(1) as f64;
    let max = items
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let mut s = svg_open(w, h, title);
    for (i, (name, v)) in items.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let len = bar_room * v / max;
        s.push_str(&label(
            label_w - 8.0,
            y + 14.0,
            Anchor::End,
            name,
            12.0,
            label_w - 8.0,
            "",
        ));
        let _ = write!(
            s,
            r#"<rect x="{label_w:.1}" y="{:.1}" width="{len:.1}" height="{:.0}" fill="{}"/>"#,
            y + 3.0,
            row - 6.0,
            PALETTE[0],
        );
        s.push_str(&label(
            label_w + len + 6.0,
            y + 14.0,
            Anchor::Start,
            &value_text(*v),
            12.0,
            w,
            "",
        ));
    }
    s.push_str("</svg>");
    s
}

/// The ticks of a horizontal axis at `y`: a mark and a label under it each.
fn x_ticks(s: &mut String, t: &Ticks, px: &dyn Fn(f64) -> f64, y: f64, width: f64) {
    for (v, l) in t.values.iter().zip(&t.labels) {
        let _ = write!(
            s,
            r#"<line x1="{0:.1}" y1="{y:.1}" x2="{0:.1}" y2="{1:.1}" stroke="currentColor"/>"#,
            px(*v),
            y + 4.0
        );
        s.push_str(&label(
            px(*v),
            y + 16.0,
            Anchor::Middle,
            l,
            11.0,
            width,
            r#" class="tick x""#,
        ));
    }
}

/// One line of a time series.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A vertical marker (`peak`, `cold start`) at an x value, or a horizontal one at a y value.
#[derive(Debug, Clone)]
pub enum Mark {
    X(f64, String),
    Y(f64, String),
}

/// Lines over an x axis with round ticks, the y axis's label above it, the marks labelled
/// where they do not collide, and a legend below when there are several series.
#[allow(clippy::too_many_lines, clippy::many_single_char_names)] // one picture, drawn in order
pub fn lines(title: &str, x: &Axis, y: &Axis, series: &[Series], marks: &[Mark]) -> String {
    let w = 720.0;
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &(px, py) in series.iter().flat_map(|s| s.points.iter()).filter(finite) {
        x0 = x0.min(px);
        x1 = x1.max(px);
        y1 = y1.max(py);
    }
    for m in marks {
        match m {
            Mark::Y(v, _) if v.is_finite() => y1 = y1.max(*v),
            Mark::X(v, _) if v.is_finite() => {
                x0 = x0.min(*v);
                x1 = x1.max(*v);
            }
            _ => {}
        }
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    // Time since a start begins at that start, even when the first sample comes later.
    if x.scale == Scale::Seconds && x0 > 0.0 {
        x0 = 0.0;
    }
    let xt = ticks(x0, x1, x.scale);
    let yt = ticks(0.0, y1, y.scale);
    let left = yt
        .labels
        .iter()
        .map(|l| text_width(l, 11.0))
        .fold(0.0f64, f64::max)
        + 10.0;
    let right = 12.0;
    let top = 26.0;
    let plot_h = 200.0;
    let bottom = top + plot_h;
    let (xa, xb, yb) = (xt.lo(), xt.hi(), yt.hi());
    let px = |v: f64| left + (v - xa) / (xb - xa) * (w - left - right);
    let py = |v: f64| bottom - v / yb * plot_h;
    let legend_items: Vec<(String, usize)> = if series.len() > 1 {
        series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect()
    } else {
        Vec::new()
    };
    let legend_y = bottom + 52.0;
    let (legend_svg, legend_rows) = if legend_items.is_empty() {
        (String::new(), 0)
    } else {
        legend(&legend_items, legend_y, w, true)
    };
    let h = bottom + 40.0 + 16.0 * legend_rows as f64 + 4.0;
    let mut s = svg_open(w, h, title);
    // The y axis's name above it, where it reads left to right.
    let y_name = if series.len() == 1 && !series[0].name.is_empty() && y.label.is_empty() {
        series[0].name.as_str()
    } else {
        y.label
    };
    s.push_str(&label(
        0.0,
        12.0,
        Anchor::Start,
        y_name,
        12.0,
        w,
        r#" font-weight="bold""#,
    ));
    for (v, l) in yt.values.iter().zip(&yt.labels) {
        let _ = write!(
            s,
            r#"<line x1="{left:.1}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="currentColor" stroke-opacity="0.15"/>"#,
            py(*v),
            w - right
        );
        s.push_str(&label(
            left - 5.0,
            py(*v) + 4.0,
            Anchor::End,
            l,
            11.0,
            w,
            r#" class="tick y""#,
        ));
    }
    x_ticks(&mut s, &xt, &px, bottom, w);
    let _ = write!(
        s,
        r#"<line x1="{left:.1}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="currentColor"/><line x1="{left:.1}" y1="{top:.1}" x2="{left:.1}" y2="{bottom:.1}" stroke="currentColor"/>"#,
        w - right
    );
    s.push_str(&label(
        left + (w - left - right) / 2.0,
        bottom + 34.0,
        Anchor::Middle,
        x.label,
        12.0,
        w,
        "",
    ));
    for (i, sr) in series.iter().enumerate() {
        let path: Vec<String> = sr
            .points
            .iter()
            .filter(finite)
            .map(|&(a, b)| format!("{:.1},{:.1}", px(a), py(b)))
            .collect();
        let colour = PALETTE[i % PALETTE.len()];
        if let [only] = path.as_slice() {
            // One sample draws no line: a dot.
            let (cx, cy) = only.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(
                s,
                r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"><title>{}</title></circle>"#,
                escape(&sr.name)
            );
        } else if !path.is_empty() {
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{}" points="{}"><title>{}</title></polyline>"#,
                DASHES[i % DASHES.len()],
                path.join(" "),
                escape(&sr.name)
            );
        }
    }
    s.push_str(&legend_svg);
    // Marks: a dashed line each; labels placed in the first row where they do not overlap.
    let mut taken: Vec<(f64, f64, f64)> = Vec::new(); // (left, right, baseline)
    let mut seen = std::collections::BTreeSet::new();
    for m in marks {
        let key = match m {
            Mark::X(v, l) | Mark::Y(v, l) => (v.to_bits(), l.clone(), matches!(m, Mark::X(..))),
        };
        if !seen.insert(key) {
            continue;
        }
        match m {
            Mark::X(v, text) if v.is_finite() => {
                let x = px(*v);
                let tw = text_width(text, 11.0);
                let (lx, anchor, a, b) = if x + 3.0 + tw <= w - right {
                    (x + 3.0, Anchor::Start, x + 3.0, x + 3.0 + tw)
                } else {
                    (x - 3.0, Anchor::End, x - 3.0 - tw, x - 3.0)
                };
                let mut base = top + 10.0;
                while taken
                    .iter()
                    .any(|&(l, r, y)| (y - base).abs() < 12.0 && a < r + 4.0 && b > l - 4.0)
                {
                    base += 12.0;
                }
                taken.push((a, b, base));
                let _ = write!(
                    s,
                    r#"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="currentColor" stroke-dasharray="4 3"/>"#
                );
                s.push_str(&label(lx, base, anchor, text, 11.0, w, ""));
            }
            Mark::Y(v, text) if v.is_finite() => {
                let yv = py(*v);
                let lx = left + 4.0;
                let tw = text_width(text, 11.0);
                let mut base = if yv - 3.0 > top + 10.0 {
                    yv - 3.0
                } else {
                    yv + 12.0
                };
                while taken
                    .iter()
                    .any(|&(l, r, y)| (y - base).abs() < 12.0 && lx < r + 4.0 && lx + tw > l - 4.0)
                {
                    base += 12.0;
                }
                taken.push((lx, lx + tw, base));
                let _ = write!(
                    s,
                    r#"<line x1="{left:.1}" y1="{yv:.1}" x2="{:.1}" y2="{yv:.1}" stroke="currentColor" stroke-dasharray="4 3"/>"#,
                    w - right
                );
                s.push_str(&label(lx, base, Anchor::Start, text, 11.0, w, ""));
            }
            _ => {}
        }
    }
    s.push_str("</svg>");
    s
}

/// One stacked bar of parts against a capacity, with a reserve kept free at its end, over a
/// tick axis in `scale`'s units.
#[allow(clippy::many_single_char_names)] // x, y, w, h as in SVG
pub fn stacked(
    title: &str,
    parts: &[(String, f64)],
    capacity: Option<f64>,
    reserve: f64,
    scale: Scale,
) -> String {
    let (w, left, right) = (720.0, 4.0, 16.0);
    let total: f64 = parts.iter().map(|(_, v)| *v).sum();
    let t = ticks(0.0, capacity.unwrap_or(0.0).max(total), scale);
    let px = |v: f64| left + v / t.hi() * (w - left - right);
    let (bar_top, bar_h) = (28.0, 28.0);
    let axis_y = bar_top + bar_h + 6.0;
    let items: Vec<(String, usize)> = parts
        .iter()
        .enumerate()
        .map(|(i, (n, v))| (format!("{n} {}", format_value(*v, scale)), i))
        .collect();
    let total_text = format!("total {}", format_value(total, scale));
    let cap_text = capacity.map(|c| format!("capacity {}", format_value(c, scale)));
    // The capacity's label goes right of the total when there is room on its row, else on a
    // row of its own below; the legend follows.
    let total_right = left + text_width(&total_text, 12.0 * 1.1) + 12.0;
    let cap_own_row = match (capacity, &cap_text) {
        (Some(c), Some(t)) => px(c) - text_width(t, 11.0) <= total_right,
        _ => false,
    };
    let legend_y = axis_y + if cap_own_row { 66.0 } else { 52.0 };
    let (legend_svg, rows) = legend(&items, legend_y, w, false);
    let h = legend_y + 16.0 * rows as f64;
    let mut s = svg_open(w, h, title);
    let mut x = 0.0;
    for (i, (name, v)) in parts.iter().enumerate() {
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{bar_top}" width="{:.1}" height="{bar_h}" fill="{}" style="stroke:var(--bg,#fff);stroke-width:1.5"><title>{}: {}</title></rect>"#,
            px(x),
            (px(x + v) - px(x)).max(0.0),
            PALETTE[i % PALETTE.len()],
            escape(name),
            format_value(*v, scale)
        );
        x += v;
    }
    x_ticks(&mut s, &t, &px, axis_y, w);
    let _ = write!(
        s,
        r#"<line x1="{left}" y1="{axis_y}" x2="{:.1}" y2="{axis_y}" stroke="currentColor"/>"#,
        w - right
    );
    s.push_str(&label(
        left,
        axis_y + 34.0,
        Anchor::Start,
        &total_text,
        12.0,
        w,
        r#" font-weight="bold""#,
    ));
    if let Some(c) = capacity {
        let usable = c * (1.0 - reserve);
        let (ux, cx) = (px(usable), px(c));
        let (y0, y1) = (bar_top - 6.0, bar_top + bar_h + 6.0);
        let _ = write!(
            s,
            r#"<rect x="{ux:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="currentColor" fill-opacity="0.18"/><line x1="{cx:.1}" y1="{y0:.1}" x2="{cx:.1}" y2="{y1:.1}" stroke="currentColor" stroke-width="2"/><line x1="{ux:.1}" y1="{y0:.1}" x2="{ux:.1}" y2="{y1:.1}" stroke="currentColor" stroke-dasharray="4 3"/>"#,
            bar_top - 4.0,
            cx - ux,
            bar_h + 8.0,
        );
        let cap_y = axis_y + if cap_own_row { 48.0 } else { 34.0 };
        let cap_text = cap_text.unwrap_or_default();
        s.push_str(&label(px(c), cap_y, Anchor::End, &cap_text, 11.0, w, ""));
        s.push_str(&label(
            px(usable),
            bar_top - 10.0,
            Anchor::End,
            &format!("{}% kept free", trim(reserve * 100.0, 1)),
            11.0,
            w,
            "",
        ));
    }
    s.push_str(&legend_svg);
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(lo: f64, hi: f64, scale: Scale) -> Vec<String> {
        ticks(lo, hi, scale).labels
    }

    #[test]
    fn ticks_fall_on_round_values() {
        // The old axes' 25.60, 19.20, 29.75, 59.50 become 1-2-5 steps.
        assert_eq!(labels(0.0, 25.6, Scale::Number), ["0", "10", "20", "30"]);
        assert_eq!(
            labels(0.0, 59.5, Scale::Seconds),
            ["0 s", "15 s", "30 s", "45 s", "60 s"]
        );
        assert_eq!(
            labels(0.0, 600.0, Scale::Seconds),
            ["0 min", "2 min", "4 min", "6 min", "8 min", "10 min"]
        );
        assert_eq!(
            labels(0.0, 3.0 * 3600.0, Scale::Seconds),
            ["0 h", "1 h", "2 h", "3 h"]
        );
        assert_eq!(
            labels(0.0, 0.012, Scale::Seconds),
            ["0 ms", "5 ms", "10 ms", "15 ms"]
        );
        assert_eq!(labels(0.0, 7.0, Scale::Count), ["0", "2", "4", "6", "8"]);
        assert_eq!(labels(0.0, 2.0, Scale::Count), ["0", "1", "2"]);
        assert_eq!(
            labels(0.0, 0.7, Scale::Number),
            ["0", "0.2", "0.4", "0.6", "0.8"]
        );
    }

    #[test]
    fn byte_axes_step_in_powers_of_two() {
        let gib = KIB * KIB * KIB;
        assert_eq!(
            labels(0.0, 24.0 * gib, Scale::Bytes),
            ["0 GiB", "8 GiB", "16 GiB", "24 GiB"]
        );
        assert_eq!(
            labels(0.0, 80.0 * gib, Scale::Bytes),
            ["0 GiB", "16 GiB", "32 GiB", "48 GiB", "64 GiB", "80 GiB"]
        );
        assert_eq!(
            labels(0.0, 600.0 * KIB * KIB, Scale::Bytes),
            [
                "0 MiB", "128 MiB", "256 MiB", "384 MiB", "512 MiB", "640 MiB"
            ]
        );
        assert_eq!(
            labels(0.0, 1.9 * gib, Scale::Bytes),
            ["0 GiB", "0.5 GiB", "1 GiB", "1.5 GiB", "2 GiB"]
        );
    }

    #[test]
    fn percentages_stop_at_100_unless_a_value_is_above() {
        assert_eq!(
            labels(0.0, 97.0, Scale::Percent),
            ["0%", "20%", "40%", "60%", "80%", "100%"]
        );
        assert!((ticks(0.0, 180.0, Scale::Percent).hi() - 200.0).abs() < 1e-9);
        assert_eq!(
            labels(0.0, 3.2, Scale::Tail),
            ["p0", "p90", "p99", "p99.9", "p99.99"]
        );
    }

    #[test]
    fn degenerate_spans_still_tick() {
        for (lo, hi) in [
            (5.0, 5.0),
            (1e9, 1e9),
            (1e9, 1e9 + 1e-7),
            (0.0, 0.0),
            (-3.0, -3.0),
        ] {
            for scale in [Scale::Number, Scale::Bytes, Scale::Seconds, Scale::Count] {
                let t = ticks(lo, hi, scale);
                assert!(t.values.len() >= 2 && t.values.iter().all(|v| v.is_finite()));
                let distinct: std::collections::BTreeSet<&String> = t.labels.iter().collect();
                assert_eq!(
                    distinct.len(),
                    t.labels.len(),
                    "{lo} {hi} {scale:?}: {:?}",
                    t.labels
                );
                assert!(t.lo() <= lo && t.hi() >= hi);
            }
        }
        assert_eq!(
            ticks(f64::NAN, 3.0, Scale::Number).labels,
            ["0", "0.2", "0.4", "0.6", "0.8", "1"]
        );
    }

    #[test]
    fn values_read_in_their_units() {
        assert_eq!(format_value(4.0, Scale::Tail), "p99.99");
        assert_eq!(format_value(-(1.0f64 - 0.5).log10(), Scale::Tail), "p50");
        assert_eq!(
            format_value(14.25 * KIB * KIB * KIB, Scale::Bytes),
            "14.2 GiB"
        );
        assert_eq!(format_value(0.35, Scale::Seconds), "350 ms");
        assert_eq!(format_value(150.0, Scale::Seconds), "2.5 min");
        assert_eq!(format_value(45.0, Scale::Percent), "45%");
    }

    #[test]
    fn text_is_measured_and_labels_stay_inside() {
        assert!(text_width("W", 10.0) > text_width("i", 10.0) * 3.0);
        // A 25-character label of wide letters at 12 px is wider than 25 × 6 px, the old guess.
        assert!(text_width("PRO004 pythonhashseed-unset", 12.0) > 25.0 * 6.0);
        assert_eq!(shorten("short", 100.0, 12.0), None);
        let s = shorten(&"x".repeat(200), 100.0, 12.0).unwrap();
        assert!(s.ends_with('…') && text_width(&s, 12.0) <= 100.0);
        // A label pushed past either edge is pulled back inside.
        let l = label(
            715.0,
            10.0,
            Anchor::Start,
            "capacity 24 GiB",
            11.0,
            720.0,
            "",
        );
        assert!(
            l.contains(r#"x="720.0""#) && l.contains(r#"text-anchor="end""#),
            "{l}"
        );
        let l = label(2.0, 10.0, Anchor::Middle, "0 GiB", 11.0, 720.0, "");
        assert!(
            l.contains(r#"x="0.0""#) && l.contains(r#"text-anchor="start""#),
            "{l}"
        );
    }

    #[test]
    fn charts_carry_their_labels_as_text() {
        let b = bars(
            "Latency",
            ("request", "requests"),
            &[("≤ 0.1 ms".into(), 3.0), ("≤ 0.2 ms <x>".into(), 1.0)],
        );
        assert!(
            b.contains(">3 requests</text>") && b.contains(">1 request</text>"),
            "{b}"
        );
        assert!(b.contains("&lt;x&gt;"));
        let gib = KIB * KIB * KIB;
        let one = [Series {
            name: "GPU 0 used".into(),
            points: vec![(0.0, 1.0 * gib), (10.0, 20.0 * gib)],
        }];
        let l = lines(
            "GPU memory",
            &Axis {
                label: "time",
                scale: Scale::Seconds,
            },
            &Axis {
                label: "GPU memory used",
                scale: Scale::Bytes,
            },
            &one,
            &[
                Mark::X(5.0, "peak".into()),
                Mark::Y(22.0 * gib, "capacity 22 GiB".into()),
            ],
        );
        for t in [
            ">time</text>",
            ">GPU memory used</text>",
            ">peak</text>",
            ">capacity 22 GiB</text>",
            ">24 GiB</text>",
            "<polyline",
        ] {
            assert!(l.contains(t), "{t}: {l}");
        }
        // One series: no legend (its name is the axis's); two: a legend of two lines.
        assert!(!l.contains("stroke-width=\"2.5\""));
        let two = [
            one[0].clone(),
            Series {
                name: "GPU 1 used".into(),
                points: vec![(0.0, 2.0 * gib)],
            },
        ];
        let y = Axis {
            label: "GPU memory used",
            scale: Scale::Bytes,
        };
        let x = Axis {
            label: "time",
            scale: Scale::Seconds,
        };
        let l2 = lines("GPU memory", &x, &y, &two, &[]);
        assert_eq!(l2.matches("stroke-width=\"2.5\"").count(), 2);
        let st = stacked(
            "Budget",
            &[
                ("weights".into(), 14.0 * gib),
                ("activations".into(), 8.0 * gib),
            ],
            Some(24.0 * gib),
            0.15,
            Scale::Bytes,
        );
        for t in [
            "capacity 24 GiB",
            "15% kept free",
            "total 22 GiB",
            "weights 14 GiB",
        ] {
            assert!(st.contains(t), "{t}: {st}");
        }
        // Degenerate input still draws.
        assert!(lines("x", &x, &y, &[], &[]).ends_with("</svg>"));
    }
    #[test]
    fn a_lone_sample_and_a_crowded_stack_still_read() {
        let gib = KIB * KIB * KIB;
        // One sample is a dot, not an invisible line.
        let dot = [Series {
            name: "GPU 0".into(),
            points: vec![(3.0, 2.0 * gib)],
        }];
        assert!(
            lines(
                "one",
                &Axis {
                    label: "time",
                    scale: Scale::Seconds
                },
                &Axis {
                    label: "GPU memory used",
                    scale: Scale::Bytes
                },
                &dot,
                &[]
            )
            .contains("<circle")
        );
        // A small card under a large total: the capacity's label on its own row, the legend
        // below it.
        let big = stacked(
            "Budget",
            &[
                ("weights".into(), 130.0 * gib),
                ("optimizer states".into(), 260.0 * gib),
            ],
            Some(24.0 * gib),
            0.15,
            Scale::Bytes,
        );
        let y_of = |needle: &str| -> f64 {
            let at = big.find(needle).unwrap();
            let tag = &big[big[..at].rfind("<text").unwrap()..at];
            let y = &tag[tag.find("y=\"").unwrap() + 3..];
            y[..y.find('"').unwrap()].parse().unwrap()
        };
        assert!(
            y_of(">capacity 24 GiB") + 14.0 <= y_of(">weights 130 GiB"),
            "{big}"
        );
    }
}
