//! K8S018 model-cache-small: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;
use everybyte_core::bytesize::Bytes;

use super::{cache_volume, hub_model, model_size, on, who};
use crate::k8s::{Backing, Manifest, bytes};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The volume where a container caches the hub model it names (`HF_HOME`, `--download-dir`,
    /// the server's default cache, or a mount named for models), when its size is written: an
    /// `emptyDir` `sizeLimit`, an ephemeral volume's storage request, or the storage request of a
    /// PersistentVolumeClaim in the same manifest. The weights are estimated from the model id
    /// (`70B` at 2 bytes per parameter, less for AWQ/GPTQ/int4/fp8 names).
    /// ## Why it matters
    /// The download fails at the volume's end (`No space left on device`), or an `emptyDir` over its
    /// `sizeLimit` gets the pod evicted: the server never starts, after minutes of downloading,
    /// again at every restart.
    /// ## Example
    /// ```yaml
    /// args: ["--model", "meta-llama/Llama-3.1-70B-Instruct"]
    /// volumes: [{name: cache, emptyDir: {sizeLimit: 50Gi}}]   # 70B × 2 bytes = 140 GB
    /// ```
    /// ## Fix
    /// ```yaml
    /// volumes: [{name: cache, persistentVolumeClaim: {claimName: llama-70b-cache}}]   # ≥ 160Gi
    /// ```
    pub static MODEL_CACHE_SMALL = { code: "K8S018", name: "model-cache-small", severity: Error, summary: "The volume that caches the model is smaller than its weights" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, p, c) in m.containers() {
        let Some((id, _)) = hub_model(c) else {
            continue;
        };
        let Some(weights) = model_size(&id) else {
            continue;
        };
        let Some((mnt, v)) = cache_volume(p, c) else {
            continue;
        };
        let size = match &v.backing {
            Backing::EmptyDir { size_limit, .. } => size_limit.clone(),
            Backing::Ephemeral(s) => s.clone(),
            Backing::Claim(name) => m.claim_size(name),
            _ => None,
        };
        let Some(size) = size else { continue };
        let Some(cap) = bytes(&size.text) else {
            continue;
        };
        if cap < weights {
            out.push(
                on(&MODEL_CACHE_SMALL, m, w, Some(c), size.line, format!("volume {} ({}, at {}) caches {id} for {}, but the weights are about {} (estimated from the name): the download fails with No space left on device", v.name, size.text, mnt.path, who(w, c), Bytes(weights as u64)))
                    .with_help(format!("storage: {}Gi   # the weights × 1.2", (weights * 1.2 / 1_073_741_824.0).ceil() as u64)),
            );
        }
    }
}
