//! K8S031 schema-unknown-field: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::on_doc;
use crate::k8s::Manifest;
use crate::schema;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Every field of the core kinds (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
    /// CronJob, Service, ConfigMap, Secret, PersistentVolumeClaim, Ingress, …) and of every pod
    /// template that custom resources embed (training jobs, Ray clusters, LeaderWorkerSets,
    /// JobSets…), against the Kubernetes 1.33 OpenAPI schema, as `kubectl apply
    /// --validate=strict` checks them: a field the schema does not have at that place, or a list
    /// or mapping where the schema wants the other. KServe's InferenceService, ServingRuntime
    /// and ClusterServingRuntime are held to their CRDs' own `openAPIV3Schema` (KServe
    /// v0.20.0).
    /// ## Why it matters
    /// Without strict validation the API server drops unknown fields silently: a `resource:` typo,
    /// a `volumeMounts` indented under `resources`, or `shm_size` copied from Docker Compose is
    /// never applied, and the pod runs without the limit, the mount or the shared memory that the
    /// manifest appears to give it.
    /// ## Example
    /// ```yaml
    /// containers:
    /// - name: trainer
    ///   resource: {limits: {nvidia.com/gpu: 8}}   # resources
    /// ```
    /// ## Fix
    /// ```yaml
    ///   resources: {limits: {nvidia.com/gpu: 8}}
    /// ```
    pub static SCHEMA_UNKNOWN_FIELD = { code: "K8S031", name: "schema-unknown-field", severity: Error, summary: "A field the Kubernetes API does not know, or in the wrong place" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for d in &m.docs {
        let (Some(api), Some(kind)) = (&d.api_version, d.kind.as_deref()) else {
            continue;
        };
        for p in schema::check(&api.text, kind, &d.node) {
            let help = match &p.suggestion {
                Some(s) => format!("{s}:   # not {}", p.field),
                None => format!("remove {} or move it where {} defines it", p.field, p.place),
            };
            out.push(
                on_doc(
                    &SCHEMA_UNKNOWN_FIELD,
                    m,
                    d,
                    p.line,
                    format!(
                        "{}: {} ({})",
                        d.id(),
                        p.message,
                        schema::source_of(&api.text)
                    ),
                )
                .with_help(help),
            );
        }
    }
}
