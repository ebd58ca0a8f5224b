//! The data area's part of `everybyte audit`: the project's images, tables, arrays and
//! `.safetensors` model files scanned as `data scan` scans them (a large dataset sampled).

use std::collections::HashSet;

use everybyte_core::{Audit, ContextItem, FileKind, Report};

use crate::error::DataError;
use crate::scan::{Rel, ScanOptions, scan_files};

/// Scans the project's data files and adds the findings (and, for a sample, a context line
/// saying how much was scanned) to `report`.
pub fn audit(input: &Audit, report: &mut Report) -> Result<(), DataError> {
    let project = input.project;
    let docs = Documentation::of(project);
    let data_files: Vec<Rel> = project
        .files
        .iter()
        .filter(|f| {
            (matches!(f.kind, FileKind::Image | FileKind::Table | FileKind::Array)
                || f.rel.ends_with(".safetensors") && f.kind == FileKind::ModelFile)
                && !(f.kind == FileKind::Image && docs.holds(&f.rel))
        })
        .map(|f| {
            // The path's own bytes under the root (the `rel` text may have lost some).
            f.path
                .strip_prefix(&project.root)
                .unwrap_or(&f.path)
                .as_os_str()
                .into()
        })
        .collect();
    if data_files.is_empty() {
        return Ok(());
    }
    // A large dataset is sampled: the same files every run (by path hash), so findings are
    // stable; `everybyte data scan` reads every file.
    let options = &input.config.options.data;
    let limit = options.audit_max_files.max(1);
    let total = data_files.len() as u64;
    let shards = total.div_ceil(limit);
    let opts = ScanOptions {
        max_pixels: options.max_pixels,
        shard: (shards > 1).then_some((0, shards)),
        ..ScanOptions::default()
    };
    let scan = scan_files(&project.root, data_files, &opts);
    if shards > 1 {
        report.context.push(ContextItem {
            path: ".".into(),
            key: "data".into(),
            value: format!(
                "{} of {total} data files scanned (a 1/{shards} sample; data.audit-max-files = {limit}); everybyte data scan checks them all",
                scan.summary.files
            ),
            line: None,
        });
    }
    report.findings.extend(scan.findings);
    Ok(())
}

/// The pictures of a project's documentation, which are not a dataset: images in a folder
/// named as documentation folders are (`assets/`, `docs/`, `images/`, `figures/`, …) beside a
/// README or in the project's root, and images a Markdown or reStructuredText file shows.
struct Documentation {
    /// Folders holding a README (`""` for the root).
    readme_dirs: HashSet<String>,
    /// Paths (relative to the root) that a document links to.
    linked: HashSet<String>,
}

/// Folder names that hold a project's pictures for people rather than data.
const DOC_DIRS: &[&str] = &[
    "assets",
    "asset",
    "docs",
    "doc",
    "documentation",
    "images",
    "imgs",
    "img",
    "figures",
    "figs",
    "fig",
    "media",
    "static",
    "screenshots",
    "resources",
    ".github",
    "teaser",
];

const IMAGE_EXTENSIONS: &[&str] = &[
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg", ".tif", ".tiff",
];

impl Documentation {
    fn of(project: &everybyte_core::discover::Project) -> Self {
        let mut readme_dirs = HashSet::new();
        let mut linked = HashSet::new();
        for f in &project.files {
            let (dir, name) = f.rel.rsplit_once('/').unwrap_or(("", f.rel.as_str()));
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("readme") {
                readme_dirs.insert(dir.to_owned());
            }
            let is_doc = [".md", ".markdown", ".rst", ".mdx", ".ipynb", ".html"]
                .iter()
                .any(|e| lower.ends_with(e));
            // A document is read whole; one over 4 MiB is a notebook's outputs, not prose.
            if is_doc
                && f.size <= 4 << 20
                && let Ok(text) = std::fs::read(&f.path)
            {
                for target in image_links(&text) {
                    if let Some(p) = resolve(dir, &target) {
                        linked.insert(p);
                    }
                }
            }
        }
        Documentation {
            readme_dirs,
            linked,
        }
    }

    /// Whether the image `rel` is a documentation picture.
    fn holds(&self, rel: &str) -> bool {
        if self.linked.contains(rel) {
            return true;
        }
        // A documentation folder (at any depth below it) whose parent has a README, or which
        // sits in the root.
        let parts: Vec<&str> = rel.split('/').collect();
        let mut parent = String::new();
        for part in &parts[..parts.len().saturating_sub(1)] {
            let lower = part.to_ascii_lowercase();
            if DOC_DIRS.contains(&lower.as_str())
                && (parent.is_empty() || self.readme_dirs.contains(&parent))
            {
                return true;
            }
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
        }
        false
    }
}

/// The image paths a document's text names: each token that ends in an image extension,
/// from the delimiter before it (`(`, a quote, `=`, a space, `<`, `[`); a URL to a file of a
/// GitHub repository (`…/blob/BRANCH/PATH`, `…/raw/BRANCH/PATH`) gives its PATH.
fn image_links(text: &[u8]) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    for ext in IMAGE_EXTENSIONS {
        for end in memchr::memmem::find_iter(&lower, ext.as_bytes()) {
            let stop = end + ext.len();
            // The extension must end the token.
            if lower
                .get(stop)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                continue;
            }
            let start = text[..end]
                .iter()
                .rposition(|&c| {
                    matches!(c, b'(' | b'"' | b'\'' | b'=' | b'<' | b'[' | b'>' | b'`')
                        || c.is_ascii_whitespace()
                })
                .map_or(0, |i| i + 1);
            let token = String::from_utf8_lossy(&text[start..stop]).into_owned();
            let path = match token.find("://") {
                Some(_) => {
                    let Some(at) = ["/blob/", "/raw/"]
                        .iter()
                        .find_map(|m| token.find(m).map(|i| i + m.len()))
                    else {
                        continue;
                    };
                    // Skip the branch.
                    match token[at..].split_once('/') {
                        Some((_, rest)) => rest.to_owned(),
                        None => continue,
                    }
                }
                None => token,
            };
            out.push(path);
        }
    }
    out
}

/// `target` as linked from a document in `dir`, relative to the root: `./` and `../` folded,
/// a leading `/` taken as the root; `None` when it climbs out of the root.
fn resolve(dir: &str, target: &str) -> Option<String> {
    let target = target.split(['?', '#']).next().unwrap_or(target);
    let mut parts: Vec<&str> = if target.starts_with('/') || dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests;
