//! K8S029 api-removed: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::on_doc;
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// An `apiVersion` that current clusters no longer serve: Kubeflow's old KServe group
    /// `serving.kubeflow.org` (now `serving.kserve.io`), `extensions/v1beta1`, `apps/v1beta1` and
    /// `apps/v1beta2`, `batch/v1beta1` and `batch/v2alpha1` CronJobs, `policy/v1beta1`,
    /// `networking.k8s.io/v1beta1`, `autoscaling/v2beta1`/`v2beta2`, the `v1alpha1`/`v1beta1`
    /// Kubeflow training jobs, KubeRay's `ray.io/v1alpha1`, Knative's `v1alpha1`.
    /// ## Why it matters
    /// `kubectl apply` fails with `no matches for kind … in version …` — or, where an old operator is
    /// still installed next to the new one, the object is served by the wrong controller. Samples
    /// and blog posts written for old clusters keep these for years.
    /// ## Example
    /// ```yaml
    /// apiVersion: serving.kubeflow.org/v1beta1
    /// kind: InferenceService
    /// ```
    /// ## Fix
    /// ```yaml
    /// apiVersion: serving.kserve.io/v1beta1
    /// ```
    pub static API_REMOVED = { code: "K8S029", name: "api-removed", severity: Error, summary: "An apiVersion of a removed or renamed API group" };
}

/// A removed apiVersion (and the kind it applies to, `*` for any) and its replacement.
const REMOVED: &[(&str, &str, &str, &str)] = &[
    (
        "serving.kubeflow.org/",
        "*",
        "serving.kserve.io/v1beta1",
        "renamed with KServe 0.7",
    ),
    (
        "extensions/v1beta1",
        "*",
        "apps/v1 (networking.k8s.io/v1 for Ingress)",
        "removed in Kubernetes 1.16/1.22",
    ),
    ("apps/v1beta1", "*", "apps/v1", "removed in Kubernetes 1.16"),
    ("apps/v1beta2", "*", "apps/v1", "removed in Kubernetes 1.16"),
    (
        "batch/v2alpha1",
        "*",
        "batch/v1",
        "removed in Kubernetes 1.21",
    ),
    (
        "batch/v1beta1",
        "CronJob",
        "batch/v1",
        "removed in Kubernetes 1.25",
    ),
    (
        "policy/v1beta1",
        "*",
        "policy/v1",
        "removed in Kubernetes 1.25",
    ),
    (
        "networking.k8s.io/v1beta1",
        "*",
        "networking.k8s.io/v1",
        "removed in Kubernetes 1.22",
    ),
    (
        "autoscaling/v2beta1",
        "*",
        "autoscaling/v2",
        "removed in Kubernetes 1.25",
    ),
    (
        "autoscaling/v2beta2",
        "*",
        "autoscaling/v2",
        "removed in Kubernetes 1.26",
    ),
    (
        "scheduling.k8s.io/v1beta1",
        "*",
        "scheduling.k8s.io/v1",
        "removed in Kubernetes 1.22",
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "*",
        "rbac.authorization.k8s.io/v1",
        "removed in Kubernetes 1.22",
    ),
    (
        "kubeflow.org/v1alpha1",
        "*",
        "kubeflow.org/v1",
        "removed from the training operator",
    ),
    (
        "kubeflow.org/v1alpha2",
        "*",
        "kubeflow.org/v1",
        "removed from the training operator",
    ),
    (
        "kubeflow.org/v1beta1",
        "PyTorchJob",
        "kubeflow.org/v1",
        "removed from the training operator",
    ),
    (
        "kubeflow.org/v1beta1",
        "TFJob",
        "kubeflow.org/v1",
        "removed from the training operator",
    ),
    (
        "kubeflow.org/v1beta2",
        "TFJob",
        "kubeflow.org/v1",
        "removed from the training operator",
    ),
    (
        "ray.io/v1alpha1",
        "*",
        "ray.io/v1",
        "deprecated since KubeRay 1.1",
    ),
    (
        "serving.knative.dev/v1alpha1",
        "*",
        "serving.knative.dev/v1",
        "removed from Knative",
    ),
    (
        "serving.knative.dev/v1beta1",
        "*",
        "serving.knative.dev/v1",
        "removed from Knative",
    ),
];

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for d in &m.docs {
        let Some(api) = &d.api_version else { continue };
        let kind = d.kind.as_deref().unwrap_or("");
        let hit = REMOVED.iter().find(|(old, k, _, _)| {
            (if old.ends_with('/') {
                api.text.starts_with(old)
            } else {
                api.text == *old
            }) && (*k == "*" || *k == kind)
        });
        if let Some((_, _, new, when)) = hit {
            out.push(
                on_doc(&API_REMOVED, m, d, api.line, format!("{} uses apiVersion {} ({when}): current clusters answer `no matches for kind {kind}`", d.id(), api.text))
                    .with_help(format!("apiVersion: {new}")),
            );
        }
    }
}
