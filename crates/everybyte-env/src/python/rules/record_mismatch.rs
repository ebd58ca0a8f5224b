//! ENV008: installed files no longer match the hashes in RECORD.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use everybyte_core::Finding;
use sha2::{Digest, Sha256};

use crate::python::check::{Installed, is_bytecode};
use crate::python::sha256::base64_url_nopad;

/// How many changed paths a message names.
const SHOWN_PATHS: usize = 3;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Every file listed in a distribution's `RECORD` with a `sha256` digest: the file must
    /// exist, have the recorded size, and hash to the recorded digest. Entries without a
    /// digest (`RECORD` itself) and compiled bytecode (`__pycache__/`, `.pyc`: pip recompiles
    /// it at install time, even when the wheel shipped it) are skipped. Files are hashed
    /// streaming and in parallel. One finding per distribution gives the number of changed
    /// or missing files and the first few paths.
    /// ## Why it matters
    /// Someone edited installed code (a "quick fix" in `site-packages`), a build step patched
    /// a shared library, or files were lost when an image layer was squashed. The environment
    /// then runs code that no lockfile describes, and reinstalling the "same" version changes
    /// behaviour.
    /// ## Example
    /// ```text
    /// site-packages/transformers-4.35.0.dist-info (RECORD)  warning  ENV008
    ///   transformers 4.35.0: 2 installed files differ from RECORD (modified:
    ///   transformers/trainer.py; missing: transformers/py.typed)
    /// ```
    /// ## Fix
    /// Reinstall the distribution (`pip install --force-reinstall --no-deps
    /// transformers==4.35.0`). If the change is intended, keep it as a patch in the project
    /// and build a wheel of the patched package instead of editing `site-packages`.
    pub static RECORD_MISMATCH = { code: "ENV008", name: "record-mismatch", severity: Warning, summary: "Installed files differ from the distribution's RECORD" };
}

/// What verifying one RECORD line found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Verdict {
    Ok,
    Missing,
    /// Also the verdict for a file whose worker thread failed.
    #[default]
    Modified,
}

fn verify_file(path: &Path, size: Option<u64>, want: &str) -> Verdict {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Verdict::Missing,
        Err(_) => return Verdict::Modified,
    };
    if let (Some(size), Ok(meta)) = (size, file.metadata())
        && meta.len() != size
    {
        return Verdict::Modified;
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 18];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Verdict::Modified,
        }
    }
    if base64_url_nopad(&hasher.finalize()) == want.trim_end_matches('=') {
        Verdict::Ok
    } else {
        Verdict::Modified
    }
}

/// Hashes every sha256-recorded file of every distribution, on all cores (only when
/// `verify_records`).
pub fn check(facts: &Installed<'_>, out: &mut Vec<Finding>) {
    if !facts.verify_records {
        return;
    }
    let dists = facts.distributions;
    // (dist index, entry index)
    let jobs: Vec<(usize, usize)> = dists
        .iter()
        .enumerate()
        .flat_map(|(i, d)| {
            d.record
                .iter()
                .flatten()
                .enumerate()
                .filter(|(_, e)| {
                    e.hash.as_ref().is_some_and(|(algo, _)| algo == "sha256")
                        && !is_bytecode(&e.path)
                })
                .map(move |(j, _)| (i, j))
        })
        .collect();
    let verdicts = everybyte_core::par::map(&jobs, |&(i, j)| {
        let d = &dists[i];
        let Some(e) = d.record.as_ref().and_then(|r| r.get(j)) else {
            return Verdict::Ok;
        };
        let digest = e.hash.as_ref().map_or("", |(_, h)| h.as_str());
        verify_file(&d.root().join(&e.path), e.size, digest)
    });
    let mut per_dist: BTreeMap<usize, Vec<(usize, Verdict)>> = BTreeMap::new();
    for (&(i, j), v) in jobs.iter().zip(verdicts) {
        if v != Verdict::Ok {
            per_dist.entry(i).or_default().push((j, v));
        }
    }
    out.extend(per_dist.into_iter().map(|(i, bad)| {
        let d = &dists[i];
        let record = d.record.as_deref().unwrap_or_default();
        let path_of = |j: usize| record.get(j).map_or("", |e| e.path.as_str());
        let missing: Vec<&str> = bad
            .iter()
            .filter(|(_, v)| *v == Verdict::Missing)
            .map(|&(j, _)| path_of(j))
            .collect();
        let modified: Vec<&str> = bad
            .iter()
            .filter(|(_, v)| *v == Verdict::Modified)
            .map(|&(j, _)| path_of(j))
            .collect();
        let mut parts = Vec::new();
        for (label, list) in [("modified", &modified), ("missing", &missing)] {
            if list.is_empty() {
                continue;
            }
            let mut s = format!(
                "{label}: {}",
                list.iter()
                    .take(SHOWN_PATHS)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if list.len() > SHOWN_PATHS {
                s.push_str(&format!(" and {} more", list.len() - SHOWN_PATHS));
            }
            parts.push(s);
        }
        let files = if bad.len() == 1 {
            "file differs"
        } else {
            "files differ"
        };
        Finding::new(
            &RECORD_MISMATCH,
            facts.location(d, "RECORD"),
            format!(
                "{} {}: {} installed {files} from RECORD ({})",
                d.name,
                d.version,
                bad.len(),
                parts.join("; ")
            ),
        )
        .with_help(format!(
            "pip install --force-reinstall --no-deps '{}=={}'",
            d.name, d.version
        ))
        .with_data("package", d.normalized.clone())
        .with_data("modified", modified.len())
        .with_data("missing", missing.len())
        .with_data(
            "paths",
            bad.iter()
                .take(SHOWN_PATHS * 2)
                .map(|&(j, _)| path_of(j))
                .collect::<Vec<_>>(),
        )
    }));
}
