//! `deploy serve`: the manifests that run `everybyte serve` on a cluster, sized from what was
//! measured instead of guessed.
//!
//! Two targets. `kubernetes`: a Deployment, a Service (REST and gRPC), a PodDisruptionBudget
//! and a HorizontalPodAutoscaler. `kserve`: a `ServingRuntime` that runs `everybyte serve`
//! on the model repository KServe's storage initializer puts at `/mnt/models` (REST on 8080
//! and gRPC on 9000, the ports named `http1` and `h2c` as KServe and Knative expect), and one
//! `InferenceService` per model, each serving its own model of the shared repository
//! (`--load-model {{.Name}}`) as a raw Deployment scaled by an HPA.
//!
//! The numbers: memory request and limit at the measured peak × headroom (the same figures
//! `deploy lint` holds manifests to), CPU from each model's measured execution plan (threads
//! × concurrent runs), a startup probe that waits 1.5 × the measured cold start, readiness on
//! `/v2/health/ready`, liveness on `/v2/health/live` with a timeout above the measured p99,
//! a memory-backed `/dev/shm` when a GPU is used, a termination grace period longer than the
//! server's drain, and Prometheus scrape annotations. Each number that had no measurement is
//! an assumption, said as such in the notes and in the manifest's header.

use std::fmt::Write as _;

use everybyte_core::bytesize::Bytes;

use crate::Error;

/// Which cluster software runs the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Kubernetes,
    Kserve,
}

/// A model of the repository, as the server found it.
#[derive(Clone, Debug)]
pub struct Model {
    pub name: String,
    /// The size of its `model.onnx`.
    pub bytes: u64,
    /// Its measured execution plan, from the server's `model_loaded` (or `model_replanned`)
    /// log line.
    pub plan: Option<Plan>,
}

/// A model's execution plan as the server measured it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Intra-op threads of one run.
    pub threads: u32,
    /// Runs at once.
    pub runs: u32,
    /// The cores the server had when it measured the plan.
    pub cores: u32,
}

/// What to write.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The Deployment's or ServingRuntime's name.
    pub name: String,
    /// The image, pinned by digest, holding `everybyte` on its PATH.
    pub image: String,
    pub models: Vec<Model>,
    pub target: Target,
    /// Models run on a GPU (`everybyte serve --device cuda`).
    pub gpu: bool,
    pub drain_seconds: u64,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// KServe: where the storage initializer downloads the repository from.
    pub storage_uri: Option<String>,
    /// Kubernetes: where the image (or the claim) holds the repository.
    pub models_path: String,
    /// Kubernetes: a PersistentVolumeClaim holding the repository, mounted read-only.
    pub models_claim: Option<String>,
}

/// What was measured, and where.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Peak memory of the server's process tree and its source.
    pub peak: Option<(u64, String)>,
    /// Seconds from start until `/v2/health/ready` answered.
    pub cold_start: Option<f64>,
    /// The most cores the server used in any second of the profile.
    pub busiest_cores: Option<f64>,
    /// One inference at p99, seconds, and its source.
    pub p99: Option<(f64, String)>,
    pub headroom: f64,
}

/// The numbers the manifests carry, and how each was chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct Sizing {
    /// Memory request and limit, bytes (a MiB multiple), shared memory included.
    pub memory: u64,
    /// CPU request, cores (also the limit on a GPU, for the Guaranteed class).
    pub cpu: u32,
    /// The memory-backed `/dev/shm` of a GPU server, bytes.
    pub shm: Option<u64>,
    /// Startup probe: every `STARTUP_PERIOD` seconds, this many times.
    pub startup_failures: u32,
    /// Readiness and liveness `timeoutSeconds`.
    pub probe_timeout: u32,
    pub grace_seconds: u64,
    /// One line per number: the figure and where it came from, or that it was assumed.
    pub notes: Vec<String>,
}

/// Seconds between startup probes.
pub const STARTUP_PERIOD: u32 = 5;
/// The server's ports inside the pod: REST (and `/metrics`), gRPC.
pub const HTTP_PORT: u16 = 8080;
pub const GRPC_PORT: u16 = 9000;
const MIB: u64 = 1 << 20;
/// Memory of the server and ONNX Runtime beside the models, when nothing was measured.
const RUNTIME_BYTES: u64 = 256 * MIB;
const SHM_BYTES: u64 = 512 * MIB;
/// Assumed when nothing was measured.
const ASSUMED_COLD_START: f64 = 120.0;
const ASSUMED_P99: f64 = 2.0;

/// Checks what cannot be written into a manifest that the API server (and `deploy lint`)
/// accepts.
pub fn validate(spec: &Spec) -> Result<(), Error> {
    let bad = |what: &str, why: String| Error::ServeManifest {
        what: what.to_owned(),
        why,
    };
    if !spec.image.contains("@sha256:") {
        return Err(bad(
            "--image",
            format!(
                "{} is not pinned by digest: a tag can be re-pushed under the running pods (docker buildx imagetools inspect {} prints the digest; give IMAGE@sha256:…)",
                spec.image, spec.image
            ),
        ));
    }
    if !dns_label(&spec.name) {
        return Err(bad(
            "--name",
            format!(
                "{:?} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63)",
                spec.name
            ),
        ));
    }
    if spec.models.is_empty() {
        return Err(bad("the repository", "it holds no model".to_owned()));
    }
    if spec.target == Target::Kserve {
        if spec.storage_uri.as_deref().is_none_or(str::is_empty) {
            return Err(bad(
                "--storage-uri",
                "KServe downloads the repository from it (s3://…, gs://…, pvc://…); it is required for --target kserve".to_owned(),
            ));
        }
        if let Some(m) = spec.models.iter().find(|m| !isvc_name(&m.name)) {
            return Err(bad(
                "the repository",
                format!(
                    "model {:?} cannot name an InferenceService (a lowercase letter first, then lowercase letters, digits and '-', at most 53: KServe adds -predictor); rename its folder",
                    m.name
                ),
            ));
        }
    }
    if let Some(c) = &spec.models_claim
        && !c.split('.').all(dns_label)
    {
        return Err(bad(
            "--models-claim",
            format!("{c:?} is not a claim name (a DNS-1123 subdomain)"),
        ));
    }
    if spec.min_replicas == 0 || spec.max_replicas < spec.min_replicas {
        return Err(bad(
            "--replicas/--max-replicas",
            format!(
                "{}..{} is not a range of at least one replica",
                spec.min_replicas, spec.max_replicas
            ),
        ));
    }
    Ok(())
}

/// A name KServe accepts for an InferenceService: `[a-z]([-a-z0-9]*[a-z0-9])?`, short enough
/// for the `NAME-predictor` Service it creates.
fn isvc_name(s: &str) -> bool {
    dns_label(s) && s.len() <= 53 && s.starts_with(|c: char| c.is_ascii_lowercase())
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn round_up_mib(b: f64) -> u64 {
    ((b / MIB as f64).ceil() as u64).max(1) * MIB
}

/// Memory request and limit: the measured peak × headroom (or a guess from the model files,
/// said as such), plus a GPU server's shared memory.
fn memory(spec: &Spec, models: &[&Model], m: &Measured, notes: &mut Vec<String>) -> u64 {
    let shm = spec.gpu.then_some(SHM_BYTES);
    let base = if let Some((peak, from)) = &m.peak {
        let limit = round_up_mib(*peak as f64 * m.headroom);
        notes.push(format!(
            "memory {} = peak {} measured by {from} × headroom {}",
            Bytes(limit),
            Bytes(*peak),
            m.headroom
        ));
        if spec.target == Target::Kserve && spec.models.len() > 1 {
            notes.push(format!(
                "  the profile ran all {} models in one server; each InferenceService loads one, so it needs less (profile `everybyte serve --load-model NAME` for each to tighten it)",
                spec.models.len()
            ));
        }
        limit
    } else {
        let weights: u64 = models.iter().map(|x| x.bytes).sum();
        let guess = round_up_mib((2 * weights + RUNTIME_BYTES) as f64 * m.headroom);
        notes.push(format!(
            "memory {} ASSUMED: no profile, so 2 × the {} of model files (weights and ONNX Runtime's arena) + {} for the server, × headroom {}; measure it: everybyte profile --ready-url http://127.0.0.1:8000/v2/health/ready -o profile.json -- everybyte serve REPO",
            Bytes(guess),
            Bytes(weights),
            Bytes(RUNTIME_BYTES),
            m.headroom
        ));
        guess
    };
    let memory = base + shm.unwrap_or(0);
    if let Some(s) = shm {
        notes.push(format!(
            "/dev/shm {} (memory-backed, counted in the memory limit): a GPU server's CUDA IPC and loaders need more than the 64 MiB default",
            Bytes(s)
        ));
    }
    memory
}

/// CPU request: what each model's measured plan runs at once (at most the cores the plans
/// were measured on), else the busiest second of the profile; at least two cores on a GPU.
fn cpu(spec: &Spec, models: &[&Model], m: &Measured, notes: &mut Vec<String>) -> u32 {
    let plans: Vec<Plan> = models.iter().filter_map(|x| x.plan).collect();
    let mut cpu = if plans.len() == models.len() && !plans.is_empty() {
        let sum: u32 = plans.iter().map(|p| p.threads * p.runs).sum();
        // Each plan was chosen on the profiling machine's cores; together they cannot use more.
        let had = plans.iter().map(|p| p.cores).max().unwrap_or(sum).max(1);
        let c = sum.clamp(1, had);
        notes.push(format!(
            "cpu {c} = the measured plans' threads × concurrent runs ({}){}",
            models
                .iter()
                .filter_map(|x| x
                    .plan
                    .map(|p| format!("{} {}×{}", x.name, p.threads, p.runs)))
                .collect::<Vec<_>>()
                .join(", "),
            if sum > had {
                format!(", capped at the {had} cores they were measured on")
            } else {
                String::new()
            }
        ));
        c
    } else if let Some(c) = m.busiest_cores {
        let c = (c.ceil() as u32).max(1);
        notes.push(format!(
            "cpu {c} = the most cores the profiled server's process tree used in one second (no plan given: --serve-log names each model's threads × runs)"
        ));
        c
    } else {
        notes.push("cpu 1 ASSUMED: no plan and no profile (give --serve-log with the server's log and --profile)".to_owned());
        1
    };
    if spec.gpu && cpu < 2 {
        // A GPU server's CPU limit equals its request; a limit of one core throttles the
        // thread that feeds the GPU (K8S010).
        cpu = 2;
        notes.push("cpu raised to 2: a GPU server's CPU limit equals its request, and a limit of one core throttles the thread that feeds the GPU".to_owned());
    }
    cpu
}

/// The numbers for the pods that serve `models` (all of them in one Deployment; one each in
/// KServe), from the measurements.
pub fn size(spec: &Spec, models: &[&Model], m: &Measured) -> Sizing {
    let mut notes = Vec::new();
    let shm = spec.gpu.then_some(SHM_BYTES);
    let memory = memory(spec, models, m, &mut notes);
    let cpu = cpu(spec, models, m, &mut notes);
    let cold = m.cold_start.unwrap_or(ASSUMED_COLD_START);
    let startup_failures = ((1.5 * cold / f64::from(STARTUP_PERIOD)).ceil() as u32).max(3) + 1;
    if m.cold_start.is_some() {
        notes.push(format!(
            "startup probe {} s (every {STARTUP_PERIOD} s, {startup_failures} times) = 1.5 × the measured cold start {cold:.1} s",
            startup_failures * STARTUP_PERIOD
        ));
    } else {
        notes.push(format!(
            "startup probe {} s ASSUMED: no cold start measured (profile with --ready-url), so 1.5 × {ASSUMED_COLD_START:.0} s",
            startup_failures * STARTUP_PERIOD
        ));
    }
    let p99 = m.p99.as_ref().map_or(ASSUMED_P99, |(s, _)| *s);
    // Strictly above 2 × p99, whole seconds.
    let probe_timeout = ((2.0 * p99).floor() as u32 + 1).max(2);
    match &m.p99 {
        Some((s, from)) => notes.push(format!(
            "probe timeout {probe_timeout} s: above 2 × the p99 of {:.0} ms measured by {from}",
            s * 1000.0
        )),
        None => notes.push(format!(
            "probe timeout {probe_timeout} s ASSUMED: no benchmark (--bench), so 2 × an assumed p99 of {ASSUMED_P99:.0} s"
        )),
    }
    let grace_seconds = spec.drain_seconds + 10;
    notes.push(format!(
        "terminationGracePeriodSeconds {grace_seconds}: the server's {} s drain + 10 s",
        spec.drain_seconds
    ));
    Sizing {
        memory,
        cpu,
        shm,
        startup_failures,
        probe_timeout,
        grace_seconds,
        notes,
    }
}

fn mi(b: u64) -> String {
    format!("{}Mi", b.div_ceil(MIB))
}

/// YAML's double-quoted scalar.
fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The container every target runs, indented by `pad`.
fn container(spec: &Spec, s: &Sizing, args: &[String], pad: &str) -> String {
    let mut y = String::new();
    let w = &mut y;
    let _ = writeln!(w, "{pad}image: {}", q(&spec.image));
    let _ = writeln!(w, "{pad}imagePullPolicy: IfNotPresent");
    let _ = writeln!(w, "{pad}command: [\"everybyte\"]");
    let _ = writeln!(w, "{pad}args:");
    for a in args {
        let _ = writeln!(w, "{pad}  - {}", q(a));
    }
    let _ = writeln!(w, "{pad}ports:");
    let _ = writeln!(
        w,
        "{pad}  - {{name: http1, containerPort: {HTTP_PORT}, protocol: TCP}}"
    );
    let _ = writeln!(
        w,
        "{pad}  - {{name: h2c, containerPort: {GRPC_PORT}, protocol: TCP}}"
    );
    let _ = writeln!(w, "{pad}resources:");
    let gpu = if spec.gpu { ", nvidia.com/gpu: 1" } else { "" };
    let _ = writeln!(
        w,
        "{pad}  requests: {{cpu: \"{}\", memory: {}{gpu}}}",
        s.cpu,
        mi(s.memory)
    );
    if spec.gpu {
        let _ = writeln!(
            w,
            "{pad}  limits: {{cpu: \"{}\", memory: {}{gpu}}}",
            s.cpu,
            mi(s.memory)
        );
    } else {
        // No CPU limit: CFS quotas throttle a server's bursts (K8S010).
        let _ = writeln!(w, "{pad}  limits: {{memory: {}}}", mi(s.memory));
    }
    let probe = |w: &mut String,
                 kind: &str,
                 path: &str,
                 period: u32,
                 failures: u32,
                 timeout: u32| {
        let _ = writeln!(w, "{pad}{kind}:");
        let _ = writeln!(w, "{pad}  httpGet: {{path: {path}, port: {HTTP_PORT}}}");
        let _ = writeln!(
            w,
            "{pad}  periodSeconds: {period}\n{pad}  timeoutSeconds: {timeout}\n{pad}  failureThreshold: {failures}"
        );
    };
    probe(
        w,
        "startupProbe",
        "/v2/health/ready",
        STARTUP_PERIOD,
        s.startup_failures,
        s.probe_timeout,
    );
    probe(
        w,
        "readinessProbe",
        "/v2/health/ready",
        5,
        3,
        s.probe_timeout,
    );
    probe(
        w,
        "livenessProbe",
        "/v2/health/live",
        10,
        3,
        s.probe_timeout,
    );
    y
}

/// `everybyte serve` as the pod runs it.
fn serve_args(spec: &Spec, repository: &str, only: Option<&str>) -> Vec<String> {
    let mut a: Vec<String> = vec!["serve".into(), repository.into()];
    if let Some(m) = only {
        a.extend(["--load-model".into(), m.into()]);
    }
    a.extend([
        "--http".into(),
        format!("0.0.0.0:{HTTP_PORT}"),
        "--grpc".into(),
        format!("0.0.0.0:{GRPC_PORT}"),
        "--drain-seconds".into(),
        spec.drain_seconds.to_string(),
    ]);
    if spec.gpu {
        a.extend(["--device".into(), "cuda".into()]);
    }
    a
}

fn header(out: &mut String, spec: &Spec, notes: &[String]) {
    let _ = writeln!(
        out,
        "# everybyte serve on {}: written by everybyte deploy serve from these numbers:",
        match spec.target {
            Target::Kubernetes => "Kubernetes",
            Target::Kserve => "KServe",
        }
    );
    for n in notes {
        // A comment line each: a path or name with a line break cannot end it.
        let n: String = n
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let _ = writeln!(out, "#   {n}");
    }
}

fn shm_volume(out: &mut String, s: &Sizing, pad: &str) {
    if let Some(b) = s.shm {
        let _ = writeln!(
            out,
            "{pad}- name: dshm\n{pad}  emptyDir: {{medium: Memory, sizeLimit: {}}}",
            mi(b)
        );
    }
}

/// The manifests, as one multi-document YAML file, and the notes on how each number was
/// chosen.
pub fn render(spec: &Spec, m: &Measured) -> Result<(String, Vec<String>), Error> {
    validate(spec)?;
    match spec.target {
        Target::Kubernetes => Ok(kubernetes(spec, m)),
        Target::Kserve => Ok(kserve(spec, m)),
    }
}

fn kubernetes(spec: &Spec, m: &Measured) -> (String, Vec<String>) {
    let all: Vec<&Model> = spec.models.iter().collect();
    let s = size(spec, &all, m);
    let name = &spec.name;
    // The measured plan, pinned: without it the server plans again for all of the node's
    // cores, which the pod did not request. One plan for every model goes on the command
    // line; different plans belong in each model's everybyte.toml.
    let mut args = serve_args(spec, &spec.models_path, None);
    let mut notes = s.notes.clone();
    let plans: Vec<Plan> = spec.models.iter().filter_map(|x| x.plan).collect();
    if let Some(first) = plans.first()
        && plans.len() == spec.models.len()
    {
        if plans
            .iter()
            .all(|p| (p.threads, p.runs) == (first.threads, first.runs))
        {
            args.extend([
                "--threads".into(),
                first.threads.to_string(),
                "--runs".into(),
                first.runs.to_string(),
            ]);
        } else {
            notes.push(format!(
                "the models' plans differ: pin each in its everybyte.toml in the image ({}), or the server measures them again on the node's cores",
                spec.models
                    .iter()
                    .filter_map(|x| x.plan.map(|p| format!("{}: threads = {}, runs = {}", x.name, p.threads, p.runs)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }
    let mut y = String::new();
    header(&mut y, spec, &notes);
    let labels = format!(
        "{{app.kubernetes.io/name: {name}, app.kubernetes.io/component: inference-server}}"
    );
    let _ = write!(
        y,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels: {labels}\nspec:\n  selector:\n    matchLabels: {{app.kubernetes.io/name: {name}}}\n  strategy:\n    type: RollingUpdate\n    rollingUpdate: {{maxUnavailable: 0, maxSurge: 1}}\n  template:\n    metadata:\n      labels: {labels}\n      annotations:\n        prometheus.io/scrape: \"true\"\n        prometheus.io/port: \"{HTTP_PORT}\"\n        prometheus.io/path: /metrics\n    spec:\n      terminationGracePeriodSeconds: {}\n      containers:\n        - name: server\n",
        s.grace_seconds
    );
    y.push_str(&container(spec, &s, &args, "          "));
    let mut mounts = Vec::new();
    if spec.models_claim.is_some() {
        mounts.push(format!(
            "{{name: models, mountPath: {}, readOnly: true}}",
            q(&spec.models_path)
        ));
    }
    if s.shm.is_some() {
        mounts.push("{name: dshm, mountPath: /dev/shm}".to_owned());
    }
    if !mounts.is_empty() {
        let _ = writeln!(y, "          volumeMounts:");
        for mnt in &mounts {
            let _ = writeln!(y, "            - {mnt}");
        }
        let _ = writeln!(y, "      volumes:");
        if let Some(c) = &spec.models_claim {
            let _ = writeln!(
                y,
                "        - name: models\n          persistentVolumeClaim: {{claimName: {}, readOnly: true}}",
                q(c)
            );
        }
        shm_volume(&mut y, &s, "        ");
    }
    let _ = write!(
        y,
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  labels: {labels}\nspec:\n  selector: {{app.kubernetes.io/name: {name}}}\n  ports:\n    - {{name: http, port: {HTTP_PORT}, targetPort: http1, protocol: TCP}}\n    - {{name: grpc, port: {GRPC_PORT}, targetPort: h2c, protocol: TCP, appProtocol: kubernetes.io/h2c}}\n"
    );
    // Voluntary evictions (node drains) keep at least one pod serving when there are two;
    // a single replica may move, or no drain could ever finish.
    let budget = if spec.min_replicas >= 2 {
        "minAvailable: 1"
    } else {
        "maxUnavailable: 1"
    };
    let _ = write!(
        y,
        "---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: {name}\nspec:\n  {budget}\n  selector:\n    matchLabels: {{app.kubernetes.io/name: {name}}}\n"
    );
    let _ = write!(
        y,
        "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {name}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}\n  minReplicas: {}\n  maxReplicas: {}\n  metrics:\n    - type: Resource\n      resource:\n        name: cpu\n        target: {{type: Utilization, averageUtilization: 70}}\n  behavior:\n    scaleUp:\n      stabilizationWindowSeconds: 0\n    scaleDown:\n      stabilizationWindowSeconds: 300\n",
        spec.min_replicas, spec.max_replicas
    );
    (y, notes)
}

fn kserve(spec: &Spec, m: &Measured) -> (String, Vec<String>) {
    // Each InferenceService runs one model; the runtime's resources fit the largest, and
    // each InferenceService states its own.
    let sizes: Vec<(&Model, Sizing)> = spec
        .models
        .iter()
        .map(|x| (x, size(spec, &[x], m)))
        .collect();
    let largest = sizes
        .iter()
        .max_by_key(|(_, s)| (s.memory, s.cpu))
        .map_or_else(|| size(spec, &[], m), |(_, s)| s.clone());
    let name = &spec.name;
    let mut y = String::new();
    header(&mut y, spec, &largest.notes);
    let _ = write!(
        y,
        "apiVersion: serving.kserve.io/v1alpha1\nkind: ServingRuntime\nmetadata:\n  name: {name}\nspec:\n  annotations:\n    prometheus.io/scrape: \"true\"\n    prometheus.io/port: \"{HTTP_PORT}\"\n    prometheus.io/path: /metrics\n  supportedModelFormats:\n    - {{name: onnx, version: \"1\", autoSelect: false}}\n  protocolVersions: [v2, grpc-v2]\n  containers:\n    - name: kserve-container\n"
    );
    y.push_str(&container(
        spec,
        &largest,
        &serve_args(spec, "/mnt/models", Some("{{.Name}}")),
        "      ",
    ));
    if largest.shm.is_some() {
        let _ = writeln!(
            y,
            "      volumeMounts:\n        - {{name: dshm, mountPath: /dev/shm}}\n  volumes:"
        );
        shm_volume(&mut y, &largest, "    ");
    }
    let storage = spec.storage_uri.as_deref().unwrap_or_default();
    for (model, s) in &sizes {
        let gpu = if spec.gpu { ", nvidia.com/gpu: 1" } else { "" };
        let limits = if spec.gpu {
            format!("{{cpu: \"{}\", memory: {}{gpu}}}", s.cpu, mi(s.memory))
        } else {
            format!("{{memory: {}}}", mi(s.memory))
        };
        let _ = write!(
            y,
            "---\napiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: {m}\n  annotations:\n    serving.kserve.io/deploymentMode: Standard\n    serving.kserve.io/autoscalerClass: hpa\nspec:\n  predictor:\n    minReplicas: {}\n    maxReplicas: {}\n    scaleMetric: cpu\n    scaleTarget: 70\n    terminationGracePeriodSeconds: {}\n    model:\n      modelFormat: {{name: onnx, version: \"1\"}}\n      protocolVersion: v2\n      runtime: {name}\n      storageUri: {}\n{args}      resources:\n        requests: {{cpu: \"{}\", memory: {}{gpu}}}\n        limits: {limits}\n",
            spec.min_replicas,
            spec.max_replicas,
            s.grace_seconds,
            q(storage),
            s.cpu,
            mi(s.memory),
            m = model.name,
            // The model's measured plan, appended to the runtime's arguments by KServe.
            args = model.plan.map_or_else(String::new, |p| format!(
                "      args: [\"--threads\", \"{}\", \"--runs\", \"{}\"]\n",
                p.threads, p.runs
            )),
        );
    }
    let mut notes = largest.notes;
    notes.push(format!(
        "storageUri {storage}: the repository (NAME/VERSION/model.onnx), downloaded whole by each InferenceService, which serves only its own model"
    ));
    (y, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(target: Target, gpu: bool) -> Spec {
        Spec {
            name: "encoder".into(),
            image: "registry.example.com/serve@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
            models: vec![
                Model {
                    name: "minilm".into(),
                    bytes: 90 * MIB,
                    plan: Some(Plan {
                        threads: 2,
                        runs: 1,
                        cores: 8,
                    }),
                },
                Model {
                    name: "silero".into(),
                    bytes: 2 * MIB,
                    plan: Some(Plan {
                        threads: 1,
                        runs: 2,
                        cores: 8,
                    }),
                },
            ],
            target,
            gpu,
            drain_seconds: 30,
            min_replicas: 2,
            max_replicas: 6,
            storage_uri: Some("s3://models/repo".into()),
            models_path: "/models".into(),
            models_claim: None,
        }
    }

    fn measured() -> Measured {
        Measured {
            peak: Some((1000 * MIB, "profile.json".into())),
            cold_start: Some(9.0),
            busiest_cores: Some(3.2),
            p99: Some((0.35, "bench.json".into())),
            headroom: 1.2,
        }
    }

    #[test]
    fn numbers_come_from_the_measurements() {
        let sp = spec(Target::Kubernetes, false);
        let all: Vec<&Model> = sp.models.iter().collect();
        let s = size(&sp, &all, &measured());
        assert_eq!(s.memory, 1200 * MIB);
        assert_eq!(s.cpu, 4, "2×1 + 1×2");
        assert_eq!(
            s.startup_failures, 4,
            "1.5 × 9 s = 13.5 s: 3 periods of 5 s, + 1"
        );
        assert!(s.startup_failures * STARTUP_PERIOD >= 14);
        assert_eq!(s.probe_timeout, 2, "above 2 × 350 ms");
        // Strictly above 2 × p99 when that is whole seconds; the plans capped at the cores they
        // were measured on.
        let mut whole = measured();
        whole.p99 = Some((1.5, "bench.json".into()));
        assert_eq!(size(&sp, &all, &whole).probe_timeout, 4);
        let mut small = sp.clone();
        small.models.iter_mut().for_each(|x| {
            x.plan = Some(Plan {
                threads: 2,
                runs: 1,
                cores: 2,
            });
        });
        let both: Vec<&Model> = small.models.iter().collect();
        assert_eq!(size(&small, &both, &measured()).cpu, 2);
        assert_eq!(s.grace_seconds, 40);
        assert!(
            s.notes.iter().all(|n| !n.contains("ASSUMED")),
            "{:?}",
            s.notes
        );
        // Without measurements: assumptions, said as such.
        let none = Measured {
            headroom: 1.2,
            ..Measured::default()
        };
        let mut bare = sp.clone();
        bare.models.iter_mut().for_each(|x| x.plan = None);
        let all: Vec<&Model> = bare.models.iter().collect();
        let s = size(&bare, &all, &none);
        assert_eq!(s.memory, round_up_mib(((2 * 92 + 256) * MIB) as f64 * 1.2));
        assert_eq!(s.cpu, 1);
        assert_eq!(
            s.notes.iter().filter(|n| n.contains("ASSUMED")).count(),
            4,
            "{:?}",
            s.notes
        );
        // On a GPU: shared memory counted in the limit, at least two cores.
        let g = spec(Target::Kubernetes, true);
        let one = [&g.models[1]];
        let s = size(&g, &one, &measured());
        assert_eq!(s.shm, Some(SHM_BYTES));
        assert_eq!(s.memory, 1200 * MIB + SHM_BYTES);
        assert_eq!(s.cpu, 2);
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        let mut s = spec(Target::Kserve, false);
        s.image = "serve:latest".into();
        assert!(
            validate(&s)
                .unwrap_err()
                .to_string()
                .contains("not pinned by digest")
        );
        let mut s = spec(Target::Kserve, false);
        s.storage_uri = None;
        assert!(
            validate(&s)
                .unwrap_err()
                .to_string()
                .contains("--storage-uri")
        );
        let mut s = spec(Target::Kserve, false);
        s.models[0].name = "MiniLM_v2".into();
        assert!(validate(&s).unwrap_err().to_string().contains("MiniLM_v2"));
        let mut s = spec(Target::Kserve, false);
        s.models[0].name = "1st-model".into();
        assert!(
            validate(&s).is_err(),
            "an InferenceService name starts with a letter"
        );
        let mut s = spec(Target::Kubernetes, false);
        s.max_replicas = 1;
        assert!(validate(&s).is_err());
        let mut s = spec(Target::Kubernetes, false);
        s.models_claim = Some("Models Cache".into());
        assert!(validate(&s).unwrap_err().to_string().contains("claim"));
        // A line break in a name cannot end the header's comment.
        let mut s = spec(Target::Kubernetes, false);
        s.models[0].name = "a\nkind: Secret".into();
        let (text, _) = render(&s, &measured()).unwrap();
        assert!(!text.contains("\nkind: Secret"), "{text}");
    }

    #[test]
    fn both_targets_are_valid_yaml_with_the_numbers() {
        for target in [Target::Kubernetes, Target::Kserve] {
            for gpu in [false, true] {
                let (text, _) = render(&spec(target, gpu), &measured()).unwrap();
                let docs = crate::yaml::parse(&text).unwrap();
                let kinds: Vec<&str> = docs
                    .iter()
                    .filter_map(|d| d.get("kind").and_then(crate::yaml::Node::str))
                    .collect();
                match target {
                    Target::Kubernetes => assert_eq!(
                        kinds,
                        [
                            "Deployment",
                            "Service",
                            "PodDisruptionBudget",
                            "HorizontalPodAutoscaler"
                        ]
                    ),
                    Target::Kserve => assert_eq!(
                        kinds,
                        ["ServingRuntime", "InferenceService", "InferenceService"]
                    ),
                }
                for d in &docs {
                    let api = d
                        .get("apiVersion")
                        .and_then(crate::yaml::Node::str)
                        .unwrap();
                    let kind = d.get("kind").and_then(crate::yaml::Node::str).unwrap();
                    let problems = crate::schema::check(api, kind, d);
                    assert!(
                        problems.is_empty(),
                        "{target:?} {kind}: {problems:?}\n{text}"
                    );
                }
                let memory = if gpu {
                    "memory: 1712Mi"
                } else {
                    "memory: 1200Mi"
                };
                assert!(text.contains(memory), "{memory}: {text}");
                assert!(
                    text.contains("path: /v2/health/live") && text.contains("timeoutSeconds: 2")
                );
                assert_eq!(text.contains("/dev/shm"), gpu, "{text}");
                // The measured plans go with the pods: per InferenceService on KServe; on
                // Kubernetes, two different plans are left to each model's file, said so.
                match target {
                    Target::Kserve => {
                        assert!(text.contains(r#"args: ["--threads", "2", "--runs", "1"]"#));
                        assert!(text.contains(r#"args: ["--threads", "1", "--runs", "2"]"#));
                        assert!(text.contains("autoSelect: false"));
                    }
                    Target::Kubernetes => {
                        assert!(!text.contains("\"--threads\""));
                        assert!(text.contains("the models' plans differ"));
                        assert!(!text.contains("replicas: 2\n  selector"));
                    }
                }
            }
        }
    }
}
