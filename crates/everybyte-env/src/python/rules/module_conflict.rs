//! ENV007: two distributions install the same file.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use everybyte_core::{Finding, Related};

use crate::python::check::{Installed, is_bytecode};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The `RECORD` files of all distributions in one `site-packages`: a path listed by two
    /// different distributions with different contents (different recorded hashes, or no
    /// hash). Reported once per pair of distributions with the number of shared files and one
    /// example. Files recorded with the same hash by both (the empty `nvidia/__init__.py` of
    /// the `nvidia-*-cu12` namespace wheels) are identical and not reported; `__pycache__`
    /// files are ignored.
    /// ## Why it matters
    /// The last one installed wins, file by file: `import foo` may load code from one
    /// package mixed with modules of the other (`opencv-python` and `opencv-python-headless`
    /// both writing `cv2/`), and uninstalling either deletes files the other still needs.
    /// ## Example
    /// ```text
    /// site-packages/opencv_python-4.8.1.78.dist-info  warning  ENV007
    ///   opencv-python 4.8.1.78 and opencv-python-headless 4.8.1.78 both install 412 files,
    ///   e.g. cv2/__init__.py
    /// ```
    /// ## Fix
    /// Keep one of the two: uninstall both, then install only the one you need
    /// (`pip uninstall -y opencv-python opencv-python-headless && pip install
    /// opencv-python-headless`).
    pub static MODULE_CONFLICT = { code: "ENV007", name: "module-conflict", severity: Warning, summary: "Two distributions install the same file" };
}

fn ignored_for_conflicts(path: &str) -> bool {
    let first = Path::new(path.split('/').next().unwrap_or(""));
    is_bytecode(path)
        || first
            .extension()
            .is_some_and(|e| e == "dist-info" || e == "egg-info")
}

/// Pairs of distributions (of different names) whose RECORDs list the same path with
/// different or unknown contents.
pub fn check(facts: &Installed<'_>, out: &mut Vec<Finding>) {
    type Owner<'a> = (usize, Option<&'a (String, String)>);
    let dists = facts.distributions;
    // The first owner of every path in a hash map (tens of thousands of paths in a torch
    // environment); only the paths listed twice go to the ordered map that is reported.
    let mut first: HashMap<&str, Owner<'_>> = HashMap::new();
    let mut owners: BTreeMap<&str, Vec<Owner<'_>>> = BTreeMap::new();
    for (i, d) in dists.iter().enumerate() {
        for e in d.record.iter().flatten() {
            if ignored_for_conflicts(&e.path) {
                continue;
            }
            let owner = (i, e.hash.as_ref());
            match first.entry(e.path.as_str()) {
                Entry::Vacant(v) => {
                    v.insert(owner);
                }
                Entry::Occupied(o) => owners
                    .entry(e.path.as_str())
                    .or_insert_with(|| vec![*o.get()])
                    .push(owner),
            }
        }
    }
    // (i, j) → (count, first example path)
    let mut pairs: BTreeMap<(usize, usize), (usize, &str)> = BTreeMap::new();
    for (path, list) in &owners {
        for (a, &(i, hi)) in list.iter().enumerate() {
            for &(j, hj) in &list[a + 1..] {
                let same_content = hi.is_some() && hi == hj;
                if i == j || same_content || dists[i].normalized == dists[j].normalized {
                    continue;
                }
                let key = (i.min(j), i.max(j));
                pairs.entry(key).or_insert((0, path)).0 += 1;
            }
        }
    }
    out.extend(pairs.into_iter().map(|((i, j), (count, example))| {
        let (a, b) = (&dists[i], &dists[j]);
        let files = if count == 1 { "file" } else { "files" };
        let mut f = Finding::new(
            &MODULE_CONFLICT,
            facts.location(a, "RECORD"),
            format!(
                "{} {} and {} {} both install {count} {files}, e.g. {example}",
                a.name, a.version, b.name, b.version
            ),
        )
        .with_help(format!(
            "keep one: pip uninstall -y {} {} and reinstall only the one you need",
            a.name, b.name
        ))
        .with_data("packages", vec![a.normalized.clone(), b.normalized.clone()])
        .with_data("count", count)
        .with_data("example", example);
        f.related.push(Related {
            location: facts.location(b, "RECORD"),
            message: format!("{} {} lists the same files", b.name, b.version),
        });
        f
    }));
}
