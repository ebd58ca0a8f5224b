//! The crate's one table of rules. A rule is one file: its documentation, its
//! `declare_rule!` and its check. The native-code rules live here, the Python-environment
//! rules under `python/rules/`, the container-image rules under `image/rules/`. The passes
//! (ELF resolution, the `site-packages` scan, lockfile and requirements parsing, the GPU
//! probe, the Dockerfile parse) produce facts; each entry of [`RULES`] carries the check that
//! judges the facts of its kind. Adding a rule is one new file and one line here.

pub mod cuda_driver;
pub mod glibc_summary;
pub mod optional_plugin;
pub mod symbol_version;
pub mod unresolved_library;
pub mod unresolved_symbol;

use everybyte_core::{Finding, Rule};

use crate::gpu::GpuStack;
use crate::image::rules as image;
use crate::image::rules::Context;
use crate::native::Objects;
use crate::python::check::Installed;
use crate::python::lock::{Locked, RequirementsFile};
use crate::python::rules as python;

/// A check, by the facts it judges.
#[derive(Clone, Copy)]
pub enum Judge {
    /// Every ELF object of an environment with its resolved closure.
    Objects(fn(&Objects<'_>, &mut Vec<Finding>)),
    /// The NVIDIA driver and the environment's CUDA builds.
    Gpu(fn(&GpuStack<'_>, &mut Vec<Finding>)),
    /// The distributions of one `site-packages`.
    Installed(fn(&Installed<'_>, &mut Vec<Finding>)),
    /// A lockfile next to the installed distributions.
    Lock(fn(&Locked<'_>, &mut Vec<Finding>)),
    /// The lines of one requirements file.
    Requirements(fn(&RequirementsFile<'_>, &mut Vec<Finding>)),
    /// A parsed Dockerfile.
    Dockerfile(fn(&Context<'_>, &mut Vec<Finding>)),
}

/// A rule and the check that raises it.
pub struct Entry {
    pub rule: &'static Rule,
    pub check: Judge,
}

const fn entry(rule: &'static Rule, check: Judge) -> Entry {
    Entry { rule, check }
}

/// Every rule of the crate, in code order, with its check.
pub static RULES: &[Entry] = &[
    entry(
        &unresolved_library::UNRESOLVED_LIBRARY,
        Judge::Objects(unresolved_library::check),
    ),
    entry(
        &symbol_version::SYMBOL_VERSION_MISSING,
        Judge::Objects(symbol_version::check),
    ),
    entry(
        &glibc_summary::GLIBC_SUMMARY,
        Judge::Objects(glibc_summary::check),
    ),
    entry(
        &python::unmet_requirement::UNMET_REQUIREMENT,
        Judge::Installed(python::unmet_requirement::check),
    ),
    entry(
        &python::conflicting_requirement::CONFLICTING_REQUIREMENT,
        Judge::Installed(python::conflicting_requirement::check),
    ),
    entry(
        &python::duplicate_distribution::DUPLICATE_DISTRIBUTION,
        Judge::Installed(python::duplicate_distribution::check),
    ),
    entry(
        &python::module_conflict::MODULE_CONFLICT,
        Judge::Installed(python::module_conflict::check),
    ),
    entry(
        &python::record_mismatch::RECORD_MISMATCH,
        Judge::Installed(python::record_mismatch::check),
    ),
    entry(
        &python::lock_drift::LOCK_DRIFT,
        Judge::Lock(python::lock_drift::check),
    ),
    entry(
        &python::unpinned_requirements::UNPINNED_REQUIREMENTS,
        Judge::Requirements(python::unpinned_requirements::check),
    ),
    entry(
        &cuda_driver::CUDA_NEWER_THAN_DRIVER,
        Judge::Gpu(cuda_driver::check),
    ),
    entry(
        &optional_plugin::OPTIONAL_PLUGIN_UNAVAILABLE,
        Judge::Objects(optional_plugin::check),
    ),
    entry(
        &unresolved_symbol::UNRESOLVED_SYMBOL,
        Judge::Objects(unresolved_symbol::check),
    ),
    entry(
        &image::unpinned_base_image::UNPINNED_BASE_IMAGE,
        Judge::Dockerfile(image::unpinned_base_image::check),
    ),
    entry(
        &image::pip_install_without_lock::PIP_INSTALL_WITHOUT_LOCK,
        Judge::Dockerfile(image::pip_install_without_lock::check),
    ),
    entry(
        &image::remote_script_piped_to_shell::REMOTE_SCRIPT_PIPED_TO_SHELL,
        Judge::Dockerfile(image::remote_script_piped_to_shell::check),
    ),
    entry(
        &image::unpinned_remote_fetch::UNPINNED_REMOTE_FETCH,
        Judge::Dockerfile(image::unpinned_remote_fetch::check),
    ),
];

/// Runs, in table order, every check of one kind: `run!(run_objects, Objects, Objects<'_>)`
/// defines `run_objects(&Objects, &mut Vec<Finding>)`.
macro_rules! runner {
    ($(#[$doc:meta] $name:ident: $variant:ident($facts:ty);)*) => {$(
        #[$doc]
        pub fn $name(facts: &$facts, out: &mut Vec<Finding>) {
            for e in RULES {
                if let Judge::$variant(check) = e.check {
                    check(facts, out);
                }
            }
        }
    )*};
}

runner! {
    /// The native rules on an environment's objects.
    run_objects: Objects(Objects<'_>);
    /// The GPU rule.
    run_gpu: Gpu(GpuStack<'_>);
    /// The rules on one `site-packages`' distributions.
    run_installed: Installed(Installed<'_>);
    /// The lockfile rule.
    run_lock: Lock(Locked<'_>);
    /// The requirements-file rule.
    run_requirements: Requirements(RequirementsFile<'_>);
    /// The image rules on one Dockerfile.
    run_dockerfile: Dockerfile(Context<'_>);
}

/// The rules of the table.
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    RULES.iter().map(|e| e.rule)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_lists_every_rule_once_in_code_order() {
        let codes: Vec<&str> = super::rules().map(|r| r.code).collect();
        assert_eq!(
            codes,
            [
                "ENV001", "ENV002", "ENV003", "ENV004", "ENV005", "ENV006", "ENV007", "ENV008",
                "ENV009", "ENV010", "ENV011", "ENV012", "ENV013", "IMG001", "IMG002", "IMG003",
                "IMG004"
            ]
        );
    }
}
