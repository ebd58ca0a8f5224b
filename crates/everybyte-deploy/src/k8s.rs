//! Kubernetes workloads as the deploy rules need them: every pod template of a manifest,
//! whatever object wraps it (core kinds, training and serving custom resources, workflow
//! engines, `List`s), its containers with their resources, probes, volumes and command, each
//! with the line it sits on, and the role each container plays (serving, training, batch),
//! decided from what is written.

use everybyte_core::bytesize::parse_quantity;

use crate::error::YamlError;
use crate::expect::Expectations;
use crate::kinds;
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

/// One scalar value and its line.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub text: String,
    pub line: u64,
}

impl Value {
    /// A scalar node as a value with its line.
    pub fn of(n: &Node) -> Option<Value> {
        n.str().map(|s| Value {
            text: s.to_owned(),
            line: n.line(),
        })
    }

    /// The value as a whole number (`"4"`, `4`).
    pub fn count(&self) -> Option<u64> {
        self.text.trim().parse().ok()
    }
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
    /// A limit, or the request where there is no limit.
    pub fn amount(&self, k: &str) -> Option<&Value> {
        self.limit(k).or_else(|| self.request(k))
    }
}

/// What a container does, and why that was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It answers inference requests.
    Serving,
    /// It trains a model.
    Training,
    /// A job that runs to completion and does not train.
    Batch,
    /// Nothing written says.
    Other,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Serving => "serving",
            Role::Training => "training",
            Role::Batch => "batch",
            Role::Other => "other",
        }
    }
}

/// An environment variable: its value when given inline (`valueFrom` leaves it `None`).
#[derive(Debug, Clone)]
pub struct Env {
    pub name: String,
    pub line: u64,
    pub value: Option<Value>,
}

/// A volume mount.
#[derive(Debug, Clone)]
pub struct Mount {
    pub name: String,
    pub path: String,
    pub line: u64,
}

#[derive(Debug, Clone)]
pub struct Container {
    pub name: String,
    pub line: u64,
    /// An init container (runs before the others, to completion).
    pub init: bool,
    pub image: Option<Value>,
    pub pull_policy: Option<Value>,
    pub resources: Resources,
    pub liveness: Option<Probe>,
    pub readiness: Option<Probe>,
    pub startup: Option<Probe>,
    pub ports: bool,
    pub env: Vec<Env>,
    /// `command`, then `args` (an Argo script's source is one more item).
    pub argv: Vec<String>,
    /// How many of `argv` are the `command`.
    pub command_len: usize,
    /// The line of `command` or `args`, where there is one.
    pub argv_line: Option<u64>,
    pub mounts: Vec<Mount>,
    /// `privileged: true` or an added `SYS_ADMIN` capability, and its line.
    pub privileged: Option<(u64, &'static str)>,
    /// A KServe predictor's `storageUri`: where the storage initializer downloads the model from.
    pub storage_uri: Option<Value>,
    /// A KServe model-format predictor (`model:`, `sklearn:`): a ServingRuntime supplies the
    /// container, its command and its probes.
    pub shorthand: bool,
    pub role: Role,
    /// Why the role was decided: "its image runs vLLM", "it sits in a PyTorchJob".
    pub why: String,
    /// The init container of its pod that downloads weights into a volume it mounts.
    pub weights_from: Option<String>,
    /// `workingDir`: where relative paths of its command land (the image's `WORKDIR` when
    /// absent).
    pub working_dir: Option<String>,
}

/// The inference servers recognised from an image or a command, and their names.
const SERVERS: &[(&str, &str)] = &[
    ("vllm", "vLLM"),
    ("text-generation-launcher", "TGI"),
    ("text-generation-inference", "TGI"),
    ("text-embeddings-inference", "TEI"),
    ("text-embeddings-router", "TEI"),
    ("tritonserver", "Triton"),
    ("torchserve", "TorchServe"),
    ("sglang", "SGLang"),
    ("nvcr.io/nim/", "NVIDIA NIM"),
    ("serve run", "Ray Serve"),
    ("serve deploy", "Ray Serve"),
    ("kserve/", "a KServe runtime"),
    ("kserve-", "a KServe runtime"),
    ("huggingfaceserver", "a KServe runtime"),
    ("llama-server", "llama.cpp server"),
    ("llama.cpp", "llama.cpp server"),
    ("llamacpp", "llama.cpp server"),
    ("ollama", "Ollama"),
    ("everybyte serve", "everybyte serve"),
    ("tensorflow/serving", "TensorFlow Serving"),
    ("tensorflow_model_server", "TensorFlow Serving"),
    ("mlserver", "MLServer"),
    ("jetstream", "JetStream"),
    ("maxengine", "JetStream"),
    ("lmdeploy", "LMDeploy"),
    ("openvino/model_server", "OpenVINO Model Server"),
    ("infinity_emb", "Infinity"),
];

/// The training launchers recognised from a command.
const LAUNCHERS: &[(&str, &str)] = &[
    ("torchrun", "torchrun"),
    ("torch.distributed.run", "torch.distributed"),
    ("torch.distributed.launch", "torch.distributed"),
    ("accelerate launch", "accelerate"),
    ("deepspeed", "DeepSpeed"),
    ("axolotl", "axolotl"),
    ("llamafactory-cli train", "LLaMA-Factory"),
    ("tune run", "torchtune"),
    ("horovodrun", "Horovod"),
    ("fairseq-train", "fairseq"),
    ("--do_train", "a Hugging Face training script"),
];

impl Container {
    pub fn gpus(&self) -> Option<&Value> {
        self.resources.amount("nvidia.com/gpu")
    }

    /// The number of GPUs it gets, where written as a number.
    pub fn gpu_count(&self) -> Option<u64> {
        self.gpus().and_then(Value::count)
    }

    /// It answers requests.
    pub fn serves(&self) -> bool {
        self.role == Role::Serving
    }

    /// It trains.
    pub fn trains(&self) -> bool {
        self.role == Role::Training
    }

    /// The command line as words: `sh -c` scripts are split too.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.argv.iter().flat_map(|a| a.split_whitespace())
    }

    /// The whole command line as one lowercase text.
    pub fn command_text(&self) -> String {
        self.argv.join(" ").to_ascii_lowercase()
    }

    /// The value of a flag (`--flag V` or `--flag=V`), any of the spellings given.
    pub fn flag(&self, names: &[&str]) -> Option<String> {
        let words: Vec<&str> = self.words().collect();
        for (i, w) in words.iter().enumerate() {
            for n in names {
                if let Some(v) = w.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                    return Some(unquote(v).to_owned());
                }
                if w == n
                    && let Some(v) = words.get(i + 1)
                {
                    return Some(unquote(v).to_owned());
                }
            }
        }
        None
    }

    /// An environment variable's inline value.
    pub fn env_value(&self, name: &str) -> Option<&Value> {
        self.env
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.value.as_ref())
    }

    /// Whether the command runs in a shell (`sh -c`), which expands `${VAR}` itself.
    pub fn shell(&self) -> bool {
        let first = self
            .argv
            .first()
            .map_or("", |a| a.rsplit('/').next().unwrap_or(a));
        matches!(first, "sh" | "bash" | "zsh" | "dash" | "ash")
            || self.argv.iter().any(|a| a == "-c")
    }

    /// Worker processes the container starts: `WORKERS`/`WEB_CONCURRENCY` or `--workers N`.
    pub fn workers(&self) -> Option<(u64, u64)> {
        for e in &self.env {
            let named = matches!(
                e.name.as_str(),
                "WORKERS" | "WEB_CONCURRENCY" | "GUNICORN_WORKERS" | "UVICORN_WORKERS"
            );
            if let Some(v) = e.value.as_ref().filter(|_| named)
                && let Some(n) = v.count()
            {
                return Some((n, v.line));
            }
        }
        let line = self.argv_line.unwrap_or(self.line);
        self.flag(&["--workers", "-w"])
            .and_then(|n| n.parse().ok())
            .map(|n| (n, line))
    }

    /// It has an accelerator: an NVIDIA GPU or a TPU.
    pub fn accelerated(&self) -> bool {
        // A count written as a placeholder (`$(GPUS)`, `${GPU_PER_NODE}`) is still a GPU.
        self.gpus().is_some_and(|g| g.count() != Some(0))
            || self
                .resources
                .amount("google.com/tpu")
                .and_then(Value::count)
                .is_some_and(|n| n > 0)
    }

    /// It loads a model itself: it has an accelerator, or a model file named in its
    /// environment (`MODEL_PATH=/models/m.onnx`). A hub id in the environment of a container
    /// without an accelerator is usually a client naming the model it calls.
    pub fn names_a_model(&self) -> bool {
        self.accelerated()
            || self.env.iter().any(|e| {
                e.name.contains("MODEL")
                    && e.value.as_ref().is_some_and(|v| v.text.starts_with('/'))
            })
    }

    /// It downloads model weights: a fetch (`wget`, `curl`, `huggingface-cli download`, `hf
    /// download`, `gsutil`, `aws s3`, `azcopy`, `s5cmd`) of a weights file (`.ckpt`,
    /// `.safetensors`, `.pth`, `.pt`, `.bin`, `.gguf`, `.onnx`, `.h5`) or of a hub repository.
    pub fn fetches_model(&self) -> bool {
        let cmd = self.command_text();
        let words: Vec<&str> = cmd
            .split(|ch: char| {
                ch.is_whitespace() || matches!(ch, ';' | '|' | '&' | '"' | '\'' | '(' | ')')
            })
            .filter(|w| !w.is_empty())
            .collect();
        let hub_cli = cmd.contains("huggingface-cli download") || cmd.contains("hf download");
        let fetch = hub_cli
            || words.iter().any(|w| {
                matches!(
                    w.rsplit('/').next().unwrap_or(w),
                    "wget" | "curl" | "gsutil" | "aws" | "azcopy" | "s5cmd"
                )
            });
        let weights = hub_cli
            || words.iter().any(|w| {
                w.contains("huggingface.co/")
                    || [
                        ".ckpt",
                        ".safetensors",
                        ".pth",
                        ".pt",
                        ".bin",
                        ".gguf",
                        ".onnx",
                        ".h5",
                    ]
                    .iter()
                    .any(|x| w.ends_with(x))
            });
        fetch && weights
    }

    /// The inference server it runs, from its image or command.
    pub fn server(&self) -> Option<&'static str> {
        let image = self
            .image
            .as_ref()
            .map_or(String::new(), |i| i.text.to_ascii_lowercase());
        // A command names a server by a word (`vllm`, `tritonserver`), a module of it
        // (`vllm.entrypoints.openai.api_server`, `sglang.launch_server`), or consecutive words
        // (`serve run`): a model or pool named `vllm-llama3` is not the server.
        let words: Vec<String> = self
            .words()
            .map(|w| {
                let w = unquote(w).to_ascii_lowercase();
                w.rsplit('/').next().unwrap_or(&w).to_owned()
            })
            .collect();
        let runs = |k: &str| {
            let parts: Vec<&str> = k.split(' ').collect();
            if parts.len() > 1 {
                return words
                    .windows(parts.len())
                    .any(|w| w.iter().zip(&parts).all(|(a, b)| a == b));
            }
            words
                .iter()
                .any(|w| w == k || w.strip_prefix(k).is_some_and(|r| r.starts_with(['.', '_'])))
        };
        // An image runs its server unless the command runs something else in it: a
        // download, a conversion, a benchmark client (or the image is a client SDK).
        let cmd = self.command_text();
        let other = image.contains("-sdk")
            || (self.command_len > 0
                && [
                    "download",
                    "fetch",
                    "convert",
                    "gsutil",
                    "gcloud",
                    "huggingface-cli",
                    "benchmark",
                    "perf",
                    "sleep",
                ]
                .iter()
                .any(|k| cmd.contains(k)));
        SERVERS
            .iter()
            .find(|(k, _)| runs(k))
            .or_else(|| SERVERS.iter().find(|(k, _)| !other && image.contains(k)))
            .map(|(_, n)| *n)
    }

    /// The training launcher or entry point it runs, from its command.
    pub fn launcher(&self) -> Option<String> {
        let cmd = self.command_text();
        if let Some((_, n)) = LAUNCHERS.iter().find(|(k, _)| cmd.contains(k)) {
            return Some((*n).to_owned());
        }
        if cmd.contains("mpirun") && cmd.contains("python") {
            return Some("mpirun".to_owned());
        }
        self.words()
            .find(|w| is_train_entry(w))
            .map(|w| format!("the training entry point {w}"))
    }
}

/// `train.py`, `train_gpt2.py`, `finetune.sh`, `pretrain_gpt.py`, `trainer.task`,
/// `my_train.py`: a word that names a training entry point.
fn is_train_entry(word: &str) -> bool {
    let w = unquote(word).to_ascii_lowercase();
    let last = w.rsplit('/').next().unwrap_or(&w);
    let stem = last
        .strip_suffix(".py")
        .or_else(|| last.strip_suffix(".sh"))
        .unwrap_or(last);
    if stem != last || w == "train" || w == "finetune" {
        stem.split(['_', '-', '.'])
            .any(|p| matches!(p, "train" | "finetune" | "pretrain" | "trainer" | "sft"))
    } else {
        // A module (`-m trainer.task`, `maxtext.train`).
        last.contains('.')
            && last
                .split('.')
                .any(|p| matches!(p, "train" | "trainer" | "finetune"))
    }
}

/// First path segments that make `a/b` a local path, not a hub id.
const ROOTS: &[&str] = &[
    "models",
    "model",
    "data",
    "mnt",
    "app",
    "workspace",
    "root",
    "home",
    "tmp",
    "opt",
    "var",
    "usr",
    "etc",
    "srv",
    "cache",
    "checkpoints",
    "output",
    "outputs",
    "gcs",
    "s3",
];

/// A Hugging Face hub model id (`org/name`, `hf://org/name`, with `@rev` or, after `hf://`,
/// `:rev`), not a path or a URL.
pub fn is_hub_id(s: &str) -> bool {
    let s = s
        .strip_prefix("hf://")
        .map_or(s, |r| r.split(':').next().unwrap_or(r));
    let s = s.split('@').next().unwrap_or(s);
    let Some((org, name)) = s.split_once('/') else {
        return false;
    };
    let ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 96
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && p.as_bytes()[0].is_ascii_alphanumeric()
    };
    ok(org)
        && ok(name)
        && !ROOTS.contains(&org.to_ascii_lowercase().as_str())
        && !std::path::Path::new(name).extension().is_some_and(|e| {
            [
                "py",
                "json",
                "yaml",
                "yml",
                "txt",
                "bin",
                "safetensors",
                "gguf",
            ]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
        })
}

/// A word without the quotes a shell script put around it.
pub fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '\'')
        .trim_end_matches([';', ','])
}

/// What a volume is backed by.
#[derive(Debug, Clone, PartialEq)]
pub enum Backing {
    /// `emptyDir`: memory-backed or not, and its `sizeLimit`.
    EmptyDir {
        memory: bool,
        size_limit: Option<Value>,
    },
    /// A `hostPath` and its path.
    HostPath(String),
    /// A persistent volume claim and its name.
    Claim(String),
    /// An ephemeral volume with its own claim template (storage request).
    Ephemeral(Option<Value>),
    /// A ConfigMap, Secret, projected or downward-API volume.
    Config,
    /// Anything else that outlives the pod (NFS, CSI, cloud disks).
    Persistent,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub name: String,
    pub line: u64,
    pub backing: Backing,
}

impl Volume {
    fn from(n: &Node) -> Option<Volume> {
        let name = n.get("name")?.str()?.to_owned();
        let backing = if let Some(e) = n.get("emptyDir") {
            Backing::EmptyDir {
                memory: e.get("medium").and_then(Node::str) == Some("Memory"),
                size_limit: e.get("sizeLimit").and_then(Value::of),
            }
        } else if let Some(h) = n.get("hostPath") {
            Backing::HostPath(h.get("path").and_then(Node::str).unwrap_or("").to_owned())
        } else if let Some(c) = n.get("persistentVolumeClaim") {
            Backing::Claim(
                c.get("claimName")
                    .and_then(Node::str)
                    .unwrap_or("")
                    .to_owned(),
            )
        } else if let Some(e) = n.get("ephemeral") {
            Backing::Ephemeral(
                e.at("volumeClaimTemplate.spec.resources.requests.storage")
                    .and_then(Value::of),
            )
        } else if ["configMap", "secret", "projected", "downwardAPI"]
            .iter()
            .any(|k| n.get(k).is_some())
        {
            Backing::Config
        } else {
            Backing::Persistent
        };
        Some(Volume {
            name,
            line: n.line(),
            backing,
        })
    }

    /// Whatever is written there outlives the pod.
    pub fn persists(&self) -> bool {
        matches!(
            self.backing,
            Backing::Claim(_) | Backing::Persistent | Backing::HostPath(_)
        )
    }
}

/// One pod template of a workload and how many pods it makes.
#[derive(Debug, Clone)]
pub struct Pod {
    /// Which template of the workload: `""` for the only one, `Worker`, `head`, `predictor`.
    pub part: String,
    pub line: u64,
    /// Pods made from this template, where written (replicas × parallelism).
    pub replicas: Option<u64>,
    pub containers: Vec<Container>,
    pub volumes: Vec<Volume>,
    /// `hostIPC: true` and its line.
    pub host_ipc: Option<u64>,
    pub node_selector: Vec<(String, Value)>,
    /// The pod's or its replica spec's `restartPolicy`.
    pub restart_policy: Option<Value>,
}

impl Pod {
    pub fn volume(&self, name: &str) -> Option<&Volume> {
        self.volumes.iter().find(|v| v.name == name)
    }

    /// The volume mounted at `path` or at a folder above it in container `c`, and the mount.
    pub fn volume_at<'a>(
        &'a self,
        c: &'a Container,
        path: &str,
    ) -> Option<(&'a Mount, &'a Volume)> {
        c.mounts
            .iter()
            .filter(|m| {
                let p = m.path.trim_end_matches('/');
                path == p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/'))
            })
            .max_by_key(|m| m.path.len())
            .and_then(|m| self.volume(&m.name).map(|v| (m, v)))
    }

    /// Memory-backed shared memory at `/dev/shm` for container `c`: a `medium: Memory`
    /// `emptyDir` mounted there, the host's `/dev/shm`, or the host's IPC namespace.
    pub fn shm(&self, c: &Container) -> bool {
        self.host_ipc.is_some()
            || c.mounts.iter().any(|m| {
                m.path.trim_end_matches('/') == "/dev/shm"
                    && self.volume(&m.name).is_some_and(|v| {
                        matches!(v.backing, Backing::EmptyDir { memory: true, .. })
                            || v.backing == Backing::HostPath("/dev/shm".into())
                    })
            })
    }
}

/// The operator that runs a custom resource, where it adds to the pods it creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// Plain Kubernetes, or an operator that adds nothing the rules judge.
    None,
    /// KubeRay mounts a memory-backed `/dev/shm` and adds liveness and readiness probes to
    /// every Ray container.
    KubeRay,
    /// KServe: Knative adds a readiness probe to serverless predictors, and a runtime supplies
    /// the container of a model-format predictor.
    KServe,
    /// Knative Serving adds a readiness probe on the container's port.
    Knative,
    /// The Kubeflow training operator (v1 jobs, v2 TrainJob).
    Kubeflow,
}

/// What kind of workload an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Serving,
    Training,
    Batch,
    /// Long-running pods of any use (core kinds): each container's own command decides.
    Service,
    /// A general compute cluster (a RayCluster): nothing is decided by the kind.
    Compute,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: String,
    pub name: String,
    pub line: u64,
    /// The document (of the file) the workload was read from.
    pub doc: usize,
    /// The kind is one this area knows; otherwise its pod templates were found by shape.
    pub recognised: bool,
    pub class: Class,
    pub operator: Operator,
    pub pods: Vec<Pod>,
    /// What restarts the job after a failed pod (`backoffLimit`, `runPolicy`,
    /// `elasticPolicy`, `failurePolicy.maxRestarts`), and its line.
    pub restarts: Option<Value>,
    /// What a RayService's serve config or a RayJob's runtime env fetches at start.
    pub ray: Option<crate::ray::RayStart>,
}

impl Workload {
    /// `Kind/name`, as findings name it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// The pods of all its templates, where every template says how many.
    pub fn pod_count(&self) -> Option<u64> {
        self.pods
            .iter()
            .try_fold(0u64, |n, p| p.replicas.map(|r| n.saturating_add(r)))
    }

    /// A job that runs to completion: its helpers must exit with it.
    pub fn completes(&self) -> bool {
        matches!(self.class, Class::Training | Class::Batch)
    }
}

/// What the rules know of a document: where it is and what it says.
#[derive(Debug, Clone)]
pub struct Doc {
    pub node: Node,
    pub kind: Option<String>,
    pub api_version: Option<Value>,
    pub name: Option<Value>,
}

impl Doc {
    /// `Kind/name`, as findings name it.
    pub fn id(&self) -> String {
        format!(
            "{}/{}",
            self.kind.as_deref().unwrap_or("?"),
            self.name.as_ref().map_or("", |n| n.text.as_str())
        )
    }
}

fn kv(n: Option<&Node>) -> Vec<(String, Value)> {
    match n {
        Some(Node::Map(pairs, _)) => pairs
            .iter()
            .filter_map(|(k, v)| Value::of(v).map(|v| (k.clone(), v)))
            .collect(),
        _ => Vec::new(),
    }
}

fn privileged(n: &Node) -> Option<(u64, &'static str)> {
    let sc = n.get("securityContext")?;
    if let Some(p) = sc.get("privileged").filter(|p| p.str() == Some("true")) {
        return Some((p.line(), "privileged: true"));
    }
    sc.at("capabilities.add")?
        .seq()
        .iter()
        .find(|c| c.str().is_some_and(|s| s.eq_ignore_ascii_case("SYS_ADMIN")))
        .map(|c| (c.line(), "the SYS_ADMIN capability"))
}

/// A container (or a container-like object: KServe's `model`, Argo's `script`, a TrainJob's
/// `trainer`).
pub fn container(n: &Node, init: bool) -> Container {
    let value = |k: &str| n.get(k).and_then(Value::of);
    let res = n.get("resources").or_else(|| n.get("resourcesPerNode"));
    let mut argv: Vec<String> = Vec::new();
    let mut command_len = 0;
    let mut argv_line = None;
    for k in ["command", "args"] {
        if let Some(v) = n.get(k) {
            argv_line.get_or_insert(v.line());
            match v {
                Node::Seq(items, _) => {
                    argv.extend(items.iter().filter_map(|a| a.str().map(str::to_owned)));
                }
                Node::Scalar(s, _) => argv.push(s.clone()),
                _ => {}
            }
        }
        if k == "command" {
            command_len = argv.len();
        }
    }
    if let Some(src) = n.get("source").and_then(Node::str) {
        argv.push(src.to_owned());
        argv_line.get_or_insert(n.get("source").map_or(n.line(), Node::line));
    }
    Container {
        name: n.get("name").and_then(Node::str).unwrap_or("").to_owned(),
        line: n.line(),
        init,
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
                let name = e.get("name")?;
                Some(Env {
                    name: name.str()?.to_owned(),
                    line: name.line(),
                    value: e.get("value").and_then(Value::of),
                })
            })
            .collect(),
        argv,
        command_len,
        argv_line,
        mounts: n
            .get("volumeMounts")
            .map_or(&[][..], Node::seq)
            .iter()
            .filter_map(|m| {
                Some(Mount {
                    name: m.get("name")?.str()?.to_owned(),
                    path: m.get("mountPath")?.str()?.to_owned(),
                    line: m.line(),
                })
            })
            .collect(),
        privileged: privileged(n),
        storage_uri: n.get("storageUri").and_then(Value::of),
        shorthand: false,
        role: Role::Other,
        why: String::new(),
        weights_from: None,
        working_dir: n.get("workingDir").and_then(Node::str).map(str::to_owned),
    }
}

/// A pod spec (`containers`, `volumes`, …) read as one template of a workload.
pub fn pod(part: &str, spec: &Node, replicas: Option<u64>) -> Pod {
    let mut containers: Vec<Container> = Vec::new();
    for (key, init) in [("initContainers", true), ("containers", false)] {
        containers.extend(
            spec.get(key)
                .map_or(&[][..], Node::seq)
                .iter()
                .filter(|c| c.is_map())
                .map(|c| container(c, init)),
        );
    }
    Pod {
        part: part.to_owned(),
        line: spec.line(),
        replicas,
        containers,
        volumes: spec
            .get("volumes")
            .map_or(&[][..], Node::seq)
            .iter()
            .filter_map(Volume::from)
            .collect(),
        host_ipc: spec
            .get("hostIPC")
            .filter(|h| h.str() == Some("true"))
            .map(Node::line),
        node_selector: kv(spec.get("nodeSelector")),
        restart_policy: spec.get("restartPolicy").and_then(Value::of),
    }
}

/// `a Deployment`, `an InferenceService`.
fn article(kind: &str) -> String {
    let an = kind.starts_with(['A', 'E', 'I', 'O', 'U']);
    format!("{} {kind}", if an { "an" } else { "a" })
}

/// Decides each container's role from what it runs and where it sits.
fn assign_roles(w: &mut Workload) {
    let kind = w.kind.clone();
    for p in &mut w.pods {
        // Volumes an init container downloads weights into: a container that mounts one
        // loads a model.
        // Only the volumes its command or environment names (the download's target), never
        // a ConfigMap or Secret (a token, a CA bundle).
        let fed: Vec<(String, String)> = p
            .containers
            .iter()
            .filter(|c| c.init && c.fetches_model())
            .flat_map(|c| {
                let said = c.command_text();
                let env: Vec<&str> = c
                    .env
                    .iter()
                    .filter_map(|e| e.value.as_ref().map(|v| v.text.as_str()))
                    .collect();
                // A hub download that names no directory writes to the Hugging Face cache.
                let to_cache = (said.contains("huggingface-cli download")
                    || said.contains("hf download"))
                    && !said.contains("--local-dir");
                // `at` as a whole path: after a separator (or first), and ending there or
                // at a `/` (`/models` in `-O /models/m.ckpt`, not in `/data/models` or
                // `/models2`).
                let names = |text: &str, at: &str, anywhere: bool| {
                    text.match_indices(at).any(|(i, _)| {
                        let starts = i == 0
                            || anywhere && text[..i].ends_with([' ', '=', ':', '"', '\'', '\t']);
                        let ends = text[i + at.len()..].chars().next().is_none_or(|ch| {
                            !ch.is_ascii_alphanumeric() && ch != '_' && ch != '-' && ch != '.'
                        });
                        starts && ends
                    })
                };
                c.mounts
                    .iter()
                    .filter(|m| {
                        let at = m.path.trim_end_matches('/').to_ascii_lowercase();
                        !at.is_empty()
                            && (names(&said, &at, true)
                                || env
                                    .iter()
                                    .any(|v| names(&v.to_ascii_lowercase(), &at, false))
                                || to_cache
                                    && (at.contains(".cache/huggingface")
                                        || at.ends_with("/.cache")))
                    })
                    .filter(|m| {
                        p.volume(&m.name)
                            .is_none_or(|v| !matches!(v.backing, Backing::Config))
                    })
                    .map(|m| (m.name.clone(), c.name.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        for c in &mut p.containers {
            c.weights_from = c
                .mounts
                .iter()
                .find_map(|m| fed.iter().find(|(v, _)| *v == m.name))
                .filter(|_| !c.init)
                .map(|(_, by)| by.clone());
            let (role, why) = if let Some(s) = c.server() {
                (Role::Serving, format!("it runs {s}"))
            } else if let Some(l) = c.launcher() {
                (Role::Training, format!("it runs {l}"))
            } else if c.init {
                (Role::Other, "an init container".to_owned())
            } else {
                match w.class {
                    Class::Training => (
                        Role::Training,
                        format!("it is a container of {}", article(&kind)),
                    ),
                    Class::Serving => (
                        Role::Serving,
                        format!(
                            "it is the {} of {}",
                            if p.part.is_empty() {
                                "container"
                            } else {
                                &p.part
                            },
                            article(&kind)
                        ),
                    ),
                    Class::Batch => (Role::Batch, format!("it runs in {}", article(&kind))),
                    Class::Service if c.ports && c.names_a_model() => (
                        Role::Serving,
                        format!("it exposes a port in {} and loads a model", article(&kind)),
                    ),
                    Class::Service if c.ports && c.weights_from.is_some() => (
                        Role::Serving,
                        format!(
                            "it exposes a port in {} and loads the weights init container {} downloads",
                            article(&kind),
                            c.weights_from.as_deref().unwrap_or_default()
                        ),
                    ),
                    Class::Service | Class::Compute => (Role::Other, String::new()),
                }
            };
            c.role = role;
            c.why = why;
        }
    }
}

/// The workloads of one YAML document (a `List` gives those of its items; Services,
/// ConfigMaps and the like give none).
pub fn workloads(doc: &Node) -> Vec<Workload> {
    let mut out = Vec::new();
    collect(doc, 0, &mut out);
    out
}

fn collect(doc: &Node, index: usize, out: &mut Vec<Workload>) {
    let Some(kind) = doc.get("kind").and_then(Node::str) else {
        return;
    };
    if kind.ends_with("List") {
        for item in doc.get("items").map_or(&[][..], Node::seq) {
            collect(item, index, out);
        }
        return;
    }
    let Some(found) = kinds::pods(kind, doc) else {
        return;
    };
    if found.pods.is_empty() {
        return;
    }
    let mut w = Workload {
        kind: kind.to_owned(),
        name: doc
            .at("metadata.name")
            .and_then(Node::str)
            .unwrap_or("")
            .to_owned(),
        line: doc.get("kind").map_or(1, Node::line),
        doc: index,
        recognised: found.recognised,
        class: found.class,
        operator: found.operator,
        pods: found.pods,
        restarts: found.restarts,
        ray: if found.operator == Operator::KubeRay {
            crate::ray::start(doc)
        } else {
            None
        },
    };
    assign_roles(&mut w);
    out.push(w);
}

/// The facts the deploy rules judge: the documents and workloads of one manifest, its lines
/// (for comments), where findings point, and the numbers the manifest is held to.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The path findings carry.
    pub path: String,
    pub docs: Vec<Doc>,
    pub workloads: Vec<Workload>,
    pub lines: Vec<String>,
    pub expect: Expectations,
}

impl Manifest {
    /// Parses every workload of a (multi-document) manifest.
    pub fn parse(path: &str, text: &str, expect: &Expectations) -> Result<Manifest, YamlError> {
        Manifest::from_docs(path, crate::yaml::parse(text)?, text, expect)
    }

    /// The manifest of documents already parsed from `text`.
    pub fn from_docs(
        path: &str,
        nodes: Vec<Node>,
        text: &str,
        expect: &Expectations,
    ) -> Result<Manifest, YamlError> {
        let mut workloads = Vec::new();
        let mut docs = Vec::new();
        for (i, n) in nodes.into_iter().enumerate() {
            if matches!(n, Node::Null(_)) {
                continue;
            }
            if !n.is_map() {
                return Err(YamlError::NotAnObject {
                    line: n.line(),
                    index: i + 1,
                });
            }
            for mut w in workloads_checked(&n)? {
                w.doc = docs.len();
                workloads.push(w);
            }
            docs.push(Doc {
                kind: n.get("kind").and_then(Node::str).map(str::to_owned),
                api_version: n.get("apiVersion").and_then(Value::of),
                name: n.at("metadata.name").and_then(Value::of),
                node: n,
            });
        }
        Ok(Manifest {
            path: path.to_owned(),
            docs,
            workloads,
            lines: text.lines().map(str::to_owned).collect(),
            expect: expect.clone(),
        })
    }

    /// Every container with its workload and pod, in the order of the manifest.
    pub fn containers(&self) -> impl Iterator<Item = (&Workload, &Pod, &Container)> {
        self.workloads.iter().flat_map(|w| {
            w.pods
                .iter()
                .flat_map(move |p| p.containers.iter().map(move |c| (w, p, c)))
        })
    }

    /// Whether line `line` (1-based) or the one above it carries a `#` comment.
    pub fn commented(&self, line: u64) -> bool {
        let at = |l: u64| {
            usize::try_from(l)
                .ok()
                .and_then(|l| l.checked_sub(1))
                .and_then(|i| self.lines.get(i))
                .is_some_and(|s| s.contains(" #") || s.trim_start().starts_with('#'))
        };
        at(line) || at(line.saturating_sub(1))
    }

    /// The storage a PersistentVolumeClaim of this manifest requests.
    pub fn claim_size(&self, claim: &str) -> Option<Value> {
        self.docs
            .iter()
            .find(|d| {
                d.kind.as_deref() == Some("PersistentVolumeClaim")
                    && d.name.as_ref().is_some_and(|n| n.text == claim)
            })
            .and_then(|d| d.node.at("spec.resources.requests.storage"))
            .and_then(Value::of)
    }
}

/// The workloads of a document, with a clear error where a workload's shape is wrong
/// (`spec: 5`, `containers: text`).
fn workloads_checked(doc: &Node) -> Result<Vec<Workload>, YamlError> {
    let kind = doc.get("kind").and_then(Node::str).unwrap_or("");
    if let Some(spec) = doc.get("spec")
        && !spec.is_map()
        && !matches!(spec, Node::Null(_))
        && kinds::known(kind)
    {
        return Err(YamlError::Shape {
            line: spec.line(),
            what: format!("{kind}: spec must be a mapping"),
        });
    }
    if let Some(line) = misshapen_containers(doc) {
        return Err(YamlError::Shape {
            line,
            what: format!("{kind}: containers must be a list of mappings"),
        });
    }
    let out = workloads(doc);
    Ok(out)
}

/// The line of a `containers:` (or `initContainers:`) that is not a list of mappings.
fn misshapen_containers(n: &Node) -> Option<u64> {
    match n {
        Node::Map(pairs, _) => pairs.iter().find_map(|(k, v)| {
            let bad = (k == "containers" || k == "initContainers")
                && match v {
                    Node::Seq(items, _) => items.iter().any(|i| !i.is_map()),
                    Node::Null(_) => false,
                    _ => true,
                };
            if bad {
                Some(v.line())
            } else {
                misshapen_containers(v)
            }
        }),
        Node::Seq(items, _) => items.iter().find_map(misshapen_containers),
        _ => None,
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

    #[test]
    fn training_entry_points() {
        for w in [
            "train.py",
            "/app/train_gpt2.py",
            "finetune.sh",
            "pretrain_gpt.py",
            "trainer.task",
            "maxtext.train",
            "train",
            "run_sft.py",
        ] {
            assert!(is_train_entry(w), "{w}");
        }
        for w in [
            "pretrained",
            "--pretrained",
            "serve.py",
            "constrain.py",
            "trainer",
            "main.py",
            "train-data",
            "/data/train",
        ] {
            assert!(!is_train_entry(w), "{w}");
        }
    }
}
