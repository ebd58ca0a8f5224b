//! K8S001 memory-limit: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;
use everybyte_core::bytesize::Bytes;

use super::{at, loads_model};
use crate::expect::Expectations;
use crate::k8s::{Container, Manifest, Workload, bytes};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container with no memory limit, or a limit below the memory it needs times the
    /// headroom (1.2 by default): the peak `everybyte profile` measured (`--profile FILE`), or
    /// without a profile the size of the model the project holds, times the worker processes
    /// that each load it (`WORKERS`, `--workers`).
    /// ## Why it matters
    /// The kernel kills a container at its limit with SIGKILL: exit code 137, `OOMKilled`, no
    /// Python traceback, and with a liveness probe a restart loop. Without a limit the pod can
    /// take the node's memory and get other pods evicted.
    /// ## Example
    /// ```yaml
    /// resources:
    ///   limits: {nvidia.com/gpu: 1, memory: "16Gi"}   # model 15.5 GiB, 4 workers
    /// ```
    /// ## Fix
    /// Measure (`everybyte profile -o profile.json -- CMD`), then set the limit (and the
    /// request, for Guaranteed QoS) to the peak × 1.2: `everybyte deploy patch --profile
    /// profile.json deployment.yaml` writes it.
    pub static MEMORY_LIMIT = { code: "K8S001", name: "memory-limit", severity: Error, summary: "A memory limit is missing or below the workload's measured or expected peak" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, c) in m.containers() {
        container(&m.path, w, c, &m.expect, out);
    }
}

fn container(path: &str, w: &Workload, c: &Container, exp: &Expectations, out: &mut Vec<Finding>) {
    let line = c.resources.line.unwrap_or(c.line);
    let Some(limit) = c.resources.limit("memory") else {
        out.push(
            Finding::new(&MEMORY_LIMIT, at(path, line), format!("container {} of {} {} has no memory limit", c.name, w.kind, w.name))
                .with_help("measure with `everybyte profile -o profile.json -- CMD`, then set limits.memory (and requests.memory) to the peak × 1.2"),
        );
        return;
    };
    let Some(limit_bytes) = bytes(&limit.text) else {
        return;
    };
    let copies = if c.serves() {
        c.workers().map_or(1, |(n, _)| n.max(1))
    } else {
        1
    };
    let need = exp
        .peak_bytes
        .as_ref()
        .map(|(b, src)| (*b, format!("the peak measured in {src}")))
        .or_else(|| {
            exp.model_bytes
                .as_ref()
                .filter(|_| loads_model(c))
                .map(|(b, src)| {
                    (
                        b.saturating_mul(copies),
                        if copies > 1 {
                            format!("{copies} copies of the model in {src} ({} each)", Bytes(*b))
                        } else {
                            format!("the model in {src}")
                        },
                    )
                })
        });
    if let Some((need, what)) = need {
        let want = need as f64 * exp.headroom;
        if limit_bytes < want {
            out.push(
                Finding::new(
                    &MEMORY_LIMIT,
                    at(path, limit.line),
                    format!(
                        "memory limit {} is below {} × {:.1} = {} ({what}): the container will be OOMKilled",
                        limit.text,
                        Bytes(need),
                        exp.headroom,
                        Bytes(want as u64)
                    ),
                )
                .with_help(format!("set limits.memory and requests.memory to at least {}Mi", (want / 1_048_576.0).ceil() as u64)),
            );
        }
    }
}
