#!/usr/bin/env python3
"""Score `everybyte deploy lint` and checkov against the labelled manifests in bench/k8s-corpus.

labels.tsv (bench/k8s-corpus/VOCABULARY.md): file<TAB>workload<TAB>label<TAB>verdict<TAB>note,
`file` relative to the corpus, `workload` = `Kind/metadata.name`, `verdict` `flag` or `clean`.
The scoring unit is the triple (file, workload, label). Labels are exhaustive for the
vocabulary: a triple a tool reports that is not labelled `flag` is a false positive (a `clean`
row only documents a tempting false alarm), a `flag` triple it does not report is a miss. The
manifests scored are those named in labels.tsv and every other .yaml/.yml/.json file of the
corpus outside malformed/ (no row there means nothing to flag). Each file in malformed/ is run
through everybyte alone, to see that it fails with a clear error and does not crash.

everybyte: `BIN deploy lint --format json FILE`; a finding's code is mapped to its rule name
(`BIN rules --format json`), which is the label; its workload is `data.workload`, or else the
workload of the YAML document that holds the finding's line. Findings whose rule is not in the
vocabulary (IO001, ...) are listed, not scored.

checkov configuration (3.3.30, pinned in bench/k8s-requirements.txt): one run per manifest,
`checkov -f FILE --framework kubernetes -o json --quiet --compact --skip-download`. Every
Kubernetes check is on (no --check, --skip-check or config file): that is checkov's default and
its most complete configuration, and it is the way a team adopts it. `--framework kubernetes`
because the corpus is rendered manifests (the helm and kustomize frameworks need chart or
kustomization folders); `--skip-download` because there is no Prisma Cloud account (without an
API key the download only fetches guideline links and would wait on the network; every local
check runs either way); `--quiet` leaves out the passed checks; `--compact` the code blocks.
BC_API_KEY and friends are removed from its environment so that no platform policy set
narrows or widens the checks. A failed check's resource `Kind.namespace.name` is mapped to the
workload `Kind/name` (graph checks that name a derived resource, and any name not found, go by
the document that holds the check's first line).

A checkov check is mapped to a vocabulary label only where its code tests that label's
definition (CHECKOV_LABELS below, read from checkov/kubernetes/checks/resource/k8s/*.py);
all its other failed checks are "generic" findings: counted, averaged per manifest, not scored.
Standard library only. Always exits 0: it measures, it does not gate.
"""
import argparse
import collections
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

# Used only when VOCABULARY.md cannot be read: the labels of its table, in its order.
FALLBACK_VOCABULARY = [
    "memory-limit", "gpu-scheduling", "liveness-before-ready", "readiness-missing",
    "liveness-missing", "shm-missing", "shm-unbounded", "host-ipc", "checkpoint-ephemeral",
    "world-size-mismatch", "never-exits", "model-cache-small", "model-download-every-start",
    "model-revision-unpinned", "download-no-ephemeral-storage", "fetch-at-start",
    "gpu-driver-floating", "tensor-parallel-mismatch", "no-restart-policy",
    "nccl-transport-disabled", "privileged", "placeholder-unrendered", "api-removed",
    "name-invalid", "schema-unknown-field", "image-not-pinned", "pull-always",
    "gpu-not-guaranteed", "cpu-limit-throttles", "probe-timeout", "model-copies",
]

# checkov check id -> vocabulary label, where the check's code tests the label's definition
# (checkov 3.3.30, checkov/kubernetes/checks/resource/k8s/). The checks are per workload and
# fail on the first container that fails, on every kind of container (not only GPU or serving
# ones): that breadth is checkov's and is scored as it is.
CHECKOV_LABELS = {
    # MemoryLimits.py: fails when a container has no resources.limits.memory.
    "CKV_K8S_13": "memory-limit",
    # LivenessProbe.py / ReadinessProbe.py: fail when a container has no livenessProbe /
    # readinessProbe.
    "CKV_K8S_8": "liveness-missing",
    "CKV_K8S_9": "readiness-missing",
    # ImageTagFixed.py: fails on an image with no tag or the tag `latest` (passes on a digest):
    # exactly "an image with no tag or :latest".
    "CKV_K8S_14": "image-not-pinned",
    # PrivilegedContainers.py: securityContext.privileged true; AllowedCapabilitiesSysAdmin.py:
    # SYS_ADMIN in capabilities.add. The label is "privileged: true (or SYS_ADMIN)".
    "CKV_K8S_16": "privileged",
    "CKV_K8S_39": "privileged",
    # ShareHostIPC.py: hostIPC true in the pod spec (the hostPath-of-/dev/shm half of the label
    # has no checkov check).
    "CKV_K8S_18": "host-ipc",
}
# Checks that touch a label's subject but do not test its definition, hence generic:
#   CKV_K8S_15 ImagePullPolicyAlways: "Image Pull Policy should be Always" fails when the
#     policy is NOT Always (IfNotPresent, or a fixed tag with no policy): the opposite of the
#     pull-always label, so it is not mapped to it (its failures are counted as generic).
#   CKV_K8S_43 ImageDigest: fails on every image without a digest, `:1.4.2` included; the
#     image-not-pinned label is only no tag or `:latest` (CKV_K8S_14 is that).
#   CKV_K8S_11 CPULimits: "CPU limits should be set", the opposite of cpu-limit-throttles.
#   CKV_K8S_10/12 CPU/memory requests: no label (gpu-not-guaranteed is not labelled).
#   CKV_K8S_3 ShareHostIPCPSP, CKV_K8S_2 PrivilegedContainersPSP: PodSecurityPolicy objects
#     (what a cluster admits), not a workload.
#   CKV_K8S_159 DangerousGitSync: the GITSYNC_GIT variable (command injection), not a fetch
#     of code at start.

MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json")


def one_line(text, limit=200):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pct(part, whole):
    return f"{part / whole:.1%}" if whole else "n/a"


# ---------------------------------------------------------------- corpus and labels

def read_vocabulary(corpus):
    """The labels of VOCABULARY.md's table, and those it marks as never labelled."""
    labels, unlabelled = [], set()
    try:
        with open(os.path.join(corpus, "VOCABULARY.md"), encoding="utf-8") as f:
            for line in f:
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if len(cells) >= 2 and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", cells[0]) \
                        and cells[0] != "label":
                    labels.append(cells[0])
                    if "not labelled" in cells[1]:
                        unlabelled.add(cells[0])
    except OSError:
        pass
    if not labels:
        print("k8s-truth: VOCABULARY.md has no label table; using the built-in list")
        return list(FALLBACK_VOCABULARY), {"gpu-not-guaranteed", "probe-timeout"}
    return labels, unlabelled


def read_labels(corpus, vocabulary):
    """{(file, workload, label): (verdict, note)} and the problems found in labels.tsv."""
    rows, problems = {}, []
    path = os.path.join(corpus, "labels.tsv")
    if not os.path.exists(path):
        problems.append("labels.tsv is missing: every finding counts as a false positive")
        return rows, problems
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = [x.strip() for x in line.split("\t")]
            if fields[:3] == ["file", "workload", "label"]:
                continue
            if len(fields) < 4:
                problems.append(f"labels.tsv:{number}: fewer than 4 fields, skipped")
                continue
            file, workload, label, verdict = fields[:4]
            note = fields[4] if len(fields) > 4 else ""
            file = os.path.normpath(file)
            if label not in vocabulary:
                problems.append(f"labels.tsv:{number}: label '{label}' is not in the vocabulary")
            if verdict not in ("flag", "clean"):
                problems.append(f"labels.tsv:{number}: verdict '{verdict}' is not flag|clean, skipped")
                continue
            if not os.path.isfile(os.path.join(corpus, file)):
                problems.append(f"labels.tsv:{number}: {file} does not exist, skipped")
                continue
            if "/" not in workload:
                problems.append(f"labels.tsv:{number}: workload '{workload}' is not Kind/name")
            key = (file, workload, label)
            if key in rows:
                problems.append(f"labels.tsv:{number}: {file} {workload} {label} given twice"
                                + (" with different verdicts" if rows[key][0] != verdict else ""))
                if rows[key][0] == "flag":
                    continue
            rows[key] = (verdict, note)
    return rows, problems


def corpus_files(corpus, labelled_files):
    """Manifests to score: those in labels.tsv and the others outside malformed/."""
    files = set(labelled_files)
    for root, dirs, names in os.walk(corpus):
        rel_root = os.path.relpath(root, corpus)
        if rel_root.split(os.sep)[0] == "malformed":
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.endswith(MANIFEST_EXTENSIONS):
                files.add(os.path.normpath(os.path.join(rel_root, name)))
    return sorted(files)


def _scalar(value):
    value = re.sub(r"\s+#.*$", "", value).strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def documents(text):
    """[(first line, last line, 'Kind/name')] of the YAML documents of a manifest.

    A plain scan, not a YAML parser: `---` separates documents; `kind:` at column 0 and the
    first `name:` one level under a column-0 `metadata:` (or in `metadata: {name: ...}`).
    A JSON manifest (or JSON List) is read with the json module.
    """
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        objs = obj.get("items") if obj.get("kind") == "List" and isinstance(obj.get("items"), list) else [obj]
        last = text.count("\n") + 1
        out = []
        for o in objs:
            if isinstance(o, dict):
                meta = o.get("metadata") if isinstance(o.get("metadata"), dict) else {}
                out.append((1, last, f"{o.get('kind', '?')}/{meta.get('name', '?')}"))
        return out

    lines = text.splitlines()
    docs, start = [], 1
    bounds = []
    for i, line in enumerate(lines, 1):
        if re.match(r"^---(\s|$)", line) or line.rstrip() == "...":
            bounds.append((start, i - 1))
            start = i + 1
    bounds.append((start, len(lines)))
    for first, last in bounds:
        kind = name = None
        in_meta, child_indent = False, None
        for line in lines[first - 1:last]:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line[0].isspace():
                in_meta = False
                m = re.match(r"^kind:\s*(.*)$", line)
                if m and kind is None:
                    kind = _scalar(m.group(1))
                m = re.match(r"^metadata:\s*(.*)$", line)
                if m:
                    rest = m.group(1).strip()
                    if rest.startswith("{"):
                        n = re.search(r"(?:^|[{,\s])name:\s*([^,}]+)", rest)
                        if n and name is None:
                            name = _scalar(n.group(1))
                    else:
                        in_meta, child_indent = True, None
                continue
            if in_meta and name is None:
                indent = len(line) - len(line.lstrip())
                if child_indent is None:
                    child_indent = indent
                if indent == child_indent:
                    m = re.match(r"^\s*name:\s*(.*)$", line)
                    if m:
                        name = _scalar(m.group(1))
        if kind is not None or name is not None:
            docs.append((first, last, f"{kind or '?'}/{name or '?'}"))
    return docs


def workload_at(docs, line):
    if line is None:
        return None
    for first, last, workload in docs:
        if first <= line <= last:
            return workload
    return None


# ---------------------------------------------------------------- everybyte

def rule_names(binary):
    out = subprocess.run([binary, "rules", "--format", "json"], capture_output=True, text=True)
    return {r["code"]: r["name"] for r in json.loads(out.stdout)}


def run_everybyte(binary, path, timeout=120):
    """(exit status, findings or None, stderr)."""
    try:
        out = subprocess.run([binary, "deploy", "lint", "--format", "json", path],
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", None, f"no answer in {timeout} s"
    try:
        findings = json.loads(out.stdout).get("findings", [])
    except (json.JSONDecodeError, AttributeError):
        findings = None
    return out.returncode, findings, out.stderr


def crashed(status, stderr):
    return status == 101 or (isinstance(status, int) and status < 0) or "panicked" in stderr


# ---------------------------------------------------------------- checkov

def checkov_version(checkov):
    try:
        out = subprocess.run([checkov, "--version"], capture_output=True, text=True, timeout=120,
                             env=checkov_env())
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def checkov_env():
    env = dict(os.environ)
    for k in ("BC_API_KEY", "PRISMA_API_URL", "CKV_FRAMEWORK", "CKV_CHECK", "CKV_SKIP_CHECK",
              "CKV_SOFT_FAIL_ON", "CKV_HARD_FAIL_ON"):
        env.pop(k, None)
    env["LOG_LEVEL"] = "ERROR"
    return env


def run_checkov(checkov, path, timeout=300):
    """(failed checks, resource count, error string or None)."""
    cmd = [os.path.abspath(checkov), "-f", os.path.abspath(path), "--framework", "kubernetes", "-o", "json",
           "--quiet", "--compact", "--skip-download"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             env=checkov_env(), cwd=os.path.dirname(os.path.abspath(path)))
    except subprocess.TimeoutExpired:
        return [], 0, f"no answer in {timeout} s"
    text = out.stdout
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    try:
        report = json.loads(text[min(starts):]) if starts else None
    except json.JSONDecodeError:
        report = None
    if report is None:
        return [], 0, f"no JSON (exit {out.returncode}): {one_line(out.stderr[-400:])}"
    reports = report if isinstance(report, list) else [report]
    failed, resources = [], 0
    for r in reports:
        if not isinstance(r, dict):
            continue
        if r.get("check_type", "kubernetes") != "kubernetes":
            continue
        summary = r.get("summary", r)
        resources += summary.get("resource_count", 0) or 0
        failed.extend((r.get("results") or {}).get("failed_checks", []))
    return failed, resources, None


def checkov_workload(check, docs):
    resource = check.get("resource", "")
    parts = resource.split(".", 2)
    named = f"{parts[0]}/{parts[2]}" if len(parts) == 3 else resource
    if any(w == named for _, _, w in docs):
        return named
    line_range = check.get("file_line_range") or [None]
    return workload_at(docs, line_range[0]) or named


# ---------------------------------------------------------------- scoring

class Score:
    def __init__(self, tool):
        self.tool = tool
        self.tp = self.fp = self.fn = 0
        self.hits = collections.Counter()
        self.fps = collections.Counter()
        self.misses, self.false_findings = [], []
        self.unlabelled_fp = collections.Counter()
        self.clean_taken = 0

    def add(self, truth, predicted, unlabelled):
        """truth: {(file, workload, label): (verdict, note)};
        predicted: {(file, workload, label): message}."""
        flags = {k for k, (v, _) in truth.items() if v == "flag"}
        by_workload = collections.defaultdict(set)
        for file, workload, label in predicted:
            by_workload[(file, workload)].add(label)
        for key in sorted(flags):
            if key in predicted:
                self.tp += 1
                self.hits[key[2]] += 1
            else:
                self.fn += 1
                found = ", ".join(sorted(by_workload.get(key[:2], ()))) or "nothing"
                note = truth[key][1]
                self.misses.append(f"{key[0]}\t{key[1]}\t{key[2]}\t(found: {found})"
                                   + (f"\t# {one_line(note, 120)}" if note else ""))
        for key, message in sorted(predicted.items()):
            if key in flags:
                continue
            self.fp += 1
            self.fps[key[2]] += 1
            if key[2] in unlabelled:
                self.unlabelled_fp[key[2]] += 1
            tag = ""
            if key in truth:
                self.clean_taken += 1
                tag = f"  [labelled clean: {one_line(truth[key][1], 100)}]"
            self.false_findings.append(f"{key[0]}\t{key[1]}\t{key[2]}\t{one_line(message)}{tag}")

    def precision(self):
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    def recall(self):
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    def report(self, labelled, vocabulary, extra=()):
        print(f"== {self.tool}")
        print(f"TP {self.tp}  FP {self.fp}  FN {self.fn}   "
              f"precision {pct(self.tp, self.tp + self.fp)}  recall {pct(self.tp, self.tp + self.fn)}")
        for line in extra:
            print(line)
        if self.unlabelled_fp:
            print("  of the FP, on labels the vocabulary never labels: "
                  + ", ".join(f"{l} {n}" for l, n in sorted(self.unlabelled_fp.items())))
        if self.clean_taken:
            print(f"  of the FP, on triples labelled clean (tempting false alarms taken): {self.clean_taken}")
        print()
        print(f"  {'label':32} {'recall':>7}  {'TP/flagged':>10}  {'FP':>4}")
        for label in vocabulary:
            if labelled[label] or self.fps[label]:
                print(f"  {label:32} {pct(self.hits[label], labelled[label]):>7}  "
                      f"{self.hits[label]:>4}/{labelled[label]:<5}  {self.fps[label]:>4}")
        for title, lines in (("misses (file, workload, label, what it found on that workload, note)",
                              self.misses),
                             ("false findings (file, workload, label, message)", self.false_findings)):
            print()
            print(f"  {title}: {len(lines)}")
            for line in lines:
                print("    " + line)
        print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="the everybyte binary")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--checkov", help="the checkov executable (left out: everybyte alone)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    corpus = args.corpus

    vocabulary, unlabelled = read_vocabulary(corpus)
    truth_rows, problems = read_labels(corpus, vocabulary)
    files = corpus_files(corpus, {k[0] for k in truth_rows})
    unlisted = [f for f in files if f not in {k[0] for k in truth_rows}]
    docs = {}
    for f in files:
        with open(os.path.join(corpus, f), encoding="utf-8", errors="replace") as fh:
            docs[f] = documents(fh.read())
    labelled = collections.Counter(k[2] for k, (v, _) in truth_rows.items() if v == "flag")
    n_clean = sum(1 for v, _ in truth_rows.values() if v == "clean")

    print(f"k8s truth: {len(files)} manifests, {sum(labelled.values())} flagged triples "
          f"(file, workload, label), {n_clean} labelled clean, {len(vocabulary)} labels")
    if unlisted:
        print(f"{len(unlisted)} manifests have no row in labels.tsv (scored as having nothing "
              f"to flag): {', '.join(unlisted)}")
    for p in problems:
        print(p)
    # Triples labelled with a workload that the file's documents do not name.
    for file, workload, label in sorted(truth_rows):
        names = {w for _, _, w in docs.get(file, [])}
        if names and workload not in names:
            print(f"labels.tsv: {file}: workload {workload} ({label}) is not one of the file's "
                  f"documents ({', '.join(sorted(names))})")
    print()

    # ---- everybyte
    names = rule_names(args.bin)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        eb_results = list(pool.map(lambda f: run_everybyte(args.bin, os.path.join(corpus, f)), files))
    eb_seconds = time.monotonic() - t0
    eb = Score("everybyte deploy lint")
    eb_predicted, eb_unscored, eb_errors = {}, [], []
    from_line = 0
    for f, (status, findings, stderr) in zip(files, eb_results):
        if crashed(status, stderr) or status == "timeout":
            eb_errors.append(f"{f}: CRASH (exit {status}): {one_line(stderr[-300:])}")
        if findings is None:
            eb_errors.append(f"{f}: no JSON (exit {status}): {one_line(stderr[-300:])}")
            continue
        for finding in findings:
            label = names.get(finding.get("code"), finding.get("code"))
            data = finding.get("data") or {}
            workload = data.get("workload")
            if not workload:
                workload = workload_at(docs[f], finding.get("line")) or "?"
                from_line += 1
            if label not in vocabulary:
                eb_unscored.append(f"{f}\t{workload}\t{finding.get('code')} {label}\t"
                                   f"{one_line(finding.get('message', ''))}")
                continue
            eb_predicted.setdefault((f, workload, label), finding.get("message", ""))
    eb.add(truth_rows, eb_predicted, unlabelled)
    extra = [f"  ({len(files)} manifests in {eb_seconds:.1f} s; {from_line} findings without "
             f"data.workload placed by their line)"] if from_line else \
            [f"  ({len(files)} manifests in {eb_seconds:.1f} s)"]
    eb.report(labelled, vocabulary, extra)
    print(f"  findings outside the vocabulary (not scored): {len(eb_unscored)}")
    for line in eb_unscored:
        print("    " + line)
    print(f"  manifests everybyte could not score: {len(eb_errors)}")
    for line in eb_errors:
        print("    " + line)
    print()

    # ---- checkov
    ck = None
    version = checkov_version(args.checkov) if args.checkov else None
    if not args.checkov:
        print("== checkov: not measured (no checkov given)")
    elif not version:
        print(f"== checkov: not measured ({args.checkov} does not run)")
    else:
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            ck_results = list(pool.map(lambda f: run_checkov(args.checkov, os.path.join(corpus, f)),
                                       files))
        ck_seconds = time.monotonic() - t0
        ck = Score(f"checkov {version}")
        ck_predicted, ck_errors, no_resource = {}, [], []
        generic = collections.Counter()
        generic_total = 0
        for f, (failed, resources, error) in zip(files, ck_results):
            if error:
                ck_errors.append(f"{f}: {error}")
                continue
            if resources == 0:
                no_resource.append(f)
            for check in failed:
                cid = check.get("check_id", "?")
                label = CHECKOV_LABELS.get(cid)
                if label is None:
                    generic[f"{cid} {check.get('check_name', '')}"] += 1
                    generic_total += 1
                    continue
                workload = checkov_workload(check, docs[f])
                message = f"{cid} {check.get('check_name', '')} ({check.get('resource', '')})"
                key = (f, workload, label)
                if key in ck_predicted:
                    if cid not in ck_predicted[key]:
                        ck_predicted[key] += f"; {cid}"
                else:
                    ck_predicted[key] = message
        ck.add(truth_rows, ck_predicted, unlabelled)
        scanned = len(files) - len(ck_errors)
        mapped_labels = sorted(set(CHECKOV_LABELS.values()))
        ck.report(labelled, vocabulary, [
            f"  ({len(files)} manifests in {ck_seconds:.1f} s; checks mapped to labels: "
            + ", ".join(f"{c}->{l}" for c, l in sorted(CHECKOV_LABELS.items(),
                                                       key=lambda x: int(x[0].split("_")[-1])))
            + ")",
            f"  generic findings (failed checks that map to no label): {generic_total}, "
            f"{generic_total / scanned if scanned else 0:.1f} per manifest "
            f"(vs {ck.tp + ck.fp} on labels, {(ck.tp + ck.fp) / scanned if scanned else 0:.1f} per manifest)",
        ])
        print(f"  generic findings by check: {len(generic)} checks")
        for name, n in generic.most_common():
            print(f"    {n:5}  {name}")
        print(f"  manifests where checkov found no resource it knows (custom kinds: "
              f"PyTorchJob, InferenceService, RayCluster...): {len(no_resource)}")
        for f in no_resource:
            print("    " + f)
        print(f"  manifests checkov could not scan: {len(ck_errors)}")
        for line in ck_errors:
            print("    " + line)
        print()

    # ---- malformed inputs
    malformed_dir = os.path.join(corpus, "malformed")
    malformed = sorted(n for n in os.listdir(malformed_dir)
                       if os.path.isfile(os.path.join(malformed_dir, n))) \
        if os.path.isdir(malformed_dir) else []
    print(f"== malformed inputs (everybyte): {len(malformed)}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        mal_results = list(pool.map(
            lambda n: run_everybyte(args.bin, os.path.join(malformed_dir, n), timeout=60), malformed))
    tally = collections.Counter()
    for name, (status, findings, stderr) in zip(malformed, mal_results):
        io = [x for x in (findings or []) if x.get("code") == "IO001"
              and name in f"{x.get('path', '')} {x.get('message', '')}"]
        if status == "timeout":
            verdict, why = "HANG", stderr
        elif crashed(status, stderr):
            verdict, why = "CRASH", f"exit {status}: {one_line(stderr[-300:])}"
        elif io:
            verdict, why = "clear error", f"exit {status}, IO001: {one_line(io[0].get('message', ''))}"
        elif stderr.strip() and name in stderr:
            verdict, why = "clear error", f"exit {status}, stderr: {one_line(stderr)}"
        else:
            codes = ", ".join(sorted({x.get("code", "?") for x in findings or []})) or "no finding"
            verdict = "NO CLEAR ERROR"
            why = f"exit {status}, {codes}" + (f", stderr: {one_line(stderr)}" if stderr.strip() else "")
        tally[verdict] += 1
        print(f"  {verdict:15} {name}\t{why}")
    if malformed:
        print("  " + ", ".join(f"{v}: {n}" for v, n in sorted(tally.items())))
    print()

    # ---- side by side
    flagged = sum(labelled.values())
    if ck is not None:
        ratio = f"{eb.recall() / ck.recall():.2f}x" if ck.recall() else ("inf" if eb.recall() else "n/a")
        print(f"summary: recall everybyte {pct(eb.tp, flagged)} ({eb.tp}/{flagged}) vs checkov "
              f"{pct(ck.tp, flagged)} ({ck.tp}/{flagged}), ratio {ratio}; precision everybyte "
              f"{pct(eb.tp, eb.tp + eb.fp)} vs checkov {pct(ck.tp, ck.tp + ck.fp)}")
        covered = set(CHECKOV_LABELS.values())
        sub = sum(labelled[l] for l in covered)
        if sub:
            eb_sub = sum(eb.hits[l] for l in covered)
            ck_sub = sum(ck.hits[l] for l in covered)
            print(f"  on the labels checkov has a check for ({', '.join(sorted(covered))}: "
                  f"{sub} flagged): everybyte {pct(eb_sub, sub)}, checkov {pct(ck_sub, sub)}")
    else:
        print(f"summary: recall everybyte {pct(eb.tp, flagged)} ({eb.tp}/{flagged}), precision "
              f"{pct(eb.tp, eb.tp + eb.fp)}; checkov not measured")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # it measures; a broken corpus line must not fail a pipeline
        import traceback
        traceback.print_exc()
        print(f"k8s-truth: {e!r}")
    sys.exit(0)
