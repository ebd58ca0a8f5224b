//! K8S021 download-no-ephemeral-storage: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::model_download::{downloads, ray_downloads};
use super::{cache_volume, hub_model, model_size, on, who};
use crate::k8s::{Backing, Manifest};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container that downloads a hub model at start into its own filesystem or an `emptyDir`
    /// (see K8S019) with no `ephemeral-storage` request or limit, where the model is at least 3 GB
    /// (estimated from its name) or its size is unknown.
    /// ## Why it matters
    /// The container's writable layer and `emptyDir` volumes live on the node's disk. Without a
    /// request the scheduler places the pod on a node that may not have the space: the kubelet
    /// evicts it under disk pressure mid-download, or other pods on the node are evicted.
    /// ## Example
    /// ```yaml
    /// args: ["--model", "Qwen/Qwen2.5-32B-Instruct"]
    /// resources: {limits: {nvidia.com/gpu: 2}}
    /// ```
    /// ## Fix
    /// ```yaml
    /// resources:
    ///   requests: {ephemeral-storage: 80Gi}   # the weights × 1.2, plus the image
    ///   limits: {ephemeral-storage: 80Gi, nvidia.com/gpu: 2}
    /// ```
    pub static DOWNLOAD_NO_EPHEMERAL_STORAGE = { code: "K8S021", name: "download-no-ephemeral-storage", severity: Warning, summary: "A multi-GB model is downloaded with no ephemeral-storage request" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for w in &m.workloads {
        let Some(model) = w.ray.as_ref().and_then(|r| r.models.first()) else {
            continue;
        };
        let size = model_size(&model.text);
        if size.is_some_and(|b| b < 3e9) {
            continue;
        }
        let bare: Vec<&str> = ray_downloads(w)
            .into_iter()
            .filter(|c| c.resources.amount("ephemeral-storage").is_none())
            .map(|c| c.name.as_str())
            .collect();
        if !bare.is_empty() {
            let about = size.map_or_else(String::new, |b| format!(" (about {:.0} GB)", b / 1e9));
            out.push(
                on(&DOWNLOAD_NO_EPHEMERAL_STORAGE, m, w, None, model.line, format!("{} downloads {}{about} on every GPU worker ({}) with no ephemeral-storage request: the scheduler does not reserve the disk, and workers are evicted under disk pressure", w.id(), model.text, bare.join(", ")))
                    .with_help("resources:\n  requests: {ephemeral-storage: 100Gi}\n  limits: {ephemeral-storage: 100Gi}"),
            );
        }
    }
    for (w, p, c) in m.containers() {
        let Some((model, cache, line)) = downloads(w, p, c) else {
            continue;
        };
        // A generic ephemeral volume is a claim of its own, not the node's disk.
        if cache_volume(p, c).is_some_and(|(_, v)| matches!(v.backing, Backing::Ephemeral(_))) {
            continue;
        }
        let size = hub_model(c).and_then(|(id, _)| model_size(&id));
        if size.is_some_and(|b| b < 3e9) || c.resources.amount("ephemeral-storage").is_some() {
            continue;
        }
        let about = size.map_or_else(String::new, |b| format!(" (about {:.0} GB)", b / 1e9));
        out.push(
            on(&DOWNLOAD_NO_EPHEMERAL_STORAGE, m, w, Some(c), c.resources.line.unwrap_or(line), format!("{} downloads {model}{about} into {cache} with no ephemeral-storage request: the scheduler does not reserve the disk, and the pod is evicted under disk pressure", who(w, c)))
                .with_help(format!("resources:\n  requests: {{ephemeral-storage: {0}Gi}}\n  limits: {{ephemeral-storage: {0}Gi}}", size.map_or(100, |b| (b * 1.3 / 1_073_741_824.0).ceil() as u64 + 10))),
        );
    }
}
