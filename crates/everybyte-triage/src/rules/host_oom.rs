//! LOG005: the kernel's OOM killer, a cgroup memory limit, or Kubernetes' `OOMKilled`.

use std::sync::LazyLock;

use everybyte_core::bytesize::Bytes;
use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A process killed for host (not GPU) memory: the kernel's `Out of memory: Killed process
    /// PID (NAME) … anon-rss:…kB`, `Memory cgroup out of memory: Killed process …`, the
    /// `oom-kill:constraint=…` summary line, and a Kubernetes container whose last state is
    /// `OOMKilled`. The resident memory at the kill is given in GiB, and whether the limit was
    /// a container's (a cgroup) or the whole machine's.
    /// ## Why it matters
    /// The OOM killer sends SIGKILL: no traceback, no log line from the process, exit code 137.
    /// A pod whose limit sits at the model's size dies the moment an attention buffer or a
    /// DataLoader batch is allocated on top; pinned memory (`pin_memory=True`) and every
    /// DataLoader worker add to the same limit.
    /// ## Example
    /// ```text
    /// Memory cgroup out of memory: Killed process 4242 (python3) total-vm:28761932kB, anon-rss:16710212kB, file-rss:80456kB, shmem-rss:0kB
    /// ```
    /// ## Fix
    /// Measure the peak (`everybyte profile -- CMD`) and set the memory limit to peak × 1.2;
    /// lower `num_workers` or `prefetch_factor`, load weights with `mmap` (safetensors) instead
    /// of copying them, and keep request = limit so the pod gets Guaranteed QoS.
    pub static OOM_KILLED = { code: "LOG005", name: "oom-killed", severity: Error, summary: "A process was killed for running out of host or container memory" };
}

static KILLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(Memory cgroup )?[Oo]ut of memory(?: \(oom_kill_allocating_task\))?: Kill(?:ed)? process (\d+) \(([^)]*)\)(?:.*?total-vm:(\d+)kB, anon-rss:(\d+)kB(?:, file-rss:(\d+)kB)?(?:, shmem-rss:(\d+)kB)?)?")
        .expect("valid regex")
});
static SUMMARY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"oom-kill:constraint=(\w+).*?(?:oom_memcg=([^,]+),)?.*?task=([^,]+),pid=(\d+)")
        .expect("valid regex")
});
static K8S: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bOOMKilled\b").expect("valid regex"));

const CAUSE: &str = "out-of-memory kill";

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    if let Some(c) = KILLED.captures(line) {
        let cgroup = c.get(1).is_some();
        let pid = &c[2];
        let name = &c[3];
        let kb = |i: usize| {
            c.get(i)
                .and_then(|m| m.as_str().parse::<u64>().ok())
                .map(|v| v * 1024)
        };
        let scope = if cgroup {
            "a cgroup (container) memory limit was reached"
        } else {
            "the machine ran out of memory"
        };
        let mut msg = format!("the kernel OOM killer killed {name} (pid {pid}): {scope}");
        let mut hit_data: Vec<(&'static str, serde_json::Value)> = vec![
            ("pid", pid.parse::<u64>().unwrap_or(0).into()),
            ("process", name.into()),
            ("cgroup", cgroup.into()),
        ];
        if let Some(anon) = kb(5) {
            let rss = anon + kb(6).unwrap_or(0) + kb(7).unwrap_or(0);
            msg.push_str(&format!(
                "; it held {} resident ({} anonymous)",
                Bytes(rss),
                Bytes(anon)
            ));
            hit_data.push(("rss_bytes", rss.into()));
            hit_data.push(("anon_rss_bytes", anon.into()));
        }
        if let Some(vm) = kb(4) {
            hit_data.push(("total_vm_bytes", vm.into()));
        }
        let mut hit = Hit::new(
            &OOM_KILLED,
            c.get(0).map_or(0, |m| m.start()),
            msg,
            help(cgroup),
        )
        .role(Role::CauseAndKill(CAUSE))
        .key(format!("oom-kill-{pid}"));
        hit.data = hit_data;
        out.push(hit);
        return;
    }
    if let Some(c) = SUMMARY.captures(line) {
        let cgroup = &c[1] == "CONSTRAINT_MEMCG";
        let pid = &c[4];
        out.push(
            Hit::new(
                &OOM_KILLED,
                c.get(0).map_or(0, |m| m.start()),
                format!(
                    "the kernel OOM killer chose {} (pid {pid}) under {}",
                    &c[3],
                    if cgroup {
                        "a cgroup memory limit"
                    } else {
                        "machine-wide memory pressure"
                    }
                ),
                help(cgroup),
            )
            .role(Role::CauseAndKill(CAUSE))
            .key(format!("oom-kill-{pid}"))
            .data("pid", pid.parse::<u64>().unwrap_or(0))
            .data("cgroup", cgroup),
        );
        return;
    }
    if let Some(m) = K8S.find(line) {
        out.push(
            Hit::new(
                &OOM_KILLED,
                m.start(),
                "container OOMKilled: it exceeded its memory limit and the kernel sent SIGKILL (exit code 137)".to_owned(),
                "kubectl describe pod POD | grep -B2 -A6 Limits shows the limit; set resources.limits.memory to the measured peak × 1.2 (everybyte profile -- CMD) and requests equal to limits",
            )
            .role(Role::CauseAndKill(CAUSE))
            .key("k8s-oomkilled"),
        );
    }
}

fn help(cgroup: bool) -> &'static str {
    if cgroup {
        "raise the container's memory limit to the measured peak × 1.2 (everybyte profile -- CMD), or lower the peak: fewer DataLoader workers, smaller prefetch_factor, mmap-loaded weights; dmesg -T | grep -A20 'invoked oom-killer' shows the memory at the kill"
    } else {
        "the host itself ran out: dmesg -T | grep -A20 'invoked oom-killer' lists every process's memory at the kill; lower num_workers, stop pinning more memory than needed (pin_memory), or add swap/RAM"
    }
}
