//! K8S027 privileged: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container with `securityContext.privileged: true`, or the `SYS_ADMIN` capability added.
    /// ## Why it matters
    /// ML images are large and pull in code from many places; privileged, any of it has the node:
    /// every device (all GPUs of the node, not only the pod's), the host's filesystems and
    /// processes. It is usually added to make a GPU, InfiniBand or `/dev/shm` work — which the
    /// device plugins, the RDMA device plugin and a memory `emptyDir` do without it.
    /// ## Example
    /// ```yaml
    /// securityContext: {privileged: true}
    /// ```
    /// ## Fix
    /// ```yaml
    /// securityContext:
    ///   capabilities: {add: ["IPC_LOCK"]}   # what RDMA needs; GPUs come from resources.limits
    /// ```
    pub static PRIVILEGED = { code: "K8S027", name: "privileged", severity: Warning, summary: "A container runs privileged" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        if let Some((line, what)) = c.privileged {
            out.push(
                on(&PRIVILEGED, m, w, Some(c), line, format!("{} runs with {what}: it can reach every device and file of the node, every GPU included", who(w, c)))
                    .with_help("securityContext:\n  privileged: false\n  capabilities: {add: [\"IPC_LOCK\"]}   # what RDMA needs; GPUs come from resources.limits"),
            );
        }
    }
}
