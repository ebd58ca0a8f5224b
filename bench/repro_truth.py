#!/usr/bin/env python3
"""Scores `everybyte repro lint` on bench/repro-corpus against labels.tsv.

Each project folder is linted as a project (`repro lint .` run inside it). A finding matches a
`yes` row when project and code agree and the finding's file, or the entry point of the program
it belongs to (or of any program it affects: `data.programs`), is the row's file. Prints TP, FP, FN, precision and recall per set, recall per
code, every miss, every false finding (a matched `no` row is named as a false alarm) and how
long each project took.
"""
import argparse
import collections
import csv
import json
import os
import subprocess
import sys
import time


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def lint(binary, folder):
    start = time.perf_counter()
    p = subprocess.run(
        [binary, "repro", "lint", ".", "--format", "json"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - start
    if p.returncode not in (0, 1):
        return None, took, p.stderr.strip().splitlines()[-1:] or ["exit %d" % p.returncode]
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        return None, took, ["not JSON: %s" % e]
    return doc.get("findings", []), took, []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--corpus", default="bench/repro-corpus")
    ap.add_argument("--set", default="all", help="dev, holdout or all")
    ap.add_argument("--quiet", action="store_true", help="totals only")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    sources = {r["project"]: r for r in read_tsv(os.path.join(a.corpus, "SOURCES.tsv"))}
    labels = read_tsv(os.path.join(a.corpus, "labels.tsv"))
    sets = ["dev", "holdout"] if a.set == "all" else [a.set]
    for which in sets:
        projects = sorted(p for p, r in sources.items() if r["set"] == which)
        if not projects:
            continue
        tp = fp = fn = 0
        per_code = collections.defaultdict(lambda: [0, 0, 0])  # tp, fp, fn
        misses, falses, alarms, crashes = [], [], [], []
        slowest = (0.0, "")
        for proj in projects:
            findings, took, err = lint(binary, os.path.join(a.corpus, proj))
            slowest = max(slowest, (took, proj))
            if findings is None:
                crashes.append("%s: %s" % (proj, " ".join(err)))
                findings = []
            rows = [r for r in labels if r["project"] == proj]
            yes = [r for r in rows if r["expect"] == "yes"]
            no = [r for r in rows if r["expect"] == "no"]
            matched = set()
            for f in findings:
                code = f["code"]
                if not code.startswith("REPRO"):
                    continue
                path = f.get("path", "")
                data = f.get("data") or {}
                where = {path, data.get("program", "")} | set(data.get("programs", []))
                hits = [i for i, r in enumerate(yes) if r["code"] == code and r["file"] in where]
                if hits:
                    matched.update(hits)
                    continue
                fp += 1
                per_code[code][1] += 1
                alarm = [r for r in no if r["code"] == code and r["file"] in where]
                line = "%s %s %s:%s %s" % (
                    proj,
                    code,
                    path,
                    f.get("line"),
                    f["message"][:140],
                )
                (alarms if alarm else falses).append(line)
            for i, r in enumerate(yes):
                if i in matched:
                    tp += 1
                    per_code[r["code"]][0] += 1
                else:
                    fn += 1
                    per_code[r["code"]][2] += 1
                    misses.append(
                        "%s %s %s:%s %s" % (proj, r["code"], r["file"], r["line"], r["note"][:120])
                    )
        prec = tp / (tp + fp) if tp + fp else 1.0
        rec = tp / (tp + fn) if tp + fn else 1.0
        print("== %s set: %d projects" % (which, len(projects)))
        print(
            "TP %d  FP %d  FN %d  precision %.1f%%  recall %.1f%%"
            % (tp, fp, fn, 100 * prec, 100 * rec)
        )
        print("slowest project: %s %.2f s" % (slowest[1], slowest[0]))
        if a.quiet:
            continue
        print("per code (tp/fp/fn):")
        for code in sorted(per_code):
            t, f_, n = per_code[code]
            print("  %s %d/%d/%d" % (code, t, f_, n))
        for title, items in (
            ("crashes", crashes),
            ("misses", misses),
            ("false alarms (labelled no)", alarms),
            ("other false findings", falses),
        ):
            if items:
                print("%s:" % title)
                for i in items:
                    print("  " + i)
    return 0


if __name__ == "__main__":
    sys.exit(main())
