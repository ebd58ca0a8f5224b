//! LOG005: the kernel's OOM killer, a cgroup memory limit, or Kubernetes' `OOMKilled`.

use std::sync::LazyLock;

use everybyte_core::bytesize::Bytes;
use regex::Regex;

use crate::hit::{Hit, Role};
use crate::rules::Memory;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A process killed for host (not GPU) memory: the kernel's `Out of memory: Killed process
    /// PID (NAME) … anon-rss:…kB`, `Memory cgroup out of memory: Killed process …`, the
    /// `oom-kill:constraint=…` summary line, Slurm's `Detected N oom-kill event(s) in step …`,
    /// Ray's memory monitor (`System memory low at node … killing latest task`), and a
    /// Kubernetes or Docker container whose last state is `OOMKilled` (not `"OOMKilled":
    /// false`). The resident memory at the kill is given in GiB, and whether the limit was a
    /// container's (a cgroup) or the whole machine's. A report cut before its kill line (only
    /// `TASK invoked oom-killer: gfp_mask=… order=N` and the call trace) is reported from its
    /// first line; when the kill line follows, only the kill line is.
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
/// The first line of the kernel's report, naming the task whose allocation set it off (not
/// necessarily the one it kills). A task's name has at most 15 bytes and may hold spaces
/// (`CPU 0/KVM`), never `]` (a timestamp's end) or `: ` (syslog's `kernel: `).
static INVOKED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|\s)([^\]\s](?:[^\]:]|:\S){0,14}?) invoked oom-killer: gfp_mask=(0x[0-9a-fA-F]+)(?:\(([^)]*)\))?.*?\border=(\d+)")
        .expect("valid regex")
});
static K8S: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bOOMKilled\b").expect("valid regex"));
/// `docker inspect`'s and the API's flag set to false: the container was not OOM-killed.
static K8S_FALSE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\bOOMKilled"?\s*[:=]\s*"?(?i:false)\b"#).expect("valid regex"));
/// Ray's memory monitor killing a task before the kernel would: `System memory low at node
/// with IP 10.0.0.1. Used memory (54.90GB) / total capacity (57.60GB) (0.95307) exceeds
/// threshold 0.95, killing latest task …`.
static RAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"memory low at node with IP (\S+?)\.? Used memory \(([0-9.]+)GB\) / total capacity \(([0-9.]+)GB\).*?threshold ([0-9.]+), killing")
        .expect("valid regex")
});
/// Slurm's report of the cgroup OOM killer in a job step.
static SLURM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Detected (\d+) oom[-_]kill event(?:s|\(s\))? in (?:step |StepId=)?(\w+(?:\.\w+)?)")
        .expect("valid regex")
});

const CAUSE: &str = "out-of-memory kill";

/// The kernel reports that it invoked the OOM killer before it says whom it killed (the call
/// trace, the memory summary and the task table come between). An `invoked oom-killer` line is
/// reported only when no kill line follows it: the kill line says more.
#[derive(Default)]
pub struct Tracker {
    invoked: Vec<(u64, String, Hit)>,
}

impl Tracker {
    pub fn finish(self, out: &mut Vec<(u64, String, Hit)>) {
        out.extend(self.invoked);
    }
}

pub fn detect(line: &str, line_no: u64, memory: &mut Memory, out: &mut Vec<Hit>) {
    if let Some(c) = INVOKED.captures(line) {
        let task = &c[1];
        let order: u32 = c[4].parse().unwrap_or(0);
        let flags = c.get(3).map_or("", |m| m.as_str());
        let size = Bytes(4096u64 << order.min(20));
        let hit = Hit::new(
            &OOM_KILLED,
            c.get(1).map_or(0, |m| m.start()),
            format!(
                "the kernel OOM killer was invoked by {task} (an order-{order} allocation, {size}{}): memory ran out and a process was killed; the line naming the victim (`Killed process …`) is not in this log",
                if flags.is_empty() { String::new() } else { format!(", {flags}") }
            ),
            "dmesg -T | grep -A40 'invoked oom-killer' shows the whole report: `Memory cgroup out of memory` or `mem_cgroup_out_of_memory` in it means a container limit, and its `Killed process` line names the victim and its resident memory; measure the peak with everybyte profile -- CMD",
        )
        .role(Role::CauseAndKill(CAUSE))
        .key(format!("oom-invoked-{task}"))
        .data("invoked_by", task)
        .data("gfp_mask", &c[2])
        .data("order", order);
        memory
            .host_oom
            .invoked
            .push((line_no, line.to_owned(), hit));
        return;
    }
    if KILLED.is_match(line) || SUMMARY.is_match(line) {
        // The kill these reports were leading to.
        memory.host_oom.invoked.clear();
    }
    detect_kill(line, out);
}

fn detect_kill(line: &str, out: &mut Vec<Hit>) {
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
    if let Some(hit) = slurm(line).or_else(|| ray(line)) {
        out.push(hit);
        return;
    }
    if K8S_FALSE.is_match(line) {
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

/// Ray's memory monitor killing a task.
fn ray(line: &str) -> Option<Hit> {
    let c = RAY.captures(line)?;
    Some(
        Hit::new(
            &OOM_KILLED,
            c.get(0).map_or(0, |m| m.start()),
            format!(
                "Ray's memory monitor killed a task on node {}: {} GB of {} GB in use, over its threshold of {}",
                &c[1], &c[2], &c[3], &c[4]
            ),
            "ray logs raylet.out -ip NODE names the biggest users; give the tasks memory= resources so fewer run at once, lower their parallelism, or raise RAY_memory_usage_threshold (not past the container's limit: the kernel's OOM killer is next)",
        )
        .role(Role::CauseAndKill(CAUSE))
        .key(format!("ray-oom-{}", &c[1])),
    )
}

/// Slurm's report of its cgroup OOM killer in a job step.
fn slurm(line: &str) -> Option<Hit> {
    let c = SLURM.captures(line)?;
    let n: u64 = c[1].parse().unwrap_or(1);
    Some(
        Hit::new(
            &OOM_KILLED,
            c.get(0).map_or(0, |m| m.start()),
            format!(
                "Slurm's cgroup OOM killer killed {} in step {}: the job used more memory than it asked for (--mem / --mem-per-cpu)",
                if n == 1 { "a process".to_owned() } else { format!("processes ({n} events)") },
                &c[2]
            ),
            "sacct -j JOBID --format=JobID,MaxRSS,ReqMem,State shows the peak against the request; raise --mem (or --mem-per-gpu) to the measured peak × 1.2 (everybyte profile -- CMD), or lower the peak: fewer DataLoader workers, mmap-loaded weights",
        )
        .role(Role::CauseAndKill(CAUSE))
        .key(format!("slurm-oom-{}", &c[2]))
        .data("events", n)
        .data("step", &c[2]),
    )
}

fn help(cgroup: bool) -> &'static str {
    if cgroup {
        "raise the container's memory limit to the measured peak × 1.2 (everybyte profile -- CMD), or lower the peak: fewer DataLoader workers, smaller prefetch_factor, mmap-loaded weights; dmesg -T | grep -A20 'invoked oom-killer' shows the memory at the kill"
    } else {
        "the host itself ran out: dmesg -T | grep -A20 'invoked oom-killer' lists every process's memory at the kill; lower num_workers, stop pinning more memory than needed (pin_memory), or add swap/RAM"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(lines: &[&str]) -> Vec<(u64, String)> {
        let mut memory = Memory::default();
        let mut out = Vec::new();
        let mut found = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            detect(l, i as u64 + 1, &mut memory, &mut out);
            found.extend(out.drain(..).map(|h| (i as u64 + 1, h.message)));
        }
        found.extend(memory.finish().into_iter().map(|(l, _, h)| (l, h.message)));
        found
    }

    #[test]
    fn an_invoked_report_without_its_kill_line_is_reported() {
        let found = scan(&[
            "[Wed Sep 29 07:12:20 2021] python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
            "[Wed Sep 29 07:12:20 2021]  mem_cgroup_out_of_memory+0xbb/0xd0",
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 1);
        assert!(
            found[0]
                .1
                .contains("invoked by python3 (an order-0 allocation, 4.00 KiB, GFP_KERNEL)"),
            "{}",
            found[0].1
        );
    }

    #[test]
    fn the_task_that_invoked_it_is_named_whatever_came_before() {
        for (line, task) in [
            (
                "Jul 16 11:53:24 host kernel: [1310061.327439] CPU 0/KVM invoked oom-killer: gfp_mask=0x15000c0(GFP_KERNEL_ACCOUNT), nodemask=(null), order=0, oom_score_adj=0",
                "CPU 0/KVM",
            ),
            (
                "2024-04-29T14:55:41,678628+02:00 pool invoked oom-killer: gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0",
                "pool",
            ),
            (
                "Jul 16 11:53:24 host kernel: kworker/u8:2 invoked oom-killer: gfp_mask=0x24201ca, order=3, oom_score_adj=0",
                "kworker/u8:2",
            ),
            (
                "[597411.196310] p2pd invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
                "p2pd",
            ),
        ] {
            let found = scan(&[line]);
            assert_eq!(found.len(), 1, "{line}");
            assert!(
                found[0].1.contains(&format!("invoked by {task} (")),
                "{}",
                found[0].1
            );
        }
    }

    #[test]
    fn the_kill_line_replaces_the_invoked_one() {
        let found = scan(&[
            "kworker/u8:2 invoked oom-killer: gfp_mask=0x24201ca, order=0, oom_score_adj=0",
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=x,mems_allowed=0,oom_memcg=/kubepods/pod1,task_memcg=/kubepods/pod1/c,task=python3,pid=4242,uid=0",
            "Memory cgroup out of memory: Killed process 4242 (python3) total-vm:28761932kB, anon-rss:16710212kB, file-rss:80456kB, shmem-rss:0kB",
        ]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found.iter().all(|(_, m)| m.contains("python3 (pid 4242)")),
            "{found:?}"
        );
    }

    #[test]
    fn prose_about_the_oom_killer_is_not_a_report() {
        assert!(
            scan(&[
                "we invoked oom-killer tests in CI",
                "the oom-killer was not invoked"
            ])
            .is_empty()
        );
    }
}
