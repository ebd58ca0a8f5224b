//! The HTML report: one self-contained page (no external scripts, styles, fonts or network),
//! findings grouped by area with severity and code filters, the explanation of every rule that
//! fired, and the report's pictures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::chart::{bars, escape};
use crate::render::RenderOptions;
use crate::{Registry, Report};

/// The rule's doc as HTML: `## ` headings, fenced code blocks, paragraphs.
fn doc_html(doc: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    let mut para = String::new();
    let flush = |para: &mut String, out: &mut String| {
        if !para.trim().is_empty() {
            let _ = write!(out, "<p>{}</p>", escape(para.trim()));
        }
        para.clear();
    };
    for line in doc.lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            if in_code {
                out.push_str("</pre>");
            } else {
                flush(&mut para, &mut out);
                out.push_str("<pre>");
            }
            in_code = !in_code;
        } else if in_code {
            let _ = writeln!(out, "{}", escape(t));
        } else if let Some(h) = t.strip_prefix("## ") {
            flush(&mut para, &mut out);
            let _ = write!(out, "<h4>{}</h4>", escape(h));
        } else if t.is_empty() {
            flush(&mut para, &mut out);
        } else {
            para.push_str(t);
            para.push(' ');
        }
    }
    if in_code {
        out.push_str("</pre>");
    }
    flush(&mut para, &mut out);
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}\
.error{color:#b00020;font-weight:bold}.warning{color:#a66300;font-weight:bold}.info{color:#2f5d9e}\
.help{color:#555;font-size:90%}code{background:#f3f3f3;padding:0 3px}pre{background:#f6f6f6;padding:8px;overflow-x:auto}\
figure{margin:1em 0}section.rule{border-top:1px solid #ccc;margin-top:1em}.controls{margin:1em 0}\
.controls label{margin-right:1em}";

const SCRIPT: &str = "function filt(){var s={};document.querySelectorAll('input.sev').forEach(function(c){s[c.value]=c.checked});\
var q=document.getElementById('code').value.trim().toUpperCase();var shown=0;\
document.querySelectorAll('tr.finding').forEach(function(r){var ok=s[r.dataset.sev]&&(q===''||r.dataset.code.indexOf(q)===0);\
r.style.display=ok?'':'none';if(ok){shown++}});document.getElementById('shown').textContent=shown;}\
document.querySelectorAll('input.sev').forEach(function(c){c.addEventListener('change',filt)});\
document.getElementById('code').addEventListener('input',filt);filt();";

#[allow(clippy::too_many_lines)] // one page, written top to bottom
pub fn html(
    report: &Report,
    registry: &Registry,
    opts: &RenderOptions,
    w: &mut dyn Write,
) -> io::Result<()> {
    let s = report.summary();
    let mut by_area: BTreeMap<&str, Vec<&crate::Finding>> = BTreeMap::new();
    for f in &report.findings {
        by_area
            .entry(registry.area_title(&f.code))
            .or_default()
            .push(f);
    }
    let mut page = String::with_capacity(64 * 1024);
    let standalone = report.findings.is_empty() && report.inputs.is_empty();
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>everybyte report</title><style>{STYLE}</style></head><body><h1>everybyte report</h1>"
    );
    if standalone {
        let _ = write!(page, "<p>everybyte {}</p>", escape(opts.tool_version));
    } else {
        let _ = write!(
            page,
            "<p>everybyte {} — {} errors, {} warnings, {} info in {} files; {} inputs examined.</p>",
            escape(opts.tool_version),
            s.errors,
            s.warnings,
            s.infos,
            s.files_with_findings,
            report.inputs.len()
        );
    }
    let counts: Vec<(String, f64)> = by_area
        .iter()
        .map(|(a, v)| ((*a).to_owned(), v.len() as f64))
        .collect();
    if !counts.is_empty() {
        let _ = write!(
            page,
            "<figure>{}</figure>",
            bars("Findings by area", "findings", &counts)
        );
        // By rule: what kind of problem, e.g. which corruptions a dataset scan found.
        let mut by_code: BTreeMap<&str, f64> = BTreeMap::new();
        for f in &report.findings {
            *by_code.entry(f.code.as_str()).or_default() += 1.0;
        }
        let codes: Vec<(String, f64)> = by_code
            .into_iter()
            .map(|(c, n)| {
                let name = registry.get(c).map_or("", |r| r.name);
                (format!("{c} {name}"), n)
            })
            .collect();
        let _ = write!(
            page,
            "<figure>{}</figure>",
            bars("Findings by rule", "findings", &codes)
        );
    }
    for fig in &report.figures {
        // The SVG draws its own title.
        let _ = write!(page, "<figure>{}</figure>", fig.svg);
    }
    if standalone {
        let _ = writeln!(page, "</body></html>");
        return w.write_all(page.as_bytes());
    }
    page.push_str("<h2>Findings</h2><div class=\"controls\">");
    for sev in ["error", "warning", "info"] {
        let _ = write!(
            page,
            "<label><input type=\"checkbox\" class=\"sev\" value=\"{sev}\" checked> {sev}</label>"
        );
    }
    page.push_str("<label>code or prefix <input id=\"code\" size=\"10\" placeholder=\"K8S\"></label> <span id=\"shown\"></span> shown</div>");
    for (area, list) in &by_area {
        let _ = write!(
            page,
            "<h3>{}</h3><table><tr><th>where</th><th>severity</th><th>rule</th><th>finding</th></tr>",
            escape(area)
        );
        for f in list {
            let loc = match f.location.line {
                Some(l) => format!("{}:{l}", f.location.path),
                None => f.location.path.clone(),
            };
            let _ = write!(
                page,
                "<tr class=\"finding\" data-sev=\"{sev}\" data-code=\"{code}\"><td><code>{}</code></td><td class=\"{sev}\">{sev}</td><td><a href=\"#rule-{code}\">{code}</a></td><td>{}{}</td></tr>",
                escape(&loc),
                escape(&f.message),
                f.help
                    .as_ref()
                    .map(|h| format!("<div class=\"help\">{}</div>", escape(h)))
                    .unwrap_or_default(),
                sev = f.severity.as_str(),
                code = escape(&f.code),
            );
        }
        page.push_str("</table>");
    }
    if report.findings.is_empty() {
        page.push_str("<p>No findings.</p>");
    }
    let codes: std::collections::BTreeSet<&str> =
        report.findings.iter().map(|f| f.code.as_str()).collect();
    if !codes.is_empty() {
        page.push_str("<h2>Rules</h2>");
    }
    for code in codes {
        if let Some(r) = registry.get(code) {
            let _ = write!(
                page,
                "<section class=\"rule\" id=\"rule-{}\"><h3>{} — {}</h3><p><em>{}</em> · default severity {}</p>{}</section>",
                escape(r.code),
                escape(r.code),
                escape(r.name),
                escape(r.summary),
                r.severity.as_str(),
                doc_html(r.doc)
            );
        }
    }
    let _ = writeln!(page, "<script>{SCRIPT}</script></body></html>");
    w.write_all(page.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_become_html() {
        let h =
            doc_html("## What it checks\nA <thing>.\n## Example\n```yaml\nimage: x:latest\n```\n");
        assert_eq!(
            h,
            "<h4>What it checks</h4><p>A &lt;thing&gt;.</p><h4>Example</h4><pre>image: x:latest\n</pre>"
        );
    }
}
