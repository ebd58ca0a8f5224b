//! The HTML report: one self-contained page (no external scripts, styles, fonts or network)
//! that opens on what to fix first. A one-screen summary (errors, warnings and info per area)
//! and the filters come first, then the findings, errors first, grouped by file, each with
//! its rule code (a link to the rule's explanation), message, help and the source lines
//! around it; a file's charts sit under its findings. The filters (severity, area, code
//! prefix) are plain form controls, reachable from the keyboard, and their state lives in the
//! URL fragment (`#sev=error&area=data&code=DATA00`), so a link shows the same view. The page
//! follows the system's dark mode and has a print stylesheet; without scripts every finding
//! shows.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::chart::{Figure, escape};
use crate::render::RenderOptions;
use crate::{Finding, Registry, Report, Severity};

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

const STYLE: &str = r":root{--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--mark:#fff3b0;--error:#b3261e;--warning:#8a5300;--info:#0b5fa5;--link:#0b5fa5;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--soft:#161b22;--mark:#4b3d00;--error:#ff8a80;--warning:#f0b44c;--info:#79c0ff;--link:#79c0ff}}
*{box-sizing:border-box}[hidden]{display:none!important}
body{margin:0 auto;padding:16px 24px 48px;max-width:1120px;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif}
a{color:var(--link)}:focus-visible{outline:2px solid var(--link);outline-offset:2px}
h1{font-size:22px;margin:0}h2{font-size:18px;margin:20px 0 8px}h3{font-size:15px;margin:0}h4{margin:12px 0 4px}
.meta{color:var(--muted);margin:2px 0 12px}code,pre{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12.5px}
table.summary{border-collapse:collapse;margin:0 0 10px;width:100%}table.summary th,table.summary td{padding:3px 12px 3px 0;border-bottom:1px solid var(--line);text-align:left;vertical-align:baseline}
table.summary td.n{text-align:right;font-variant-numeric:tabular-nums;min-width:4.5em}table.summary .zero{color:var(--muted)}
table.summary th[scope=row]{white-space:nowrap}table.summary td.codes{font-size:12.5px}table.summary td.codes span{margin-right:10px;white-space:nowrap;display:inline-block}
.error{color:var(--error)}.warning{color:var(--warning)}.info{color:var(--info)}.muted{color:var(--muted);font-weight:normal}
form.controls{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:center;padding:8px 10px;background:var(--soft);border:1px solid var(--line);border-radius:6px;position:sticky;top:0;z-index:1}
form.controls fieldset{border:0;margin:0;padding:0;display:flex;gap:12px}form.controls legend{float:left;margin-right:8px;font-weight:600}
form.controls input,form.controls select,form.controls button{font:inherit;color:inherit;background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:2px 6px}
form.controls input[type=checkbox]{accent-color:var(--link)}#shown{margin-left:auto;color:var(--muted)}
section.file{margin:14px 0 18px;border-top:1px solid var(--line);padding-top:8px}section.file h3 code{font-size:14px}
ol.findings{list-style:none;margin:6px 0;padding:0}
li.finding{margin:0 0 10px;padding:2px 0 2px 10px;border-left:3px solid var(--line)}li.sev-error{border-color:var(--error)}li.sev-warning{border-color:var(--warning)}li.sev-info{border-color:var(--info)}
li.finding .head{color:var(--fg)}li.finding .sev{font-weight:700;text-transform:uppercase;font-size:11.5px;letter-spacing:.04em}
li.finding .where{color:var(--muted);font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12.5px}
li.finding a.code{font-weight:700}.msg{margin:2px 0}.help{margin:2px 0;color:var(--muted);white-space:pre-wrap}.help b{color:var(--fg)}
ul.notes{margin:2px 0;padding-left:18px;color:var(--muted)}
pre.src{margin:4px 0 0;padding:6px 0;background:var(--soft);border-radius:4px;overflow-x:auto;line-height:1.35}
pre.src span{display:block;padding:0 8px}pre.src .ln{display:inline-block;min-width:4ch;margin-right:12px;text-align:right;color:var(--muted);user-select:none}
pre.src .at{background:var(--mark)}
p.context span{margin-right:14px;white-space:nowrap}
main,section.rule{scroll-margin-top:5em}figure{margin:10px 0 6px}figcaption{font-weight:600;margin-bottom:4px;overflow-wrap:anywhere}figure svg{max-width:100%;height:auto;display:block;color:var(--fg)}
section.rule{border-top:1px solid var(--line);margin-top:12px}section.rule pre{background:var(--soft);padding:8px;overflow-x:auto}
@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--line:#bbb;--soft:#f4f4f4;--mark:#fff3b0;--error:#b3261e;--warning:#8a5300;--info:#0b5fa5;--link:#000}form.controls{display:none}body{max-width:none;padding:0;font-size:11pt}a{color:inherit;text-decoration:none}
li.finding,figure,pre.src,tr{break-inside:avoid}h2,h3{break-after:avoid}pre.src,pre{white-space:pre-wrap;overflow:visible}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

const SCRIPT: &str = r"(function(){
var form=document.getElementById('filters');if(!form)return;
var code=document.getElementById('code'),area=document.getElementById('area'),out=document.getElementById('shown');
var sevs=[].slice.call(form.querySelectorAll('input[name=sev]'));
var items=[].slice.call(document.querySelectorAll('li.finding')),files=[].slice.call(document.querySelectorAll('section.file'));
function state(){var s=[],on=sevs.filter(function(c){return c.checked}).map(function(c){return c.value});
if(on.length!==sevs.length)s.push('sev='+on.join(','));
if(area.value)s.push('area='+encodeURIComponent(area.value));
var q=code.value.trim();if(q)s.push('code='+encodeURIComponent(q));return s.join('&')}
function apply(){var on={},a=area.value,q=code.value.trim().toUpperCase(),n=0;sevs.forEach(function(c){on[c.value]=c.checked});
items.forEach(function(li){var ok=on[li.dataset.sev]&&(!a||li.dataset.area===a)&&(!q||li.dataset.code.indexOf(q)===0);li.hidden=!ok;if(ok)n++});
files.forEach(function(f){f.hidden=!f.querySelector('li.finding:not([hidden])')});
out.textContent=n+' of '+items.length+(items.length===1?' finding':' findings')+' shown'}
function save(){var s=state();try{history.replaceState(null,'',s?'#'+s:location.pathname+location.search)}catch(e){}apply()}
function load(h){if(h.indexOf('=')<0)return false;var p={};
h.split('&').forEach(function(kv){var i=kv.indexOf('=');if(i>0){try{p[kv.slice(0,i)]=decodeURIComponent(kv.slice(i+1))}catch(e){}}});
var want=('sev' in p)?p.sev.split(',').filter(Boolean):null;sevs.forEach(function(c){c.checked=!want||want.indexOf(c.value)>=0});
area.value=p.area||'';if(area.value!==(p.area||''))area.value='';code.value=p.code||'';apply();return true}
sevs.forEach(function(c){c.addEventListener('change',save)});area.addEventListener('change',save);code.addEventListener('input',save);
document.getElementById('reset').addEventListener('click',function(){sevs.forEach(function(c){c.checked=true});area.value='';code.value='';save();code.focus()});
window.addEventListener('hashchange',function(){if(load(location.hash.slice(1)))document.getElementById('findings').scrollIntoView()});
if(!load(location.hash.slice(1)))apply()})();";

/// `n thing` or `n things`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The area's short name (`data`) and its description (`datasets`) from its title.
fn area_parts(title: &str) -> (&str, &str) {
    title.split_once(": ").unwrap_or((title, ""))
}

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    }
}

#[derive(Default)]
struct Tally {
    errors: usize,
    warnings: usize,
    infos: usize,
    codes: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, f: &Finding) {
        match f.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => self.infos += 1,
        }
        *self.codes.entry(f.code.clone()).or_default() += 1;
    }
}

fn head(page: &mut String, title: &str) {
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"color-scheme\" content=\"light dark\"><title>{}</title><style>{STYLE}</style></head><body>",
        escape(title)
    );
}

fn figure(page: &mut String, fig: &Figure) {
    let _ = write!(
        page,
        "<figure><figcaption>{}</figcaption>{}</figure>",
        escape(&fig.title),
        fig.svg
    );
}

#[allow(clippy::too_many_lines)] // one page, written top to bottom
pub fn html(
    report: &Report,
    registry: &Registry,
    opts: &RenderOptions,
    w: &mut dyn Write,
) -> io::Result<()> {
    let mut page = String::with_capacity(64 * 1024);
    if report.findings.is_empty() && report.inputs.is_empty() {
        // A page of pictures (`mem budget --html`, `serve bench --html`).
        let title = report
            .figures
            .first()
            .map_or("everybyte", |f| f.title.as_str());
        head(&mut page, title);
        let _ = write!(
            page,
            "<h1>{}</h1><p class=\"meta\">everybyte {}</p>",
            escape(title),
            escape(opts.tool_version)
        );
        for fig in &report.figures {
            figure(&mut page, fig);
        }
        page.push_str("</body></html>\n");
        return w.write_all(page.as_bytes());
    }
    head(&mut page, "everybyte report");
    let s = report.summary();
    let _ = write!(
        page,
        "<header><h1>everybyte report</h1><p class=\"meta\">everybyte {} · {} in {} · {} examined</p></header>",
        escape(opts.tool_version),
        count(s.total, "finding", "findings"),
        count(s.files_with_findings, "file", "files"),
        count(report.inputs.len(), "input", "inputs"),
    );
    // The summary: one row per area, most errors first.
    let mut areas: BTreeMap<&str, Tally> = BTreeMap::new();
    for f in &report.findings {
        areas
            .entry(registry.area_title(&f.code))
            .or_default()
            .add(f);
    }
    let mut rows: Vec<(&str, &Tally)> = areas.iter().map(|(a, t)| (*a, t)).collect();
    rows.sort_by_key(|(a, t)| (std::cmp::Reverse((t.errors, t.warnings, t.infos)), *a));
    if !rows.is_empty() {
        page.push_str("<table class=\"summary\"><thead><tr><th scope=\"col\">area</th><th scope=\"col\" class=\"n\">errors</th><th scope=\"col\" class=\"n\">warnings</th><th scope=\"col\" class=\"n\">info</th><th scope=\"col\">rules</th></tr></thead><tbody>");
        let cell = |n: usize, class: &str| {
            if n == 0 {
                "<td class=\"n zero\">–</td>".to_owned()
            } else {
                format!("<td class=\"n {class}\">{n}</td>")
            }
        };
        for (title, t) in &rows {
            let (name, what) = area_parts(title);
            let codes: Vec<String> = t
                .codes
                .iter()
                .map(|(c, n)| {
                    let tip = registry.get(c).map_or("", |r| r.name);
                    format!(
                        "<span><a href=\"#code={c}\" title=\"{}\">{c}</a>{}</span>",
                        escape(tip),
                        if *n > 1 {
                            format!("&#8239;×{n}")
                        } else {
                            String::new()
                        },
                        c = escape(c)
                    )
                })
                .collect();
            let _ = write!(
                page,
                "<tr><th scope=\"row\"><a href=\"#area={n}\">{n}</a> <span class=\"muted\">{}</span></th>{}{}{}<td class=\"codes\">{}</td></tr>",
                escape(what),
                cell(t.errors, "error"),
                cell(t.warnings, "warning"),
                cell(t.infos, "info"),
                codes.join(""),
                n = escape(name),
            );
        }
        let _ = write!(
            page,
            "</tbody><tfoot><tr><th scope=\"row\">all</th>{}{}{}<td></td></tr></tfoot></table>",
            cell(s.errors, "error"),
            cell(s.warnings, "warning"),
            cell(s.infos, "info"),
        );
        // The filters.
        page.push_str("<form class=\"controls\" id=\"filters\" autocomplete=\"off\" role=\"search\" aria-label=\"filter the findings\" onsubmit=\"return false\"><fieldset><legend>show</legend>");
        for (sev, n, one, many) in [
            ("error", s.errors, "error", "errors"),
            ("warning", s.warnings, "warning", "warnings"),
            ("info", s.infos, "info", "info"),
        ] {
            let _ = write!(
                page,
                "<label><input type=\"checkbox\" name=\"sev\" value=\"{sev}\" checked> {}</label>",
                count(n, one, many)
            );
        }
        page.push_str("</fieldset><label>area <select id=\"area\"><option value=\"\">all</option>");
        for (title, _) in &rows {
            let (name, _) = area_parts(title);
            let _ = write!(page, "<option>{}</option>", escape(name));
        }
        page.push_str("</select></label><label>rule <input id=\"code\" type=\"search\" size=\"12\" placeholder=\"K8S or DATA003\" autocomplete=\"off\" spellcheck=\"false\"></label><button type=\"button\" id=\"reset\">show all</button><output id=\"shown\" aria-live=\"polite\"></output></form>");
    }
    // The findings by file: files with errors first; in a file, errors first, then the
    // report's order (by position, knock-on findings after their cause).
    let mut files: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        files.entry(f.location.path.as_str()).or_default().push(f);
    }
    let mut order: Vec<(&str, Vec<&Finding>)> = files.into_iter().collect();
    for (_, list) in &mut order {
        list.sort_by_key(|f| severity_rank(f.severity));
    }
    order.sort_by_key(|(path, list)| (severity_rank(list[0].severity), *path));
    let mut figures: BTreeMap<&str, Vec<&Figure>> = BTreeMap::new();
    let mut loose: Vec<&Figure> = Vec::new();
    for fig in &report.figures {
        match &fig.path {
            Some(p) if order.iter().any(|(path, _)| path == p) => {
                figures.entry(p.as_str()).or_default().push(fig);
            }
            _ => loose.push(fig),
        }
    }
    let mut context: BTreeMap<&str, Vec<&crate::ContextItem>> = BTreeMap::new();
    for c in &report.context {
        context.entry(c.path.as_str()).or_default().push(c);
    }
    page.push_str("<main id=\"findings\"><h2>Findings</h2>");
    if report.findings.is_empty() {
        let _ = write!(
            page,
            "<p>No findings in {}.</p>",
            count(report.inputs.len(), "input", "inputs")
        );
    }
    let root = opts.root.as_deref();
    for (path, list) in &order {
        let mut t = Tally::default();
        for f in list {
            t.add(f);
        }
        let mut counts = Vec::new();
        for (n, one, many) in [
            (t.errors, "error", "errors"),
            (t.warnings, "warning", "warnings"),
            (t.infos, "info", "info"),
        ] {
            if n > 0 {
                counts.push(count(n, one, many));
            }
        }
        let _ = write!(
            page,
            "<section class=\"file\"><h3><code>{}</code> <span class=\"muted\">{}</span></h3>",
            escape(path),
            counts.join(", ")
        );
        if let Some(items) = context.remove(path) {
            context_line(&mut page, &items);
        }
        let wanted: BTreeSet<u64> = list.iter().filter_map(|f| f.location.line).collect();
        let quotes = crate::quote::around(root, path, &wanted);
        page.push_str("<ol class=\"findings\">");
        for f in list {
            finding(&mut page, f, registry, &quotes);
        }
        page.push_str("</ol>");
        for fig in figures.remove(path).unwrap_or_default() {
            figure(&mut page, fig);
        }
        page.push_str("</section>");
    }
    page.push_str("</main>");
    // Inputs without findings that still have something to show: charts, context.
    let mut others: BTreeSet<&str> = context.keys().copied().collect();
    let unnamed: Vec<&Figure> = loose.iter().copied().filter(|f| f.path.is_none()).collect();
    for fig in &loose {
        if let Some(p) = &fig.path {
            others.insert(p);
        }
    }
    if !others.is_empty() || !unnamed.is_empty() {
        page.push_str("<section id=\"inputs\"><h2>Other inputs</h2>");
        for path in others {
            let _ = write!(
                page,
                "<section class=\"input\"><h3><code>{}</code></h3>",
                escape(path)
            );
            if let Some(items) = context.get(path) {
                context_line(&mut page, items);
            }
            for fig in loose.iter().filter(|f| f.path.as_deref() == Some(path)) {
                figure(&mut page, fig);
            }
            page.push_str("</section>");
        }
        for fig in unnamed {
            figure(&mut page, fig);
        }
        page.push_str("</section>");
    }
    // The explanation of every rule that fired.
    let codes: BTreeSet<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    if !codes.is_empty() {
        page.push_str("<section id=\"rules\"><h2>The rules that fired</h2>");
    }
    for code in &codes {
        if let Some(r) = registry.get(code) {
            let _ = write!(
                page,
                "<section class=\"rule\" id=\"rule-{c}\"><h3>{c} {}</h3><p><em>{}</em> · default severity {} · <a href=\"#code={c}\">show its findings</a></p>{}</section>",
                escape(r.name),
                escape(r.summary),
                r.severity.as_str(),
                doc_html(r.doc),
                c = escape(r.code),
            );
        }
    }
    if !codes.is_empty() {
        page.push_str("</section>");
    }
    let _ = writeln!(page, "<script>{SCRIPT}</script></body></html>");
    w.write_all(page.as_bytes())
}

fn context_line(page: &mut String, items: &[&crate::ContextItem]) {
    page.push_str("<p class=\"context\">");
    for c in items {
        let _ = write!(
            page,
            "<span>{} <b>{}</b></span>",
            escape(&c.key),
            escape(&c.value)
        );
    }
    page.push_str("</p>");
}

fn finding(
    page: &mut String,
    f: &Finding,
    registry: &Registry,
    quotes: &BTreeMap<u64, Vec<crate::quote::Line>>,
) {
    let sev = f.severity.as_str();
    let (area, _) = area_parts(registry.area_title(&f.code));
    let place = match (f.location.line, f.location.column) {
        (Some(l), Some(c)) => format!("line {l}:{c}"),
        (Some(l), None) => format!("line {l}"),
        _ => f.location.detail.clone().unwrap_or_default(),
    };
    let tip = registry
        .get(&f.code)
        .map(|r| format!("{}: {}", r.name, r.summary))
        .unwrap_or_default();
    let _ = write!(
        page,
        "<li class=\"finding sev-{sev}\" data-sev=\"{sev}\" data-code=\"{code}\" data-area=\"{}\"><div class=\"head\"><span class=\"sev {sev}\">{sev}</span> <a class=\"code\" href=\"#rule-{code}\" title=\"{}\">{code}</a> <span class=\"where\">{}</span></div><p class=\"msg\">{}</p>",
        escape(area),
        escape(&tip),
        escape(&place),
        escape(&f.message),
        code = escape(&f.code),
    );
    if let Some(h) = &f.help {
        let _ = write!(page, "<p class=\"help\"><b>help</b> {}</p>", escape(h));
    }
    if !f.related.is_empty() {
        page.push_str("<ul class=\"notes\">");
        for r in &f.related {
            let _ = write!(
                page,
                "<li><code>{}</code> {}</li>",
                escape(&r.location.to_string()),
                escape(&r.message)
            );
        }
        page.push_str("</ul>");
    }
    if let Some(lines) = f.location.line.and_then(|l| quotes.get(&l)) {
        page.push_str("<pre class=\"src\">");
        for (n, text) in lines {
            let _ = write!(
                page,
                "<span{}><span class=\"ln\">{n}</span>{}</span>",
                if Some(*n) == f.location.line {
                    " class=\"at\""
                } else {
                    ""
                },
                escape(text)
            );
        }
        page.push_str("</pre>");
    }
    page.push_str("</li>");
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

    #[test]
    fn plurals_and_area_names() {
        assert_eq!(count(1, "finding", "findings"), "1 finding");
        assert_eq!(count(0, "finding", "findings"), "0 findings");
        assert_eq!(area_parts("data: datasets"), ("data", "datasets"));
        assert_eq!(area_parts("inputs"), ("inputs", ""));
    }
}
