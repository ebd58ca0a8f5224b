//! K8S014 host-ipc: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::on;
use crate::k8s::{Backing, Manifest};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A pod with `hostIPC: true`, or a `hostPath` volume of the node's `/dev/shm`, used to get a
    /// bigger shared memory.
    /// ## Why it matters
    /// The pod shares the node's IPC namespace or shared memory with every other pod doing the
    /// same: one job's leftovers fill the node's `/dev/shm` (its RAM, counted against no pod), jobs
    /// see each other's segments, and NCCL or DataLoader segments of a crashed job are never freed.
    /// ## Example
    /// ```yaml
    /// hostIPC: true
    /// ```
    /// ## Fix
    /// ```yaml
    /// volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 16Gi}}]
    /// # container: volumeMounts: [{name: dshm, mountPath: /dev/shm}]
    /// ```
    pub static HOST_IPC = { code: "K8S014", name: "host-ipc", severity: Warning, summary: "Shared memory taken from the node: hostIPC or the node's /dev/shm" };
}

const HELP: &str = "volumes:\n- name: dshm\n  emptyDir: {medium: Memory, sizeLimit: 16Gi}\n# container: volumeMounts: [{name: dshm, mountPath: /dev/shm}]";

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for w in &m.workloads {
        for p in &w.pods {
            if let Some(line) = p.host_ipc {
                out.push(on(&HOST_IPC, m, w, None, line, format!("{} shares the node's IPC namespace (hostIPC: true): its shared memory is the node's, unbounded and shared with other pods", w.id())).with_help(HELP));
            }
            for v in &p.volumes {
                if let Backing::HostPath(path) = &v.backing
                    && path.trim_end_matches('/') == "/dev/shm"
                {
                    out.push(on(&HOST_IPC, m, w, None, v.line, format!("volume {} of {} mounts the node's /dev/shm: shared memory outside the pod's limit, shared with other pods", v.name, w.id())).with_help(HELP));
                }
            }
        }
    }
}
