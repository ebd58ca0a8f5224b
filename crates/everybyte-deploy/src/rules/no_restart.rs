//! K8S025 no-restart-policy: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::on;
use crate::k8s::{Manifest, Operator};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A multi-pod training job — a Kubeflow PyTorchJob, TFJob, MPIJob, XGBoostJob, PaddleJob, or a
    /// JobSet with GPUs or a trainer — with nothing that restarts it: no restarting `restartPolicy`
    /// (`OnFailure`, `ExitCode`, `Always`) on a replica spec, no `runPolicy.backoffLimit`, no
    /// `elasticPolicy`, no JobSet `failurePolicy.maxRestarts`. The operators' defaults count:
    /// the training operator restarts PyTorchJob and PaddleJob replicas `OnFailure` unless told
    /// otherwise, and the MPI operator's own MPIJob (v2beta1) retries its launcher Job.
    /// ## Why it matters
    /// At scale some rank fails: a preempted node, an Xid, an NCCL timeout. Without a restart
    /// policy that one failure ends the whole run; with one, the job restarts from its last
    /// checkpoint (see K8S015) without anyone paged.
    /// ## Example
    /// ```yaml
    /// kind: PyTorchJob
    /// spec:
    ///   pytorchReplicaSpecs:
    ///     Worker: {replicas: 4, template: …}
    /// ```
    /// ## Fix
    /// ```yaml
    /// spec:
    ///   runPolicy: {backoffLimit: 3}
    ///   pytorchReplicaSpecs:
    ///     Worker: {replicas: 4, restartPolicy: OnFailure, template: …}
    /// ```
    pub static NO_RESTART_POLICY = { code: "K8S025", name: "no-restart-policy", severity: Warning, summary: "A multi-worker training job fails whole at one rank's failure" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for w in &m.workloads {
        // The MPI operator's own MPIJob (v1alpha*, v2beta1) runs the launcher as a Job that
        // retries; only the training operator's (kubeflow.org/v1) does not.
        let api = m
            .docs
            .get(w.doc)
            .and_then(|d| d.api_version.as_ref())
            .map_or("", |a| a.text.as_str());
        let kubeflow_v1 = w.operator == Operator::Kubeflow
            && w.kind.ends_with("Job")
            && w.kind != "TrainJob"
            && !(w.kind == "MPIJob" && api != "kubeflow.org/v1");
        let jobset = w.kind == "JobSet"
            && w.pods
                .iter()
                .any(|p| p.containers.iter().any(|c| c.trains() || c.accelerated()));
        if !(kubeflow_v1 || jobset) || w.restarts.is_some() {
            continue;
        }
        let Some(pods) = w.pod_count().filter(|n| *n > 1) else {
            continue;
        };
        let help = if jobset {
            "spec:\n  failurePolicy: {maxRestarts: 3}"
        } else {
            "spec:\n  runPolicy: {backoffLimit: 3}\n  # and on each replica spec:\n  restartPolicy: OnFailure"
        };
        out.push(
            on(&NO_RESTART_POLICY, m, w, None, w.line, format!("{} runs {pods} pods with no restart policy: one rank's failure (a preempted node, an NCCL timeout) ends the whole run", w.id()))
                .with_help(help),
        );
    }
}
