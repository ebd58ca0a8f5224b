//! LOG011: a versioned symbol (GLIBC_2.34, GLIBCXX_3.4.30, CXXABI_1.3.13) that the loaded
//! library does not define.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The dynamic loader's ``/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found
    /// (required by …/libtorch_cpu.so)``, for every versioned family (`GLIBC_`, `GLIBCXX_`,
    /// `CXXABI_`, `GCC_`, …), and glibc's `GLIBC_ABI_DT_RELR` (a binary linked with packed
    /// relative relocations, which needs glibc 2.36). The finding names the object that needs
    /// the version, the library that lacks it, and for glibc and libstdc++ the release that
    /// first shipped it.
    /// ## Why it matters
    /// A wheel or extension built on a newer system than the one it runs on imports fine on
    /// the build machine and fails everywhere else. Upgrading glibc in place breaks the host;
    /// the fix is a build for this glibc, a newer base image, or a newer libstdc++ beside the
    /// program.
    /// ## Example
    /// ```text
    /// ImportError: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by /opt/venv/lib/python3.10/site-packages/torch/lib/libtorch_cpu.so)
    /// ```
    /// ## Fix
    /// GLIBC: `ldd --version` gives the host's glibc; install a wheel whose manylinux tag is
    /// at or below it, or move to a base image with a newer glibc. GLIBCXX/CXXABI:
    /// `strings LIB | grep GLIBCXX_` lists what the host's libstdc++ defines; put a newer one
    /// first (`conda install -c conda-forge libstdcxx-ng`) or rebuild with this host's
    /// compiler. `everybyte env check` finds every such mismatch before the import.
    pub static SYMBOL_VERSION_NOT_FOUND = { code: "LOG011", name: "symbol-version-not-found", severity: Error, summary: "A library lacks a symbol version that a binary needs (glibc/libstdc++ too old)" };
}

static NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    // `GLIBC_ABI_DT_RELR` is glibc 2.36's marker for binaries linked with packed relative
    // relocations (`-z pack-relative-relocs`): it has no number.
    // A paste may lose the opening quote: `version GLIBCXX_3.4.32' not found`.
    Regex::new(r"(?:(\S+?):\s+)?version [`'\u{2018}]?((\w+?)_([\d.]+)|GLIBC_ABI_DT_RELR)['\u{2019}] not found(?: \(required by ([^)]+)\))?")
        .expect("valid regex")
});

/// The glibc release that introduced a `GLIBC_x.y` version, with well-known distributions.
fn glibc_note(ver: &str) -> Option<String> {
    let minor: u32 = ver.strip_prefix("2.")?.split('.').next()?.parse().ok()?;
    let distro = match minor {
        0..=17 => "CentOS 7 has 2.17",
        18..=27 => "Ubuntu 18.04 has 2.27",
        28 => "Debian 10 and RHEL 8 have 2.28",
        29..=31 => "Ubuntu 20.04 and Debian 11 have 2.31",
        32..=34 => "RHEL 9 has 2.34, Ubuntu 22.04 has 2.35",
        35 => "Ubuntu 22.04 has 2.35",
        36 => "Debian 12 has 2.36",
        37..=39 => "Ubuntu 24.04 has 2.39",
        _ => "only recent distributions have it",
    };
    Some(format!("glibc {ver} or newer is needed ({distro})"))
}

/// The GCC release whose libstdc++ first defines a `GLIBCXX_3.4.N` version.
fn glibcxx_note(ver: &str) -> Option<String> {
    let n: u32 = ver.strip_prefix("3.4.")?.parse().ok()?;
    let gcc = match n {
        0..=19 => "GCC 4.8",
        20 => "GCC 5",
        21 | 22 => "GCC 6",
        23 | 24 => "GCC 7",
        25 => "GCC 8",
        26 | 27 => "GCC 9",
        28 => "GCC 10",
        29 => "GCC 11",
        30 => "GCC 12",
        31 | 32 => "GCC 13",
        33 => "GCC 14",
        _ => "GCC 15 or newer",
    };
    Some(format!("libstdc++ from {gcc} or newer is needed"))
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    let Some(c) = NOT_FOUND.captures(line) else {
        return;
    };
    let provider = c
        .get(1)
        .map(|m| m.as_str().trim_start_matches("ImportError:").trim());
    let full = &c[2];
    let (family, ver) = match (c.get(3), c.get(4)) {
        (Some(f), Some(v)) => (f.as_str(), v.as_str()),
        _ => ("GLIBC", "2.36"),
    };
    let needer = c.get(5).map(|m| m.as_str());
    let who = needer.map_or_else(
        || "a binary".to_owned(),
        |n| n.rsplit('/').next().unwrap_or(n).to_owned(),
    );
    let lacking = provider.map_or_else(|| "the loaded library".to_owned(), ToOwned::to_owned);
    let note = match family {
        "GLIBC" => glibc_note(ver),
        "GLIBCXX" => glibcxx_note(ver),
        _ => None,
    };
    let mut message = format!("{who} requires {full}, which {lacking} does not define");
    if let Some(n) = &note {
        message.push_str(&format!(": {n}"));
    }
    let help = match family {
        "GLIBC" => format!(
            "ldd --version shows this host's glibc; install a build whose manylinux tag is at or below it, or use a base image with glibc >= {ver}; objdump -T {} | grep {full} shows the symbols that need it; never replace the system libc",
            needer.unwrap_or("BINARY")
        ),
        "GLIBCXX" | "CXXABI" => format!(
            "strings {} | grep {family}_ lists the versions it defines; put a newer libstdc++ first (conda install -c conda-forge libstdcxx-ng, or LD_LIBRARY_PATH to a newer GCC's lib64) or rebuild {who} with this host's compiler",
            provider.unwrap_or("/usr/lib/x86_64-linux-gnu/libstdc++.so.6")
        ),
        _ => "the library that provides this version is older than the one the binary was built against: install the matching release".to_owned(),
    };
    let mut hit = Hit::new(
        &SYMBOL_VERSION_NOT_FOUND,
        c.get(0).map_or(0, |m| m.start()),
        message,
        help,
    )
    .role(Role::None)
    .key(format!("symver-{full}-{who}"))
    .data("version", full);
    if let Some(n) = needer {
        hit = hit.data("required_by", n);
    }
    if let Some(p) = provider {
        hit = hit.data("provider", p);
    }
    out.push(hit);
}
