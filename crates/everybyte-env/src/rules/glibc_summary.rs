//! ENV003: the newest glibc and libstdc++ versions the environment needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use everybyte_core::{Finding, Location};

use crate::elf;
use crate::native::Objects;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The newest `GLIBC_` and `GLIBCXX_` versions any object of the environment requires,
    /// next to the newest this host's `libc.so.6` and `libstdc++.so.6` provide, and which
    /// object sets the bar. Reported once per environment, as information.
    /// ## Why it matters
    /// It is the first question when an environment moves to another machine or base image:
    /// which glibc does it need at least? The answer decides the base image (Ubuntu 20.04 has
    /// glibc 2.31, 22.04 has 2.35) before anyone builds it.
    /// ## Example
    /// ```text
    /// .venv  info  ENV003  objects need up to GLIBC_2.34 (torch/lib/libtorch_cpu.so); this host provides up to GLIBC_2.36
    /// ```
    /// ## Fix
    /// Nothing to fix by itself; deploy on hosts and images whose glibc and libstdc++ are at
    /// least the versions named. `everybyte env snapshot` records them for comparison.
    pub static GLIBC_SUMMARY = { code: "ENV003", name: "glibc-requirement", severity: Info, summary: "The newest glibc and libstdc++ versions the environment needs" };
}

/// One finding per environment: the newest `GLIBC_`/`GLIBCXX_` any object needs, against
/// this host's libraries.
pub fn check(facts: &Objects<'_>, out: &mut Vec<Finding>) {
    let (cfg, infos, display_root) = (facts.cfg, facts.infos, facts.display_root);
    let mut need: BTreeMap<&str, (String, PathBuf)> = BTreeMap::new();
    for o in facts.objects {
        let Some(info) = infos.get(o) else { continue };
        for n in &info.version_needs {
            for fam in ["GLIBC", "GLIBCXX"] {
                if let Some(v) = elf::newest(&n.versions, fam) {
                    let better = need
                        .get(fam)
                        .is_none_or(|(cur, _)| elf::version_key(v) > elf::version_key(cur));
                    if better {
                        need.insert(fam, (v.clone(), o.clone()));
                    }
                }
            }
        }
    }
    if need.is_empty() {
        return;
    }
    let host = |lib: &str, fam: &str| -> Option<String> {
        let p = cfg
            .cache
            .lookup(lib, elf::Kind::X86_64, true)
            .map(Path::to_path_buf)
            .or_else(|| {
                cfg.default_dirs
                    .iter()
                    .map(|d| d.join(lib))
                    .find(|p| p.is_file())
            })?;
        let info = infos.get(&p)?;
        elf::newest(&info.version_defs, fam).cloned()
    };
    let mut parts = Vec::new();
    let mut finding_data = Vec::new();
    for (fam, lib) in [("GLIBC", "libc.so.6"), ("GLIBCXX", "libstdc++.so.6")] {
        if let Some((v, o)) = need.get(fam) {
            let who = o
                .strip_prefix(display_root)
                .unwrap_or(o)
                .display()
                .to_string();
            let have = host(lib, fam);
            parts.push(format!(
                "objects need up to {v} ({who}); this host provides {}",
                have.as_deref()
                    .map_or_else(|| format!("no {lib}"), |h| format!("up to {h}"))
            ));
            finding_data.push((fam, v.clone(), have));
        }
    }
    let mut f = Finding::new(
        &GLIBC_SUMMARY,
        Location::file(display_root.display().to_string()),
        parts.join("; "),
    );
    for (fam, v, have) in finding_data {
        f = f.with_data(&format!("{}_needed", fam.to_ascii_lowercase()), v);
        if let Some(h) = have {
            f = f.with_data(&format!("{}_host", fam.to_ascii_lowercase()), h);
        }
    }
    out.push(f.with_help("deploy on hosts and base images that provide at least these versions (ldd --version; strings libstdc++.so.6 | grep GLIBCXX_)"));
}
