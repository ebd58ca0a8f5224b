//! ENV001: a shared library an ELF object needs cannot be found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use everybyte_core::{Finding, Location};

use crate::load::{is_driver_library, list_some};
use crate::native::Objects;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// What runs in the environment: every importable extension module (`*.cpython-*.so`,
    /// `*.abi3.so`, a `.so` exporting `PyInit_<name>`), every executable, and the libraries a
    /// package is known to load itself (torch's `_load_global_deps`, jax's CUDA plugin). Each
    /// one's `DT_NEEDED` closure is resolved the way the dynamic loader does it: `DT_RPATH`,
    /// `LD_LIBRARY_PATH`, `DT_RUNPATH` with `$ORIGIN` expanded, the host's `/etc/ld.so.cache`
    /// (read directly), then the default directories, skipping libraries of another
    /// architecture; a library missing two levels down counts. One finding per missing
    /// library, naming the objects that need it and the imports it breaks. A plugin that no
    /// entry point loads is ENV012's; the NVIDIA driver's own libraries are ENV011's.
    /// ## Why it matters
    /// A missing library fails the `import` with `cannot open shared object file` — on the
    /// cluster, not on the laptop where the wheel was tested — or, for a lazily loaded
    /// plugin, in the middle of a run. `ldd` finds the same thing one file at a time; an
    /// environment has thousands.
    /// ## Example
    /// ```text
    /// site-packages/torch/lib/libtorch_cuda.so  error  ENV001  libcudart.so.12 not found, needed by torch/lib/libtorch_cuda.so and 3 more; breaks import torch._C, and through it import torch and import functorch
    /// ```
    /// ## Fix
    /// Install the package that ships the library (for CUDA libraries, the `nvidia-*-cu12`
    /// wheels that match the framework), or make the loader find it (`LD_LIBRARY_PATH`, or an
    /// `ldconfig` entry). `ldd OBJECT` shows the same gap for one object.
    pub static UNRESOLVED_LIBRARY = { code: "ENV001", name: "unresolved-library", severity: Error, summary: "A shared library an ELF object needs cannot be found" };
}

/// Whether `name`, missing from the closure of `objects[object]` (an entry point), is
/// loaded before it by the package it belongs to: a torch extension built with
/// `torch.utils.cpp_extension` names `libc10.so` without a path to find it, and loads because
/// its package imports torch first. The loader matches the soname of what is already loaded.
fn loaded_first(
    facts: &Objects<'_>,
    preloaded: &BTreeMap<String, BTreeSet<&str>>,
    object: usize,
    name: &str,
) -> bool {
    let Some(by) = preloaded.get(name) else {
        return false;
    };
    let path = &facts.objects[object];
    let Some(site) = facts.site_packages.iter().find(|sp| path.starts_with(sp)) else {
        return false;
    };
    facts
        .loading
        .entries
        .iter()
        .filter(|e| e.object == object)
        .any(|e| {
            by.iter().any(|provider| {
                *provider != e.top && crate::load::imports_on_load(site, &e.top, provider)
            })
        })
}

/// One finding per missing library an entry point's closure needs (an import, a program, a
/// library its package loads), naming (up to 20 of) the objects whose `DT_NEEDED` names it
/// and the imports it breaks. A plugin outside every closure is ENV012's; the driver's
/// libraries on a host without a driver are ENV011's. With `ldd_compatible`, every object is
/// judged alone, as a loop of `ldd` judges it.
pub fn check(facts: &Objects<'_>, out: &mut Vec<Finding>) {
    // missing library name → objects whose DT_NEEDED names it
    let mut missing: BTreeMap<&str, Vec<&PathBuf>> = BTreeMap::new();
    let judged: Vec<usize> = if facts.ldd_compatible {
        (0..facts.objects.len()).collect()
    } else {
        facts.loading.entries.iter().map(|e| e.object).collect()
    };
    let preloaded = if facts.ldd_compatible {
        BTreeMap::new()
    } else {
        facts.loaded_names()
    };
    for i in judged {
        for m in &facts.closures[i].missing {
            if !facts.ldd_compatible
                && (facts.is_absent_driver_library(&m.name)
                    || loaded_first(facts, &preloaded, i, &m.name))
            {
                continue;
            }
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
        let breaks: Vec<String> = needers
            .iter()
            .flat_map(|p| facts.loading.breaks(p))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let breaks_text = if breaks.is_empty() {
            String::new()
        } else {
            format!("; breaks {}", list_some(&breaks, 4))
        };
        let list: Vec<String> = needers.iter().take(20).map(|p| facts.show(p)).collect();
        let help = if is_driver_library(name) {
            format!(
                "an NVIDIA driver is loaded, but its library {name} is not visible to the loader: in a container, run it with the NVIDIA container runtime (docker run --gpus all; a nvidia.com/gpu resource on Kubernetes) so the toolkit mounts the driver's libraries; on a host, add the driver's library folder to ldconfig"
            )
        } else {
            format!(
                "install the package that ships {name} or add its directory to the loader's path; check one object with: ldd {}",
                first_path.display()
            )
        };
        out.push(
            Finding::new(
                &UNRESOLVED_LIBRARY,
                Location {
                    detail: Some("DT_NEEDED".into()),
                    ..Location::file(first.clone())
                },
                format!("{name} not found, needed by {first}{more}{breaks_text}"),
            )
            .with_help(help)
            .with_data("library", name)
            .with_data("needed_by", list)
            .with_data("breaks", breaks),
        );
    }
}
