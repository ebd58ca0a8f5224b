//! Where each kind keeps its pod templates: the core workloads, the training operators'
//! jobs (Kubeflow v1 and v2, JobSet, Volcano), KubeRay, KServe, LeaderWorkerSet, Argo and
//! Knative. A kind not in the table is searched by shape: any `containers:` list under its
//! `spec` is a pod template.

use crate::k8s::{Backing, Class, Operator, Pod, Value, Volume, container, pod};
use crate::yaml::Node;

/// The pod templates of an object and what its kind says of them.
pub struct Found {
    pub recognised: bool,
    pub class: Class,
    pub operator: Operator,
    pub pods: Vec<Pod>,
    pub restarts: Option<Value>,
}

/// The kinds read by their own layout.
const KNOWN: &[&str] = &[
    "Pod",
    "PodTemplate",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "PyTorchJob",
    "TFJob",
    "MPIJob",
    "XGBoostJob",
    "PaddleJob",
    "MXJob",
    "JAXJob",
    "TrainJob",
    "TrainingRuntime",
    "ClusterTrainingRuntime",
    "JobSet",
    "RayCluster",
    "RayJob",
    "RayService",
    "InferenceService",
    "ServingRuntime",
    "ClusterServingRuntime",
    "LLMInferenceService",
    "LeaderWorkerSet",
    "Workflow",
    "WorkflowTemplate",
    "ClusterWorkflowTemplate",
    "CronWorkflow",
    "Service",
    "Notebook",
];

/// Kinds that hold no pod template by design: never searched by shape.
const NOT_WORKLOADS: &[&str] = &[
    "CustomResourceDefinition",
    "ConfigMap",
    "Secret",
    "Namespace",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "Ingress",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "PriorityClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "Kustomization",
];

/// Whether this area reads the kind by its own layout.
pub fn known(kind: &str) -> bool {
    KNOWN.contains(&kind)
}

fn count(n: Option<&Node>) -> Option<u64> {
    n.and_then(Node::str).and_then(|s| s.parse().ok())
}

/// A `PodTemplateSpec` (its `spec` is the pod).
fn template(part: &str, t: Option<&Node>, replicas: Option<u64>) -> Option<Pod> {
    t.and_then(|t| t.get("spec"))
        .map(|s| pod(part, s, replicas))
}

fn found(class: Class, operator: Operator, pods: Vec<Pod>, restarts: Option<Value>) -> Found {
    Found {
        recognised: true,
        class,
        operator,
        pods,
        restarts,
    }
}

/// The pod templates of an object of kind `kind`, or `None` for kinds that hold none.
#[allow(clippy::too_many_lines)] // one arm per kind: the table this module is
pub fn pods(kind: &str, doc: &Node) -> Option<Found> {
    let spec = doc.get("spec");
    let at = |p: &str| doc.at(p);
    Some(match kind {
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            let mut pods: Vec<Pod> = template(
                "",
                at("spec.template"),
                Some(count(at("spec.replicas")).unwrap_or(1)),
            )
            .into_iter()
            .collect();
            // A StatefulSet's claim templates are volumes of its pods, each its own claim.
            for t in at("spec.volumeClaimTemplates").map_or(&[][..], Node::seq) {
                if let (Some(p), Some(name)) =
                    (pods.first_mut(), t.at("metadata.name").and_then(Node::str))
                {
                    p.volumes.push(Volume {
                        name: name.to_owned(),
                        line: t.line(),
                        backing: Backing::Claim(name.to_owned()),
                    });
                }
            }
            found(Class::Service, Operator::None, pods, None)
        }
        "DaemonSet" | "Notebook" => found(
            Class::Service,
            Operator::None,
            template("", at("spec.template"), None)
                .into_iter()
                .collect(),
            None,
        ),
        "Job"
            if doc
                .get("apiVersion")
                .and_then(Node::str)
                .is_some_and(|a| a.starts_with("batch.volcano.sh")) =>
        {
            let s = spec?;
            let mut pods = Vec::new();
            for t in s.get("tasks").map_or(&[][..], Node::seq) {
                let name = t.get("name").and_then(Node::str).unwrap_or("task");
                pods.extend(template(
                    name,
                    t.get("template"),
                    count(t.get("replicas")).or(Some(1)),
                ));
            }
            let retries = s.get("maxRetry").and_then(Value::of).or_else(|| {
                Some(Value {
                    text: "3 (the default maxRetry)".to_owned(),
                    line: s.line(),
                })
            });
            found(Class::Batch, Operator::None, pods, retries)
        }
        "Job" => found(
            Class::Batch,
            Operator::None,
            template(
                "",
                at("spec.template"),
                Some(count(at("spec.parallelism")).unwrap_or(1)),
            )
            .into_iter()
            .collect(),
            job_restarts(spec),
        ),
        "CronJob" => found(
            Class::Batch,
            Operator::None,
            template("", at("spec.jobTemplate.spec.template"), None)
                .into_iter()
                .collect(),
            job_restarts(at("spec.jobTemplate.spec")),
        ),
        "Pod" => found(
            Class::Service,
            Operator::None,
            spec.map(|s| pod("", s, Some(1))).into_iter().collect(),
            None,
        ),
        "PodTemplate" => found(
            Class::Service,
            Operator::None,
            template("", doc.get("template"), None)
                .into_iter()
                .collect(),
            None,
        ),
        "PyTorchJob" | "TFJob" | "MPIJob" | "XGBoostJob" | "PaddleJob" | "MXJob" | "JAXJob" => {
            kubeflow_v1(kind, spec?)
        }
        "TrainJob" => {
            let t = spec?.get("trainer")?;
            let mut p = pod("trainer", t, count(t.get("numNodes")).or(Some(1)));
            let mut c = container(t, false);
            "trainer".clone_into(&mut c.name);
            p.containers = vec![c];
            found(Class::Training, Operator::Kubeflow, vec![p], None)
        }
        "TrainingRuntime" | "ClusterTrainingRuntime" => found(
            Class::Training,
            Operator::Kubeflow,
            replicated_jobs(at("spec.template.spec.replicatedJobs")),
            None,
        ),
        "JobSet" => found(
            Class::Batch,
            Operator::None,
            replicated_jobs(at("spec.replicatedJobs")),
            at("spec.failurePolicy.maxRestarts").and_then(Value::of),
        ),
        "RayCluster" => ray(spec?, Class::Compute),
        "RayJob" => {
            let mut f = ray(spec?.get("rayClusterSpec")?, Class::Batch);
            f.pods.extend(template(
                "submitter",
                at("spec.submitterPodTemplate"),
                Some(1),
            ));
            f
        }
        "RayService" => ray(spec?.get("rayClusterConfig")?, Class::Serving),
        "InferenceService" => inference_service(spec?),
        "ServingRuntime" | "ClusterServingRuntime" => found(
            Class::Serving,
            Operator::KServe,
            spec.map(|s| pod("", s, None)).into_iter().collect(),
            None,
        ),
        "LLMInferenceService" => {
            let s = spec?;
            let replicas = count(s.get("replicas")).or(Some(1));
            let mut pods = Vec::new();
            for (part, p) in [
                ("template", s.get("template")),
                ("worker", s.get("worker")),
                ("prefill", s.at("prefill.template")),
                ("prefill worker", s.at("prefill.worker")),
            ] {
                pods.extend(p.map(|p| pod(part, p, replicas)));
            }
            found(Class::Serving, Operator::KServe, pods, None)
        }
        "LeaderWorkerSet" => leader_worker_set(spec?),
        "Workflow" | "WorkflowTemplate" | "ClusterWorkflowTemplate" => argo(spec?),
        "CronWorkflow" => argo(spec?.get("workflowSpec")?),
        "Service" => {
            // Knative's Service has a pod template; the core Service has none.
            let api = doc.get("apiVersion").and_then(Node::str).unwrap_or("");
            if !api.starts_with("serving.knative.dev") {
                return None;
            }
            found(
                Class::Serving,
                Operator::Knative,
                template("", at("spec.template"), None)
                    .into_iter()
                    .collect(),
                None,
            )
        }
        _ if NOT_WORKLOADS.contains(&kind) || kind.ends_with("List") => return None,
        _ => {
            let mut pods = Vec::new();
            if let Some(s) = spec {
                by_shape(s, "spec", &mut pods);
            }
            Found {
                recognised: false,
                class: Class::Service,
                operator: Operator::None,
                pods,
                restarts: None,
            }
        }
    })
}

/// A Job's retries: `backoffLimit` (6 when absent).
fn job_restarts(spec: Option<&Node>) -> Option<Value> {
    match spec.and_then(|s| s.get("backoffLimit")) {
        Some(b) => Value::of(b).filter(|v| v.text != "0"),
        None => Some(Value {
            text: "6 (the default backoffLimit)".to_owned(),
            line: spec.map_or(1, Node::line),
        }),
    }
}

/// Kubeflow v1 jobs: `spec.<x>ReplicaSpecs.<Role>.template`, each with `replicas` and a
/// `restartPolicy`; restarts from `runPolicy.backoffLimit`, `elasticPolicy` or a restarting
/// replica policy.
fn kubeflow_v1(kind: &str, spec: &Node) -> Found {
    let mut pods = Vec::new();
    let mut restarts = spec
        .at("runPolicy.backoffLimit")
        .and_then(Value::of)
        .or_else(|| spec.get("backoffLimit").and_then(Value::of))
        .filter(|v| v.text != "0")
        .or_else(|| {
            spec.get("elasticPolicy").map(|e| Value {
                text: "elasticPolicy".to_owned(),
                line: e.line(),
            })
        });
    if let Node::Map(pairs, _) = spec {
        for (k, v) in pairs {
            if !k.to_ascii_lowercase().ends_with("replicaspecs") {
                continue;
            }
            let Node::Map(roles, _) = v else { continue };
            for (role, rs) in roles {
                let Some(mut p) = template(
                    role,
                    rs.get("template"),
                    count(rs.get("replicas")).or(Some(1)),
                ) else {
                    continue;
                };
                if let Some(rp) = rs.get("restartPolicy").and_then(Value::of) {
                    if matches!(rp.text.as_str(), "OnFailure" | "Always" | "ExitCode")
                        && restarts.is_none()
                    {
                        restarts = Some(rp.clone());
                    }
                    p.restart_policy = Some(rp);
                }
                pods.push(p);
            }
        }
    }
    // The training operator restarts PyTorchJob and PaddleJob replicas OnFailure by default.
    if restarts.is_none()
        && matches!(kind, "PyTorchJob" | "PaddleJob")
        && pods.iter().all(|p| p.restart_policy.is_none())
    {
        restarts = Some(Value {
            text: "OnFailure (the operator's default)".to_owned(),
            line: spec.line(),
        });
    }
    // MPIJob v1alpha1: one template for every worker.
    if pods.is_empty()
        && let Some(p) = template("", spec.get("template"), count(spec.get("replicas")))
    {
        pods.push(p);
    }
    found(Class::Training, Operator::Kubeflow, pods, restarts)
}

/// JobSet's (and a TrainingRuntime's) `replicatedJobs[]`: each a Job template made `replicas`
/// times, each Job running `parallelism` pods.
fn replicated_jobs(list: Option<&Node>) -> Vec<Pod> {
    list.map_or(&[][..], Node::seq)
        .iter()
        .filter_map(|rj| {
            let name = rj.get("name").and_then(Node::str).unwrap_or("");
            let job = rj.at("template.spec")?;
            let n = count(rj.get("replicas"))
                .unwrap_or(1)
                .saturating_mul(count(job.get("parallelism")).unwrap_or(1));
            template(name, job.get("template"), Some(n))
        })
        .collect()
}

/// A Ray cluster spec: the head group and every worker group.
fn ray(spec: &Node, class: Class) -> Found {
    let mut pods: Vec<Pod> = template("head", spec.at("headGroupSpec.template"), Some(1))
        .into_iter()
        .collect();
    for g in spec.get("workerGroupSpecs").map_or(&[][..], Node::seq) {
        let name = g.get("groupName").and_then(Node::str).unwrap_or("workers");
        let n = count(g.get("replicas")).or_else(|| count(g.get("minReplicas")));
        pods.extend(template(name, g.get("template"), n));
    }
    found(class, Operator::KubeRay, pods, None)
}

/// KServe's components: a pod spec each (`containers`, volumes, scheduling), or a model-format
/// shorthand (`model:`, `sklearn:`…) whose container a ServingRuntime supplies.
fn inference_service(spec: &Node) -> Found {
    let mut pods = Vec::new();
    for part in ["predictor", "transformer", "explainer"] {
        let Some(comp) = spec.get(part) else { continue };
        let replicas = count(comp.get("minReplicas")).or(Some(1));
        let mut p = pod(part, comp, replicas);
        if let Node::Map(pairs, _) = comp {
            for (k, v) in pairs {
                let shorthand = v.is_map()
                    && (v.get("modelFormat").is_some()
                        || v.get("storageUri").is_some()
                        || v.get("resources").is_some()
                        || v.get("runtime").is_some());
                if k != "containers" && shorthand {
                    let mut c = container(v, false);
                    c.name.clone_from(k);
                    c.ports = true;
                    c.shorthand = true;
                    p.containers.push(c);
                }
            }
        }
        pods.push(p);
    }
    found(Class::Serving, Operator::KServe, pods, None)
}

/// LeaderWorkerSet: `replicas` groups of `size` pods, the first of each from the leader
/// template (the worker template when there is none).
fn leader_worker_set(spec: &Node) -> Found {
    let groups = count(spec.get("replicas")).unwrap_or(1);
    let lwt = spec.get("leaderWorkerTemplate");
    let size = count(lwt.and_then(|l| l.get("size"))).unwrap_or(1);
    let mut pods = Vec::new();
    let leader = template(
        "leader",
        lwt.and_then(|l| l.get("leaderTemplate")),
        Some(groups),
    );
    let workers = if leader.is_some() {
        size.saturating_sub(1)
    } else {
        size
    };
    pods.extend(leader);
    pods.extend(template(
        "worker",
        lwt.and_then(|l| l.get("workerTemplate")),
        Some(groups.saturating_mul(workers)),
    ));
    found(Class::Service, Operator::None, pods, None)
}

/// Argo: each template with a `container`, a `script` or a `containerSet` runs as a pod; the
/// workflow's `volumes` and `hostIPC` apply to all.
fn argo(spec: &Node) -> Found {
    let mut pods = Vec::new();
    let shared = pod("", spec, None);
    for t in spec.get("templates").map_or(&[][..], Node::seq) {
        let name = t.get("name").and_then(Node::str).unwrap_or("");
        let mut p = pod(name, t, None);
        for key in ["container", "script"] {
            if let Some(c) = t.get(key).filter(|c| c.is_map()) {
                let mut c = container(c, false);
                if c.name.is_empty() {
                    name.clone_into(&mut c.name);
                }
                p.containers.push(c);
            }
        }
        if let Some(cs) = t.at("containerSet.containers") {
            p.containers
                .extend(cs.seq().iter().map(|c| container(c, false)));
        }
        if p.containers.is_empty() {
            continue;
        }
        p.volumes.extend(shared.volumes.iter().cloned());
        p.host_ipc = p.host_ipc.or(shared.host_ipc);
        pods.push(p);
    }
    found(Class::Batch, Operator::None, pods, None)
}

/// Any map under `spec` with a `containers:` list of mappings is a pod spec.
fn by_shape(n: &Node, path: &str, out: &mut Vec<Pod>) {
    let Node::Map(pairs, _) = n else { return };
    if n.get("containers")
        .is_some_and(|c| c.seq().iter().any(Node::is_map))
    {
        out.push(pod(path, n, None));
        return;
    }
    for (k, v) in pairs {
        match v {
            Node::Map(..) => by_shape(v, &format!("{path}.{k}"), out),
            Node::Seq(items, _) => {
                for (i, item) in items.iter().enumerate() {
                    by_shape(item, &format!("{path}.{k}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::k8s::{Operator, Role, workloads};
    use crate::yaml::parse;

    /// Each kind: its templates (part × pods) and its containers' roles.
    #[allow(clippy::type_complexity)]
    fn read(
        text: &str,
    ) -> Vec<(
        String,
        Vec<(String, Option<u64>)>,
        Vec<Role>,
        bool,
        Operator,
    )> {
        parse(text)
            .unwrap()
            .iter()
            .flat_map(workloads)
            .map(|w| {
                (
                    w.kind.clone(),
                    w.pods
                        .iter()
                        .map(|p| (p.part.clone(), p.replicas))
                        .collect(),
                    w.pods
                        .iter()
                        .flat_map(|p| p.containers.iter().map(|c| c.role))
                        .collect(),
                    w.recognised,
                    w.operator,
                )
            })
            .collect()
    }

    const C: &str = "containers: [{name: c, image: i}]";

    #[test]
    fn training_operators() {
        let w = read(&format!(
            "kind: PyTorchJob\nspec:\n  pytorchReplicaSpecs:\n    Master: {{replicas: 1, template: {{spec: {{{C}}}}}}}\n    Worker: {{replicas: 3, restartPolicy: OnFailure, template: {{spec: {{{C}}}}}}}\n"
        ));
        assert_eq!(
            w[0].1,
            vec![("Master".into(), Some(1)), ("Worker".into(), Some(3))]
        );
        assert_eq!(w[0].2, vec![Role::Training, Role::Training]);
        let w = read(
            "kind: JobSet\nspec:\n  replicatedJobs:\n  - name: workers\n    replicas: 2\n    template: {spec: {parallelism: 4, template: {spec: {containers: [{name: c, command: [torchrun, train.py]}]}}}}\n",
        );
        assert_eq!(w[0].1, vec![("workers".into(), Some(8))]);
        assert_eq!(w[0].2, vec![Role::Training]);
        let w = read(
            "kind: TrainJob\nspec:\n  trainer: {image: i, numNodes: 4, resourcesPerNode: {limits: {nvidia.com/gpu: 8}}}\n",
        );
        assert_eq!(w[0].1, vec![("trainer".into(), Some(4))]);
    }

    #[test]
    fn serving_and_ray() {
        let w = read(&format!(
            "kind: RayService\nspec:\n  rayClusterConfig:\n    headGroupSpec: {{template: {{spec: {{{C}}}}}}}\n    workerGroupSpecs:\n    - {{groupName: gpu, replicas: 2, template: {{spec: {{{C}}}}}}}\n"
        ));
        assert_eq!(
            w[0].1,
            vec![("head".into(), Some(1)), ("gpu".into(), Some(2))]
        );
        assert_eq!(w[0].4, Operator::KubeRay);
        let w = read(
            "kind: InferenceService\nspec:\n  predictor:\n    minReplicas: 2\n    model: {modelFormat: {name: sklearn}, storageUri: gs://b/m}\n",
        );
        assert_eq!(w[0].1, vec![("predictor".into(), Some(2))]);
        assert_eq!(w[0].2, vec![Role::Serving]);
        let w = read(&format!(
            "kind: LeaderWorkerSet\nspec:\n  replicas: 2\n  leaderWorkerTemplate:\n    size: 4\n    leaderTemplate: {{spec: {{{C}}}}}\n    workerTemplate: {{spec: {{{C}}}}}\n"
        ));
        assert_eq!(
            w[0].1,
            vec![("leader".into(), Some(2)), ("worker".into(), Some(6))]
        );
        let w = read(
            "kind: Deployment\nspec: {template: {spec: {containers: [{name: s, image: vllm/vllm-openai:v1}, {name: side, image: busybox}]}}}\n",
        );
        assert_eq!(w[0].2, vec![Role::Serving, Role::Other]);
    }

    #[test]
    fn workflows_lists_and_unknown_kinds() {
        let w = read(
            "kind: Workflow\nspec:\n  volumes: [{name: v, emptyDir: {}}]\n  templates:\n  - name: train\n    container: {image: i, command: [python, train.py]}\n  - name: steps\n    steps: []\n",
        );
        assert_eq!(w[0].1, vec![("train".into(), None)]);
        assert_eq!(w[0].2, vec![Role::Training]);
        let w = read(&format!(
            "kind: List\nitems:\n- kind: Pod\n  spec: {{{C}}}\n- kind: ConfigMap\n"
        ));
        assert_eq!(w.len(), 1);
        let w = read(&format!(
            "apiVersion: example.com/v1\nkind: Trainer\nspec:\n  pod:\n    {C}\n"
        ));
        assert_eq!(w[0].1, vec![("spec.pod".into(), None)]);
        assert!(!w[0].3);
        assert!(read("kind: CustomResourceDefinition\nspec: {versions: [{schema: {containers: [{name: x}]}}]}\n").is_empty());
    }
}
