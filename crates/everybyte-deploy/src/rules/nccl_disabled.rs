//! K8S026 nccl-transport-disabled: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `NCCL_P2P_DISABLE` or `NCCL_IB_DISABLE` set to `1` in a container's environment, with no
    /// comment on that line or the one above saying why.
    /// ## Why it matters
    /// These switches are copied from forum answers to get past one hang and then stay for years:
    /// `NCCL_P2P_DISABLE=1` sends every intra-node transfer through host memory instead of NVLink
    /// or PCIe peer-to-peer, `NCCL_IB_DISABLE=1` sends inter-node traffic over TCP instead of
    /// InfiniBand/RoCE — all-reduce several times slower, the job slower by as much, and nothing
    /// in the logs says so.
    /// ## Example
    /// ```yaml
    /// env: [{name: NCCL_P2P_DISABLE, value: "1"}]
    /// ```
    /// ## Fix
    /// Remove it and test (`NCCL_DEBUG=INFO` shows the transports chosen); where it is truly
    /// needed, say why next to it:
    /// ```yaml
    /// # P2P hangs on this PCIe switch (issue #123); NVLink nodes do not set it
    /// - {name: NCCL_P2P_DISABLE, value: "1"}
    /// ```
    pub static NCCL_TRANSPORT_DISABLED = { code: "K8S026", name: "nccl-transport-disabled", severity: Warning, summary: "An NCCL transport is disabled with no reason given" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        for e in &c.env {
            let what = match e.name.as_str() {
                "NCCL_P2P_DISABLE" => {
                    "intra-node GPU-to-GPU transfers go through host memory instead of NVLink or PCIe peer-to-peer"
                }
                "NCCL_IB_DISABLE" => {
                    "inter-node traffic goes over TCP sockets instead of InfiniBand/RoCE"
                }
                _ => continue,
            };
            let Some(v) = &e.value else { continue };
            if !matches!(v.text.trim(), "1" | "true" | "TRUE" | "True")
                || m.commented(e.line)
                || m.commented(v.line)
            {
                continue;
            }
            out.push(
                on(&NCCL_TRANSPORT_DISABLED, m, w, Some(c), e.line, format!("{} sets {}={} with no reason given: {what}, and collectives are several times slower", who(w, c), e.name, v.text))
                    .with_help(format!("# remove it and check the transports with NCCL_DEBUG=INFO; if it must stay, say why:\n# <the hang it works around, and where>\n- {{name: {}, value: \"1\"}}", e.name)),
            );
        }
    }
}
