//! K8S005 image-not-pinned: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{image_ref, on, who};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container image with no tag or the `latest` tag: a floating image.
    /// ## Why it matters
    /// `latest` moves. Two pods of one Deployment, or a pod before and after its node was replaced,
    /// run different builds (a different CUDA, PyTorch or server version), and rolling back to "the
    /// same" manifest does not bring the old software back. A versioned tag is the least; a digest
    /// pins the bytes (digest pinning of every image is left to general-purpose scanners).
    /// ## Example
    /// ```yaml
    /// image: vllm/vllm-openai:latest
    /// ```
    /// ## Fix
    /// ```yaml
    /// image: vllm/vllm-openai:v0.6.4@sha256:<digest>   # crane digest vllm/vllm-openai:v0.6.4
    /// ```
    pub static IMAGE_NOT_PINNED = { code: "K8S005", name: "image-not-pinned", severity: Warning, summary: "A container image floats: no tag or :latest" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        let Some(img) = &c.image else { continue };
        if super::image_placeholder(&img.text) {
            continue; // a placeholder: K8S028 says so
        }
        let (digest, tag) = image_ref(&img.text);
        if !digest && matches!(tag, None | Some("latest")) {
            out.push(
                on(&IMAGE_NOT_PINNED, m, w, Some(c), img.line, format!(
                    "image {} of {} floats ({}): every node may run a different build, and a rollback gets the same new one",
                    img.text, who(w, c),
                    tag.map_or_else(|| "no tag means :latest".to_owned(), |t| format!("tag :{t}"))
                ))
                .with_help("image: REPO:1.2.3@sha256:<digest>   # crane digest REPO:1.2.3"),
            );
        }
    }
}
