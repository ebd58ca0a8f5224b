//! K8S019 model-download-every-start: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{cache_volume, hub_model, on, who};
use crate::k8s::{Backing, Container, Manifest, Pod, Workload};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container that names a Hugging Face hub model (`--model org/name`, `vllm serve org/name`,
    /// `MODEL_ID=org/name`, …) or runs an NVIDIA NIM image, with no persistent volume (a claim,
    /// NFS, CSI, a hostPath) where the weights are cached: the cache is the container's own
    /// filesystem or an `emptyDir`.
    /// ## Why it matters
    /// Every pod start — a rollout, a reschedule, an autoscaler's new replica — downloads the
    /// weights again: minutes to tens of minutes of cold start per replica, hub rate limits hit when
    /// many start at once, and the service down when the hub is.
    /// ## Example
    /// ```yaml
    /// args: ["--model", "mistralai/Mistral-7B-Instruct-v0.3"]   # no volume at ~/.cache/huggingface
    /// ```
    /// ## Fix
    /// ```yaml
    /// env: [{name: HF_HOME, value: /models}]
    /// volumeMounts: [{name: models, mountPath: /models}]
    /// volumes: [{name: models, persistentVolumeClaim: {claimName: model-cache}}]   # or bake the weights into the image, or a KServe modelcar
    /// ```
    pub static MODEL_DOWNLOAD_EVERY_START = { code: "K8S019", name: "model-download-every-start", severity: Warning, summary: "The model is downloaded from the hub at every pod start" };
}

/// The hub model the container downloads at every start, with where the cache is and the
/// line to point at; `None` where the weights are cached on a volume that persists.
pub(super) fn downloads<'a>(
    w: &Workload,
    p: &'a Pod,
    c: &'a Container,
) -> Option<(String, String, u64)> {
    // A ServingRuntime's volumes may come from the InferenceService that uses it; an
    // initializer (KServe's, the Trainer's) downloads once for the containers that follow it.
    if c.init
        || matches!(w.kind.as_str(), "ServingRuntime" | "ClusterServingRuntime")
        || c.name.contains("initializer")
        || p.part.contains("initializer")
    {
        return None;
    }
    if c.shorthand {
        // KServe's storage initializer fetches an `hf://` model into an emptyDir at every start.
        let u = c
            .storage_uri
            .as_ref()
            .filter(|u| u.text.starts_with("hf://"))?;
        return Some((
            u.text.clone(),
            "the storage initializer's emptyDir".to_owned(),
            u.line,
        ));
    }
    let (model, line) = if let Some(found) = hub_model(c) {
        found
    } else {
        let img = c
            .image
            .as_ref()
            .filter(|i| i.text.contains("nvcr.io/nim/"))?;
        (format!("the model of NIM image {}", img.text), img.line)
    };
    let cache = match cache_volume(p, c) {
        Some((_, v)) if v.persists() => return None,
        Some((_, v)) if matches!(v.backing, Backing::Config) => return None,
        Some((mnt, v)) => match v.backing {
            Backing::Ephemeral(_) => format!(
                "ephemeral volume {} at {} (deleted with the pod)",
                v.name, mnt.path
            ),
            _ => format!("emptyDir {} at {}", v.name, mnt.path),
        },
        None => "the container's own filesystem".to_owned(),
    };
    Some((model, cache, line))
}

/// The Ray worker containers (with an accelerator) that download the models a Ray config
/// names at every start: those with no persistent volume at their cache.
pub(super) fn ray_downloads(w: &Workload) -> Vec<&Container> {
    if w.ray.as_ref().is_none_or(|r| r.models.is_empty()) {
        return Vec::new();
    }
    w.pods
        .iter()
        .flat_map(|p| p.containers.iter().map(move |c| (p, c)))
        .filter(|(p, c)| c.accelerated() && !cache_volume(p, c).is_some_and(|(_, v)| v.persists()))
        .map(|(_, c)| c)
        .collect()
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for w in &m.workloads {
        let workers = ray_downloads(w);
        if let (Some(c), Some(model)) = (
            workers.first(),
            w.ray.as_ref().and_then(|r| r.models.first()),
        ) {
            out.push(
                on(&MODEL_DOWNLOAD_EVERY_START, m, w, Some(c), model.line, format!("{} loads {} from the hub, and its GPU workers ({}) keep no persistent cache: every worker start downloads it again", w.id(), model.text, workers.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")))
                    .with_help("# on every GPU worker group:
volumeMounts: [{name: models, mountPath: /home/ray/.cache/huggingface}]
volumes: [{name: models, persistentVolumeClaim: {claimName: model-cache}}]"),
            );
        }
    }
    for (w, p, c) in m.containers() {
        if let Some((model, cache, line)) = downloads(w, p, c) {
            out.push(
                on(&MODEL_DOWNLOAD_EVERY_START, m, w, Some(c), line, format!("{} downloads {model} at every start into {cache}: each rollout, reschedule or new replica waits for the hub", who(w, c)))
                    .with_help("env: [{name: HF_HOME, value: /models}]\nvolumeMounts: [{name: models, mountPath: /models}]\nvolumes: [{name: models, persistentVolumeClaim: {claimName: model-cache}}]"),
            );
        }
    }
}
