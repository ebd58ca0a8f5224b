//! K8S023 gpu-driver-floating: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::on;
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A node selector that asks for a floating GPU driver version:
    /// `cloud.google.com/gke-gpu-driver-version: latest`.
    /// ## Why it matters
    /// GKE installs whatever driver is newest for the node version: a node pool upgrade or a new
    /// node brings another driver (and CUDA driver API) under the same manifest, and an image built
    /// for the old one fails with `CUDA driver version is insufficient` or behaves differently.
    /// ## Example
    /// ```yaml
    /// nodeSelector: {cloud.google.com/gke-gpu-driver-version: latest}
    /// ```
    /// ## Fix
    /// ```yaml
    /// nodeSelector: {cloud.google.com/gke-gpu-driver-version: default}   # pinned per GKE version; or install a pinned driver
    /// ```
    pub static GPU_DRIVER_FLOATING = { code: "K8S023", name: "gpu-driver-floating", severity: Warning, summary: "The GPU driver version is selected as latest" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for w in &m.workloads {
        for p in &w.pods {
            for (k, v) in &p.node_selector {
                if k.ends_with("gpu-driver-version") && v.text == "latest" {
                    out.push(
                        on(&GPU_DRIVER_FLOATING, m, w, None, v.line, format!("{} selects nodes by {k}: latest: the GPU driver changes with the node pool, under the same manifest", w.id()))
                            .with_help(format!("nodeSelector:\n  {k}: default   # or a pinned driver installation")),
                    );
                }
            }
        }
    }
}
