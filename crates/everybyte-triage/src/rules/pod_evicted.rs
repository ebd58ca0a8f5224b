//! LOG026: a Kubernetes pod evicted by the kubelet because its node ran low on a resource.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};
use crate::line::strip_decorations;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A pod the kubelet evicted: the `Evicted` event (`The node was low on resource:
    /// ephemeral-storage. Threshold quantity: 10Gi, available: 2Gi. Container trainer was using
    /// 48Gi, request is 0, …`), `kubectl describe pod`'s `Reason: Evicted` with the `Message:`
    /// line after it, a node condition (`The node had condition: [DiskPressure]`), and
    /// `Evicted` in the STATUS column of `kubectl get pods`. The resource, the threshold, what
    /// was available and what the container used are given where printed. Other uses of the
    /// word (`Evicted 3 keys from cache`) are not evictions.
    /// ## Why it matters
    /// Under node pressure the kubelet evicts the pods that use most above their requests
    /// first: a trainer that writes checkpoints, datasets or the Hugging Face cache to its
    /// container filesystem with no `ephemeral-storage` request is the first to go, and an
    /// evicted pod is not restarted in place — a bare pod or a Job without retries just ends.
    /// ## Example
    /// ```text
    /// Warning  Evicted  4m  kubelet  The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 1843Mi. Container trainer was using 52Gi, request is 0, has larger consumption of ephemeral-storage.
    /// ```
    /// ## Fix
    /// ephemeral-storage: move checkpoints and caches (`HF_HOME`, `TORCH_HOME`) to a
    /// PersistentVolumeClaim or an `emptyDir` with a `sizeLimit`, and set
    /// `resources.requests.ephemeral-storage`. memory: set `requests.memory` equal to the limit
    /// at the measured peak × 1.2 (Guaranteed QoS is evicted last). `kubectl describe node
    /// NODE` shows the node's conditions and allocations.
    pub static POD_EVICTED = { code: "LOG026", name: "pod-evicted", severity: Error, summary: "A Kubernetes pod was evicted: its node ran low on a resource" };
}

static LOW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"low on resource: ([\w./-]+?)\.?(?:\s|$)").expect("valid regex"));
static THRESHOLD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Threshold quantity: ([^,\s]+), available: ([^,\s]+?)\.?(?:[,\s]|$)")
        .expect("valid regex")
});
static USING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Container (\S+) was using ([^,\s]+),\s*(?:request is ([^,\s]+?)|which exceeds its request of ([^,\s]+?))[,.]")
        .expect("valid regex")
});
static CONDITION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"node had condition: \[(\w+)\]").expect("valid regex"));
/// `Reason: Evicted` in `kubectl describe pod`, `reason: Evicted` in the pod's status as YAML
/// or JSON (`reason=Evicted` in an event dump), the `Evicted` event row, or a `kubectl get
/// pods` row (`NAME 0/1 Evicted 0 3h`).
static EVICTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^\s*Reason:\s+Evicted\s*$|^\s*["']?reason["']?\s*[:=]\s*["']?Evicted["']?,?\s*$|\breason=Evicted\b|\bWarning\s+Evicted\b|^\S+\s+\d+/\d+\s+Evicted\s+\d+|\bEvicted\b.*(?:low on resource|node had condition))"#)
        .expect("valid regex")
});

/// Adds what a `The node was low on resource: …` text says to the hit.
fn read_message(hit: &mut Hit, text: &str) -> bool {
    let resource = LOW
        .captures(text)
        .map(|c| c[1].to_owned())
        .or_else(|| CONDITION.captures(text).map(|c| c[1].to_owned()));
    let Some(resource) = resource else {
        return false;
    };
    let mut detail = format!("the node was low on {resource}");
    if let Some(t) = THRESHOLD.captures(text) {
        detail.push_str(&format!(" (eviction threshold {}, {} left)", &t[1], &t[2]));
        hit.data.push(("threshold", t[1].into()));
        hit.data.push(("available", t[2].into()));
    }
    if let Some(u) = USING.captures(text) {
        let request = u.get(3).or_else(|| u.get(4)).map_or("?", |m| m.as_str());
        detail.push_str(&format!(
            "; container {} was using {} against a request of {}",
            &u[1], &u[2], request
        ));
        hit.data.push(("container", u[1].into()));
        hit.data.push(("usage", u[2].into()));
        hit.data.push(("request", request.into()));
    }
    hit.message = format!("pod evicted by the kubelet: {detail}");
    hit.key = Some(format!("pod-evicted-{resource}"));
    help_for(&resource).clone_into(&mut hit.help);
    hit.data.push(("resource", resource.into()));
    true
}

fn help_for(resource: &str) -> &'static str {
    match resource {
        "ephemeral-storage" | "nodefs" | "imagefs" | "DiskPressure" => {
            "move checkpoints, datasets and caches (HF_HOME, TORCH_HOME, pip) off the container filesystem to a PersistentVolumeClaim or an emptyDir with sizeLimit, and set resources.requests/limits.ephemeral-storage; kubectl describe node NODE shows DiskPressure"
        }
        "memory" | "MemoryPressure" => {
            "set requests.memory equal to limits.memory at the measured peak × 1.2 (everybyte profile -- CMD): Guaranteed pods are evicted last; kubectl describe node NODE shows MemoryPressure and what is allocated"
        }
        "pid" | "PIDPressure" => {
            "the node ran out of process ids: look for a process leaking threads or DataLoader workers"
        }
        _ => {
            "kubectl describe node NODE shows the node's conditions; set requests for the resource the pod uses"
        }
    }
}

/// The `Message:` line after `Reason: Evicted`.
fn message_line(hit: &mut Hit, line: &str) -> bool {
    let body = strip_decorations(line).trim();
    if body.is_empty() {
        return false;
    }
    if body.starts_with("Message:") {
        read_message(hit, body);
    }
    true
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    let Some(m) = EVICTED.find(line) else {
        return;
    };
    let mut hit = Hit::new(
        &POD_EVICTED,
        m.start() + m.as_str().find("Evicted").unwrap_or(0),
        "pod evicted by the kubelet: its node ran low on a resource (the event or `kubectl describe pod` says which)".to_owned(),
        "kubectl describe pod POD (Message:) names the resource; kubectl describe node NODE shows the node's pressure conditions",
    )
    .role(Role::CauseAndKill("pod eviction"))
    .key("pod-evicted");
    if !read_message(&mut hit, line) && m.as_str().trim_start().starts_with("Reason:") {
        hit = hit.follow(message_line, 2);
    }
    out.push(hit);
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn evictions_and_look_alikes() {
        let mut out = Vec::new();
        detect(
            "  Warning  Evicted  4m  kubelet  The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 1843Mi. Container trainer was using 52Gi, request is 0, has larger consumption of ephemeral-storage.",
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert!(
            out[0].message.contains("ephemeral-storage"),
            "{}",
            out[0].message
        );
        assert!(out[0].message.contains("52Gi"), "{}", out[0].message);
        out.clear();
        detect(
            "trainer-7d9c-x2   0/1     Evicted   0          3h",
            &mut out,
        );
        assert_eq!(out.len(), 1);
        out.clear();
        // The pod's status as YAML or JSON, and an event dump.
        detect("  reason: Evicted", &mut out);
        detect("    \"reason\": \"Evicted\",", &mut out);
        detect("reason=Evicted", &mut out);
        assert_eq!(out.len(), 3);
        out.clear();
        detect("INFO cache: Evicted 3 keys from cache (lru)", &mut out);
        detect("Evicted entries: 12", &mut out);
        detect("  reason: Evicted 3 stale entries", &mut out);
        assert!(out.is_empty());
    }
}
