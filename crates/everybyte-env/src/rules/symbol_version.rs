//! ENV002: a library lacks a symbol version an object requires.

use std::collections::BTreeMap;
use std::path::PathBuf;

use everybyte_core::{Finding, Location};

use crate::elf;
use crate::native::Objects;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// For every library an entry point's closure loads (an extension module, a program, a
    /// library its package loads: see ENV001), the symbol versions each object requires
    /// (`.gnu.version_r`: `GLIBC_2.34`, `GLIBCXX_3.4.30`, `CXXABI_1.3.13`, …) against the
    /// versions the library actually defines (`.gnu.version_d`).
    /// ## Why it matters
    /// A binary built against a newer glibc or libstdc++ than the host has fails at import
    /// with ``version `GLIBC_2.34' not found``. The version sections say so before anything
    /// runs, with the exact provider that is too old.
    /// ## Example
    /// ```text
    /// torch/lib/libtorch_cpu.so  error  ENV002  libtorch_cpu.so requires GLIBC_2.34; /lib/x86_64-linux-gnu/libc.so.6 provides up to GLIBC_2.31
    /// ```
    /// ## Fix
    /// Use a build made for this host (a wheel whose manylinux tag is at or below the host's
    /// glibc, see `ldd --version`), move to a base image with a newer glibc, or for
    /// libstdc++ put a newer one first (`conda install -c conda-forge libstdcxx-ng`). Never
    /// replace the system's libc.
    pub static SYMBOL_VERSION_MISSING = { code: "ENV002", name: "symbol-version-missing", severity: Error, summary: "A library lacks a symbol version an object requires" };
}

/// Missing symbol versions by (object, provider): (version, the provider's newest).
type Gaps = BTreeMap<(PathBuf, PathBuf), Vec<(String, Option<String>)>>;

/// One finding per (object, provider) pair, naming the newest version the object needs.
pub fn check(facts: &Objects<'_>, out: &mut Vec<Finding>) {
    let mut gaps: Gaps = BTreeMap::new();
    let judged: Vec<&crate::resolve::Closure> = if facts.ldd_compatible {
        facts.closures.iter().collect()
    } else {
        facts
            .loading
            .entries
            .iter()
            .map(|e| &facts.closures[e.object])
            .collect()
    };
    for g in judged.into_iter().flat_map(|c| &c.gaps) {
        let v = gaps
            .entry((g.object.clone(), g.provider.clone()))
            .or_default();
        if !v.iter().any(|(x, _)| *x == g.version) {
            v.push((g.version.clone(), g.provider_newest.clone()));
        }
    }
    for ((object, provider), mut versions) in gaps {
        versions.sort_by_key(|(v, _)| elf::version_key(v));
        let Some((top, newest)) = versions.last().cloned() else {
            continue;
        };
        let obj_name = object
            .file_name()
            .map_or_else(|| facts.show(&object), |n| n.to_string_lossy().into_owned());
        let more = if versions.len() > 1 {
            format!(" (and {} older versions it also lacks)", versions.len() - 1)
        } else {
            String::new()
        };
        let provides = newest.map_or_else(
            || "defines no version of that family".to_owned(),
            |n| format!("provides up to {n}"),
        );
        let breaks = facts.loading.breaks(&object);
        let breaks_text = if breaks.is_empty() {
            String::new()
        } else {
            format!("; breaks {}", crate::load::list_some(&breaks, 4))
        };
        out.push(
            Finding::new(
                &SYMBOL_VERSION_MISSING,
                Location { detail: Some(".gnu.version_r".into()), ..Location::file(facts.show(&object)) },
                format!("{obj_name} requires {top}; {} {provides}{more}{breaks_text}", provider.display()),
            )
            .with_help(format!("objdump -T {} | grep {top} lists the symbols that need it; use a build for this host, or a base image whose library provides {top}", object.display()))
            .with_data("required", top.as_str())
            .with_data("provider", provider.display().to_string())
            .with_data("missing_versions", versions.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>())
            .with_data("breaks", breaks),
        );
    }
}
