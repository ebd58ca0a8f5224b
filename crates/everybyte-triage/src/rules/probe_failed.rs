//! LOG007: a Kubernetes liveness, readiness or startup probe failed.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The kubelet's `Liveness probe failed: …`, `Readiness probe failed: …` and `Startup
    /// probe failed: …` events, with the reason (timeout, connection refused, an HTTP status),
    /// and `Container X failed liveness probe, will be restarted`. Repeats are counted as one
    /// incident.
    /// ## Why it matters
    /// A liveness probe that fails `failureThreshold` times in a row gets the container
    /// killed and restarted. A model server that needs 60 s to load its weights, probed after
    /// 10 s with a 1 s timeout, is killed during every start-up: a restart loop that never
    /// serves a request. A readiness failure only takes the pod out of the Service, but a
    /// timeout shorter than one inference does that under load.
    /// ## Example
    /// ```text
    /// Warning  Unhealthy  3m  kubelet  Liveness probe failed: Get "http://10.244.1.7:8080/v2/health/ready": context deadline exceeded (Client.Timeout exceeded while awaiting headers)
    /// ```
    /// ## Fix
    /// Add a `startupProbe` whose `failureThreshold × periodSeconds` exceeds the measured cold
    /// start (`everybyte profile --ready-url URL -- CMD`), point liveness at a cheap endpoint
    /// (`/v2/health/live`), and set `timeoutSeconds` above the p99 of one inference.
    pub static PROBE_FAILED = { code: "LOG007", name: "probe-failed", severity: Warning, summary: "A Kubernetes probe failed" };
}

static FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(Liveness|Readiness|Startup) probe (?:failed|errored):?\s*(.*)")
        .expect("valid regex")
});
static RESTART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:Container (\S+) )?failed (liveness|startup) probe, will be restarted")
        .expect("valid regex")
});

static STATUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)status ?code:? ?(\d{3})|HTTP probe failed with statuscode: (\d{3})")
        .expect("valid regex")
});

/// What an HTTP status a probe got means.
fn status_reason(code: u16) -> &'static str {
    match code {
        404 => {
            "HTTP 404: the probe's path is wrong — the server never serves it, so the probe can never pass (not a slow start)"
        }
        401 | 403 => "the endpoint wants credentials the probe does not send",
        503 => "HTTP 503: the server is up but not ready (still loading the model, or overloaded)",
        500..=599 => "the server answered with an error: it is up but failing",
        _ => "the endpoint answered with an error status",
    }
}

fn reason(detail: &str) -> &'static str {
    let d = detail.to_ascii_lowercase();
    if let Some(code) = STATUS
        .captures(detail)
        .and_then(|c| c.get(1).or_else(|| c.get(2)))
        .and_then(|m| m.as_str().parse().ok())
    {
        status_reason(code)
    } else if d.contains("deadline exceeded") || d.contains("timeout") || d.contains("timed out") {
        "the endpoint did not answer within timeoutSeconds"
    } else if d.contains("connection refused") {
        "nothing listens on the port yet (the server is still starting, or died)"
    } else if d.contains("statuscode")
        || d.contains("status code")
        || d.contains("http probe failed")
    {
        "the endpoint answered with an error status"
    } else if d.contains("no route") || d.contains("reset by peer") {
        "the connection failed"
    } else {
        "the check failed"
    }
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    if let Some(c) = RESTART.captures(line) {
        let kind = c[2].to_ascii_lowercase();
        let who = c.get(1).map_or("the container".to_owned(), |m| {
            format!("container {}", m.as_str())
        });
        out.push(
            Hit::new(
                &PROBE_FAILED,
                c.get(0).map_or(0, |m| m.start()),
                format!("{who} failed its {kind} probe too many times and is being killed and restarted"),
                "if it fails while the model loads, add a startupProbe covering the measured cold start (failureThreshold × periodSeconds > load time) and probe liveness on a cheap endpoint",
            )
            .role(Role::Cause("failed liveness probe"))
            .key(format!("probe-restart-{kind}")),
        );
        return;
    }
    let Some(c) = FAILED.captures(line) else {
        return;
    };
    let kind = c[1].to_ascii_lowercase();
    let detail = c[2].trim();
    let why = reason(detail);
    let consequence = match kind.as_str() {
        "liveness" => {
            "after failureThreshold failures in a row the kubelet kills and restarts the container"
        }
        "startup" => {
            "if it keeps failing past failureThreshold × periodSeconds the container is restarted"
        }
        _ => "the pod is taken out of the Service's endpoints until it passes (no restart)",
    };
    let status: Option<u16> = STATUS
        .captures(detail)
        .and_then(|c| c.get(1).or_else(|| c.get(2)))
        .and_then(|m| m.as_str().parse().ok());
    let help = match (status, kind.as_str()) {
        (Some(404), _) => {
            "point the probe at a path the server serves (curl -i http://POD_IP:PORT/PATH from a debug pod; KServe v2 servers: /v2/health/live and /v2/health/ready); waiting longer will not help"
        }
        (_, "readiness") => {
            "raise timeoutSeconds above one inference's p99 under load, and make sure the endpoint does not wait behind the inference queue"
        }
        (_, _) => {
            "add a startupProbe whose failureThreshold × periodSeconds covers the measured cold start (everybyte profile --ready-url URL -- CMD); keep liveness on a cheap endpoint with timeoutSeconds above p99"
        }
    };
    let label = match kind.as_str() {
        "liveness" => "failed liveness probe",
        "startup" => "failed startup probe",
        _ => "failed readiness probe",
    };
    let mut hit = Hit::new(
        &PROBE_FAILED,
        c.get(0).map_or(0, |m| m.start()),
        format!("{kind} probe failed: {why}; {consequence}"),
        help,
    )
    .role(if kind == "readiness" {
        Role::None
    } else {
        Role::Cause(label)
    })
    .key(match status {
        // A wrong path is its own incident, not a slow start told again.
        Some(404) => format!("probe-{kind}-404"),
        _ => format!("probe-{kind}"),
    })
    .data("probe", kind.as_str())
    .data("detail", detail);
    if let Some(code) = status {
        hit = hit.data("status", code);
    }
    out.push(hit);
}
