//! Kubernetes workloads as the deploy rules need them: the pod spec of each Deployment,
//! StatefulSet, DaemonSet, Job, CronJob, Pod and KServe InferenceService, its containers,
//! resources, probes and volumes, each with the line it sits on.

use everybyte_core::bytesize::parse_quantity;

use crate::error::YamlError;
use crate::expect::Expectations;
use crate::yaml::Node;

/// A memory quantity in bytes (`16Gi`, `500M`, `1e9`, and `500m`, half a byte, a classic
/// slip), as Kubernetes reads it.
pub fn bytes(s: &str) -> Option<f64> {
    parse_quantity(s)
}

/// A CPU quantity in cores (`500m`, `2`, `1.5`).
pub fn cores(s: &str) -> Option<f64> {
    parse_quantity(s)
}

/// A probe's timing: the defaults Kubernetes applies where a field is absent.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub line: u64,
    pub initial_delay: f64,
    pub period: f64,
    pub failure_threshold: f64,
    pub timeout: f64,
    pub path: Option<String>,
}

impl Probe {
    fn from(n: &Node) -> Probe {
        let num = |k: &str, d: f64| {
            n.get(k)
                .and_then(Node::str)
                .and_then(|s| s.parse().ok())
                .unwrap_or(d)
        };
        Probe {
            line: n.line(),
            initial_delay: num("initialDelaySeconds", 0.0),
            period: num("periodSeconds", 10.0),
            failure_threshold: num("failureThreshold", 3.0),
            timeout: num("timeoutSeconds", 1.0),
            path: n.at("httpGet.path").and_then(Node::str).map(str::to_owned),
        }
    }

    /// Seconds after start at which a container that never answers is killed (liveness) or
    /// given up on (startup).
    pub fn window(&self) -> f64 {
        self.initial_delay + self.period * self.failure_threshold
    }
}

/// One resource value and its line.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub text: String,
    pub line: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Resources {
    pub line: Option<u64>,
    pub limits: Vec<(String, Value)>,
    pub requests: Vec<(String, Value)>,
}

impl Resources {
    pub fn limit(&self, k: &str) -> Option<&Value> {
        self.limits.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }
    pub fn request(&self, k: &str) -> Option<&Value> {
        self.requests.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }
}

#[derive(Debug, Clone)]
pub struct Container {
    pub name: String,
    pub line: u64,
    pub image: Option<Value>,
    pub pull_policy: Option<Value>,
    pub resources: Resources,
    pub liveness: Option<Probe>,
    pub readiness: Option<Probe>,
    pub startup: Option<Probe>,
    pub ports: bool,
    pub env: Vec<(String, Value)>,
    /// `command` and `args`, joined.
    pub argv: Vec<String>,
    pub mounts: Vec<(String, String)>,
}

impl Container {
    pub fn gpus(&self) -> Option<&Value> {
        self.resources
            .limit("nvidia.com/gpu")
            .or_else(|| self.resources.request("nvidia.com/gpu"))
    }

    /// It answers requests: ports, a readiness probe, or an inference server's command.
    pub fn serves(&self) -> bool {
        self.ports || self.readiness.is_some()
    }

    /// It trains: `torchrun`, `torch.distributed`, `accelerate launch`, `deepspeed`, `train`.
    pub fn trains(&self) -> bool {
        self.argv.iter().any(|a| {
            a.contains("torchrun")
                || a.contains("torch.distributed")
                || a.contains("accelerate")
                || a.contains("deepspeed")
                || a.contains("train")
        })
    }

    /// Worker processes the container starts: `WORKERS`/`WEB_CONCURRENCY` or `--workers N`.
    pub fn workers(&self) -> Option<(u64, u64)> {
        for (k, v) in &self.env {
            let named = matches!(
                k.as_str(),
                "WORKERS" | "WEB_CONCURRENCY" | "GUNICORN_WORKERS" | "UVICORN_WORKERS"
            );
            if let Some(n) = v.text.parse().ok().filter(|_| named) {
                return Some((n, v.line));
            }
        }
        let mut it = self.argv.iter();
        while let Some(a) = it.next() {
            if let Some(n) = a.strip_prefix("--workers=").and_then(|n| n.parse().ok()) {
                return Some((n, self.line));
            }
            if (a == "--workers" || a == "-w")
                && let Some(n) = it.next().and_then(|n| n.parse().ok())
            {
                return Some((n, self.line));
            }
        }
        None
    }
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: String,
    pub name: String,
    pub line: u64,
    pub replicas: Option<(u64, u64)>,
    pub containers: Vec<Container>,
    /// `nodeSelector`, `affinity` or `tolerations` present.
    pub scheduling: bool,
    /// Volumes that are `emptyDir` with `medium: Memory`.
    pub memory_volumes: Vec<String>,
}

fn kv(n: Option<&Node>) -> Vec<(String, Value)> {
    match n {
        Some(Node::Map(pairs, _)) => pairs
            .iter()
            .filter_map(|(k, v)| {
                v.str().map(|s| {
                    (
                        k.clone(),
                        Value {
                            text: s.to_owned(),
                            line: v.line(),
                        },
                    )
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn container(n: &Node) -> Container {
    let value = |k: &str| {
        n.get(k).and_then(|v| {
            v.str().map(|s| Value {
                text: s.to_owned(),
                line: v.line(),
            })
        })
    };
    let res = n.get("resources");
    let argv = ["command", "args"]
        .iter()
        .flat_map(|k| n.get(k).map_or(&[][..], Node::seq))
        .filter_map(|a| a.str().map(str::to_owned))
        .collect();
    Container {
        name: n.get("name").and_then(Node::str).unwrap_or("").to_owned(),
        line: n.line(),
        image: value("image"),
        pull_policy: value("imagePullPolicy"),
        resources: Resources {
            line: res.map(Node::line),
            limits: kv(res.and_then(|r| r.get("limits"))),
            requests: kv(res.and_then(|r| r.get("requests"))),
        },
        liveness: n.get("livenessProbe").map(Probe::from),
        readiness: n.get("readinessProbe").map(Probe::from),
        startup: n.get("startupProbe").map(Probe::from),
        ports: n.get("ports").is_some_and(|p| !p.seq().is_empty()),
        env: n
            .get("env")
            .map_or(&[][..], Node::seq)
            .iter()
            .filter_map(|e| {
                let name = e.get("name")?.str()?.to_owned();
                let v = e.get("value")?;
                Some((
                    name,
                    Value {
                        text: v.str()?.to_owned(),
                        line: v.line(),
                    },
                ))
            })
            .collect(),
        argv,
        mounts: n
            .get("volumeMounts")
            .map_or(&[][..], Node::seq)
            .iter()
            .filter_map(|m| {
                Some((
                    m.get("name")?.str()?.to_owned(),
                    m.get("mountPath")?.str()?.to_owned(),
                ))
            })
            .collect(),
    }
}

/// The workloads of one YAML document (none for Services, ConfigMaps and the like).
pub fn workloads(doc: &Node) -> Vec<Workload> {
    let Some(kind) = doc.get("kind").and_then(Node::str) else {
        return Vec::new();
    };
    let pod = match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            doc.at("spec.template.spec")
        }
        "CronJob" => doc.at("spec.jobTemplate.spec.template.spec"),
        "Pod" => doc.get("spec"),
        "InferenceService" => doc.at("spec.predictor"),
        _ => None,
    };
    let Some(pod) = pod else {
        return Vec::new();
    };
    let mut containers: Vec<Container> = pod
        .get("containers")
        .map_or(&[][..], Node::seq)
        .iter()
        .map(container)
        .collect();
    if kind == "InferenceService" {
        // spec.predictor.model (or a framework key) carries resources like a container.
        for (k, v) in match pod {
            Node::Map(pairs, _) => pairs.as_slice(),
            _ => &[],
        } {
            if k != "containers" && v.is_map() && v.get("resources").is_some() {
                let mut c = container(v);
                c.name.clone_from(k);
                c.ports = true;
                containers.push(c);
            }
        }
    }
    let replicas = doc
        .at("spec.replicas")
        .and_then(|r| Some((r.str()?.parse().ok()?, r.line())));
    vec![Workload {
        kind: kind.to_owned(),
        name: doc
            .at("metadata.name")
            .and_then(Node::str)
            .unwrap_or("")
            .to_owned(),
        line: doc.get("kind").map_or(1, Node::line),
        replicas,
        containers,
        scheduling: ["nodeSelector", "affinity", "tolerations"]
            .iter()
            .any(|k| pod.get(k).is_some()),
        memory_volumes: pod
            .get("volumes")
            .map_or(&[][..], Node::seq)
            .iter()
            .filter(|v| v.at("emptyDir.medium").and_then(Node::str) == Some("Memory"))
            .filter_map(|v| v.get("name")?.str().map(str::to_owned))
            .collect(),
    }]
}

/// The facts the deploy rules judge: the workloads of one manifest, where findings point, and
/// the numbers the manifest is held to.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The path findings carry.
    pub path: String,
    pub workloads: Vec<Workload>,
    pub expect: Expectations,
}

impl Manifest {
    /// Parses every workload of a (multi-document) manifest.
    pub fn parse(path: &str, text: &str, expect: &Expectations) -> Result<Manifest, YamlError> {
        let docs = crate::yaml::parse(text)?;
        Ok(Manifest {
            path: path.to_owned(),
            workloads: docs.iter().flat_map(workloads).collect(),
            expect: expect.clone(),
        })
    }

    /// Every container with its workload, in the order of the manifest.
    pub fn containers(&self) -> impl Iterator<Item = (&Workload, &Container)> {
        self.workloads
            .iter()
            .flat_map(|w| w.containers.iter().map(move |c| (w, c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(bytes("16Gi"), Some(16.0 * 1024f64.powi(3)));
        assert_eq!(bytes("500m"), Some(0.5));
        assert_eq!(cores("500m"), Some(0.5));
        assert_eq!(cores("2"), Some(2.0));
        assert_eq!(cores("1.5"), Some(1.5));
        assert_eq!(bytes("1e9"), Some(1e9));
        assert_eq!(bytes("12Ei"), Some(12.0 * 1024f64.powi(6)));
        assert_eq!(bytes("2E"), Some(2e18));
        assert_eq!(bytes("lots"), None);
        assert_eq!(cores("lots"), None);
        assert_eq!(bytes("-1Gi"), None);
        // Core reads these; Kubernetes does not.
        assert_eq!(bytes("16GB"), None);
        assert_eq!(bytes("16 Gi"), None);
        assert_eq!(bytes("1K"), None);
    }
}
