//! K8S005 image-not-pinned: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{at, image_ref};
use crate::k8s::Manifest;

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

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (_, c) in m.containers() {
        let Some(img) = &c.image else { continue };
        let (digest, tag) = image_ref(&img.text);
        if !digest {
            out.push(
                Finding::new(
                    &IMAGE_NOT_PINNED,
                    at(&m.path, img.line),
                    format!(
                        "image {} is referenced by {}, not by digest",
                        img.text,
                        tag.map_or_else(|| "no tag (latest)".to_owned(), |t| format!("tag :{t}"))
                    ),
                )
                .with_help("pin it: IMAGE:TAG@sha256:<digest> (crane digest IMAGE)"),
            );
        }
    }
}
