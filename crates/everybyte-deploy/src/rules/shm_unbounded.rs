//! K8S013 shm-unbounded: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::on;
use crate::k8s::{Backing, Manifest};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// An `emptyDir` volume with `medium: Memory` and no `sizeLimit`.
    /// ## Why it matters
    /// A memory-backed `emptyDir` is tmpfs, and what is written there is charged to the pod's
    /// memory: without a limit, a DataLoader or a cache that fills it pushes the container past its
    /// memory limit and it is OOMKilled (exit 137) with no hint that `/dev/shm` was the cause;
    /// without a memory limit it can take the node's memory.
    /// ## Example
    /// ```yaml
    /// volumes: [{name: dshm, emptyDir: {medium: Memory}}]
    /// ```
    /// ## Fix
    /// ```yaml
    /// volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 16Gi}}]   # and count it in the memory limit
    /// ```
    pub static SHM_UNBOUNDED = { code: "K8S013", name: "shm-unbounded", severity: Warning, summary: "A memory-backed emptyDir has no sizeLimit" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for w in &m.workloads {
        for p in &w.pods {
            for v in &p.volumes {
                if let Backing::EmptyDir {
                    memory: true,
                    size_limit: None,
                } = v.backing
                {
                    out.push(
                        on(&SHM_UNBOUNDED, m, w, None, v.line, format!("memory-backed emptyDir {} of {} has no sizeLimit: what is written there counts against the pod's memory and can get it OOMKilled", v.name, w.id()))
                            .with_help(format!("- name: {}\n  emptyDir: {{medium: Memory, sizeLimit: 16Gi}}", v.name)),
                    );
                }
            }
        }
    }
}
