#!/usr/bin/env python3
"""Writes the KServe field schema that `deploy lint` (K8S031) and `deploy serve` validate
InferenceService and ServingRuntime objects against.

Source: the CustomResourceDefinitions of the KServe release named below (Apache-2.0), their
own `openAPIV3Schema`, from the kserve/kserve repository at the release's commit:

    config/crd/full/serving.kserve.io_inferenceservices.yaml
    config/crd/full/serving.kserve.io_servingruntimes.yaml
    config/crd/full/serving.kserve.io_clusterservingruntimes.yaml

Only what strict validation of field names needs is kept, in the format of k8s-schema.json:
for each object schema, its fields and, for each field, the definition it holds (an object,
`[]` a list of objects, `{}` a map of objects) or `""` for a scalar or free-form value.
Identical object schemas (the pod and container schemas the CRDs repeat) are stored once.
Descriptions, types and validations are dropped. Needs PyYAML:

    python3 -m venv /tmp/y && /tmp/y/bin/pip install --require-hashes --no-deps \\
      -r <(echo "pyyaml==6.0.2 --hash=sha256:3ad2a3decf9aaba3d29c8f537ac4b243e36bef957511b4766cb0057d32b0be85")
    git clone https://github.com/kserve/kserve && git -C kserve checkout 1fb781055dd1567164358233e1125142ca6ef1fe
    /tmp/y/bin/python scripts/kserve-schema.py kserve

writes crates/everybyte-deploy/resources/kserve-schema.json.
"""
import json
import os
import sys

import yaml

RELEASE = "v0.20.0"
COMMIT = "1fb781055dd1567164358233e1125142ca6ef1fe"
CRDS = [
    "config/crd/full/serving.kserve.io_inferenceservices.yaml",
    "config/crd/full/serving.kserve.io_servingruntimes.yaml",
    "config/crd/full/serving.kserve.io_clusterservingruntimes.yaml",
]
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

defs = {}
by_shape = {}


def type_name(path):
    """`Container` for ...containers[], `Predictor` for ...predictor."""
    last = path[-1]
    if last.endswith("[]"):
        last = last[:-2]
        if last.endswith("ies"):
            last = last[:-3] + "y"
        elif last.endswith("s") and not last.endswith("ss"):
            last = last[:-1]
    if last.endswith("{}"):
        last = last[:-2] + "Entry"
    return last[:1].upper() + last[1:]


def holds(schema, path):
    """What a field holds: a definition's name, `[]name`, `{}name`, or ""."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return ""
    if "$ref" in schema:  # a core definition, in k8s-schema.json
        return schema["$ref"]
    if "properties" in schema:
        return define(schema["properties"], path)
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        inner = holds(schema["items"], path[:-1] + [path[-1] + "[]"])
        return "[]" + inner if inner and not inner.startswith(("[]", "{}")) else ""
    extra = schema.get("additionalProperties")
    if schema.get("type") == "object" and isinstance(extra, dict):
        inner = holds(extra, path[:-1] + [path[-1] + "{}"])
        return "{}" + inner if inner and not inner.startswith(("[]", "{}")) else ""
    return ""


def define(properties, path):
    fields = {k: holds(v, path + [k]) for k, v in properties.items()}
    shape = json.dumps(fields, sort_keys=True)
    if shape in by_shape:
        return by_shape[shape]
    base = "serving.kserve.io." + type_name(path)
    name, n = base, 2
    while name in defs:
        name, n = f"{base}{n}", n + 1
    defs[name] = fields
    by_shape[shape] = name
    return name


def main():
    repo = sys.argv[1]
    kinds = {}
    for rel in CRDS:
        with open(os.path.join(repo, rel)) as f:
            crd = next(d for d in yaml.safe_load_all(f) if d)
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        for v in crd["spec"]["versions"]:
            if not v.get("served", True):
                continue
            root = v["schema"]["openAPIV3Schema"]
            props = dict(root["properties"])
            # The CRD leaves metadata open; the API server validates it as ObjectMeta.
            props["metadata"] = {"$ref": OBJECT_META}
            kinds[f"{group}/{v['name']}/{kind}"] = define(props, [kind])
    out = {
        "source": f"kserve/kserve {RELEASE} ({COMMIT}, Apache-2.0): " + ", ".join(CRDS),
        "kserve": RELEASE,
        "kinds": dict(sorted(kinds.items())),
        "defs": dict(sorted(defs.items())),
    }
    dest = os.path.join(os.path.dirname(__file__), "..", "crates", "everybyte-deploy",
                        "resources", "kserve-schema.json")
    tmp = dest + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, separators=(",", ":"), sort_keys=False)
        f.write("\n")
    os.replace(tmp, dest)
    print(f"{dest}: {len(kinds)} kinds, {len(defs)} definitions")


if __name__ == "__main__":
    main()
