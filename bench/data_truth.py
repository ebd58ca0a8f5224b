"""The data rules on real files: Apache's parquet-testing corpus (bench/data-corpus/, see its
SOURCES.tsv), 220 Parquet files from a dozen writers, among them files reported as bugs.

  label CORPUS LABELS.tsv   writes what pyarrow (hash-locked in bench/data-formats-requirements.txt)
                            says of each file: DATA014 when it cannot read the file with page
                            checksums verified; DATA006 when a float column holds NaN or inf;
                            DATA007 when a numeric top-level column holds a null; DATA018 for
                            the files of one folder with the same column names whose schemas
                            pyarrow cannot unify
  score LABELS.tsv SCAN.json  precision and recall of each rule against those labels

pyarrow is the reference reader here: a file it reads is not corrupt, a file it refuses is.
"""
import collections
import json
import os
import sys


# parquet-testing's README describes these as valid files exercising a reader: an empty v2
# data page, and a map whose keys lack the `required` annotation older writers left out.
NOT_FAULTS = {"data/datapage_v2_empty_datapage.snappy.parquet", "data/incorrect_map_schema.parquet"}


def label(corpus, out):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    schemas = collections.defaultdict(list)
    for dirpath, _, names in sorted(os.walk(corpus)):
        for name in sorted(names):
            if not name.endswith(".parquet"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, corpus)
            codes, note = [], ""
            with open(path, "rb") as f:
                head = f.read(4)
            if head == b"PARE":
                rows.append((rel, "", "encrypted footer: not read"))
                continue
            try:
                table = pq.ParquetFile(path, page_checksum_verification=True).read()
            except pa.ArrowNotImplementedError as e:  # pyarrow's limit, not the file's fault
                rows.append((rel, "?", f"not labelled: pyarrow cannot read it: {str(e)[:80]}"))
                continue
            except OSError as e:
                # Logical types newer than this pyarrow (Variant, Geometry), and two files the
                # corpus documents as valid that this pyarrow refuses: its limits, not faults.
                if "not recognized" in str(e) or rel in NOT_FAULTS:
                    rows.append((rel, "?", f"not labelled: pyarrow cannot read it: {str(e)[:80]}"))
                    continue
                rows.append((rel, "DATA014", f"pyarrow: {type(e).__name__}: {str(e)[:80]}"))
                continue
            except Exception as e:  # the reference reader refuses it
                code = "?" if rel in NOT_FAULTS else "DATA014"
                rows.append((rel, code, f"pyarrow: {type(e).__name__}: {str(e)[:80]}"))
                continue
            for field, col in zip(table.schema, table.columns):
                t = field.type
                if pa.types.is_floating(t):
                    import pyarrow.compute as pc
                    if pa.types.is_float16(t):  # no NaN kernel for halves: widen them
                        col = col.cast(pa.float32())
                    if (pc.sum(pc.is_nan(col)).as_py() or 0) + (pc.sum(pc.is_inf(col)).as_py() or 0):
                        codes.append("DATA006")
                if (pa.types.is_integer(t) or pa.types.is_floating(t)) and col.null_count:
                    codes.append("DATA007")
            names_key = tuple(sorted(table.schema.names))
            schemas[(os.path.dirname(rel), names_key)].append((rel, table.schema))
            rows.append((rel, ",".join(sorted(set(codes))), note))
    drift = {}
    for (_, _), files in schemas.items():
        if len(files) < 2:
            continue
        try:
            pa.unify_schemas([s for _, s in files])
        except Exception:
            for rel, _ in files:
                drift[rel] = True
    with open(out, "w") as f:
        f.write("# path\texpected rules\tnote (labels by pyarrow %s)\n" % pa.__version__)
        for rel, codes, note in rows:
            if rel in drift:
                codes = ",".join(sorted(set(filter(None, codes.split(","))) | {"DATA018"}))
            f.write(f"{rel}\t{codes}\t{note}\n")


RULES = ("DATA006", "DATA007", "DATA014", "DATA017", "DATA018")


def score(labels, scan):
    expected = {}
    for line in open(labels):
        if line.startswith("#"):
            continue
        rel, codes, _ = line.rstrip("\n").split("\t")
        if codes == "?":
            continue
        expected[rel] = set(filter(None, codes.split(",")))
    found = collections.defaultdict(set)
    for f in json.load(open(scan))["findings"]:
        found[f["path"]].add(f["code"])
    print(f"{len(expected)} files")
    for rule in RULES:
        tp = fp = fn = 0
        wrong = []
        for rel, exp in expected.items():
            # A file pyarrow refuses has no content to label: only DATA014 is scored on it.
            if "DATA014" in exp and rule != "DATA014":
                continue
            got = rule in found.get(rel, set())
            if rule == "DATA018":
                # A drift finding names one odd file of the group: any file of an expected
                # group counts for the group.
                got_group = got
                if got_group and rule in exp:
                    tp += 1
                elif got_group:
                    fp += 1
                    wrong.append(f"extra {rel}")
                continue
            if got and rule in exp:
                tp += 1
            elif got:
                fp += 1
                wrong.append(f"extra   {rel}")
            elif rule in exp:
                fn += 1
                wrong.append(f"missed  {rel}")
        if rule == "DATA018":
            groups = {os.path.dirname(r) for r, e in expected.items() if "DATA018" in e}
            hit = {os.path.dirname(r) for r in found if "DATA018" in found[r]}
            fn = len(groups - hit)
        p = f"{tp}/{tp + fp} = {100 * tp / (tp + fp):.1f}%" if tp + fp else "-"
        r = f"{tp}/{tp + fn} = {100 * tp / (tp + fn):.1f}%" if tp + fn else "-"
        print(f"  {rule}  precision {p:<18} recall {r}")
        for w in wrong[:8]:
            print(f"      {w}")
    extra = sorted({c for codes in found.values() for c in codes} - set(RULES))
    if extra:
        print("  other rules raised:", ", ".join(f"{c} ×{sum(c in v for v in found.values())}" for c in extra))


if __name__ == "__main__":
    if sys.argv[1] == "label":
        label(sys.argv[2], sys.argv[3])
    else:
        score(sys.argv[2], sys.argv[3])
