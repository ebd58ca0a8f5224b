//! LOG025: a Kubernetes pod that no node can take.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The scheduler's `FailedScheduling … 0/N nodes are available: …` (an event, or the pod's
    /// `PodScheduled` condition): each reason with its node count — `Insufficient
    /// nvidia.com/gpu` (or cpu, memory), taints the pod does not tolerate (`had untolerated
    /// taint {…}`, `had taint {…}, that the pod didn't tolerate`), node selectors or affinity
    /// that match no node (`didn't match Pod's node affinity/selector`), nodes marked
    /// unschedulable, volume zone conflicts. The scheduler before Kubernetes 1.10 said `No
    /// nodes are available that match all of the following predicates:: Insufficient cpu (9),
    /// MatchNodeSelector (18)`, with the counts after the reasons; it is read too. The
    /// preemption summary after the reasons is left out.
    /// ## Why it matters
    /// The pod stays `Pending` with no log of its own: the job looks queued while nothing will
    /// ever run it. The counts say which fix applies: every GPU node busy is a capacity
    /// question, while GPU nodes that the pod does not tolerate or select are a mistake in the
    /// pod spec.
    /// ## Example
    /// ```text
    /// Warning  FailedScheduling  2m  default-scheduler  0/5 nodes are available: 2 Insufficient nvidia.com/gpu, 3 node(s) had untolerated taint {nvidia.com/gpu: present}.
    /// ```
    /// ## Fix
    /// Insufficient GPUs: `kubectl describe nodes | grep -A8 'Allocated resources'` shows what
    /// holds them; lower the request, wait, or add nodes. Taints: add the matching
    /// `tolerations` (GPU nodes are usually tainted `nvidia.com/gpu:NoSchedule`). Selectors:
    /// `kubectl get nodes --show-labels` and compare with the pod's `nodeSelector`/`affinity`.
    pub static POD_UNSCHEDULABLE = { code: "LOG025", name: "pod-unschedulable", severity: Error, summary: "A Kubernetes pod cannot be scheduled on any node" };
}

static AVAILABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d+)/(\d+) nodes are available:?\s*(.*)").expect("valid regex"));
/// The scheduler before Kubernetes 1.10: `No nodes are available that match all of the
/// following predicates:: Insufficient cpu (9), MatchNodeSelector (18).`
static OLD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"No nodes are available that match all of the (?:following )?predicates:*\s*(.*)")
        .expect("valid regex")
});
/// An old reason with its count after it: `Insufficient cpu (9)`.
static OLD_REASON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+?)\s*\((\d+)\)$").expect("valid regex"));
static REASON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d+)\s+(.+)$").expect("valid regex"));

/// What one reason means, and what to do about it.
fn classify(reason: &str) -> (&'static str, String, &'static str) {
    let r = reason.trim();
    let lower = r.to_ascii_lowercase();
    if let Some(res) = r.strip_prefix("Insufficient ") {
        let res = res.trim().to_owned();
        let what = format!("lack free {res}");
        let help = if res.contains("gpu") {
            "kubectl describe nodes | grep -A8 'Allocated resources' shows who holds the GPUs; lower the request, wait for them, or add GPU nodes"
        } else {
            "kubectl describe nodes | grep -A8 'Allocated resources' shows what is requested; lower the pod's requests or add nodes"
        };
        return ("insufficient", what, help);
    }
    if lower.contains("taint") {
        let taint = r
            .find('{')
            .and_then(|a| r[a..].find('}').map(|b| &r[a..=a + b]))
            .unwrap_or("");
        let what = if taint.is_empty() {
            "have a taint the pod does not tolerate".to_owned()
        } else {
            format!("have a taint the pod does not tolerate ({taint})")
        };
        return (
            "taint",
            what,
            "add a matching toleration to the pod spec (GPU nodes are usually tainted nvidia.com/gpu with NoSchedule): tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]",
        );
    }
    if lower.contains("affinity") || lower.contains("selector") {
        let what = if lower.contains("anti-affinity") {
            "fail the pod's anti-affinity rules"
        } else if lower.contains("pod affinity") || lower.contains("interpodaffinity") {
            "fail the pod's pod-affinity rules"
        } else {
            "don't match the pod's node selector or affinity"
        };
        return (
            "selector",
            what.to_owned(),
            "kubectl get nodes --show-labels: compare the labels with the pod's nodeSelector / affinity (a typo, or a label the GPU operator sets under another name such as nvidia.com/gpu.product)",
        );
    }
    if lower.contains("unschedulable") {
        return (
            "cordoned",
            "are cordoned (unschedulable)".to_owned(),
            "kubectl uncordon NODE once the node is healthy again",
        );
    }
    if lower.contains("volume") {
        return (
            "volume",
            format!("cannot attach the pod's volume ({r})"),
            "the volume lives in another zone than the free nodes: use a StorageClass with volumeBindingMode: WaitForFirstConsumer",
        );
    }
    if r.contains("Too many pods") {
        return (
            "pods",
            "have no pod slots left".to_owned(),
            "the nodes reached max-pods; add nodes",
        );
    }
    (
        "other",
        r.to_owned(),
        "kubectl describe pod POD shows the scheduler's events",
    )
}

/// Splits `2 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint {a: b}` at the
/// commas outside braces.
fn split_reasons(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, ch) in text.char_indices() {
        match ch {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth <= 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    let (at, free, total, rest) = if let Some(c) = AVAILABLE.captures(line) {
        let free: u64 = c[1].parse().unwrap_or(0);
        let total: u64 = c[2].parse().unwrap_or(0);
        if free > 0 && free >= total {
            return;
        }
        (
            c.get(0).map_or(0, |m| m.start()),
            free,
            Some(total),
            c.get(3).map_or("", |m| m.as_str()),
        )
    } else if let Some(c) = OLD.captures(line) {
        (
            c.get(0).map_or(0, |m| m.start()),
            0,
            None,
            c.get(1).map_or("", |m| m.as_str()),
        )
    } else {
        return;
    };
    let mut rest = rest;
    // The preemption summary repeats the counts; the reasons end before it.
    if let Some(p) = rest.find("preemption:") {
        rest = &rest[..p];
    }
    let rest = rest.trim().trim_end_matches(['.', '"', '\'']).trim();
    let mut parts = Vec::new();
    let mut helps: Vec<&'static str> = Vec::new();
    let mut kinds = Vec::new();
    let mut reasons = serde_json::Map::new();
    for r in split_reasons(rest) {
        let (n, text) = match (REASON.captures(r), OLD_REASON.captures(r)) {
            (Some(rc), _) => (rc[1].parse::<u64>().unwrap_or(0), rc[2].to_owned()),
            (None, Some(rc)) => (rc[2].parse::<u64>().unwrap_or(0), rc[1].to_owned()),
            (None, None) => (0, r.to_owned()),
        };
        let text = text.trim_end_matches('.').to_owned();
        let (kind, what, help) = classify(&text);
        parts.push(format!("{n} {what}"));
        if !helps.contains(&help) {
            helps.push(help);
        }
        kinds.push(kind);
        reasons.insert(text, n.into());
    }
    let why = if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join("; "))
    };
    let mut key_kinds = kinds.clone();
    key_kinds.sort_unstable();
    key_kinds.dedup();
    let help = if helps.is_empty() {
        "kubectl describe pod POD shows the scheduler's events".to_owned()
    } else {
        helps.join("\n")
    };
    let available = match total {
        Some(total) => format!("{free} of {total} nodes are available"),
        None => "no node is available".to_owned(),
    };
    let mut hit = Hit::new(
        &POD_UNSCHEDULABLE,
        at,
        format!("pod cannot be scheduled: {available}{why}"),
        help,
    )
    .role(Role::None)
    .key(format!(
        "unschedulable-{}-{}",
        total.unwrap_or(0),
        key_kinds.join("-")
    ))
    .data("reasons", serde_json::Value::Object(reasons));
    if let Some(total) = total {
        hit = hit.data("nodes", total);
    }
    out.push(hit);
}
