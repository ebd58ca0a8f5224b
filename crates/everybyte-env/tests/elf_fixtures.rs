//! ELF fixtures built by the test with the C compiler: a library with versions FOO_1.0 and
//! FOO_2.0 (a version script), a consumer linked against FOO_2.0, then a replacement that
//! defines only FOO_1.0; a missing DT_NEEDED; an `$ORIGIN` runpath that resolves. The
//! not-found set is compared with what `ldd` prints for the same objects.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use everybyte_env::native;
use everybyte_env::resolve::SearchConfig;

fn gcc(dir: &Path, args: &[&str]) {
    let out = Command::new("gcc")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("gcc runs (the tests need a C compiler)");
    assert!(
        out.status.success(),
        "gcc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Builds the fixtures; returns the directory.
#[allow(clippy::too_many_lines)] // one gcc invocation per fixture, listed together
fn build() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "foo2.c",
        "int foo_old(void) { return 1; }\nint foo_new(void) { return 2; }\n",
    );
    write(
        d,
        "foo2.map",
        "FOO_1.0 { global: foo_old; local: *; };\nFOO_2.0 { global: foo_new; } FOO_1.0;\n",
    );
    write(d, "foo1.c", "int foo_old(void) { return 1; }\n");
    write(d, "foo1.map", "FOO_1.0 { global: foo_old; local: *; };\n");
    write(
        d,
        "consumer.c",
        "int foo_new(void);\nint use_foo(void) { return foo_new(); }\n",
    );
    write(d, "bar.c", "int bar(void) { return 3; }\n");
    write(
        d,
        "uses_bar.c",
        "int bar(void);\nint use_bar(void) { return bar(); }\n",
    );
    write(d, "baz.c", "int baz(void) { return 4; }\n");
    write(
        d,
        "main.c",
        "int baz(void);\nint main(void) { return baz() - 4; }\n",
    );

    // libfoo with FOO_1.0 and FOO_2.0; a consumer bound to FOO_2.0; then the old libfoo.
    gcc(
        d,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "libfoo.so.1",
            "-Wl,-soname,libfoo.so.1",
            "-Wl,--version-script=foo2.map",
            "foo2.c",
        ],
    );
    gcc(
        d,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "consumer.abi3.so",
            "consumer.c",
            "-L.",
            "-l:libfoo.so.1",
            "-Wl,-rpath,$ORIGIN",
        ],
    );
    gcc(
        d,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "libfoo.so.1",
            "-Wl,-soname,libfoo.so.1",
            "-Wl,--version-script=foo1.map",
            "foo1.c",
        ],
    );

    // A consumer of libbar, then libbar removed.
    gcc(
        d,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "libbar.so.1",
            "-Wl,-soname,libbar.so.1",
            "bar.c",
        ],
    );
    gcc(
        d,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "usesbar.abi3.so",
            "uses_bar.c",
            "-L.",
            "-l:libbar.so.1",
            "-Wl,-rpath,$ORIGIN",
        ],
    );
    std::fs::remove_file(d.join("libbar.so.1")).unwrap();

    // An executable that finds lib/libbaz.so.1 through $ORIGIN/lib.
    std::fs::create_dir(d.join("lib")).unwrap();
    gcc(
        d,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "lib/libbaz.so.1",
            "-Wl,-soname,libbaz.so.1",
            "baz.c",
        ],
    );
    gcc(
        d,
        &[
            "-o",
            "app",
            "main.c",
            "-Llib",
            "-l:libbaz.so.1",
            "-Wl,-rpath,$ORIGIN/lib",
        ],
    );

    // Old-style DT_RPATH, inherited by what the object loads.
    gcc(
        d,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "librpath.so",
            "uses_bar.c",
            "-Wl,--disable-new-dtags",
            "-Wl,-rpath,$ORIGIN/nowhere",
            "-Wl,--allow-shlib-undefined",
        ],
    );
    tmp
}

fn ldd_not_found(objects: &[PathBuf]) -> BTreeSet<(PathBuf, String)> {
    let mut set = BTreeSet::new();
    for o in objects {
        let out = Command::new("ldd")
            .arg(o)
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((name, _)) = line.trim().split_once(" => not found") {
                set.insert((o.clone(), name.trim().to_owned()));
            }
        }
    }
    set
}

#[test]
fn version_gap_missing_library_and_origin_runpath() {
    let tmp = build();
    let d = tmp.path();
    let cfg = SearchConfig {
        ld_library_path: Vec::new(),
        ..SearchConfig::host()
    };
    let report = native::check(&native::NativeInput::folder(&[d.to_path_buf()], d), &cfg);

    let names: BTreeSet<String> = report
        .objects
        .iter()
        .map(|p| p.strip_prefix(d).unwrap().display().to_string())
        .collect();
    for want in [
        "app",
        "lib/libbaz.so.1",
        "consumer.abi3.so",
        "libfoo.so.1",
        "usesbar.abi3.so",
        "librpath.so",
    ] {
        assert!(names.contains(want), "{want} not found among {names:?}");
    }

    let codes: Vec<(&str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.message.as_str()))
        .collect();
    let gap = report
        .findings
        .iter()
        .find(|f| f.code == "ENV002")
        .unwrap_or_else(|| panic!("no ENV002 in {codes:?}"));
    assert!(
        gap.message
            .starts_with("consumer.abi3.so requires FOO_2.0; "),
        "{}",
        gap.message
    );
    assert!(
        gap.message.contains("libfoo.so.1 provides up to FOO_1.0"),
        "{}",
        gap.message
    );

    let missing: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "ENV001")
        .collect();
    assert_eq!(missing.len(), 1, "{codes:?}");
    assert!(
        missing[0]
            .message
            .starts_with("libbar.so.1 not found, needed by usesbar.abi3.so"),
        "{}",
        missing[0].message
    );

    // `app` resolves lib/libbaz.so.1 through $ORIGIN/lib: nothing missing for it.
    assert!(
        !report.not_found.iter().any(|(o, _)| o.ends_with("app")),
        "{:?}",
        report.not_found
    );

    // The same not-found set as ldd over the same objects.
    let ours: BTreeSet<(PathBuf, String)> = report.not_found.iter().cloned().collect();
    assert_eq!(ours, ldd_not_found(&report.objects));
}

/// Native findings on the objects of `dir`, paths shown relative to it, with this host's
/// loader settings but no `LD_LIBRARY_PATH`.
fn native_findings(dir: &tempfile::TempDir) -> Vec<everybyte_core::Finding> {
    let cfg = SearchConfig {
        ld_library_path: Vec::new(),
        ..SearchConfig::host()
    };
    native::check(
        &native::NativeInput::folder(&[dir.path().to_path_buf()], dir.path()),
        &cfg,
    )
    .findings
}

/// Objects built without the C library (`-nostdlib`), so that they need no glibc version
/// and only the rule under test can speak.
fn shared(d: &Path, out: &str, src: &str, extra: &[&str]) {
    let mut args = vec!["-shared", "-fPIC", "-nostdlib", "-o", out, src];
    args.extend_from_slice(extra);
    gcc(d, &args);
}

/// ENV001: a library whose `DT_NEEDED` library is gone (or, clean, still there).
fn unresolved_library(fires: bool) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "bar.c", "int bar(void) { return 3; }\n");
    write(
        d,
        "uses_bar.c",
        "int bar(void);\nint use_bar(void) { return bar(); }\n",
    );
    shared(d, "libbar.so.1", "bar.c", &["-Wl,-soname,libbar.so.1"]);
    shared(
        d,
        "usesbar.abi3.so",
        "uses_bar.c",
        &["-L.", "-l:libbar.so.1", "-Wl,-rpath,$ORIGIN"],
    );
    if fires {
        std::fs::remove_file(d.join("libbar.so.1")).unwrap();
    }
    tmp
}

/// ENV002: a consumer bound to FOO_2.0, then (firing) a libfoo that defines only FOO_1.0.
fn symbol_version(fires: bool) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "foo2.c",
        "int foo_old(void) { return 1; }\nint foo_new(void) { return 2; }\n",
    );
    write(
        d,
        "foo2.map",
        "FOO_1.0 { global: foo_old; local: *; };\nFOO_2.0 { global: foo_new; } FOO_1.0;\n",
    );
    write(d, "foo1.c", "int foo_old(void) { return 1; }\n");
    write(d, "foo1.map", "FOO_1.0 { global: foo_old; local: *; };\n");
    write(
        d,
        "consumer.c",
        "int foo_new(void);\nint use_foo(void) { return foo_new(); }\n",
    );
    let soname = "-Wl,-soname,libfoo.so.1";
    shared(
        d,
        "libfoo.so.1",
        "foo2.c",
        &[soname, "-Wl,--version-script=foo2.map"],
    );
    shared(
        d,
        "consumer.abi3.so",
        "consumer.c",
        &["-L.", "-l:libfoo.so.1", "-Wl,-rpath,$ORIGIN"],
    );
    if fires {
        shared(
            d,
            "libfoo.so.1",
            "foo1.c",
            &[soname, "-Wl,--version-script=foo1.map"],
        );
    }
    tmp
}

/// ENV003: an executable linked against the C library needs some `GLIBC_` version; clean,
/// an object without the C library needs none.
fn glibc_summary(fires: bool) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "main.c",
        "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n",
    );
    write(d, "lone.c", "int lone(void) { return 5; }\n");
    if fires {
        gcc(d, &["-o", "app", "main.c"]);
    } else {
        shared(d, "liblone.so", "lone.c", &[]);
    }
    tmp
}

/// ENV012: a plugin no entry point loads (triton's plugins, NVSHMEM's transports) whose
/// library is gone; clean, the only library it needs is its host's, which the extension
/// module that loads it already provides under that soname.
fn optional_plugin(fires: bool) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "host.c", "int host_fn(void) { return 1; }\n");
    write(
        d,
        "plug.c",
        "int host_fn(void);\nint gone_fn(void);\nint plug(void) { return host_fn() + GONE; }\n",
    );
    shared(d, "host.abi3.so", "host.c", &["-Wl,-soname,libhost.so"]);
    std::fs::create_dir(d.join("plugins")).unwrap();
    let mut args = vec![
        "-DGONE=0",
        "-Wl,--allow-shlib-undefined",
        "-L.",
        "-l:host.abi3.so",
    ];
    if fires {
        write(d, "gone.c", "int gone_fn(void) { return 2; }\n");
        shared(d, "libgone.so.1", "gone.c", &["-Wl,-soname,libgone.so.1"]);
        args = vec![
            "-DGONE=gone_fn()",
            "-L.",
            "-l:host.abi3.so",
            "-l:libgone.so.1",
        ];
    }
    shared(d, "plugins/libplug.so", "plug.c", &args);
    // The plugin names its host by soname, not by path: no RUNPATH finds it on disk.
    if fires {
        std::fs::remove_file(d.join("libgone.so.1")).unwrap();
    }
    tmp
}

/// ENV013: a program bound to `sym_new` from libsym, then a libsym without it (what an
/// extension built against another torch meets); clean, the libsym it was built with.
fn undefined_symbol(fires: bool) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "sym2.c",
        "int sym_old(void) { return 1; }\nint sym_new(void) { return 2; }\n",
    );
    write(d, "sym1.c", "int sym_old(void) { return 1; }\n");
    write(
        d,
        "start.c",
        "int sym_new(void);\nvoid _start(void) { sym_new(); for (;;) {} }\n",
    );
    shared(d, "libsym.so.1", "sym2.c", &["-Wl,-soname,libsym.so.1"]);
    gcc(
        d,
        &[
            "-nostdlib",
            "-fPIE",
            "-pie",
            "-o",
            "app",
            "start.c",
            "-L.",
            "-l:libsym.so.1",
            "-Wl,-rpath,$ORIGIN",
        ],
    );
    if fires {
        shared(d, "libsym.so.1", "sym1.c", &["-Wl,-soname,libsym.so.1"]);
    }
    tmp
}

/// One test per native rule: its firing fixture raises it, its clean fixture raises nothing.
macro_rules! native_rule_fixtures {
    ($($name:ident => $code:literal, $build:ident;)*) => {$(
        #[test]
        fn $name() {
            let fires = native_findings(&$build(true));
            assert!(
                fires.iter().any(|f| f.code == $code),
                "{} did not fire on its fixture:\n{}",
                $code,
                everybyte_test_support::render(&fires)
            );
            let clean = native_findings(&$build(false));
            assert!(
                clean.is_empty(),
                "the clean fixture of {} must raise nothing, got:\n{}",
                $code,
                everybyte_test_support::render(&clean)
            );
        }
    )*};
}

native_rule_fixtures! {
    env001_unresolved_library => "ENV001", unresolved_library;
    env002_symbol_version_missing => "ENV002", symbol_version;
    env003_glibc_requirement => "ENV003", glibc_summary;
    env012_optional_plugin_unavailable => "ENV012", optional_plugin;
    env013_undefined_symbol => "ENV013", undefined_symbol;
}

/// The driver's libraries belong to the host: an extension that needs `libcuda.so.1` is no
/// error on a host without a driver (the need is handed to ENV011, which says so once), and
/// an error on one with a driver whose library the loader cannot see (a container started
/// without the NVIDIA runtime).
#[test]
fn driver_libraries_are_the_hosts() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "cuda.c", "int cuInit(unsigned f) { return (int)f; }\n");
    write(
        d,
        "ext.c",
        "int cuInit(unsigned f);\nint use(void) { return cuInit(0); }\n",
    );
    std::fs::create_dir(d.join("stub")).unwrap();
    shared(
        d,
        "stub/libcuda.so.1",
        "cuda.c",
        &["-Wl,-soname,libcuda.so.1"],
    );
    shared(d, "gpu.abi3.so", "ext.c", &["-Lstub", "-l:libcuda.so.1"]);
    std::fs::remove_dir_all(d.join("stub")).unwrap();
    let cfg = SearchConfig {
        ld_library_path: Vec::new(),
        ..SearchConfig::host()
    };
    if cfg.cache.lookup("libcuda.so.1", 62, true).is_some() {
        return; // this host has a driver: the library resolves
    }
    let roots = [d.to_path_buf()];
    let without = native::check(&native::NativeInput::folder(&roots, d), &cfg);
    assert!(
        !without.findings.iter().any(|f| f.code == "ENV001"),
        "{}",
        everybyte_test_support::render(&without.findings)
    );
    assert_eq!(
        without.driver_needs,
        vec![("libcuda.so.1".to_owned(), d.join("gpu.abi3.so"))]
    );
    let with = native::check(
        &native::NativeInput {
            driver_present: true,
            ..native::NativeInput::folder(&roots, d)
        },
        &cfg,
    );
    let f = with
        .findings
        .iter()
        .find(|f| f.code == "ENV001")
        .expect("ENV001 with a driver loaded");
    assert!(
        f.message
            .starts_with("libcuda.so.1 not found, needed by gpu.abi3.so; breaks import gpu"),
        "{}",
        f.message
    );
    assert!(
        f.help
            .as_deref()
            .unwrap_or("")
            .contains("NVIDIA container runtime")
    );
}
