//! The deploy rules: Kubernetes manifests held to the measured numbers of the workload.

use everybyte_core::bytesize::Bytes;
use everybyte_core::{Finding, Location};

use crate::k8s::{Container, Workload, quantity};

/// What the manifests are held to.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Peak memory measured by `everybyte profile` (PSS where available), and its source.
    pub peak_bytes: Option<(u64, String)>,
    /// Cold start measured by `everybyte profile`, seconds.
    pub cold_start: Option<f64>,
    /// Size of the model the containers load, when no profile exists, and where it was read.
    pub model_bytes: Option<(u64, String)>,
    /// Limits must be at least the peak times this (default 1.2).
    pub headroom: f64,
    /// The p99 latency of one inference, seconds, from `everybyte bench --format json`, and
    /// where it was read.
    pub p99_seconds: Option<(f64, String)>,
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container with no memory limit, or a limit below the memory it needs times the
    /// headroom (1.2 by default): the peak `everybyte profile` measured (`--profile FILE`), or
    /// without a profile the size of the model the project holds, times the worker processes
    /// that each load it (`WORKERS`, `--workers`).
    /// ## Why it matters
    /// The kernel kills a container at its limit with SIGKILL: exit code 137, `OOMKilled`, no
    /// Python traceback, and with a liveness probe a restart loop. Without a limit the pod can
    /// take the node's memory and get other pods evicted.
    /// ## Example
    /// ```yaml
    /// resources:
    ///   limits: {nvidia.com/gpu: 1, memory: "16Gi"}   # model 15.5 GiB, 4 workers
    /// ```
    /// ## Fix
    /// Measure (`everybyte profile -o profile.json -- CMD`), then set the limit (and the
    /// request, for Guaranteed QoS) to the peak × 1.2: `everybyte deploy patch --profile
    /// profile.json deployment.yaml` writes it.
    pub static MEMORY_LIMIT = { code: "K8S001", name: "memory-limit", severity: Error, summary: "A memory limit is missing or below the workload's measured or expected peak" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container requesting `nvidia.com/gpu` whose memory or CPU request differs from its
    /// limit, or that sets no CPU at all: the pod's QoS class is `Burstable`, not `Guaranteed`.
    /// ## Why it matters
    /// Under node memory pressure the kubelet evicts Burstable pods first. A GPU pod holds the
    /// most expensive resource on the node; losing it to eviction loses the GPU's work too.
    /// ## Example
    /// ```yaml
    /// limits:   {nvidia.com/gpu: 1, memory: 16Gi}
    /// requests: {nvidia.com/gpu: 1, memory: 8Gi}
    /// ```
    /// ## Fix
    /// Set requests equal to limits for both memory and CPU on every container of the pod.
    pub static GPU_NOT_GUARANTEED = { code: "K8S002", name: "gpu-not-guaranteed", severity: Warning, summary: "A GPU pod is not in the Guaranteed QoS class" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A liveness probe with no startup probe whose failure window (initial delay + period ×
    /// failure threshold) is shorter than the measured cold start — or, without a profile, a
    /// liveness probe with no startup probe on a container that loads a model (a GPU, a model
    /// path in its environment), reporting when it will be killed.
    /// ## Why it matters
    /// The kubelet kills a container whose liveness probe fails. If the model is still loading
    /// when the window closes, the container restarts, loads again, and is killed again:
    /// `CrashLoopBackOff`, each time pulling and loading gigabytes.
    /// ## Example
    /// ```yaml
    /// livenessProbe: {httpGet: {path: /health, port: 8080}, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3}
    /// ```
    /// ## Fix
    /// Add a `startupProbe` whose window covers the measured cold start with margin
    /// (`failureThreshold × periodSeconds ≥ 1.5 × cold start`); liveness only starts after it
    /// succeeds. Point liveness at a cheap endpoint, not the readiness one.
    pub static LIVENESS_BEFORE_READY = { code: "K8S003", name: "liveness-before-ready", severity: Error, summary: "A liveness probe can kill the container before the model has loaded" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A serving container (it exposes ports) of a Deployment, StatefulSet or
    /// InferenceService without a readiness probe.
    /// ## Why it matters
    /// Without readiness the Service sends traffic as soon as the process starts: requests hit
    /// a server that is still loading the model and fail, on every rollout and every restart.
    /// ## Example
    /// ```yaml
    /// ports: [{containerPort: 8080}]
    /// livenessProbe: {httpGet: {path: /v2/health/live, port: 8080}}
    /// ```
    /// ## Fix
    /// `readinessProbe: {httpGet: {path: /v2/health/ready, port: 8080}, periodSeconds: 5}`,
    /// on an endpoint that answers only once the model is loaded and warmed up.
    pub static READINESS_MISSING = { code: "K8S004", name: "readiness-missing", severity: Warning, summary: "A serving container has no readiness probe" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Container images referenced by tag (or by no tag, which means `latest`) instead of by
    /// digest.
    /// ## Why it matters
    /// A tag moves. Two pods of one Deployment, or a pod before and after a node restart, can
    /// run different images; a rollback to "the same" manifest is not the same software.
    /// ## Example
    /// ```yaml
    /// image: registry.example.com/team/server:latest
    /// ```
    /// ## Fix
    /// `image: registry.example.com/team/server:1.4.2@sha256:<digest>`
    /// (`crane digest IMAGE` or `docker buildx imagetools inspect IMAGE` gives it).
    pub static IMAGE_NOT_PINNED = { code: "K8S005", name: "image-not-pinned", severity: Warning, summary: "A container image is referenced by tag, not digest" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `imagePullPolicy: Always`, or a `:latest` / untagged image without a policy (Kubernetes
    /// then defaults to `Always`).
    /// ## Why it matters
    /// Every container start pulls the image again. ML images are 5–20 GB: each restart (a
    /// liveness kill, an OOM) waits minutes for the pull before the model even starts loading,
    /// and a registry outage stops restarts entirely.
    /// ## Example
    /// ```yaml
    /// image: server:latest
    /// imagePullPolicy: Always
    /// ```
    /// ## Fix
    /// Pin the image by digest and use `imagePullPolicy: IfNotPresent`.
    pub static PULL_ALWAYS = { code: "K8S006", name: "pull-always", severity: Warning, summary: "The image is pulled again on every container start" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `nvidia.com/gpu` requested without the same limit (extended resources must be set in
    /// limits), or a GPU pod with no `nodeSelector`, `affinity` or `tolerations`.
    /// ## Why it matters
    /// Without the limit the GPU is not allocated at all. Without node selection the pod waits
    /// `Pending` on tainted GPU nodes, or lands on whatever GPU model the scheduler finds, with
    /// another memory size and speed than the one the job was sized for.
    /// ## Example
    /// ```yaml
    /// resources: {limits: {nvidia.com/gpu: 1}}    # and no nodeSelector or tolerations
    /// ```
    /// ## Fix
    /// Put `nvidia.com/gpu` in limits; add `nodeSelector: {nvidia.com/gpu.product: …}` and a
    /// toleration for the GPU nodes' taint.
    pub static GPU_SCHEDULING = { code: "K8S007", name: "gpu-scheduling", severity: Warning, summary: "A GPU is requested without a limit or without node selection" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A training container (`torchrun`, `torch.distributed`, `accelerate`, `deepspeed`, or a
    /// Job running a training command) with no memory-backed volume (`emptyDir`,
    /// `medium: Memory`) mounted at `/dev/shm`.
    /// ## Why it matters
    /// Containers get a 64 MiB `/dev/shm`. PyTorch DataLoader workers pass batches through
    /// shared memory; past 64 MiB they die with `Bus error` or "DataLoader worker killed"
    /// — hours into the job, at the first large batch.
    /// ## Example
    /// ```yaml
    /// command: ["torchrun", "--nproc_per_node=2", "train.py"]
    /// volumeMounts: [{name: data, mountPath: /data}]
    /// ```
    /// ## Fix
    /// ```yaml
    /// volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 16Gi}}]
    /// volumeMounts: [{name: dshm, mountPath: /dev/shm}]
    /// ```
    pub static SHM_MISSING = { code: "K8S008", name: "shm-missing", severity: Error, summary: "A training container keeps the 64 MiB default /dev/shm" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A GPU serving container that starts several worker processes (`WORKERS`,
    /// `WEB_CONCURRENCY`, `--workers N`), each of which loads the model.
    /// ## Why it matters
    /// N workers hold N copies of the weights in host and GPU memory, for a GPU that runs one
    /// kernel at a time anyway: memory limits and GPU memory are exhausted for no throughput.
    /// ## Example
    /// ```yaml
    /// env: [{name: WORKERS, value: "4"}]
    /// resources: {limits: {nvidia.com/gpu: 1}}
    /// ```
    /// ## Fix
    /// One process per GPU holding one copy, batching requests (`everybyte serve`, Triton,
    /// vLLM); scale with replicas, one GPU each.
    pub static MODEL_COPIES = { code: "K8S009", name: "model-copies", severity: Warning, summary: "Several worker processes each load the model on one GPU" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A serving container with a CPU limit of one core or less.
    /// ## Why it matters
    /// CPU limits are enforced by CFS quota every 100 ms: a server that uses its quota early in
    /// the period is stopped for the rest of it. Tokenisation, JSON and batching threads then
    /// add up to 100 ms pauses to requests: a p99 far above the compute time.
    /// ## Example
    /// ```yaml
    /// limits: {cpu: 500m, memory: 4Gi}
    /// ```
    /// ## Fix
    /// Set a CPU request sized to the measured need and no CPU limit (or a limit well above
    /// the request); keep the memory limit.
    pub static CPU_LIMIT_THROTTLES = { code: "K8S010", name: "cpu-limit-throttles", severity: Warning, summary: "A CPU limit of a core or less throttles the inference server" };
}

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Probe `timeoutSeconds` shorter than one inference at p99 (from `everybyte bench
    /// --format json`, given with `--bench FILE`); without a benchmark, a liveness probe with
    /// the default 1 s timeout on a container that serves a model.
    /// ## Why it matters
    /// Under load the health endpoint waits behind inferences for the same threads or the same
    /// GPU. A probe that gives up sooner than a slow request fails exactly when traffic peaks:
    /// liveness restarts a healthy pod (dropping every request in flight), readiness takes it
    /// out of the Service and pushes its load onto the others.
    /// ## Example
    /// ```yaml
    /// livenessProbe: {httpGet: {path: /health, port: 8080}, timeoutSeconds: 1}   # p99 is 1.8 s
    /// ```
    /// ## Fix
    /// Set `timeoutSeconds` above the p99 at peak load (measure it: `everybyte bench URL
    /// --model M --rate R --format json`), and answer health checks off the inference path.
    pub static PROBE_TIMEOUT = { code: "K8S011", name: "probe-timeout", severity: Warning, summary: "A probe times out sooner than an inference at p99" };
}

/// Every rule of the area, in code order.
pub static RULES: &[&everybyte_core::Rule] = &[
    &MEMORY_LIMIT,
    &GPU_NOT_GUARANTEED,
    &LIVENESS_BEFORE_READY,
    &READINESS_MISSING,
    &IMAGE_NOT_PINNED,
    &PULL_ALWAYS,
    &GPU_SCHEDULING,
    &SHM_MISSING,
    &MODEL_COPIES,
    &CPU_LIMIT_THROTTLES,
    &PROBE_TIMEOUT,
];

fn at(path: &str, line: u64) -> Location {
    Location::line(path, line, 1)
}

fn loads_model(c: &Container) -> bool {
    c.gpus().is_some() || c.env.iter().any(|(k, _)| k.contains("MODEL"))
}

fn memory(path: &str, w: &Workload, c: &Container, exp: &Expectations, out: &mut Vec<Finding>) {
    let line = c.resources.line.unwrap_or(c.line);
    let Some(limit) = c.resources.limit("memory") else {
        out.push(
            Finding::new(&MEMORY_LIMIT, at(path, line), format!("container {} of {} {} has no memory limit", c.name, w.kind, w.name))
                .with_help("measure with `everybyte profile -o profile.json -- CMD`, then set limits.memory (and requests.memory) to the peak × 1.2"),
        );
        return;
    };
    let Some(bytes) = quantity(&limit.text) else {
        return;
    };
    let copies = if c.serves() {
        c.workers().map_or(1, |(n, _)| n.max(1))
    } else {
        1
    };
    let need = exp
        .peak_bytes
        .as_ref()
        .map(|(b, src)| (*b, format!("the peak measured in {src}")))
        .or_else(|| {
            exp.model_bytes
                .as_ref()
                .filter(|_| loads_model(c))
                .map(|(b, src)| {
                    (
                        b.saturating_mul(copies),
                        if copies > 1 {
                            format!("{copies} copies of the model in {src} ({} each)", Bytes(*b))
                        } else {
                            format!("the model in {src}")
                        },
                    )
                })
        });
    if let Some((need, what)) = need {
        let want = need as f64 * exp.headroom;
        if bytes < want {
            out.push(
                Finding::new(
                    &MEMORY_LIMIT,
                    at(path, limit.line),
                    format!(
                        "memory limit {} is below {} × {:.1} = {} ({what}): the container will be OOMKilled",
                        limit.text,
                        Bytes(need),
                        exp.headroom,
                        Bytes(want as u64)
                    ),
                )
                .with_help(format!("set limits.memory and requests.memory to at least {}Mi", (want / 1_048_576.0).ceil() as u64)),
            );
        }
    }
}

fn probes(path: &str, w: &Workload, c: &Container, exp: &Expectations, out: &mut Vec<Finding>) {
    if let (Some(l), None) = (&c.liveness, &c.startup) {
        let window = l.window();
        let ready_path = l.path.as_deref().is_some_and(|p| p.contains("ready"));
        let also = if ready_path {
            "; it probes the readiness endpoint, which fails for as long as the model loads"
        } else {
            ""
        };
        match exp.cold_start {
            Some(cold) if window < cold => out.push(
                Finding::new(
                    &LIVENESS_BEFORE_READY,
                    at(path, l.line),
                    format!(
                        "liveness kills container {} {window:.0} s after start (initialDelaySeconds {:.0} + periodSeconds {:.0} × failureThreshold {:.0}); the measured cold start is {cold:.1} s: it restarts forever{also}",
                        c.name, l.initial_delay, l.period, l.failure_threshold
                    ),
                )
                .with_help(format!("add a startupProbe with periodSeconds: 10 and failureThreshold: {} ({:.0} s, 1.5 × the cold start)", ((cold * 1.5) / 10.0).ceil() as u64, cold * 1.5)),
            ),
            None if loads_model(c) => out.push(
                Finding::new(
                    &LIVENESS_BEFORE_READY,
                    at(path, l.line),
                    format!(
                        "liveness kills container {} {window:.0} s after start unless it answers, and there is no startupProbe: a model that loads longer restarts forever{also}",
                        c.name
                    ),
                )
                .with_help("measure the cold start (`everybyte profile --ready-url URL -- CMD`) and add a startupProbe covering 1.5 × it"),
            ),
            _ => {}
        }
    }
    // KServe gives an InferenceService its own probes.
    let serving_kind = matches!(w.kind.as_str(), "Deployment" | "StatefulSet");
    if serving_kind && c.ports && c.readiness.is_none() {
        out.push(
            Finding::new(&READINESS_MISSING, at(path, c.line), format!("serving container {} has no readinessProbe: traffic arrives while the model is still loading", c.name))
                .with_help("readinessProbe on an endpoint that answers only once the model is loaded and warmed up (e.g. /v2/health/ready)"),
        );
    }
}

fn image(path: &str, c: &Container, out: &mut Vec<Finding>) {
    let Some(img) = &c.image else { return };
    let last = img.text.rsplit('/').next().unwrap_or(&img.text);
    let digest = img.text.contains("@sha256:");
    let tag = last.split_once(':').map(|(_, t)| t);
    if !digest {
        out.push(
            Finding::new(
                &IMAGE_NOT_PINNED,
                at(path, img.line),
                format!(
                    "image {} is referenced by {}, not by digest",
                    img.text,
                    tag.map_or_else(|| "no tag (latest)".to_owned(), |t| format!("tag :{t}"))
                ),
            )
            .with_help("pin it: IMAGE:TAG@sha256:<digest> (crane digest IMAGE)"),
        );
    }
    let always = match &c.pull_policy {
        Some(p) => (p.text == "Always").then_some(p.line),
        None if !digest && matches!(tag, None | Some("latest")) => Some(img.line),
        None => None,
    };
    if let Some(line) = always {
        out.push(
            Finding::new(
                &PULL_ALWAYS,
                at(path, line),
                format!(
                    "image {} is pulled again on every container start",
                    img.text
                ),
            )
            .with_help("pin the image by digest and set imagePullPolicy: IfNotPresent"),
        );
    }
}

#[allow(clippy::many_single_char_names)] // w: workload, c: container, g: GPUs, l/r: limit/request
fn gpu(path: &str, w: &Workload, c: &Container, out: &mut Vec<Finding>) {
    let Some(g) = c.gpus() else { return };
    if c.resources.limit("nvidia.com/gpu").is_none() {
        out.push(Finding::new(&GPU_SCHEDULING, at(path, g.line), format!("container {} requests nvidia.com/gpu without a limit: extended resources are allocated from limits", c.name)).with_help("set limits: {nvidia.com/gpu: N}"));
    } else if !w.scheduling {
        out.push(Finding::new(&GPU_SCHEDULING, at(path, g.line), format!("{} {} requests a GPU with no nodeSelector, affinity or tolerations: it may wait Pending on tainted GPU nodes or land on another GPU model", w.kind, w.name)).with_help("nodeSelector: {nvidia.com/gpu.product: <the model sized for>} and a toleration for the GPU taint"));
    }
    let mem = (c.resources.limit("memory"), c.resources.request("memory"));
    let cpu = (c.resources.limit("cpu"), c.resources.request("cpu"));
    let req_ne = |p: (Option<&crate::k8s::Value>, Option<&crate::k8s::Value>)| match p {
        (Some(l), Some(r)) => quantity(&l.text) != quantity(&r.text),
        (Some(_), None) => false, // the request defaults to the limit
        _ => true,
    };
    if req_ne(mem) || req_ne(cpu) {
        let why = if cpu.0.is_none() && cpu.1.is_none() {
            "no CPU request or limit"
        } else {
            "requests differ from limits"
        };
        out.push(
            Finding::new(&GPU_NOT_GUARANTEED, at(path, c.resources.line.unwrap_or(c.line)), format!("GPU container {}: {why}, so the pod is Burstable and evicted before Guaranteed pods", c.name))
                .with_help("set cpu and memory requests equal to their limits"),
        );
    }
    if let Some((n, line)) = c.workers().filter(|(n, _)| *n > 1 && c.serves()) {
        out.push(
            Finding::new(&MODEL_COPIES, at(path, line), format!("container {} starts {n} workers on one GPU: {n} copies of the model's weights", c.name))
                .with_help("one process per GPU with batching (everybyte serve, Triton, vLLM); scale with replicas"),
        );
    }
}

fn training(path: &str, w: &Workload, c: &Container, out: &mut Vec<Finding>) {
    let trains = c.trains() || (matches!(w.kind.as_str(), "Job" | "CronJob") && c.gpus().is_some());
    if !trains {
        return;
    }
    let shm = c
        .mounts
        .iter()
        .any(|(name, mount)| mount == "/dev/shm" && w.memory_volumes.contains(name));
    if !shm {
        out.push(
            Finding::new(&SHM_MISSING, at(path, c.line), format!("training container {} has the default 64 MiB /dev/shm: DataLoader workers die with Bus error past it", c.name))
                .with_help("volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 16Gi}}] and volumeMounts: [{name: dshm, mountPath: /dev/shm}]"),
        );
    }
}

fn probe_timeouts(path: &str, c: &Container, exp: &Expectations, out: &mut Vec<Finding>) {
    for (kind, p) in [("liveness", &c.liveness), ("readiness", &c.readiness)] {
        let Some(p) = p else { continue };
        match &exp.p99_seconds {
            Some((p99, src)) if p.timeout < *p99 => out.push(
                Finding::new(
                    &PROBE_TIMEOUT,
                    at(path, p.line),
                    format!(
                        "{kind} probe of {} times out after {:.0} s, but an inference takes {p99:.2} s at p99 ({src}): under load the probe fails",
                        c.name, p.timeout
                    ),
                )
                .with_help(format!("timeoutSeconds: {}", (p99 * 2.0).ceil().max(2.0) as u64)),
            ),
            None if kind == "liveness" && p.timeout <= 1.0 && c.serves() && loads_model(c) => out.push(
                Finding::new(
                    &PROBE_TIMEOUT,
                    at(path, p.line),
                    format!(
                        "liveness probe of model server {} times out after {:.0} s: a health check queued behind slow inferences fails and the pod is restarted under load",
                        c.name, p.timeout
                    ),
                )
                .with_help("measure the p99 at peak load (everybyte bench --format json) and set timeoutSeconds above it"),
            ),
            _ => {}
        }
    }
}

fn cpu(path: &str, c: &Container, out: &mut Vec<Finding>) {
    if !c.serves() {
        return;
    }
    if let Some(l) = c.resources.limit("cpu")
        && quantity(&l.text).is_some_and(|v| v <= 1.0)
    {
        {
            out.push(
                Finding::new(&CPU_LIMIT_THROTTLES, at(path, l.line), format!("CPU limit {} on serving container {}: CFS throttling adds pauses of up to 100 ms to requests", l.text, c.name))
                    .with_help("size the CPU request to the measured need and drop the CPU limit (keep the memory limit)"),
            );
        }
    }
}

/// Checks one workload.
pub fn check(path: &str, w: &Workload, exp: &Expectations, out: &mut Vec<Finding>) {
    for c in &w.containers {
        memory(path, w, c, exp, out);
        probes(path, w, c, exp, out);
        image(path, c, out);
        gpu(path, w, c, out);
        training(path, w, c, out);
        cpu(path, c, out);
        probe_timeouts(path, c, exp, out);
    }
}
