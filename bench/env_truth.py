"""Ground truth for `everybyte env check` on real GPU stacks: what Python itself says.

For each stack (a venv built from a hash-locked requirement set) and each planted breakage
(applied to a hard-linked copy of the venv), every top-level module of every installed
distribution is imported in a fresh interpreter. An import that fails in a planted copy but
not in the clean venv is broken by the plant; everybyte's errors must name it (in a finding's
`breaks`, or, for an unmet requirement, as the distribution that needs the missing one), and
every error it raises must name an import that is broken. On a clean venv, any error is a
false positive.

usage: env_truth.py EVERYBYTE STACK=VENV [STACK=VENV ...]
"""

import concurrent.futures
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

# The errors that claim an import fails: judged for precision. An unmet requirement (ENV004)
# is true whether or not an import fails, so it counts for recall only.
NATIVE = {"ENV001", "ENV002", "ENV005", "ENV013"}
NAMING = NATIVE | {"ENV004"}
WORK = pathlib.Path(__file__).resolve().parent / ".venv-env" / "planted"


def site_packages(venv):
    return next(venv.glob("lib/python3*/site-packages"))


def distributions(site):
    """{normalized distribution name: [top-level modules]}."""
    out = {}
    for info in sorted(site.glob("*.dist-info")):
        name = re.sub(r"[-_.]+", "-", info.name[: -len(".dist-info")].rsplit("-", 1)[0]).lower()
        tops = set()
        tl = info / "top_level.txt"
        if tl.is_file():
            tops = {t.strip() for t in tl.read_text().split() if t.strip()}
        else:
            record = info / "RECORD"
            for line in record.read_text().splitlines() if record.is_file() else []:
                path = line.split(",")[0]
                first = path.split("/")[0]
                if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__", ""):
                    continue
                if "/" in path:
                    if (site / first).is_dir():
                        tops.add(first)
                elif first.endswith(".py"):
                    tops.add(first[:-3])
                elif first.endswith(".so"):
                    tops.add(first.split(".")[0])
        tops = {t.replace("/", ".") for t in tops if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", t)}
        out[name] = sorted(tops)
    return out


def imports(venv, modules, env):
    """{module: None when it imports, else the last line of its error}."""

    def one(m):
        try:
            p = subprocess.run(
                [str(venv / "bin" / "python"), "-c", f"import {m}"],
                capture_output=True, text=True, timeout=300, env=env, cwd="/",
            )
        except subprocess.TimeoutExpired:
            return m, "timed out"
        if p.returncode == 0:
            return m, None
        lines = [l for l in p.stderr.strip().splitlines() if l.strip()]
        return m, (lines[-1] if lines else f"exit {p.returncode}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(pool.map(one, sorted(set(modules))))


def check(everybyte, venv, env):
    out = subprocess.run(
        [everybyte, "env", "check", "--venv", str(venv), "--format", "json", "--ignore", "ENV008"],
        capture_output=True, text=True, env=env,
    )
    try:
        return json.loads(out.stdout)["findings"]
    except (json.JSONDecodeError, KeyError):
        sys.exit(f"env check on {venv} gave no JSON: {out.stderr[-2000:]}")


def names_of(f):
    """What an error says fails: `import torch._C`, `running torch/bin/protoc`."""
    return list(f.get("data", {}).get("breaks", []) or [])


def named_tops(f):
    return {b[len("import "):].split(".")[0] for b in names_of(f) if b.startswith("import ")}


LOADER_ERRORS = ("error while loading shared libraries", "symbol lookup error", "version `", "undefined symbol")


def fails(venv, what, env, broken_tops, cache):
    """Whether an import or a program an error names fails here: a top-level import from
    the sweep, else the module imported (or the program run with --version) on its own."""
    if what in cache:
        return cache[what]
    if what.startswith("import "):
        module = what[len("import "):]
        if "." not in module:
            ok = module in broken_tops
        else:
            p = subprocess.run([str(venv / "bin" / "python"), "-c", f"import {module}"],
                               capture_output=True, text=True, env=env, cwd="/", timeout=300)
            ok = p.returncode != 0
    else:
        program = site_packages(venv) / what[len("running "):]
        try:
            # LD_BIND_NOW: every symbol resolved at start, as Python opens extensions; a
            # lazily bound program would otherwise fail only when it calls the missing one.
            p = subprocess.run([str(program), "--version"], capture_output=True, text=True,
                               env=dict(env, LD_BIND_NOW="1"), timeout=30)
            ok = p.returncode != 0 and any(m in p.stderr for m in LOADER_ERRORS)
        except (OSError, subprocess.TimeoutExpired):
            ok = False
    cache[what] = ok
    return ok


# ---- the plants: each takes (copy, base, others) and returns extra environment or None
# when it does not apply to the stack.

def remove_files(copy, patterns):
    gone = []
    for pat in patterns:
        for p in site_packages(copy).glob(pat):
            p.unlink()
            gone.append(p.name)
    return gone


def plant_removed_runtime(copy, base, others):
    """The CUDA runtime (or, on a CPU stack, numpy's BLAS) deleted from the venv."""
    gone = remove_files(copy, ["nvidia/*/lib/libcudart.so.*", "nvidia/cuda_runtime/lib/libcudart.so.*"])
    if not gone:
        gone = remove_files(copy, ["numpy.libs/libscipy_openblas*"])
    return ({}, f"removed {', '.join(gone)}") if gone else None


def plant_old_libstdcxx(copy, base, others):
    """A libstdc++ from an older toolchain (GLIBCXX up to 3.4.19, as CentOS 7's) first on
    LD_LIBRARY_PATH."""
    d = copy / "old-libstdcxx"
    d.mkdir()
    versions = ["GLIBCXX_3.4"] + [f"GLIBCXX_3.4.{i}" for i in range(1, 20)]
    cxxabi = ["CXXABI_1.3"] + [f"CXXABI_1.3.{i}" for i in range(1, 8)]
    script = ""
    prev = None
    for v in versions + cxxabi:
        script += f"{v} {{ }}{(' ' + prev) if prev and prev.split('_')[0] == v.split('_')[0] else ''};\n"
        prev = v
    (d / "v.map").write_text(script)
    (d / "s.c").write_text("int old_libstdcxx_stub;\n")
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(d / "libstdc++.so.6"), str(d / "s.c"),
         "-Wl,-soname,libstdc++.so.6", f"-Wl,--version-script={d / 'v.map'}"],
        check=True,
    )
    return {"LD_LIBRARY_PATH": str(d)}, "libstdc++.so.6 with GLIBCXX up to 3.4.19 first on LD_LIBRARY_PATH"


def plant_foreign_extension(copy, base, others):
    """A torch extension built against another torch: it links libc10.so and calls a
    function that release has and this one lacks."""
    here = site_packages(copy) / "torch" / "lib" / "libc10.so"
    other = next((site_packages(o) / "torch" / "lib" / "libc10.so" for o in others
                  if (site_packages(o) / "torch" / "lib" / "libc10.so").is_file()), None)
    if not here.is_file() or other is None:
        return None

    def defined(lib):
        out = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True, check=True).stdout
        return {l.split()[-1] for l in out.splitlines() if " T " in l}

    only_other = sorted(s for s in defined(other) - defined(here) if s.startswith("_ZN3c10"))
    if not only_other:
        return None
    sym = only_other[0]
    pkg = site_packages(copy) / "torchext_probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import torch  # noqa: F401\nfrom . import _C  # noqa: F401\n")
    src = pathlib.Path(tempfile.mkdtemp()) / "probe.c"
    src.write_text(f"extern void {sym}(void);\nvoid *PyInit__C(void) {{ {sym}(); return 0; }}\n")
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(pkg / "_C.cpython-311-x86_64-linux-gnu.so"), str(src),
         f"-L{other.parent}", "-lc10", "-Wl,--no-as-needed", "-Wl,-rpath,$ORIGIN/../torch/lib"],
        check=True,
    )
    info = site_packages(copy) / "torchext_probe-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torchext-probe\nVersion: 0.1\nRequires-Dist: torch\n")
    (info / "top_level.txt").write_text("torchext_probe\n")
    (info / "RECORD").write_text("torchext_probe/__init__.py,,\ntorchext_probe/_C.cpython-311-x86_64-linux-gnu.so,,\n")
    return {}, f"torchext_probe built against {other} ({sym})"


def plant_removed_distribution(copy, base, others):
    """A distribution others depend on uninstalled from under them (its files and its
    dist-info): cuBLAS for a torch stack, numpy for a CPU stack."""
    site = site_packages(copy)
    for want in ("nvidia_cublas-*", "nvidia_cublas_cu12-*", "numpy-*"):
        for info in site.glob(want + ".dist-info"):
            record = info / "RECORD"
            for line in record.read_text().splitlines():
                p = site / line.split(",")[0]
                if p.is_file() or p.is_symlink():
                    p.unlink()
            shutil.rmtree(info, ignore_errors=True)
            return {}, f"uninstalled {info.name[: -len('.dist-info')]}"
    return None


PLANTS = [
    ("removed-runtime", plant_removed_runtime),
    ("old-libstdc++", plant_old_libstdcxx),
    ("foreign-extension", plant_foreign_extension),
    ("removed-distribution", plant_removed_distribution),
]


def main():
    everybyte = sys.argv[1]
    stacks = [(a.split("=", 1)[0], pathlib.Path(a.split("=", 1)[1]).resolve()) for a in sys.argv[2:]]
    totals = {"broken": 0, "named": 0, "errors": 0, "true_errors": 0}
    print(f"{'stack':<16} {'case':<21} {'imports':>7} {'broken':>6} {'named':>5} {'errors':>6} {'true':>4}")
    for name, venv in stacks:
        base_env = dict(os.environ)
        base_env.pop("LD_LIBRARY_PATH", None)
        dists = distributions(site_packages(venv))
        modules = sorted({m for tops in dists.values() for m in tops})
        clean = imports(venv, modules, base_env)
        cases = [("clean", venv, base_env, clean, "")]
        others = [v for n, v in stacks if v != venv]
        for plant_name, plant in PLANTS:
            copy = WORK / f"{name}-{plant_name}"
            if copy.exists():
                shutil.rmtree(copy)
            copy.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-al", str(venv), str(copy)], check=True)
            planted = plant(copy, venv, others)
            if planted is None:
                shutil.rmtree(copy)
                continue
            extra, what = planted
            env = dict(base_env, **extra)
            pdists = distributions(site_packages(copy))
            pmods = sorted({m for tops in pdists.values() for m in tops})
            cases.append((plant_name, copy, env, imports(copy, pmods, env), what))
        for case, where, env, result, what in cases:
            failed = {m for m, err in result.items() if err}
            baseline = {m for m, err in clean.items() if err}
            broken = failed - baseline if case != "clean" else set()
            findings = check(everybyte, where, env)
            errors = [f for f in findings if f["severity"] == "error" and f["code"] in NATIVE]
            naming = [f for f in findings if f["severity"] == "error" and f["code"] in NAMING]
            named = set()
            true_errors = 0
            cache = {}
            for f in naming:
                named |= named_tops(f) & broken
            verdict = {}
            unscored = []
            for i, f in enumerate(errors):
                checkable = [w for w in names_of(f) if w.startswith(("import ", "running "))]
                if names_of(f) and not checkable:
                    # Names a feature no import shows (jax's CUDA backend without a GPU).
                    unscored.append(f)
                    verdict[i] = True
                    continue
                verdict[i] = any(fails(where, w, env, failed, cache) for w in checkable)
                true_errors += verdict[i]
            totals["errors"] -= len(unscored)
            totals["broken"] += len(broken)
            totals["named"] += len(named & broken)
            totals["errors"] += len(errors)
            totals["true_errors"] += true_errors
            print(f"{name:<16} {case:<21} {len(result):>7} {len(broken):>6} {len(named & broken):>5} {len(errors) - len(unscored):>6} {true_errors:>4}"
                  + (f"   ({what})" if what else ""))
            for m in sorted(broken - named):
                print(f"    missed: import {m}: {result[m]}")
            for i, f in enumerate(errors):
                if not verdict[i]:
                    print(f"    false:  {f['code']} {f['message'][:200]}")
            for f in unscored:
                print(f"    not scored (names no import or program): {f['code']} {f['message'][:160]}")
            if case == "clean":
                for m in sorted(baseline):
                    print(f"    fails in the clean venv too (not counted): import {m}: {clean[m][:160]}")
        for case, where, *_ in cases:
            if case != "clean":
                shutil.rmtree(where, ignore_errors=True)
    p = totals["true_errors"] / totals["errors"] if totals["errors"] else 1.0
    r = totals["named"] / totals["broken"] if totals["broken"] else 1.0
    print(f"\nENV001/002/005/013 errors that name a broken import (precision): {totals['true_errors']}/{totals['errors']} = {p:.1%}")
    print(f"broken imports an error names (recall, ENV004 included):       {totals['named']}/{totals['broken']} = {r:.1%}")


if __name__ == "__main__":
    main()
