//! Small SVG charts for the HTML report: horizontal bars and time series, with titles, axis
//! labels and units drawn as text (no scripts, no fonts to fetch).

use std::fmt::Write as _;

/// A picture for the HTML report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    pub title: String,
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

const PALETTE: [&str; 6] = [
    "#2f5d9e", "#d55e00", "#009e73", "#e69f00", "#7b5ea7", "#888888",
];

/// Horizontal bars, one per label.
pub fn bars(title: &str, unit: &str, items: &[(String, f64)]) -> String {
    let w = 720.0;
    let label_w = 200.0;
    let row = 22.0;
    let h = 40.0 + row * items.len().max(1) as f64 + 24.0;
    let max = items
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12" role="img"><title>{}</title><text x="0" y="16" font-weight="bold" font-size="13">{}</text>"#,
        escape(title),
        escape(title)
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 30.0 + i as f64 * row;
        let len = (w - label_w - 90.0) * v / max;
        let _ = write!(
            s,
            r#"<text x="{:.0}" y="{:.1}" text-anchor="end">{}</text><rect x="{label_w}" y="{:.1}" width="{len:.1}" height="{:.0}" fill="{}"/><text x="{:.1}" y="{:.1}">{} {}</text>"#,
            label_w - 6.0,
            y + 14.0,
            escape(label),
            y + 3.0,
            row - 6.0,
            PALETTE[i % PALETTE.len()],
            label_w + len + 6.0,
            y + 14.0,
            fmt(*v),
            escape(unit)
        );
    }
    let _ = write!(
        s,
        r##"<text x="{label_w}" y="{:.0}" fill="#555">{}</text></svg>"##,
        h - 6.0,
        escape(unit)
    );
    s
}

fn fmt(v: f64) -> String {
    if (v.fract() == 0.0 && v.abs() < 1e9) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
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

/// Lines over time with labelled axes, ticks and markers.
#[allow(clippy::too_many_lines)] // one picture, drawn in order
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    marks: &[Mark],
) -> String {
    let (w, h) = (720.0, 300.0);
    let (left, right, top, bottom) = (64.0, 16.0, 28.0, 44.0);
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    for m in marks {
        if let Mark::Y(y, _) = m {
            y1 = y1.max(*y);
        }
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let y1 = if y1 <= 0.0 { 1.0 } else { y1 * 1.08 };
    let px = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| h - bottom - y / y1 * (h - top - bottom);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11" role="img"><title>{t}</title><text x="0" y="16" font-weight="bold" font-size="13">{t}</text><line x1="{left}" y1="{b}" x2="{r}" y2="{b}" stroke="#333"/><line x1="{left}" y1="{top}" x2="{left}" y2="{b}" stroke="#333"/>"##,
        t = escape(title),
        b = h - bottom,
        r = w - right
    );
    for i in 0..=4 {
        let fx = x0 + (x1 - x0) * f64::from(i) / 4.0;
        let fy = y1 * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#ddd"/>"##,
            px(fx),
            h - bottom + 14.0,
            fmt(fx),
            left - 4.0,
            py(fy) + 4.0,
            fmt(fy),
            py(fy),
            w - right,
            py(fy)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="14" y="{:.1}" text-anchor="middle" transform="rotate(-90 14 {:.1})">{}</text>"#,
        left + (w - left - right) / 2.0,
        h - 8.0,
        escape(x_label),
        top + (h - top - bottom) / 2.0,
        top + (h - top - bottom) / 2.0,
        escape(y_label)
    );
    for (i, sr) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let path: Vec<String> = sr
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        if !path.is_empty() {
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
                path.join(" ")
            );
        }
        let _ = write!(
            s,
            r#"<rect x="{:.0}" y="{:.0}" width="10" height="10" fill="{colour}"/><text x="{:.0}" y="{:.0}">{}</text>"#,
            w - right - 180.0,
            top + 2.0 + i as f64 * 14.0,
            w - right - 166.0,
            top + 11.0 + i as f64 * 14.0,
            escape(&sr.name)
        );
    }
    for m in marks {
        match m {
            Mark::X(x, label) => {
                let _ = write!(
                    s,
                    r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{1}" stroke="#c00" stroke-dasharray="4 3"/><text x="{2:.1}" y="{3}" fill="#c00">{4}</text>"##,
                    px(*x),
                    h - bottom,
                    px(*x) + 3.0,
                    top + 10.0,
                    escape(label)
                );
            }
            Mark::Y(y, label) => {
                let _ = write!(
                    s,
                    r##"<line x1="{left}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#c00" stroke-dasharray="4 3"/><text x="{2}" y="{3:.1}" fill="#c00">{4}</text>"##,
                    py(*y),
                    w - right,
                    left + 4.0,
                    py(*y) - 3.0,
                    escape(label)
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// One stacked bar of parts against a capacity, with a reserve kept free at its end.
pub fn stacked(
    title: &str,
    parts: &[(String, f64)],
    capacity: Option<f64>,
    reserve: f64,
    unit: &str,
) -> String {
    let (w, left, right) = (720.0, 10.0, 10.0);
    let total: f64 = parts.iter().map(|(_, v)| *v).sum();
    let scale_max = capacity.unwrap_or(0.0).max(total).max(1e-12) * 1.05;
    let px = |v: f64| left + v / scale_max * (w - left - right);
    let legend_rows = parts.len().div_ceil(3) as f64;
    let h = 110.0 + legend_rows * 16.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11" role="img"><title>{t}</title><text x="0" y="16" font-weight="bold" font-size="13">{t}</text>"#,
        t = escape(title)
    );
    let mut x = 0.0;
    for (i, (name, v)) in parts.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="30" width="{:.1}" height="28" fill="{colour}"><title>{}: {} {}</title></rect>"#,
            px(x),
            (px(x + v) - px(x)).max(0.0),
            escape(name),
            fmt(*v),
            escape(unit)
        );
        let (lx, ly) = (left + (i % 3) as f64 * 235.0, 96.0 + (i / 3) as f64 * 16.0);
        let _ = write!(
            s,
            r#"<rect x="{lx:.0}" y="{:.0}" width="10" height="10" fill="{colour}"/><text x="{:.0}" y="{ly:.0}">{} {} {}</text>"#,
            ly - 9.0,
            lx + 14.0,
            escape(name),
            fmt(*v),
            escape(unit)
        );
        x += v;
    }
    if let Some(c) = capacity {
        let usable = c * (1.0 - reserve);
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="26" width="{:.1}" height="36" fill="#999" fill-opacity="0.25"/><line x1="{2:.1}" y1="24" x2="{2:.1}" y2="66" stroke="#000" stroke-width="2"/><text x="{2:.1}" y="80" text-anchor="end">capacity {3} {4}</text><line x1="{5:.1}" y1="24" x2="{5:.1}" y2="66" stroke="#c00" stroke-dasharray="4 3"/><text x="{5:.1}" y="22" text-anchor="end" fill="#c00">{6:.0}% kept free</text>"##,
            px(usable),
            px(c) - px(usable),
            px(c),
            fmt(c),
            escape(unit),
            px(usable),
            reserve * 100.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="80">total {} {}</text></svg>"#,
        left,
        fmt(total),
        escape(unit)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_carry_their_labels_as_text() {
        let b = bars(
            "Findings by area",
            "findings",
            &[("LOG".into(), 3.0), ("K8S <yaml>".into(), 1.0)],
        );
        assert!(b.contains(">Findings by area</text>") && b.contains("K8S &lt;yaml&gt;"));
        let l = lines(
            "GPU memory",
            "seconds",
            "GiB",
            &[Series {
                name: "GPU 0".into(),
                points: vec![(0.0, 1.0), (10.0, 20.0)],
            }],
            &[
                Mark::X(5.0, "peak".into()),
                Mark::Y(22.0, "capacity".into()),
            ],
        );
        for t in [
            ">seconds</text>",
            ">GiB</text>",
            ">peak</text>",
            ">capacity</text>",
            "<polyline",
        ] {
            assert!(l.contains(t), "{t}");
        }
        let st = stacked(
            "Budget",
            &[("weights".into(), 14.0), ("activations".into(), 8.0)],
            Some(24.0),
            0.15,
            "GiB",
        );
        for t in [
            "capacity 24 GiB",
            "15% kept free",
            "total 22 GiB",
            "weights 14 GiB",
        ] {
            assert!(st.contains(t), "{t}");
        }
        // Degenerate input still draws.
        assert!(lines("x", "s", "y", &[], &[]).ends_with("</svg>"));
    }
}
