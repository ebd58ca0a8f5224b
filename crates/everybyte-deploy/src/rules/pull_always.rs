//! K8S006 pull-always: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{image_ref, on, who};
use crate::k8s::{Manifest, Operator};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `imagePullPolicy: Always`, or a `:latest` / untagged image without a policy (Kubernetes
    /// then defaults to `Always`).
    /// ## Why it matters
    /// Every container start pulls the image again. ML images are 5–20 GB: each restart (a
    /// liveness kill, an OOM) waits minutes for the pull before the model even starts loading,
    /// and a registry outage stops restarts entirely.
    /// ## Example
    /// ```yaml
    /// image: server:latest
    /// imagePullPolicy: Always
    /// ```
    /// ## Fix
    /// Pin the image by digest and use `imagePullPolicy: IfNotPresent`.
    pub static PULL_ALWAYS = { code: "K8S006", name: "pull-always", severity: Warning, summary: "The image is pulled again on every container start" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        let Some(img) = &c.image else { continue };
        // Knative (KServe serverless) resolves a tag to a digest per revision: its pods do
        // not pull a moving tag again.
        if matches!(w.operator, Operator::Knative | Operator::KServe) {
            continue;
        }
        let placeholder = super::image_placeholder(&img.text);
        let (digest, tag) = image_ref(&img.text);
        let always = match &c.pull_policy {
            Some(p) => (p.text == "Always").then_some(p.line),
            None if !placeholder && !digest && matches!(tag, None | Some("latest")) => {
                Some(img.line)
            }
            None => None,
        };
        if let Some(line) = always {
            out.push(
                on(
                    &PULL_ALWAYS,
                    m,
                    w,
                    Some(c),
                    line,
                    format!(
                        "image {} of {} is pulled again on every container start",
                        img.text,
                        who(w, c)
                    ),
                )
                .with_help("image: REPO:1.2.3@sha256:<digest>\nimagePullPolicy: IfNotPresent"),
            );
        }
    }
}
