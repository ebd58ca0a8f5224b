//! ENV013: an object an import loads needs a symbol that nothing in its scope defines.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use everybyte_core::{Finding, Location};

use crate::load::{EntryKind, list_some};
use crate::native::Objects;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// For every object an entry point loads (see ENV001), each strong undefined dynamic
    /// symbol (`nm -D --undefined-only`) against the definitions of the objects in its
    /// lookup scope: the interpreter with what it loads (`libpython`, libc), and the closure
    /// of the import that opens it. Python opens extension modules with `RTLD_NOW`, so one
    /// symbol that nothing defines fails the import. Objects whose closure already lacks a
    /// library are ENV001's.
    /// ## Why it matters
    /// A C++ extension built against one release of torch (or any library with an unstable
    /// ABI) and installed next to another fails with `undefined symbol:
    /// _ZN3c10…`: every library resolves, `ldd` is clean, and the import still fails. A
    /// renamed or removed function in a vendored library fails the same way.
    /// ## Example
    /// ```text
    /// site-packages/myext/_C.cpython-311-x86_64-linux-gnu.so  error  ENV013  _C.cpython-311-x86_64-linux-gnu.so needs 3 symbols no library it loads defines: _ZN3c1010ThreadPool9main_loopEm, _ZN3c106detail14torchCheckFailEPKcS2_jS2_ and 1 more; breaks import myext._C, and through it import myext
    /// ```
    /// ## Fix
    /// Install the build of the extension made for the versions installed here (for torch
    /// extensions, the release built against this torch; `pip install --force-reinstall
    /// --no-deps PKG`), or rebuild it from source against them. `nm -D --undefined-only
    /// OBJECT | c++filt` lists what it needs.
    pub static UNRESOLVED_SYMBOL = { code: "ENV013", name: "unresolved-symbol", severity: Error, summary: "An object an import loads needs a symbol that nothing it loads defines" };
}

/// One finding per object with symbols nothing in its scope defines.
pub fn check(facts: &Objects<'_>, out: &mut Vec<Finding>) {
    let judged: Vec<&PathBuf> = facts
        .objects
        .iter()
        .filter(|o| facts.loading.is_reached(o))
        .collect();
    let found: Vec<Option<(PathBuf, Vec<String>)>> = everybyte_core::par::map(&judged, |o| {
        undefined_in_scope(facts, o).map(|u| ((*o).clone(), u))
    });
    for (object, names) in found.into_iter().flatten() {
        let obj_name = object
            .file_name()
            .map_or_else(|| facts.show(&object), |n| n.to_string_lossy().into_owned());
        let breaks = facts.loading.breaks(&object);
        let breaks_text = if breaks.is_empty() {
            String::new()
        } else {
            format!("; breaks {}", list_some(&breaks, 4))
        };
        let n = names.len();
        let plural = if n == 1 { "symbol" } else { "symbols" };
        out.push(
            Finding::new(
                &UNRESOLVED_SYMBOL,
                Location { detail: Some(".dynsym".into()), ..Location::file(facts.show(&object)) },
                format!("{obj_name} needs {n} {plural} no library it loads defines: {}{breaks_text}", list_some(&names, 2)),
            )
            .with_help(format!("it was built against another version of a library it links (an extension built for another torch, say): install the build made for the versions installed here, or rebuild it; nm -D --undefined-only {} | c++filt lists what it needs", object.display()))
            .with_data("symbols", names.iter().take(20).cloned().collect::<Vec<_>>())
            .with_data("count", n)
            .with_data("breaks", breaks),
        );
    }
}

/// The strong undefined symbols of `object` that no object of its scope defines, or `None`
/// when it has none, its scope is unknown (an extension with no interpreter to load it), or
/// its scope lacks a library (ENV001 says so).
fn undefined_in_scope(facts: &Objects<'_>, object: &Path) -> Option<Vec<String>> {
    let syms = facts.symbols.get(object)?;
    if syms.undefined.is_empty() {
        return None;
    }
    let entries: Vec<_> = facts.loading.entries_loading(object).collect();
    let needs_interpreter = entries.iter().any(|e| e.kind != EntryKind::Program);
    if needs_interpreter && facts.interpreter.is_empty() {
        return None;
    }
    let mut scope: BTreeSet<&PathBuf> = BTreeSet::new();
    if needs_interpreter {
        scope.extend(facts.interpreter);
    }
    for e in &entries {
        let c = &facts.closures[e.object];
        if !c.missing.is_empty() {
            return None;
        }
        scope.extend(&c.loaded);
    }
    // A provider whose definitions cannot be read (no section headers, a table cut short)
    // might define anything: the object is not judged.
    let mut providers = Vec::new();
    for p in scope.iter().filter(|p| p.as_path() != object) {
        match facts.symbols.get(p) {
            Some(s) if s.is_known() => providers.push(s),
            _ => return None,
        }
    }
    let missing: Vec<String> = syms
        .undefined
        .iter()
        .filter(|name| !syms.defines(name) && !providers.iter().any(|p| p.defines(name)))
        .cloned()
        .collect();
    (!missing.is_empty()).then_some(missing)
}
