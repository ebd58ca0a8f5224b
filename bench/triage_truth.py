#!/usr/bin/env python3
"""Score `everybyte triage` against the labelled corpus in bench/triage-corpus.

labels.tsv: file<TAB>labels<TAB>source-url<TAB>note, labels comma-separated rule names or
`none`. Standard library only. Always exits 0: it measures, it does not gate.
"""
import argparse
import collections
import concurrent.futures
import json
import os
import subprocess
import sys

VOCABULARY = [
    "cuda-oom-capacity", "cuda-oom-fragmentation", "cuda-oom-request-exceeds-card",
    "cuda-oom-free-but-failed", "cuda-oom-held-elsewhere", "segfault", "killed-by-signal",
    "oom-killed", "crash-loop", "probe-failed", "gpu-xid", "nccl-failure", "dataloader-shm",
    "symbol-version-not-found", "cuda-kernel-fault", "cuda-library-status", "nonfinite-loss",
    "python-exception", "shared-library-not-found", "cuda-incompatible", "illegal-instruction",
    "abort", "ecc-error", "loss-scale-collapse", "pod-unschedulable", "pod-evicted",
    "undefined-symbol", "gpu-lost",
]


def one_line(text, limit=220):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_labels(corpus):
    rows = []
    with open(os.path.join(corpus, "labels.tsv"), encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) < 3:
                print(f"labels.tsv:{number}: fewer than 3 fields, skipped")
                continue
            labels = {l.strip() for l in fields[1].split(",") if l.strip()}
            if labels == {"none"}:
                labels = set()
            elif "none" in labels:
                print(f"labels.tsv:{number}: 'none' mixed with other labels")
                labels.discard("none")
            for l in sorted(labels - set(VOCABULARY)):
                print(f"labels.tsv:{number}: label '{l}' is not in the vocabulary")
            rows.append((fields[0], labels))
    return rows


def rule_names(binary):
    out = subprocess.run([binary, "rules", "--format", "json"], capture_output=True, text=True)
    return {r["code"]: r["name"] for r in json.loads(out.stdout)}


def triage(binary, path):
    """The findings of one excerpt, or an error string."""
    out = subprocess.run([binary, "triage", "--format", "json", path],
                         capture_output=True, text=True)
    try:
        return json.loads(out.stdout).get("findings", [])
    except json.JSONDecodeError:
        return "no JSON (exit %d): %s" % (out.returncode, one_line(out.stderr))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--corpus", required=True)
    args = ap.parse_args()

    names = rule_names(args.bin)
    rows = read_labels(args.corpus)
    paths = [os.path.join(args.corpus, f) for f, _ in rows]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 4) as pool:
        results = list(pool.map(lambda p: triage(args.bin, p), paths))

    labelled = collections.Counter()
    hits = collections.Counter()
    tp = fp = fn = 0
    benign_findings = benign_files = benign_flagged = 0
    knock_on = 0
    misses, false_findings, errors = [], [], []
    for (name, truth), findings in zip(rows, results):
        if isinstance(findings, str):
            errors.append(f"{name}: {findings}")
            findings = []
        predicted = {}
        for f in findings:
            if (f.get("data") or {}).get("knock_on") is True:
                knock_on += 1
                continue
            label = names.get(f["code"], f["code"])
            predicted.setdefault(label, f)
        if not truth:
            benign_files += 1
            benign_findings += sum(1 for f in findings
                                   if (f.get("data") or {}).get("knock_on") is not True)
            benign_flagged += bool(predicted)
        for label in truth:
            labelled[label] += 1
            if label in predicted:
                hits[label] += 1
                tp += 1
            else:
                fn += 1
                other = ", ".join(sorted(predicted)) or "nothing"
                misses.append(f"{name}\t{label}\t(found: {other})")
        for label, f in sorted(predicted.items()):
            if label not in truth:
                fp += 1
                false_findings.append(f"{name}\t{label}\t{one_line(f.get('message', ''))}")

    print(f"triage truth: {len(rows)} excerpts ({benign_files} benign), "
          f"{sum(labelled.values())} labelled failures, {len(names)} rules known")
    print()
    print(f"{'label':32} {'recall':>7}  TP/labelled")
    for label in VOCABULARY:
        if labelled[label]:
            print(f"{label:32} {hits[label] / labelled[label]:7.0%}  {hits[label]}/{labelled[label]}")
    absent = [l for l in VOCABULARY if not labelled[l]]
    if absent:
        print(f"(no excerpt labelled: {', '.join(absent)})")
    print()
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    print(f"micro precision {precision:.1%}  ({tp} TP / {tp + fp} predicted)")
    print(f"micro recall    {recall:.1%}  ({tp} TP / {tp + fn} labelled)")
    print(f"findings on benign excerpts: {benign_findings} "
          f"({benign_flagged} of {benign_files} benign excerpts flagged)")
    print(f"knock-on findings ignored: {knock_on}")
    for title, lines in (("misses (file, label, what was found instead)", misses),
                         ("false findings (file, label, message)", false_findings),
                         ("excerpts triage could not score", errors)):
        print()
        print(f"{title}: {len(lines)}")
        for line in lines:
            print("  " + line)
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # it measures; a broken corpus line must not fail a pipeline
        print(f"triage-truth: {e!r}")
    sys.exit(0)
