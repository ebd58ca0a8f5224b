//! Strict field validation of Kubernetes objects, as `kubectl apply --validate=strict` does
//! it: every field of a core kind, and of every pod template a custom resource embeds,
//! against the Kubernetes OpenAPI schema. The schema is a vendored subset (field names and the
//! definition each field holds), written by `scripts/k8s-schema.py` from the
//! `kubernetes-validate` wheel; KServe's InferenceService and ServingRuntime are validated the
//! same way against their CRDs' `openAPIV3Schema` (`scripts/kserve-schema.py`, the KServe
//! release named in the file). Each file records its source.

use std::collections::BTreeMap as HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::yaml::Node;

/// The Kubernetes version the schema is of.
pub const KUBERNETES: &str = "1.33";
/// The KServe release whose CRDs the KServe kinds are checked against.
pub const KSERVE: &str = "v0.20.0";

/// What the kinds of `api_version` are checked against, for messages: `Kubernetes 1.33`, or
/// `KServe v0.20.0 CRD`.
pub fn source_of(api_version: &str) -> String {
    if api_version.starts_with("serving.kserve.io/") {
        format!("KServe {KSERVE} CRD")
    } else {
        format!("Kubernetes {KUBERNETES}")
    }
}

#[derive(Deserialize)]
struct Schema {
    kinds: HashMap<String, String>,
    defs: HashMap<String, HashMap<String, String>>,
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // Written by scripts/k8s-schema.py and scripts/kserve-schema.py and checked by the
        // tests: a broken file is a build defect, not an input error.
        let read = |text: &str| {
            serde_json::from_str(text).unwrap_or(Schema {
                kinds: HashMap::new(),
                defs: HashMap::new(),
            })
        };
        let mut s = read(include_str!("../resources/k8s-schema.json"));
        // KServe's kinds, from the CRDs' own openAPIV3Schema (their definitions are named
        // serving.kserve.io.*, so none replaces a core one).
        let kserve = read(include_str!("../resources/kserve-schema.json"));
        s.kinds.extend(kserve.kinds);
        s.defs.extend(kserve.defs);
        s
    })
}

/// A field strict validation rejects.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub line: u64,
    /// The field as written.
    pub field: String,
    /// The definition it sits in (`Container`).
    pub place: String,
    pub message: String,
    /// The field meant, where one is close.
    pub suggestion: Option<String>,
}

fn short(def: &str) -> &str {
    def.rsplit('.').next().unwrap_or(def)
}

/// The field names of `def` closest to `key`: the same letters ignoring case and `_`/`-`,
/// or an edit distance of at most 2.
fn closest(key: &str, fields: &HashMap<String, String>) -> Option<String> {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
    let k = norm(key);
    let mut best: Option<(usize, &String)> = None;
    for f in fields.keys() {
        let d = if norm(f) == k {
            0
        } else {
            distance(&k, &norm(f))
        };
        if d <= 2 && best.is_none_or(|(bd, bf)| d < bd || (d == bd && f < bf)) {
            best = Some((d, f));
        }
    }
    best.map(|(_, f)| f.clone())
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

struct Walk<'a> {
    defs: &'a HashMap<String, HashMap<String, String>>,
    out: Vec<Problem>,
    /// The fields walked into, from the document's top.
    path: Vec<String>,
}

impl Walk<'_> {
    /// How messages name where a field sits: the definition for core kinds (`Container`, as
    /// kubectl says it); for KServe's, whose definitions the CRDs leave unnamed, the path of
    /// fields (`spec.predictor.triton`).
    fn place(&self, def: &str) -> String {
        if def.starts_with("serving.kserve.io.") && !self.path.is_empty() {
            self.path.join(".")
        } else {
            short(def).to_owned()
        }
    }

    /// Checks map `n` against definition `def`; `up` are the definitions above it.
    fn object(&mut self, n: &Node, def: &str, up: &mut Vec<String>) {
        let Some(fields) = self.defs.get(def) else {
            return;
        };
        let Node::Map(pairs, _) = n else { return };
        let place = self.place(def);
        for (k, v) in pairs {
            if k.is_empty() || k == "<<" {
                continue;
            }
            let Some(holds) = fields.get(k) else {
                let above = up
                    .iter()
                    .rev()
                    .find(|d| self.defs.get(*d).is_some_and(|f| f.contains_key(k)));
                let (message, suggestion) = if let Some(a) = above {
                    (
                        format!(
                            "{k} is not a field of {}: it belongs to {} above it (indented one level too deep?)",
                            place,
                            short(a)
                        ),
                        None,
                    )
                } else {
                    let s = closest(k, fields);
                    let hint = s
                        .as_ref()
                        .map_or_else(String::new, |s| format!(" (did you mean {s}?)"));
                    (format!("unknown field {k} in {place}{hint}"), s)
                };
                self.out.push(Problem {
                    line: v.line().max(n.line()),
                    field: k.clone(),
                    place: place.clone(),
                    message,
                    suggestion,
                });
                continue;
            };
            self.value(k, v, holds, def, up);
        }
    }

    fn value(&mut self, k: &str, v: &Node, holds: &str, def: &str, up: &mut Vec<String>) {
        if holds.is_empty() || matches!(v, Node::Null(_)) {
            return;
        }
        let place = self.place(def);
        self.path.push(k.to_owned());
        let wrong = |want: &str| Problem {
            line: v.line(),
            field: k.to_owned(),
            place: place.clone(),
            message: format!("{k} in {place} must be {want}"),
            suggestion: None,
        };
        up.push(def.to_owned());
        if let Some(item) = holds.strip_prefix("[]") {
            match v {
                Node::Seq(items, _) => {
                    for i in items {
                        if i.is_map() {
                            self.object(i, item, up);
                        } else if !matches!(i, Node::Null(_)) {
                            self.out
                                .push(wrong(&format!("a list of {} mappings", short(item))));
                        }
                    }
                }
                _ => self.out.push(wrong(&format!("a list of {}", short(item)))),
            }
        } else if let Some(item) = holds.strip_prefix("{}") {
            if let Node::Map(pairs, _) = v {
                for (_, i) in pairs {
                    self.object(i, item, up);
                }
            } else {
                self.out.push(wrong("a mapping"));
            }
        } else if v.is_map() {
            self.object(v, holds, up);
        } else {
            self.out.push(wrong(&format!("a {} mapping", short(holds))));
        }
        up.pop();
        self.path.pop();
    }
}

/// The pod templates a custom resource embeds: a map under a `template`-like key with a
/// `spec.containers` (a PodTemplateSpec) or with `containers` (a PodSpec).
fn templates<'a>(n: &'a Node, out: &mut Vec<(&'a Node, &'static str)>) {
    match n {
        Node::Map(pairs, _) => {
            for (k, v) in pairs {
                let templ = matches!(
                    k.as_str(),
                    "template" | "leaderTemplate" | "workerTemplate" | "submitterPodTemplate"
                );
                if templ
                    && v.at("spec.containers")
                        .is_some_and(|c| matches!(c, Node::Seq(..)))
                {
                    out.push((v, "io.k8s.api.core.v1.PodTemplateSpec"));
                } else if templ
                    && v.get("containers")
                        .is_some_and(|c| matches!(c, Node::Seq(..)))
                    && v.get("spec").is_none()
                {
                    out.push((v, "io.k8s.api.core.v1.PodSpec"));
                } else {
                    templates(v, out);
                }
            }
        }
        Node::Seq(items, _) => items.iter().for_each(|i| templates(i, out)),
        _ => {}
    }
}

/// The fields of an object that strict validation rejects.
pub fn check(api_version: &str, kind: &str, doc: &Node) -> Vec<Problem> {
    let s = schema();
    let mut w = Walk {
        defs: &s.defs,
        out: Vec::new(),
        path: Vec::new(),
    };
    if let Some(def) = s.kinds.get(&format!("{api_version}/{kind}")) {
        w.object(doc, def, &mut Vec::new());
    } else if !api_version.contains('/')
        || api_version.contains(".k8s.io/")
        || ["apps/", "batch/", "policy/", "autoscaling/"]
            .iter()
            .any(|p| api_version.starts_with(p))
    {
        // A core kind outside the vendored subset: not judged.
    } else {
        let mut found = Vec::new();
        templates(doc, &mut found);
        for (t, def) in found {
            w.object(t, def, &mut Vec::new());
        }
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn problems(text: &str) -> Vec<Problem> {
        let d = &parse(text).unwrap()[0];
        check(
            d.get("apiVersion").and_then(Node::str).unwrap(),
            d.get("kind").and_then(Node::str).unwrap(),
            d,
        )
    }

    #[test]
    fn the_vendored_schema_loads() {
        let s = schema();
        assert!(s.kinds.len() > 10 && s.defs.contains_key("io.k8s.api.core.v1.Container"));
        for def in s.kinds.values() {
            assert!(s.defs.contains_key(def), "{def}");
        }
    }

    #[test]
    fn kserve_kinds_follow_their_crds() {
        // The vendored file is of the release the messages name.
        let kserve: serde_json::Value =
            serde_json::from_str(include_str!("../resources/kserve-schema.json")).unwrap();
        assert_eq!(kserve["kserve"], KSERVE);
        // Every definition a field holds exists (the KServe file refers to ObjectMeta).
        let s = schema();
        for fields in s.defs.values() {
            for holds in fields.values().filter(|h| !h.is_empty()) {
                let def = holds.trim_start_matches("[]").trim_start_matches("{}");
                assert!(s.defs.contains_key(def), "{def}");
            }
        }
        let ok = "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: a, annotations: {serving.kserve.io/deploymentMode: RawDeployment}}\nspec:\n  predictor:\n    minReplicas: 1\n    model:\n      modelFormat: {name: onnx}\n      runtime: everybyte\n      storageUri: s3://b/m\n      resources: {limits: {memory: 2Gi}}\n";
        assert_eq!(problems(ok), []);
        let p = problems(&ok.replace("storageUri", "storageURI"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].suggestion.as_deref(), Some("storageUri"));
        let runtime = "apiVersion: serving.kserve.io/v1alpha1\nkind: ServingRuntime\nmetadata: {name: r}\nspec:\n  supportedModelFormats: [{name: onnx, version: '1', autoSelect: true}]\n  protocolVersions: [v2, grpc-v2]\n  containers:\n  - name: kserve-container\n    image: i\n    readinessProbe: {httpGet: {path: /v2/health/ready, port: 8080}}\n";
        assert_eq!(problems(runtime), []);
        let p = problems(&runtime.replace("readinessProbe", "readinesProbe"));
        assert_eq!(p[0].suggestion.as_deref(), Some("readinessProbe"), "{p:?}");
    }

    #[test]
    fn typos_misplaced_and_wrong_shapes() {
        let p = problems(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: i\n        resource: {limits: {cpu: 1}}\n        resources:\n          limits: {cpu: 1}\n          volumeMounts: []\n      shm_size: 1g\n      volumes: {a: 1}\n",
        );
        let msgs: Vec<&str> = p.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(p.len(), 4, "{msgs:?}");
        assert!(
            msgs[0].contains("unknown field resource in Container (did you mean resources?)"),
            "{msgs:?}"
        );
        assert_eq!(p[0].line, 10);
        assert!(
            msgs[1].contains(
                "volumeMounts is not a field of ResourceRequirements: it belongs to Container"
            ),
            "{msgs:?}"
        );
        assert!(
            msgs[2].contains("unknown field shm_size in PodSpec"),
            "{msgs:?}"
        );
        assert!(
            msgs[3].contains("volumes in PodSpec must be a list of Volume"),
            "{msgs:?}"
        );
    }

    #[test]
    fn clean_objects_and_crd_templates() {
        assert!(problems("apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {x: y}}\nspec:\n  containers:\n  - name: c\n    image: i\n    env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\n    resources: {limits: {nvidia.com/gpu: 1}}\n").is_empty());
        let p = problems(
            "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: a}\nspec:\n  pytorchReplicaSpecs:\n    Worker:\n      replicas: 2\n      template:\n        spec:\n          containers:\n          - name: pytorch\n            image: i\n            volumeMount: []\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("did you mean volumeMounts"), "{p:?}");
        // Unknown kinds of unknown groups are not judged.
        assert!(problems("apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: a}\nspec: {anything: 1}\n").is_empty());
    }
}
