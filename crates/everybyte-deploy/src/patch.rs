//! `deploy patch`: writes measured numbers into a manifest by editing its lines — memory
//! limits and requests at the peak × headroom, a startup probe covering the cold start — so
//! comments, key order and formatting stay as they were.

use std::path::Path;

use crate::error::YamlError;
use crate::k8s::{self, bytes};
use crate::{Error, yaml};

/// One edit: replace line `line` (1-based) with `new`, or insert `new` before it.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    Replace {
        line: usize,
        old: String,
        new: String,
    },
    Insert {
        before: usize,
        lines: Vec<String>,
    },
}

/// The numbers to write.
#[derive(Debug, Clone)]
pub struct Targets {
    pub memory_bytes: Option<u64>,
    pub cold_start: Option<f64>,
}

fn indent(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

/// The text with `value` in place of the scalar after `key:` on this line (block or flow).
fn set_value(line: &str, key: &str, value: &str) -> Option<String> {
    let at = line.find(&format!("{key}:"))?;
    let start = at + key.len() + 1;
    let rest = &line[start..];
    let lead = rest.len() - rest.trim_start().len();
    let body = &rest[lead..];
    let end = body.find([',', '}', '#']).unwrap_or(body.len());
    let old = body[..end].trim_end();
    Some(format!(
        "{}{}{}{}",
        &line[..start],
        &rest[..lead],
        value,
        &body[old.len()..]
    ))
}

fn mib(bytes: f64) -> String {
    format!("{}Mi", (bytes / 1_048_576.0).ceil() as u64)
}

/// The edits that bring one manifest to the targets.
pub fn plan(text: &str, t: &Targets) -> Result<(Vec<Edit>, Vec<String>), YamlError> {
    let docs = yaml::parse(text)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut edits = Vec::new();
    let mut notes = Vec::new();
    for d in &docs {
        for w in k8s::workloads(d) {
            for c in w.pods.iter().flat_map(|p| &p.containers) {
                if let Some(want) = t.memory_bytes {
                    let value = mib(want as f64);
                    for (which, v) in [
                        ("limits", c.resources.limit("memory")),
                        ("requests", c.resources.request("memory")),
                    ] {
                        match v {
                            Some(v) if bytes(&v.text).is_some_and(|b| b >= want as f64) => {}
                            Some(v) => {
                                let idx = usize::try_from(v.line).unwrap_or(0).saturating_sub(1);
                                let old = lines.get(idx).copied().unwrap_or("");
                                match set_value(old, "memory", &value) {
                                    Some(new) => edits.push(Edit::Replace { line: idx + 1, old: old.to_owned(), new }),
                                    None => notes.push(format!("{}: line {}: cannot find memory: to edit", c.name, v.line)),
                                }
                            }
                            None => notes.push(format!(
                                "container {}: no {which}.memory to edit; add `memory: {value}` under resources.{which}",
                                c.name
                            )),
                        }
                    }
                }
                if let (Some(cold), Some(l), None) = (t.cold_start, &c.liveness, &c.startup) {
                    if let Some(e) = startup_probe(&lines, l, cold) {
                        edits.push(e);
                    } else {
                        notes.push(format!("container {}: cannot place a startupProbe next to its livenessProbe; add one by hand", c.name));
                    }
                }
            }
        }
    }
    Ok((edits, notes))
}

/// A startup probe copied from the liveness probe's handler, inserted before it.
fn startup_probe(lines: &[&str], l: &k8s::Probe, cold: f64) -> Option<Edit> {
    // The liveness value starts on `l.line`; its key is on that line (flow style) or above.
    let first = usize::try_from(l.line).ok()?.checked_sub(1)?;
    let key_idx = (0..=first).rev().take(2).find(|&i| {
        lines
            .get(i)
            .is_some_and(|s| s.trim_start().starts_with("livenessProbe:"))
    })?;
    let key_line = lines[key_idx];
    let base = indent(key_line);
    let period = 10u64;
    let threshold = ((cold * 1.5) / period as f64).ceil().max(1.0) as u64;
    let after = key_line.trim_start()["livenessProbe:".len()..].trim();
    let mut out = Vec::new();
    let pad = " ".repeat(base);
    if after.starts_with('{') {
        // Flow style: one line. Keep the handler, set our timing.
        let mut probe = after.to_owned();
        for k in ["initialDelaySeconds", "periodSeconds", "failureThreshold"] {
            if let Some(i) = probe.find(&format!("{k}:")) {
                let end = probe[i..].find([',', '}']).map_or(probe.len(), |e| i + e);
                let cut_end = if probe[end..].starts_with(',') {
                    end + 1
                } else {
                    end
                };
                probe.replace_range(i..cut_end, "");
            }
        }
        // Exactly one closing brace is the probe's own; nested maps keep theirs.
        let body = probe
            .trim_end()
            .strip_suffix('}')?
            .trim_end()
            .trim_end_matches(',');
        let body = body.trim_start_matches('{').trim();
        let sep = if body.is_empty() { "" } else { ", " };
        let line = format!(
            "{pad}startupProbe: {{{body}{sep}periodSeconds: {period}, failureThreshold: {threshold}}}"
        );
        // Only a line that parses back to the same handler is written.
        crate::yaml::parse(line.trim_start()).ok()?;
        out.push(line);
    } else {
        out.push(format!("{pad}startupProbe:"));
        let mut child = None;
        let mut i = key_idx + 1;
        while let Some(s) = lines.get(i) {
            if s.trim().is_empty() || s.trim_start().starts_with('#') {
                i += 1;
                continue;
            }
            if indent(s) <= base {
                break;
            }
            let ci = *child.get_or_insert(indent(s));
            // The probe's own timeout stays: the endpoint needs what liveness gives it.
            let timing = [
                "initialDelaySeconds:",
                "periodSeconds:",
                "failureThreshold:",
            ]
            .iter()
            .any(|k| indent(s) == ci && s.trim_start().starts_with(k));
            if !timing {
                out.push((*s).to_owned());
            }
            i += 1;
        }
        let cpad = " ".repeat(child.unwrap_or(base + 2));
        out.push(format!("{cpad}periodSeconds: {period}"));
        out.push(format!("{cpad}failureThreshold: {threshold}"));
    }
    Some(Edit::Insert {
        before: key_idx + 1,
        lines: out,
    })
}

/// Applies edits; returns the new text and a unified-style diff.
pub fn apply(text: &str, edits: &[Edit], name: &str) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + 8);
    let mut diff = format!("--- {name}\n+++ {name} (patched)\n");
    for (i, l) in lines.iter().enumerate() {
        let n = i + 1;
        for e in edits {
            if let Edit::Insert { before, lines: new } = e
                && *before == n
            {
                diff.push_str(&format!("@@ before line {n} @@\n"));
                for x in new {
                    diff.push_str(&format!("+{x}\n"));
                    out.push(x.clone());
                }
            }
        }
        match edits.iter().find_map(|e| match e {
            Edit::Replace { line, new, .. } if *line == n => Some(new),
            _ => None,
        }) {
            Some(new) => {
                diff.push_str(&format!("@@ line {n} @@\n-{l}\n+{new}\n"));
                out.push(new.clone());
            }
            None => out.push((*l).to_owned()),
        }
    }
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    (s, diff)
}

/// What `deploy patch` prints, and whether the manifest changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patched {
    /// Lines for standard error, each `everybyte: MANIFEST: NOTE`: what could not be edited.
    pub notes: Vec<String>,
    /// What goes to standard output: the diff, or that the manifest already meets the profile.
    pub output: String,
    /// The manifest changed (or would change, with a dry run).
    pub changed: bool,
}

impl Patched {
    /// `deploy patch` exits 0 when the manifest already met the numbers, 1 when it changed (or
    /// would change, with a dry run).
    pub fn exit_code(&self) -> u8 {
        u8::from(self.changed)
    }
}

/// `deploy patch`: brings a manifest to the numbers of a profile record (memory at the peak ×
/// `headroom`, a startup probe covering the cold start) and writes it back in one atomic step,
/// unless `dry_run`.
pub fn patch_file(
    manifest: &Path,
    profile: &Path,
    headroom: f64,
    dry_run: bool,
) -> Result<Patched, Error> {
    crate::expect::check_headroom(headroom)?;
    let r = crate::profile::load(profile)?;
    let text = std::fs::read_to_string(manifest).map_err(|err| Error::Read {
        path: manifest.to_owned(),
        err,
    })?;
    let targets = Targets {
        memory_bytes: Some((r.peak() as f64 * headroom).ceil() as u64),
        cold_start: r.cold_start_seconds,
    };
    let (edits, notes) = plan(&text, &targets).map_err(|err| Error::Manifest {
        path: manifest.to_owned(),
        err,
    })?;
    let name = manifest.display().to_string();
    let (new, diff) = apply(&text, &edits, &name);
    let notes = notes
        .iter()
        .map(|n| format!("everybyte: {name}: {n}"))
        .collect();
    if edits.is_empty() {
        return Ok(Patched {
            notes,
            output: format!("{name}: already meets the profile\n"),
            changed: false,
        });
    }
    if !dry_run {
        everybyte_core::atomic::write_atomic(manifest, |w| w.write_all(new.as_bytes())).map_err(
            |err| Error::Write {
                path: manifest.to_owned(),
                err,
            },
        )?;
    }
    Ok(Patched {
        notes,
        output: diff,
        changed: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "\
kind: Deployment   # the server
spec:
  template:
    spec:
      containers:
        - name: server
          resources:
            limits:
              memory: \"16Gi\"   # too small
            requests: {memory: 16Gi, cpu: \"2\"}
          livenessProbe:
            httpGet:
              path: /health
              port: 8080
            initialDelaySeconds: 10
            periodSeconds: 10
";

    #[test]
    fn memory_and_startup_probe_keep_the_rest() {
        let t = Targets {
            memory_bytes: Some(20 << 30),
            cold_start: Some(62.0),
        };
        let (edits, notes) = plan(MANIFEST, &t).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        let (new, diff) = apply(MANIFEST, &edits, "d.yaml");
        assert!(
            new.contains("              memory: 20480Mi   # too small"),
            "{new}"
        );
        assert!(
            new.contains("requests: {memory: 20480Mi, cpu: \"2\"}"),
            "{new}"
        );
        assert!(new.contains("          startupProbe:\n            httpGet:\n              path: /health\n              port: 8080\n            periodSeconds: 10\n            failureThreshold: 10\n          livenessProbe:"), "{new}");
        assert!(new.starts_with("kind: Deployment   # the server\n"));
        assert!(
            diff.contains("-              memory: \"16Gi\"   # too small"),
            "{diff}"
        );
        // The patched manifest parses, and a second plan has nothing left to do.
        let (again, _) = plan(&new, &t).unwrap();
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn nested_flow_maps_and_the_probe_timeout_survive() {
        let m = "kind: Pod\nspec:\n  containers:\n  - name: s\n    livenessProbe: {httpGet: {path: /h, port: 1}, timeoutSeconds: 5}\n";
        let (edits, notes) = plan(
            m,
            &Targets {
                memory_bytes: None,
                cold_start: Some(20.0),
            },
        )
        .unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        let (new, _) = apply(m, &edits, "p.yaml");
        assert!(new.contains("    startupProbe: {httpGet: {path: /h, port: 1}, timeoutSeconds: 5, periodSeconds: 10, failureThreshold: 3}\n"), "{new}");
        let docs = yaml::parse(&new).unwrap();
        let c = &docs[0].at("spec.containers").unwrap().seq()[0];
        assert_eq!(
            c.at("startupProbe.httpGet.port").and_then(yaml::Node::str),
            Some("1")
        );
    }

    #[test]
    fn flow_style_probes() {
        let m = "kind: Pod\nspec:\n  containers:\n  - name: s\n    livenessProbe: {httpGet: {path: /h, port: 1}, periodSeconds: 5}\n";
        let (edits, _) = plan(
            m,
            &Targets {
                memory_bytes: None,
                cold_start: Some(20.0),
            },
        )
        .unwrap();
        let (new, _) = apply(m, &edits, "p.yaml");
        assert!(new.contains("    startupProbe: {httpGet: {path: /h, port: 1}, periodSeconds: 10, failureThreshold: 3}\n    livenessProbe:"), "{new}");
        assert!(yaml::parse(&new).is_ok());
    }
}
