//! `env check` judged by Python itself: the test environment (installed from the hashed lock
//! file by scripts/test) is copied, a breakage is planted, every top-level module of every
//! distribution is imported in a fresh interpreter, and the errors must name exactly the
//! imports that fail. The multi-GB GPU stacks get the same treatment in bench/env-truth.sh.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::test_python;

/// The errors that claim an import fails: each must name one that does. An unmet requirement
/// (ENV004) is true whether or not an import fails; the imports it names count for recall.
const NATIVE: &[&str] = &["ENV001", "ENV002", "ENV005", "ENV013"];

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output().expect("the command runs")
}

fn gcc(dir: &Path, args: &[&str]) {
    let out = run(Command::new("gcc").current_dir(dir).args(args));
    assert!(
        out.status.success(),
        "gcc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A hard-linked copy of the test venv (the copy's files can be removed; none is written).
fn copy_venv(into: &Path) -> PathBuf {
    let python = test_python();
    let venv = python
        .parent()
        .and_then(Path::parent)
        .expect("bin/python in a venv");
    let dst = into.join("venv");
    let out = run(Command::new("cp").arg("-al").arg(venv).arg(&dst));
    if !out.status.success() {
        let out = run(Command::new("cp").arg("-a").arg(venv).arg(&dst));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dst
}

fn site_packages(venv: &Path) -> PathBuf {
    std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .expect("a site-packages")
}

/// The top-level modules of every distribution: `top_level.txt`, else the first folder or
/// module `RECORD` installs.
fn top_levels(site: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(site).unwrap().flatten() {
        let p = e.path();
        if !p.to_string_lossy().ends_with(".dist-info") {
            continue;
        }
        if let Ok(t) = std::fs::read_to_string(p.join("top_level.txt")) {
            out.extend(t.split_whitespace().map(str::to_owned));
            continue;
        }
        for line in std::fs::read_to_string(p.join("RECORD"))
            .unwrap_or_default()
            .lines()
        {
            let path = line.split(',').next().unwrap_or("");
            let first = path.split('/').next().unwrap_or("");
            let name = if path.contains('/') {
                first
            } else {
                first.strip_suffix(".py").unwrap_or("")
            };
            if !name.is_empty()
                && !first.ends_with(".dist-info")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && name != "__pycache__"
                && site.join(first).exists()
            {
                out.insert(name.to_owned());
            }
        }
    }
    out
}

/// Whether `import module` fails in a fresh interpreter of `venv`.
fn import_fails(venv: &Path, env: &[(&str, &str)], module: &str) -> bool {
    let mut c = Command::new(venv.join("bin/python"));
    c.args(["-c", &format!("import {module}")])
        .env_remove("LD_LIBRARY_PATH");
    for (k, v) in env {
        c.env(k, v);
    }
    !run(&mut c).status.success()
}

/// The top-level modules whose import fails in a fresh interpreter of `venv`.
fn failing_imports(venv: &Path, env: &[(&str, &str)]) -> BTreeSet<String> {
    top_levels(&site_packages(venv))
        .into_iter()
        .filter(|m| import_fails(venv, env, m))
        .collect()
}

/// (native errors with the modules they name, every top-level module any error names)
fn check(venv: &Path, env: &[(&str, &str)]) -> (Vec<(String, BTreeSet<String>)>, BTreeSet<String>) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_everybyte"));
    c.args(["env", "check", "--venv"])
        .arg(venv)
        .args(["--format", "json", "--ignore", "ENV008"])
        .env_remove("LD_LIBRARY_PATH");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run(&mut c);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let mut native = Vec::new();
    let mut named = BTreeSet::new();
    for f in report["findings"].as_array().unwrap() {
        if f["severity"] != "error" {
            continue;
        }
        let code = f["code"].as_str().unwrap_or("");
        let modules: BTreeSet<String> = f["data"]["breaks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b.as_str()?.strip_prefix("import ").map(str::to_owned))
            .collect();
        named.extend(
            modules
                .iter()
                .map(|m| m.split('.').next().unwrap_or(m).to_owned()),
        );
        if NATIVE.contains(&code) {
            native.push((format!("{code} {}", f["message"]), modules));
        }
    }
    (native, named)
}

/// Plants a breakage in a fresh copy, then: every import that fails is named by an error,
/// and every native error names an import that fails.
fn judge(plant: impl Fn(&Path) -> Vec<(&'static str, String)>, must_fail: &[&str]) {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let venv = copy_venv(tmp.path());
    let env_owned = plant(&venv);
    let env: Vec<(&str, &str)> = env_owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let failing = failing_imports(&venv, &env);
    for m in must_fail {
        assert!(
            failing.contains(*m),
            "the plant should break import {m}; failing: {failing:?}"
        );
    }
    let (native, named) = check(&venv, &env);
    let unnamed: Vec<&String> = failing.difference(&named).collect();
    assert!(
        unnamed.is_empty(),
        "imports that fail but no error names: {unnamed:?}; errors: {native:#?}"
    );
    for (f, modules) in &native {
        assert!(
            modules
                .iter()
                .any(|m| failing.contains(m) || (m.contains('.') && import_fails(&venv, &env, m))),
            "an error that names no failing import ({modules:?}; failing: {failing:?}): {f}"
        );
    }
}

#[test]
fn clean_venv_every_import_works_and_no_error() {
    judge(|_| Vec::new(), &[]);
}

/// The file-name suffix of this interpreter's extension modules.
fn ext_suffix(venv: &Path) -> String {
    let out = run(Command::new(venv.join("bin/python")).args([
        "-c",
        "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))",
    ]));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The metadata of an installed distribution `name` whose one package is `name`.
fn dist_info(site: &Path, name: &str) {
    let info = site.join(format!("{name}-1.0.dist-info"));
    std::fs::create_dir(&info).unwrap();
    std::fs::write(
        info.join("METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"),
    )
    .unwrap();
    std::fs::write(info.join("top_level.txt"), format!("{name}\n")).unwrap();
}

/// A real (if empty) extension module, written against the stable ABI without Python's
/// headers: `PyInit_<name>` calls `call` and returns a module from `PyModule_Create2`.
fn extension_source(name: &str, call: &str) -> String {
    format!(
        "typedef struct {{ long refcnt; void *type; void *init; long index; void *copy; }} Base;\n\
         typedef struct {{ Base base; const char *name; const char *doc; long size; void *methods, *slots, *traverse, *clear, *free; }} Def;\n\
         extern void *PyModule_Create2(Def *, int);\n\
         {call_decl}\n\
         static Def def = {{{{1, 0, 0, 0, 0}}, \"{name}\", 0, -1, 0, 0, 0, 0, 0}};\n\
         void *PyInit_{name}(void) {{ {call_stmt} return PyModule_Create2(&def, 1013); }}\n",
        call_decl = if call.is_empty() {
            String::new()
        } else {
            format!("int {call}(void);")
        },
        call_stmt = if call.is_empty() {
            String::new()
        } else {
            format!("{call}();")
        },
    )
}

#[test]
fn extension_relying_on_what_its_package_loads_first_is_no_error() {
    // `hostpkg._core` ships libhost.so and finds it by RUNPATH; `plug._ext`, built as
    // torch.utils.cpp_extension builds extensions, names libhost.so with no path to it and
    // loads because `plug` imports hostpkg first: the loader matches the soname.
    judge(
        |venv| {
            let suffix = ext_suffix(venv);
            let site = site_packages(venv);
            let host = site.join("hostpkg");
            let plug = site.join("plug");
            std::fs::create_dir(&host).unwrap();
            std::fs::create_dir(&plug).unwrap();
            std::fs::write(host.join("__init__.py"), "from . import _core\n").unwrap();
            std::fs::write(
                plug.join("__init__.py"),
                "import hostpkg\nfrom . import _ext\n",
            )
            .unwrap();
            std::fs::write(host.join("host.c"), "int host_fn(void) { return 1; }\n").unwrap();
            std::fs::write(host.join("core.c"), extension_source("_core", "host_fn")).unwrap();
            std::fs::write(plug.join("ext.c"), extension_source("_ext", "host_fn")).unwrap();
            gcc(
                &host,
                &[
                    "-shared",
                    "-fPIC",
                    "-o",
                    "libhost.so",
                    "-Wl,-soname,libhost.so",
                    "host.c",
                ],
            );
            gcc(
                &host,
                &[
                    "-shared",
                    "-fPIC",
                    "-o",
                    &format!("_core{suffix}"),
                    "core.c",
                    "-L.",
                    "-lhost",
                    "-Wl,-rpath,$ORIGIN",
                ],
            );
            gcc(
                &plug,
                &[
                    "-shared",
                    "-fPIC",
                    "-o",
                    &format!("_ext{suffix}"),
                    "ext.c",
                    "-L../hostpkg",
                    "-lhost",
                ],
            );
            dist_info(&site, "hostpkg");
            dist_info(&site, "plug");
            Vec::new()
        },
        &[],
    );
}

#[test]
fn removed_vendored_library_names_the_import() {
    judge(
        |venv| {
            let libs = site_packages(venv).join("numpy.libs");
            for e in std::fs::read_dir(libs).unwrap().flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with("libscipy_openblas")
                {
                    std::fs::remove_file(e.path()).unwrap();
                }
            }
            Vec::new()
        },
        &["numpy"],
    );
}

#[test]
fn old_libstdcxx_first_on_the_path_names_the_import() {
    judge(
        |venv| {
            // A libstdc++ of an old toolchain: versions up to GLIBCXX_3.4.19 and CXXABI_1.3.7.
            let d = venv.join("old-libstdcxx");
            std::fs::create_dir(&d).unwrap();
            let mut script = String::new();
            for (family, last, first) in [
                ("GLIBCXX_3.4", 19, "GLIBCXX_3.4"),
                ("CXXABI_1.3", 7, "CXXABI_1.3"),
            ] {
                script.push_str(&format!("{first} {{ }};\n"));
                let mut prev = first.to_owned();
                for i in 1..=last {
                    let v = format!("{family}.{i}");
                    script.push_str(&format!("{v} {{ }} {prev};\n"));
                    prev = v;
                }
            }
            std::fs::write(d.join("v.map"), script).unwrap();
            std::fs::write(d.join("s.c"), "int old_libstdcxx;\n").unwrap();
            gcc(
                &d,
                &[
                    "-shared",
                    "-fPIC",
                    "-o",
                    "libstdc++.so.6",
                    "s.c",
                    "-Wl,-soname,libstdc++.so.6",
                    "-Wl,--version-script=v.map",
                ],
            );
            vec![("LD_LIBRARY_PATH", d.display().to_string())]
        },
        &["numpy"],
    );
}

#[test]
fn extension_built_against_another_library_names_the_import() {
    judge(
        |venv| {
            // `probe._C` calls probe_new from the libprobe it was built with; the libprobe
            // installed next to it is another release, without that function.
            let suffix = ext_suffix(venv);
            let site = site_packages(venv);
            let pkg = site.join("probe");
            std::fs::create_dir(&pkg).unwrap();
            std::fs::write(pkg.join("__init__.py"), "from . import _C\n").unwrap();
            std::fs::write(
                pkg.join("new.c"),
                "int probe_old(void) { return 1; }\nint probe_new(void) { return 2; }\n",
            )
            .unwrap();
            std::fs::write(pkg.join("old.c"), "int probe_old(void) { return 1; }\n").unwrap();
            std::fs::write(
                pkg.join("ext.c"),
                "int probe_new(void);\nvoid *PyInit__C(void) { probe_new(); return 0; }\n",
            )
            .unwrap();
            gcc(
                &pkg,
                &[
                    "-shared",
                    "-fPIC",
                    "-o",
                    "libprobe.so.1",
                    "-Wl,-soname,libprobe.so.1",
                    "new.c",
                ],
            );
            gcc(
                &pkg,
                &[
                    "-shared",
                    "-fPIC",
                    "-o",
                    &format!("_C{suffix}"),
                    "ext.c",
                    "-L.",
                    "-l:libprobe.so.1",
                    "-Wl,-rpath,$ORIGIN",
                ],
            );
            gcc(
                &pkg,
                &[
                    "-shared",
                    "-fPIC",
                    "-o",
                    "libprobe.so.1",
                    "-Wl,-soname,libprobe.so.1",
                    "old.c",
                ],
            );
            dist_info(&site, "probe");
            Vec::new()
        },
        &["probe"],
    );
}

#[test]
fn distribution_removed_from_under_its_dependants_names_the_import() {
    judge(
        |venv| {
            // jsonschema requires attrs; uninstall attrs as pip would (its files and metadata).
            let site = site_packages(venv);
            let info = std::fs::read_dir(&site)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    let n = p.file_name().unwrap().to_string_lossy().into_owned();
                    n.starts_with("attrs-") && n.ends_with(".dist-info")
                })
                .expect("attrs is installed");
            for line in std::fs::read_to_string(info.join("RECORD"))
                .unwrap()
                .lines()
            {
                let p = site.join(line.split(',').next().unwrap());
                if p.is_file() {
                    std::fs::remove_file(p).unwrap();
                }
            }
            std::fs::remove_dir_all(info).unwrap();
            Vec::new()
        },
        &["jsonschema"],
    );
}
