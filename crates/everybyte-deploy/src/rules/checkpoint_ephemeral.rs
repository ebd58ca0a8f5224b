//! K8S015 checkpoint-ephemeral: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::{Backing, Manifest, unquote};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A training container whose checkpoint or output directory (`--output_dir`, `--save_dir`,
    /// `--checkpoint_dir`, `--ckpt_dir`, `CHECKPOINT_DIR`, `OUTPUT_DIR`…) is a local path on the
    /// container's own filesystem or in an `emptyDir`, not on a persistent volume (a claim, NFS,
    /// CSI) or an object store URL.
    /// ## Why it matters
    /// The container's filesystem and an `emptyDir` go with the pod. A job that restarts its pods
    /// (a Job's `backoffLimit`, a restarting replica policy, an elastic job, a preempted node)
    /// resumes from step 0, and when it finishes, the trained model is deleted with the pod.
    /// ## Example
    /// ```yaml
    /// args: ["train.py", "--output_dir", "/tmp/checkpoints"]
    /// ```
    /// ## Fix
    /// ```yaml
    /// volumes: [{name: ckpt, persistentVolumeClaim: {claimName: training-checkpoints}}]
    /// # container:
    /// volumeMounts: [{name: ckpt, mountPath: /checkpoints}]
    /// args: ["train.py", "--output_dir", "/checkpoints/run-1"]   # and resume from the latest
    /// ```
    pub static CHECKPOINT_EPHEMERAL = { code: "K8S015", name: "checkpoint-ephemeral", severity: Error, summary: "A training job writes its checkpoints where a restart loses them" };
}

/// A flag that names where the job writes checkpoints or outputs (`--output_dir`,
/// `--checkpoint-file`, `--dist_checkpoint_root_folder`, `--save_path`): its name says so, and it
/// is not one that reads (`--resume_from_checkpoint`, `--load_checkpoint`).
fn writes_to(flag: &str) -> bool {
    let f = flag
        .trim_start_matches('-')
        .to_ascii_lowercase()
        .replace('-', "_");
    let names = [
        "checkpoint",
        "ckpt",
        "output_dir",
        "save_dir",
        "save_path",
        "model_dir",
        "logdir",
        "output_path",
    ];
    let reads = ["resume", "load", "init", "pretrained", "from"];
    flag.starts_with("--")
        && names.iter().any(|n| f.contains(n))
        && !reads.iter().any(|r| f.contains(r))
}

/// The first flag that names a checkpoint or output location, and its value.
fn flag_path(c: &crate::k8s::Container) -> Option<String> {
    let words: Vec<&str> = c.words().collect();
    for (i, w) in words.iter().enumerate() {
        let (name, value) = match w.split_once('=') {
            Some((n, v)) => (n, Some(unquote(v))),
            None => (*w, words.get(i + 1).map(|v| unquote(v))),
        };
        if writes_to(name)
            && let Some(v) = value.filter(|v| {
                !v.starts_with('-')
                    && (v.starts_with('/') || v.starts_with("./") || v.contains("://"))
            })
        {
            return Some(v.to_owned());
        }
    }
    None
}
const ENV: &[&str] = &[
    "CHECKPOINT_DIR",
    "CHECKPOINT_PATH",
    "OUTPUT_DIR",
    "SAVE_DIR",
    "CKPT_DIR",
    "MODEL_DIR",
];

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, p, c) in m.containers() {
        if !c.trains() || c.init {
            continue;
        }
        let from_env = ENV.iter().find_map(|k| {
            c.env_value(k)
                .map(|v| (format!("{k}={}", v.text), v.text.clone(), v.line))
        });
        let from_flag = flag_path(c).map(|v| (v.clone(), v, c.argv_line.unwrap_or(c.line)));
        let Some((shown, path, line)) = from_flag.or(from_env) else {
            continue;
        };
        let path = unquote(&path).to_owned();
        if path.contains("://") || path.contains('$') || path.is_empty() {
            continue;
        }
        let abs = if path.starts_with('/') {
            path.clone()
        } else {
            format!("/{path}")
        };
        let lost = match p.volume_at(c, &abs) {
            None => Some("the container's own filesystem".to_owned()),
            Some((mnt, v)) => match v.backing {
                Backing::EmptyDir { .. } => {
                    Some(format!("emptyDir {} (mounted at {})", v.name, mnt.path))
                }
                _ => None,
            },
        };
        let Some(where_) = lost else { continue };
        let restarts = w.restarts.as_ref().map_or_else(
            || "when the pod goes, the trained model goes with it".to_owned(),
            |r| format!("the job restarts pods ({}) and each restart resumes from step 0; the trained model is deleted with the pod", r.text),
        );
        out.push(
            on(&CHECKPOINT_EPHEMERAL, m, w, Some(c), line, format!("training {} writes its checkpoints to {shown}, on {where_}: {restarts}", who(w, c)))
                .with_help("volumes:\n- name: ckpt\n  persistentVolumeClaim: {claimName: training-checkpoints}\n# container:\nvolumeMounts: [{name: ckpt, mountPath: /checkpoints}]   # write there, resume from the latest"),
        );
    }
}
