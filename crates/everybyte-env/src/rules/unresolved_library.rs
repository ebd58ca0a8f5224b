//! ENV001: a shared library an ELF object needs cannot be found.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use everybyte_core::{Finding, Location};

use crate::native::Objects;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Every ELF object of the environment (extension modules and vendored libraries under
    /// `site-packages`, the `.libs` folders of manylinux wheels, the venv's `bin` and `lib`)
    /// has each `DT_NEEDED` library resolved the way the dynamic loader does it: `DT_RPATH`,
    /// `LD_LIBRARY_PATH`, `DT_RUNPATH` with `$ORIGIN` expanded, the host's `/etc/ld.so.cache`
    /// (read directly), then the default directories, skipping libraries of another
    /// architecture. The closure is followed, so a library missing two levels down counts.
    /// One finding per missing library, naming the objects that need it.
    /// ## Why it matters
    /// A missing library fails the `import` with `cannot open shared object file` — on the
    /// cluster, not on the laptop where the wheel was tested — or, for a lazily loaded
    /// plugin, in the middle of a run. `ldd` finds the same thing one file at a time; an
    /// environment has thousands.
    /// ## Example
    /// ```text
    /// site-packages/torch/lib/libtorch_cuda.so  error  ENV001  libcudart.so.12 not found, needed by torch/lib/libtorch_cuda.so and 3 more
    /// ```
    /// ## Fix
    /// Install the package that ships the library (for CUDA libraries, the `nvidia-*-cu12`
    /// wheels that match the framework), or make the loader find it (`LD_LIBRARY_PATH`, or an
    /// `ldconfig` entry). `ldd OBJECT` shows the same gap for one object.
    pub static UNRESOLVED_LIBRARY = { code: "ENV001", name: "unresolved-library", severity: Error, summary: "A shared library an ELF object needs cannot be found" };
}

/// One finding per missing library, naming (up to 20 of) the objects whose `DT_NEEDED` names
/// it. An object that another object of the environment loads is judged in its loader's
/// closure, where the libraries loaded before it are already there (auditwheel's vendored
/// `.libs` depend on that); alone, `ldd` calls their siblings "not found", and
/// `ldd_compatible` reports those too.
pub fn check(facts: &Objects<'_>, out: &mut Vec<Finding>) {
    let objects = facts.objects;
    let loaded_by_others: HashSet<&PathBuf> = objects
        .iter()
        .zip(facts.closures)
        .flat_map(|(o, c)| c.loaded.iter().filter(move |p| *p != o))
        .collect();
    // missing library name → objects whose DT_NEEDED names it
    let mut missing: BTreeMap<&str, Vec<&PathBuf>> = BTreeMap::new();
    for (object, c) in objects.iter().zip(facts.closures) {
        if !facts.ldd_compatible && loaded_by_others.contains(object) {
            continue;
        }
        for m in &c.missing {
            let v = missing.entry(m.name.as_str()).or_default();
            if !v.contains(&&m.needed_by) {
                v.push(&m.needed_by);
            }
        }
    }
    for (name, mut needers) in missing {
        needers.sort();
        let Some(first_path) = needers.first() else {
            continue;
        };
        let first = facts.show(first_path);
        let more = if needers.len() > 1 {
            format!(" and {} more", needers.len() - 1)
        } else {
            String::new()
        };
        let list: Vec<String> = needers.iter().take(20).map(|p| facts.show(p)).collect();
        out.push(
            Finding::new(&UNRESOLVED_LIBRARY, Location { detail: Some("DT_NEEDED".into()), ..Location::file(first.clone()) }, format!("{name} not found, needed by {first}{more}"))
                .with_help(format!("install the package that ships {name} or add its directory to the loader's path; check one object with: ldd {}", first_path.display()))
                .with_data("library", name)
                .with_data("needed_by", list),
        );
    }
}
