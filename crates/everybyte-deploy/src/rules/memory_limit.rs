//! K8S001 memory-limit: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;
use everybyte_core::bytesize::Bytes;

use super::{hub_model, loads_model, model_size, on, who};
use crate::k8s::{Container, Manifest, Operator, Workload, bytes};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A container that uses a GPU or loads a model (an inference server, a hub model id) with no
    /// memory limit, or with a limit below the memory it needs times the headroom (1.2 by default):
    /// the peak `everybyte profile` measured (`--profile FILE`), or without a profile the size of
    /// the model the project holds (or, on a CPU-only server, the weights of the hub model it
    /// names), times the worker processes that each load it (`WORKERS`, `--workers`). KServe gives
    /// its predictors a default limit, so a missing one there is not reported.
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
    /// Measure (`everybyte profile -o profile.json -- CMD`), then set the limit (and the request)
    /// to the peak × 1.2; `everybyte deploy patch --profile profile.json deployment.yaml` writes it:
    /// ```yaml
    /// resources:
    ///   requests: {memory: 80Gi}
    ///   limits:   {memory: 80Gi, nvidia.com/gpu: 1}
    /// ```
    pub static MEMORY_LIMIT = { code: "K8S001", name: "memory-limit", severity: Error, summary: "A memory limit is missing or below the workload's measured or expected peak" };
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, _, c) in m.containers() {
        if !c.init {
            container(m, w, c, out);
        }
    }
}

fn container(m: &Manifest, w: &Workload, c: &Container, out: &mut Vec<Finding>) {
    let exp = &m.expect;
    let line = c.resources.line.unwrap_or(c.line);
    let Some(limit) = c.resources.limit("memory") else {
        let loads = c.accelerated()
            || (c.server().is_some() && loads_model(c))
            || (c.trains() && hub_model(c).is_some());
        if loads && w.operator != Operator::KServe {
            let gpu = if c.gpu_count().is_some_and(|n| n > 0) {
                "GPU "
            } else if c.accelerated() {
                "TPU "
            } else {
                "model-serving "
            };
            out.push(
                on(&MEMORY_LIMIT, m, w, Some(c), line, format!("{gpu}{} has no memory limit: loading the weights can take the node's memory", who(w, c)))
                    .with_help("resources:   # measure: everybyte profile -o profile.json -- CMD; then peak × 1.2\n  requests: {memory: 64Gi}\n  limits: {memory: 64Gi}"),
            );
        }
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
    let hub = hub_model(c)
        .filter(|_| c.gpus().is_none())
        .and_then(|(id, _)| {
            model_size(&id).map(|b| {
                (
                    b as u64,
                    format!("the weights of {id}, estimated from its name"),
                )
            })
        });
    let need = exp
        .peak_bytes
        .as_ref()
        .map(|(b, src)| (*b, format!("the peak measured in {src}")))
        .or_else(|| {
            exp.model_bytes
                .as_ref()
                .filter(|_| loads_model(c))
                .map(|(b, src)| (*b, format!("the model in {src}")))
                .or(hub)
                .map(|(b, what)| {
                    if copies > 1 {
                        (
                            b.saturating_mul(copies),
                            format!("{copies} copies of {what} ({} each)", Bytes(b)),
                        )
                    } else {
                        (b, what)
                    }
                })
        });
    if let Some((need, what)) = need {
        let want = need as f64 * exp.headroom;
        if limit_bytes < want {
            out.push(
                on(
                    &MEMORY_LIMIT,
                    m,
                    w,
                    Some(c),
                    limit.line,
                    format!(
                        "memory limit {} of {} is below {} × {:.1} = {} ({what}): the container will be OOMKilled",
                        limit.text,
                        who(w, c),
                        Bytes(need),
                        exp.headroom,
                        Bytes(want as u64)
                    ),
                )
                .with_help(format!("resources:\n  requests: {{memory: {0}Mi}}\n  limits: {{memory: {0}Mi}}", (want / 1_048_576.0).ceil() as u64)),
            );
        }
    }
}
