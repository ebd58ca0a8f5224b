//! K8S015 checkpoint-ephemeral: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::{Backing, Manifest, Pod, unquote};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A training container whose checkpoint or output directory (`--output_dir`, `--save_dir`,
    /// `--checkpoint_dir`, `--ckpt_dir`, `CHECKPOINT_DIR`, `OUTPUT_DIR`…) or the checkpoint it
    /// resumes from (`--resume PATH`, `--resume_from_checkpoint PATH`) is a local path on the
    /// container's own filesystem or in an `emptyDir`, not on a persistent volume (a claim, NFS,
    /// CSI) or an object store URL. A relative path (`--output_dir .`, `--output_dir outputs`;
    /// for checkpoint flags only `./…`, since `--checkpoint org/name` names a hub model) is read
    /// against the container's `workingDir`; without one it lands in the image's working
    /// directory, on the container's filesystem unless a lasting volume is mounted where
    /// images usually work (`/workspace`, `/app`, …). `--logdir` and `--model_dir` count only
    /// when no output or checkpoint flag is on lasting storage.
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

/// What a flag that names where the job writes says of its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writes {
    /// `--output_dir`, `--save_dir`, `--save_path`, `--output_path`: always a path, relative
    /// or not.
    Output,
    /// `--checkpoint_dir`, `--ckpt`, `--checkpoint-file`: a path, or as often a hub id
    /// (`--checkpoint openai/whisper-small`), so only an explicit path counts.
    Checkpoint,
    /// `--logdir`, `--model_dir`: logs or an input as often as the trained model; told only
    /// when no output or checkpoint flag is on lasting storage.
    Secondary,
}

/// A flag that names where the job writes checkpoints or outputs (`--output_dir`,
/// `--checkpoint-file`, `--dist_checkpoint_root_folder`, `--save_path`): its name says so, and it
/// is not one that reads (`--resume_from_checkpoint`, `--load_checkpoint`).
fn writes_to(flag: &str) -> Option<Writes> {
    let f = flag
        .trim_start_matches('-')
        .to_ascii_lowercase()
        .replace('-', "_");
    let reads = ["resume", "load", "init", "pretrained", "from"];
    if !flag.starts_with("--") || reads.iter().any(|r| f.contains(r)) {
        return None;
    }
    let has = |names: &[&str]| names.iter().any(|n| f.contains(n));
    if has(&["output_dir", "save_dir", "save_path", "output_path"]) {
        Some(Writes::Output)
    } else if has(&["model_dir", "logdir"]) {
        Some(Writes::Secondary)
    } else if has(&["checkpoint", "ckpt"]) {
        Some(Writes::Checkpoint)
    } else {
        None
    }
}

/// A flag that names the checkpoint a job resumes from (`--resume`, `--resume_from_checkpoint`,
/// `--resume-from`), not another `--resume…` (`--resume-download`, `--resume_wandb_run`).
fn resumes_from(flag: &str) -> bool {
    let f = flag
        .trim_start_matches('-')
        .to_ascii_lowercase()
        .replace('-', "_");
    flag.starts_with("--")
        && matches!(
            f.as_str(),
            "resume"
                | "resume_from"
                | "resume_from_checkpoint"
                | "resume_checkpoint"
                | "resume_ckpt"
                | "resume_path"
                | "resume_dir"
        )
}

/// A value that reads as a path: absolute, explicitly relative (`.`, `./out`), or a URL; with
/// `bare`, also `outputs` or `out/run1` (where a flag's value is always a path). Never a
/// number, a keyword (`latest`, `auto`, `True`), or one that climbs out with `..`.
fn path_like(v: &str, bare: bool) -> bool {
    let explicit = v.starts_with('/') || v == "." || v.starts_with("./") || v.contains("://");
    let word = v
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '/' | '_' | '-' | '.'))
        && v.chars().any(|ch| ch.is_ascii_alphabetic())
        && !matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "none" | "null" | "auto" | "latest" | "best" | "last"
        );
    !v.is_empty()
        && !v.starts_with('-')
        && !v.split('/').any(|part| part == "..")
        && (explicit || bare && word)
}

/// The flags of the command whose names pass `which`, with their values that are paths, in
/// order.
fn flag_paths<T: Copy>(
    c: &crate::k8s::Container,
    which: impl Fn(&str) -> Option<T>,
    bare: impl Fn(T) -> bool,
) -> Vec<(T, String)> {
    let words: Vec<&str> = c.words().collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let (name, value) = match w.split_once('=') {
            Some((n, v)) => (n, Some(unquote(v))),
            None => (*w, words.get(i + 1).map(|v| unquote(v))),
        };
        if let Some(kind) = which(name)
            && let Some(v) = value.filter(|v| path_like(v, bare(kind)))
        {
            out.push((kind, v.trim_end_matches(';').to_owned()));
        }
    }
    out
}

/// Whether an output or checkpoint flag takes its value from a variable (`--output_dir
/// $(OUTPUT_DIR)`, `${CKPT}`).
fn output_from_variable(c: &crate::k8s::Container) -> bool {
    let words: Vec<&str> = c.words().collect();
    words.iter().enumerate().any(|(i, w)| {
        let (name, value) = match w.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (*w, words.get(i + 1).copied()),
        };
        matches!(writes_to(name), Some(Writes::Output | Writes::Checkpoint))
            && value.is_some_and(|v| v.contains('$'))
    })
}

/// Where a path of the command lands: absolute as it is, relative against `workingDir`;
/// `None` for a relative path without one (the image's working directory, unknown here).
fn absolute(c: &crate::k8s::Container, path: &str) -> Option<String> {
    if path.starts_with('/') {
        return Some(path.to_owned());
    }
    let rel = path.trim_start_matches("./");
    let rel = if rel == "." { "" } else { rel };
    c.working_dir.as_ref().map(|d| {
        let d = d.trim_end_matches('/');
        if rel.is_empty() {
            d.to_owned()
        } else {
            format!("{d}/{rel}")
        }
    })
}
/// Where images usually set their `WORKDIR`: a lasting volume mounted at one of these may be
/// the directory a relative path lands in.
const WORKDIRS: &[&str] = &[
    "/workspace",
    "/app",
    "/code",
    "/src",
    "/work",
    "/project",
    "/fsx",
    "/root",
    "/home",
    "/opt/app",
];

const ENV: &[&str] = &[
    "CHECKPOINT_DIR",
    "CHECKPOINT_PATH",
    "OUTPUT_DIR",
    "SAVE_DIR",
    "CKPT_DIR",
    "MODEL_DIR",
];

/// Where `path` goes when the pod goes (`None` when it outlives the pod or cannot be told):
/// the container's filesystem, the image's working directory, an `emptyDir`.
fn lost(p: &Pod, c: &crate::k8s::Container, path: &str) -> Option<String> {
    if path.contains("://") || path.contains('$') || path.is_empty() {
        return None;
    }
    let abs = absolute(c, path);
    // A relative path in the image's working directory, which the manifest does not name:
    // kept only if a lasting volume is mounted where images usually work.
    let unknown_dir_kept = abs.is_none()
        && c.mounts.iter().any(|mnt| {
            let at = mnt.path.trim_end_matches('/');
            (WORKDIRS.contains(&at) || at.starts_with("/home/"))
                && p.volume(&mnt.name).is_some_and(|v| {
                    !matches!(
                        v.backing,
                        Backing::EmptyDir { .. } | Backing::Config | Backing::Ephemeral(_)
                    )
                })
        });
    if unknown_dir_kept {
        return None;
    }
    match abs.and_then(|abs| p.volume_at(c, &abs)) {
        None if !path.starts_with('/') && c.working_dir.is_none() => {
            Some("the image's working directory, on the container's own filesystem".to_owned())
        }
        None => Some("the container's own filesystem".to_owned()),
        Some((mnt, v)) => match v.backing {
            Backing::EmptyDir { .. } => {
                Some(format!("emptyDir {} (mounted at {})", v.name, mnt.path))
            }
            _ => None,
        },
    }
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (w, p, c) in m.containers() {
        if !c.trains() || c.init {
            continue;
        }
        let from_env = ENV.iter().find_map(|k| {
            c.env_value(k)
                .map(|v| (format!("{k}={}", v.text), v.text.clone(), v.line))
        });
        let argv_line = c.argv_line.unwrap_or(c.line);
        let writes = flag_paths(c, writes_to, |k| k == Writes::Output);
        let (secondary, primary): (Vec<_>, Vec<_>) = writes
            .into_iter()
            .partition(|(k, _)| *k == Writes::Secondary);
        // An output or checkpoint directory on lasting storage is where the model goes: a
        // log or model directory beside it is not the checkpoint.
        // An output flag given a variable (`$(OUTPUT_DIR)`) goes where the variable says: the
        // environment's value when it has one, else unknown (kept, for this purpose).
        let kept = primary
            .iter()
            .any(|(_, v)| lost(p, c, unquote(v)).is_none())
            || from_env
                .as_ref()
                .is_some_and(|(_, path, _)| lost(p, c, unquote(path)).is_none())
            || output_from_variable(c);
        let secondary = if kept { Vec::new() } else { secondary };
        let resumes = flag_paths(c, |f| resumes_from(f).then_some(()), |()| false);
        // Every place it writes, then where it resumes from: the first that the pod takes
        // with it is reported.
        let mut candidates = primary
            .into_iter()
            .map(|(_, v)| (v.clone(), v, argv_line, false))
            .chain(from_env.map(|(shown, path, line)| (shown, path, line, false)))
            .chain(
                secondary
                    .into_iter()
                    .map(|(_, v)| (v.clone(), v, argv_line, false)),
            )
            .chain(
                resumes
                    .into_iter()
                    .map(|((), v)| (v.clone(), v, argv_line, true)),
            );
        let Some((shown, line, resuming, where_)) =
            candidates.find_map(|(shown, path, line, resuming)| {
                lost(p, c, unquote(&path)).map(|where_| (shown, line, resuming, where_))
            })
        else {
            continue;
        };
        if resuming {
            out.push(
                on(&CHECKPOINT_EPHEMERAL, m, w, Some(c), line, format!("training {} resumes from {shown}, on {where_}: a restarted pod finds nothing there and starts from step 0, and what it writes next to it goes with the pod", who(w, c)))
                    .with_help("volumes:\n- name: ckpt\n  persistentVolumeClaim: {claimName: training-checkpoints}\n# container:\nvolumeMounts: [{name: ckpt, mountPath: /checkpoints}]   # write there, resume from the latest"),
            );
            continue;
        }
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
