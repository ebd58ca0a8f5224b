//! Renderers: the same [`Report`] as text for people, concise lines, JSON, SARIF 2.1.0 and
//! GitHub Actions annotations. Renderers know nothing of areas.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;

use crate::{Registry, Report, Severity};

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Grouped by file, with help and related locations; for people.
    Text,
    /// One line per finding: `path:line:col: CODE severity message`.
    Concise,
    /// The documented JSON object (see `docs/json-format.md`).
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…`).
    Github,
    /// One self-contained HTML page: a summary, the findings by file with their source lines
    /// and charts, filters kept in the URL, the rules' explanations.
    Html,
}

/// Rendering options.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    pub color: bool,
    pub tool_version: &'static str,
    /// The absolute project root, used as SARIF's `%SRCROOT%`.
    pub root_uri: Option<String>,
    /// The directory findings' paths are relative to, from which the HTML report quotes the
    /// lines around each finding.
    pub root: Option<std::path::PathBuf>,
}

/// Renders `report` to `output` (atomically: a temporary file, then a rename) or, when there
/// is none, to standard output.
pub fn emit(
    report: &Report,
    format: Format,
    registry: &Registry,
    opts: &RenderOptions,
    output: Option<&std::path::Path>,
) -> io::Result<()> {
    if let Some(path) = output {
        crate::write_atomic(path, |w| render(report, format, registry, opts, w)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{}: cannot write the report: {e}", path.display()),
            )
        })
    } else {
        let mut out = io::stdout().lock();
        render(report, format, registry, opts, &mut out)?;
        out.flush()
    }
}

/// Writes `report` in `format`.
pub fn render(
    report: &Report,
    format: Format,
    registry: &Registry,
    opts: &RenderOptions,
    w: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text(report, opts, w),
        Format::Concise => concise(report, w),
        Format::Json => json(report, opts, w),
        Format::Sarif => sarif(report, registry, opts, w),
        Format::Github => github(report, w),
        Format::Html => crate::html::html(report, registry, opts, w),
    }
}

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn severity(&self, s: Severity) -> String {
        let code = match s {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Info => "1;36",
        };
        self.wrap(code, s.as_str())
    }
}

fn text(report: &Report, opts: &RenderOptions, w: &mut dyn Write) -> io::Result<()> {
    let p = Paint { on: opts.color };
    let mut current: Option<&str> = None;
    for f in &report.findings {
        if current != Some(f.location.path.as_str()) {
            if current.is_some() {
                writeln!(w)?;
            }
            writeln!(w, "{}", p.wrap("1;4", &f.location.path))?;
            current = Some(&f.location.path);
        }
        let pos = match (f.location.line, f.location.column) {
            (Some(l), Some(c)) => format!("{l}:{c}"),
            (Some(l), None) => l.to_string(),
            _ => f.location.detail.clone().unwrap_or_else(|| "-".into()),
        };
        writeln!(
            w,
            "  {:>7}  {} {} {}",
            pos,
            p.severity(f.severity),
            p.wrap("1", &f.code),
            f.message
        )?;
        for r in &f.related {
            writeln!(
                w,
                "           {} {}: {}",
                p.wrap("2", "note:"),
                r.location,
                r.message
            )?;
        }
        if let Some(help) = &f.help {
            let mut lines = help.lines();
            if let Some(first) = lines.next() {
                writeln!(w, "           {} {first}", p.wrap("32", "help:"))?;
            }
            for line in lines {
                writeln!(w, "                 {line}")?;
            }
        }
    }
    if !report.context.is_empty() {
        if !report.findings.is_empty() {
            writeln!(w)?;
        }
        let mut last_path = None;
        for c in &report.context {
            if last_path != Some(c.path.as_str()) {
                writeln!(w, "{} {}", p.wrap("1", "context from"), c.path)?;
                last_path = Some(&c.path);
            }
            writeln!(w, "  {:<10} {}", c.key, c.value)?;
        }
    }
    let s = report.summary();
    if !report.findings.is_empty() || !report.context.is_empty() {
        writeln!(w)?;
    }
    let mut line = if s.total == 0 {
        format!(
            "No findings in {} input{}.",
            report.inputs.len(),
            plural(report.inputs.len())
        )
    } else {
        format!(
            "{} error{}, {} warning{}, {} info in {} file{}",
            s.errors,
            plural(s.errors),
            s.warnings,
            plural(s.warnings),
            s.infos,
            s.files_with_findings,
            plural(s.files_with_findings)
        )
    };
    if s.total > 0 {
        let codes: Vec<String> = s.by_code.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
        let _ = write!(
            line,
            " ({}). `everybyte rule CODE` explains each.",
            codes.join(", ")
        );
    }
    writeln!(w, "{line}")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn concise(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    for f in &report.findings {
        writeln!(w, "{}: {} {} {}", f.location, f.code, f.severity, f.message)?;
    }
    Ok(())
}

fn github(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    for f in &report.findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = format!(
            "title=everybyte ({}),file={}",
            f.code,
            gh_prop(&f.location.path)
        );
        if let Some(l) = f.location.line {
            let _ = write!(props, ",line={l}");
        }
        if let Some(c) = f.location.column {
            let _ = write!(props, ",col={c}");
        }
        let mut msg = f.message.clone();
        if let Some(h) = &f.help {
            let _ = write!(msg, "\n{h}");
        }
        writeln!(w, "::{level} {props}::{}", gh_data(&msg))?;
    }
    Ok(())
}

fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_prop(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    tool: JsonTool<'a>,
    inputs: &'a [String],
    findings: Vec<JsonFinding<'a>>,
    context: &'a [crate::ContextItem],
    summary: crate::Summary,
}

#[derive(Serialize)]
struct JsonTool<'a> {
    name: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    path: &'a str,
    line: Option<u64>,
    column: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    help: Option<&'a str>,
    related: &'a [crate::Related],
    data: &'a std::collections::BTreeMap<String, serde_json::Value>,
}

fn json(report: &Report, opts: &RenderOptions, w: &mut dyn Write) -> io::Result<()> {
    let doc = JsonReport {
        version: 1,
        tool: JsonTool {
            name: "everybyte",
            version: opts.tool_version,
        },
        inputs: &report.inputs,
        findings: report
            .findings
            .iter()
            .map(|f| JsonFinding {
                code: &f.code,
                severity: f.severity,
                message: &f.message,
                path: &f.location.path,
                line: f.location.line,
                column: f.location.column,
                detail: f.location.detail.as_deref(),
                help: f.help.as_deref(),
                related: &f.related,
                data: &f.data,
            })
            .collect(),
        context: &report.context,
        summary: report.summary(),
    };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Percent-encodes a relative path for a SARIF `uri` (RFC 3986 unreserved + `/` kept).
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn sarif_location(loc: &crate::Location) -> serde_json::Value {
    let mut physical = serde_json::json!({
        "artifactLocation": { "uri": uri_path(&loc.path), "uriBaseId": "%SRCROOT%" }
    });
    if let Some(line) = loc.line {
        let mut region = serde_json::json!({ "startLine": line.max(1) });
        if let Some(col) = loc.column {
            region["startColumn"] = col.max(1).into();
        }
        physical["region"] = region;
    }
    let mut out = serde_json::json!({ "physicalLocation": physical });
    if let Some(detail) = &loc.detail {
        out["message"] = serde_json::json!({ "text": detail });
    }
    out
}

fn sarif(
    report: &Report,
    registry: &Registry,
    opts: &RenderOptions,
    w: &mut dyn Write,
) -> io::Result<()> {
    let rules: Vec<serde_json::Value> = registry
        .rules()
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.summary },
                "help": { "text": r.explanation(), "markdown": r.explanation() },
                "defaultConfiguration": { "level": sarif_level(r.severity) },
                "properties": { "tags": [r.prefix()] }
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut text = f.message.clone();
            if let Some(h) = &f.help {
                let _ = write!(text, "\nhelp: {h}");
            }
            let mut res = serde_json::json!({
                "ruleId": f.code,
                "level": sarif_level(f.severity),
                "message": { "text": text },
                "locations": [sarif_location(&f.location)],
            });
            if let Some(idx) = registry.rules().iter().position(|r| r.code == f.code) {
                res["ruleIndex"] = idx.into();
            }
            if !f.related.is_empty() {
                res["relatedLocations"] = f
                    .related
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let mut l = sarif_location(&r.location);
                        l["id"] = i.into();
                        l["message"] = serde_json::json!({ "text": r.message });
                        l
                    })
                    .collect();
            }
            if !f.data.is_empty() {
                res["properties"] = serde_json::to_value(&f.data).unwrap_or_default();
            }
            res
        })
        .collect();
    let mut run = serde_json::json!({
        "tool": { "driver": {
            "name": "everybyte",
            "version": opts.tool_version,
            "semanticVersion": opts.tool_version,
            "informationUri": "https://github.com/everybyte/everybyte",
            "rules": rules,
        }},
        "results": results,
        "columnKind": "unicodeCodePoints",
    });
    if let Some(root) = &opts.root_uri {
        run["originalUriBaseIds"] = serde_json::json!({ "%SRCROOT%": { "uri": root } });
    }
    let doc = serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

/// A `file://` URI for a directory, ending in `/`, as SARIF's `originalUriBaseIds` wants.
pub fn dir_uri(path: &std::path::Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    let mut uri = String::from("file://");
    if !s.starts_with('/') {
        uri.push('/');
    }
    uri.push_str(&uri_path(&s));
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}
