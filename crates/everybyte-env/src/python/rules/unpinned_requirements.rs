//! ENV010: a requirements file that does not pin exact versions and hashes.

use everybyte_core::{Finding, Location};

use crate::python::lock::{Pin, RequirementsFile};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A pip requirements file on its own: every requirement line that is not an exact
    /// `name==version` pin (`>=`, `~=`, a bare name, a URL or VCS reference without a commit
    /// hash, an editable `-e` install) is reported with its line and column. Separately, the
    /// file is reported when no line, or not every pinned line, carries a `--hash=` option.
    /// Included files (`-r`, `-c`) are read relative to the including file.
    /// ## Why it matters
    /// An unpinned line resolves to whatever is newest on the day of the install: two images
    /// built from the same file differ, and a new upstream release breaks training runs that
    /// worked yesterday. Without hashes, pip cannot tell a tampered or rebuilt wheel from the
    /// one that was tested.
    /// ## Example
    /// ```text
    /// requirements.txt:3:1  warning  ENV010
    ///   `torch>=2.0` is not pinned to one version
    /// ```
    /// ## Fix
    /// Generate a lock with exact pins and hashes (`pip-compile --generate-hashes`,
    /// `uv pip compile --generate-hashes`, `pip freeze` as a start), and install it with
    /// `pip install --require-hashes -r requirements.lock`.
    pub static UNPINNED_REQUIREMENTS = { code: "ENV010", name: "unpinned-requirements", severity: Warning, summary: "A requirements file has unpinned lines or no hashes" };
}

/// Each line that does not pin one version, and the file when some line has no `--hash`.
pub fn check(facts: &RequirementsFile<'_>, out: &mut Vec<Finding>) {
    let (own, display) = (facts.lines.as_slice(), facts.display);
    for l in own {
        if let Pin::Unpinned(reason) = &l.pin {
            out.push(
                Finding::new(
                    &UNPINNED_REQUIREMENTS,
                    Location::line(display, l.line, l.column),
                    format!("`{}` is not pinned to one version: {reason}", l.text),
                )
                .with_help("pin an exact version with hashes: pip-compile --generate-hashes / uv pip compile --generate-hashes")
                .with_data("requirement", l.text.clone()),
            );
        }
    }
    let with_hash = own.iter().filter(|l| !l.hashes.is_empty()).count();
    if !own.is_empty() && with_hash < own.len() {
        let without: Vec<&str> = own
            .iter()
            .filter(|l| l.hashes.is_empty())
            .map(|l| l.text.as_str())
            .collect();
        let message = if with_hash == 0 {
            format!(
                "no requirement in this file has a --hash ({} requirements)",
                own.len()
            )
        } else {
            let shown: Vec<&str> = without.iter().take(3).copied().collect();
            format!(
                "{} of {} requirements have no --hash (e.g. {}); pip --require-hashes refuses the file",
                without.len(),
                own.len(),
                shown.join(", ")
            )
        };
        out.push(
            Finding::new(&UNPINNED_REQUIREMENTS, Location::file(display), message)
                .with_help("generate hashes for every line (pip-compile --generate-hashes) and install with pip install --require-hashes")
                .with_data("without_hash", without.len())
                .with_data("requirements", own.len()),
        );
    }
}
