//! `data job`: a scan split over a Kubernetes Indexed Job. Pod K of N runs `data scan
//! --shard K/N` (K is the pod's `JOB_COMPLETION_INDEX`) and writes its manifest to a volume
//! every pod shares; a second Job waits for the N manifests and merges them. Each pod's memory
//! request comes from the scan's memory per file, measured on a sample where one is given.

use std::fmt::Write as _;

/// What the scan needs in memory for a shard of `files` files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    /// The pod's memory request, in bytes.
    pub request: u64,
    /// Its limit: twice the request (the scan's peak varies with the largest file read whole).
    pub limit: u64,
    /// How the figures were found, for the manifest's comment.
    pub how: String,
}

/// A measured scan: resident memory before it, its peak, and the files it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    pub before: u64,
    pub peak: u64,
    pub files: u64,
}

impl Measured {
    /// Bytes of peak memory per file read (the per-thread buffers included, so a small sample
    /// overstates it: the request errs on the side of room).
    pub fn per_file(&self) -> u64 {
        self.peak.saturating_sub(self.before) / self.files.max(1)
    }
}

/// Without a measurement: what a scan keeps per file (its listing entry, manifest record and
/// duplicate key, about 300 bytes, rounded up for long paths and findings) and the process
/// with its per-thread buffers.
const ASSUMED_PER_FILE: u64 = 2 << 10;
const ASSUMED_BASE: u64 = 128 << 20;
/// No pod is given less than this.
const FLOOR: u64 = 256 << 20;

/// The memory of a pod scanning `files` files (`None`: not known).
pub fn memory(measured: Option<Measured>, files: Option<u64>) -> Memory {
    let (base, per_file, how) = match measured {
        Some(m) => (
            m.before.max(32 << 20) + (64 << 20),
            m.per_file(),
            format!(
                "measured: a scan of {} files peaked at {} ({} before it), {} per file",
                m.files,
                mib(m.peak),
                mib(m.before),
                bytes(m.per_file())
            ),
        ),
        None => (
            ASSUMED_BASE,
            ASSUMED_PER_FILE,
            "not measured (pass --measure DIR): 128 MiB and 2 KiB per file assumed".to_owned(),
        ),
    };
    let need = base.saturating_add(per_file.saturating_mul(files.unwrap_or(0)));
    let request = need.max(FLOOR).div_ceil(64 << 20).saturating_mul(64 << 20);
    let how = match files {
        Some(n) => format!("{how}; {n} files a shard"),
        None => format!("{how}; files a shard not known (pass --list or --total-files)"),
    };
    Memory {
        request,
        limit: request.saturating_mul(2),
        how,
    }
}

fn mib(b: u64) -> String {
    format!("{}Mi", b.div_ceil(1 << 20))
}

fn bytes(b: u64) -> String {
    everybyte_core::bytesize::format_bytes(b)
}

/// The files shard K of N gets at most, with the hash's imbalance allowed for: the mean plus
/// four standard deviations of a binomial draw.
pub fn files_per_shard(total: u64, shards: u64) -> u64 {
    let n = shards.max(1) as f64;
    let mean = total as f64 / n;
    let sd = (total as f64 * (1.0 / n) * (1.0 - 1.0 / n)).sqrt();
    ((mean + 4.0 * sd).ceil() as u64).min(total)
}

/// The Jobs to write.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub name: String,
    pub shards: u64,
    pub parallelism: u64,
    pub image: String,
    /// The dataset's folder in the pods.
    pub data: String,
    /// The claim mounted read-only at `data`.
    pub volume: Option<String>,
    /// The claim mounted at `out` (or, without one, `out` is on `volume`, mounted writable).
    pub out_volume: Option<String>,
    pub out: String,
    /// This run's folder under `out` (`NAME-TIME`): the merge waits for this run's manifests,
    /// never for an earlier run's left on the volume.
    pub run: String,
    /// A listing at this path in the pods.
    pub files: Option<String>,
    pub cpus: u64,
    pub memory: Memory,
    /// The merge Job's memory: it holds every shard's records at once.
    pub merge_memory: Memory,
}

/// Why the Jobs cannot be written as asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JobError {
    #[error(
        "--name {0:?}: a Job's name is lower-case letters, digits and '-', starts and ends with a letter or digit, and is at most 57 characters (the merge Job adds \"-merge\")"
    )]
    Name(String),
    #[error(
        "--shards {0}: need 1 to 100000 shards (an Indexed Job with a per-index backoff limit has at most 100000 completions)"
    )]
    Shards(u64),
    #[error(
        "the shards' manifests need a volume every pod and the merge Job share: pass --out-volume CLAIM (ReadWriteMany), or --volume CLAIM to write them beside the data"
    )]
    NoSharedVolume,
    #[error("{what} {path:?}: a path in the pod is absolute")]
    Relative { what: &'static str, path: String },
    #[error("--cpus 0: a scan needs at least one core")]
    Cpus,
    #[error(
        "--out {out:?} is not on a volume the pods share: without --out-volume it must be under --data {data:?} (e.g. {data}/.everybyte)"
    )]
    OutNotShared { out: String, data: String },
}

impl JobSpec {
    pub fn validate(&self) -> Result<(), JobError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 57
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !self.name.starts_with('-')
            && !self.name.ends_with('-');
        if !name_ok {
            return Err(JobError::Name(self.name.clone()));
        }
        if self.run.is_empty() || self.run.contains('/') {
            return Err(JobError::Name(self.run.clone()));
        }
        if !(1..=100_000).contains(&self.shards) {
            return Err(JobError::Shards(self.shards));
        }
        if self.volume.is_none() && self.out_volume.is_none() {
            return Err(JobError::NoSharedVolume);
        }
        if self.cpus == 0 {
            return Err(JobError::Cpus);
        }
        let data = self.data.trim_end_matches('/');
        if self.out_volume.is_none() && !self.out.starts_with(&format!("{data}/")) {
            return Err(JobError::OutNotShared {
                out: self.out.clone(),
                data: self.data.clone(),
            });
        }
        for (what, p) in [("--data", Some(&self.data)), ("--out", Some(&self.out))]
            .into_iter()
            .chain([("--files", self.files.as_ref())])
        {
            if let Some(p) = p
                && !p.starts_with('/')
            {
                return Err(JobError::Relative {
                    what,
                    path: p.clone(),
                });
            }
        }
        Ok(())
    }

    /// Where this run's manifests go, in the pods.
    pub fn run_dir(&self) -> String {
        format!("{}/{}", self.out.trim_end_matches('/'), self.run)
    }

    /// The two Jobs as one YAML stream, after a comment that says how to run them.
    pub fn render(&self) -> Result<String, JobError> {
        self.validate()?;
        let mut y = String::new();
        let n = self.shards;
        let _ = writeln!(
            y,
            "# everybyte data job: {data} scanned in {n} shards, pod K running `everybyte data scan --shard K/{n}`\n\
             # (K = JOB_COMPLETION_INDEX), then {name}-merge joining the {n} manifests into {out}/manifest.json.\n\
             # Memory per pod: {how}.\n\
             # Run: kubectl apply -f THIS_FILE && kubectl wait --for=condition=complete --timeout=24h job/{name}-merge",
            data = self.data,
            name = self.name,
            out = self.run_dir(),
            how = self.memory.how,
        );
        self.scan_job(&mut y);
        y.push_str("---\n");
        self.merge_job(&mut y);
        Ok(y)
    }

    fn scan_job(&self, y: &mut String) {
        let n = self.shards;
        let mut args = vec![
            "data".to_owned(),
            "scan".to_owned(),
            self.data.clone(),
            "--shard".to_owned(),
            format!("$(JOB_COMPLETION_INDEX)/{n}"),
            "--manifest".to_owned(),
            format!("{}/shard-$(JOB_COMPLETION_INDEX).json", self.run_dir()),
            // A shard's findings are the dataset's, merged later: the pod itself succeeded.
            "--fail-on".to_owned(),
            "never".to_owned(),
        ];
        if let Some(f) = &self.files {
            args.push("--files".to_owned());
            args.push(f.clone());
        }
        let _ = write!(
            y,
            "apiVersion: batch/v1\n\
             kind: Job\n\
             metadata:\n  name: {name}\n{labels}\
             spec:\n\
             \x20 completionMode: Indexed\n\
             \x20 completions: {n}\n\
             \x20 parallelism: {p}\n\
             \x20 # A pod that fails is retried alone, twice; the other shards go on.\n\
             \x20 backoffLimitPerIndex: 2\n\
             \x20 ttlSecondsAfterFinished: 604800\n\
             \x20 template:\n\
             \x20   metadata:\n{tlabels}\
             \x20   spec:\n\
             \x20     restartPolicy: Never\n",
            name = self.name,
            labels = labels("  ", "data-scan"),
            tlabels = labels("      ", "data-scan"),
            p = self.parallelism.clamp(1, n),
        );
        self.pod(y, "scan", &args, false);
    }

    fn merge_job(&self, y: &mut String) {
        let n = self.shards;
        let args = vec![
            "data".to_owned(),
            "merge".to_owned(),
            "--shards".to_owned(),
            n.to_string(),
            "--dir".to_owned(),
            self.run_dir(),
            "--wait".to_owned(),
            "24h".to_owned(),
            "-o".to_owned(),
            format!("{}/manifest.json", self.run_dir()),
        ];
        let _ = write!(
            y,
            "apiVersion: batch/v1\n\
             kind: Job\n\
             metadata:\n  name: {name}-merge\n{labels}\
             spec:\n\
             \x20 backoffLimit: 2\n\
             \x20 ttlSecondsAfterFinished: 604800\n\
             \x20 template:\n\
             \x20   metadata:\n{tlabels}\
             \x20   spec:\n\
             \x20     restartPolicy: OnFailure\n",
            name = self.name,
            labels = labels("  ", "data-merge"),
            tlabels = labels("      ", "data-merge"),
        );
        self.pod(y, "merge", &args, true);
    }

    /// The pod spec's containers and volumes (after `restartPolicy`).
    fn pod(&self, y: &mut String, container: &str, args: &[String], merge: bool) {
        let quoted: Vec<String> = args.iter().map(|a| quote(a)).collect();
        let (cpu, memory, limit) = if merge {
            (
                "1".to_owned(),
                self.merge_memory.request,
                self.merge_memory.limit,
            )
        } else {
            (
                self.cpus.to_string(),
                self.memory.request,
                self.memory.limit,
            )
        };
        let _ = write!(
            y,
            "      securityContext:\n\
             \x20       runAsNonRoot: true\n\
             \x20       runAsUser: 65532\n\
             \x20       seccompProfile:\n\
             \x20         type: RuntimeDefault\n\
             \x20     containers:\n\
             \x20       - name: {container}\n\
             \x20         image: {image}\n\
             \x20         imagePullPolicy: IfNotPresent\n\
             \x20         command: [\"everybyte\"]\n\
             \x20         args: [{args}]\n",
            image = quote(&self.image),
            args = quoted.join(", "),
        );
        if !merge {
            y.push_str(
                "          env:\n\
                 \x20           - name: JOB_COMPLETION_INDEX\n\
                 \x20             valueFrom:\n\
                 \x20               fieldRef:\n\
                 \x20                 fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']\n",
            );
        }
        let _ = write!(
            y,
            "          resources:\n\
             \x20           requests:\n\
             \x20             cpu: {q_cpu}\n\
             \x20             memory: {req}\n\
             \x20           limits:\n\
             \x20             memory: {lim}\n\
             \x20         securityContext:\n\
             \x20           allowPrivilegeEscalation: false\n\
             \x20           readOnlyRootFilesystem: true\n\
             \x20           capabilities:\n\
             \x20             drop: [\"ALL\"]\n\
             \x20         volumeMounts:\n",
            q_cpu = quote(&cpu),
            req = mib(memory),
            lim = mib(limit),
        );
        // The data is read-only, unless the manifests are written beside it.
        let out_on_data = self.out_volume.is_none();
        if self.volume.is_some() && (!merge || out_on_data) {
            let _ = write!(
                y,
                "            - name: dataset\n\
                 \x20             mountPath: {}\n\
                 \x20             readOnly: {}\n",
                quote(&self.data),
                !out_on_data
            );
        }
        if self.out_volume.is_some() {
            let _ = write!(
                y,
                "            - name: manifests\n\
                 \x20             mountPath: {}\n",
                quote(&self.out)
            );
        }
        y.push_str("      volumes:\n");
        if let Some(claim) = &self.volume
            && (!merge || out_on_data)
        {
            let _ = write!(
                y,
                "        - name: dataset\n\
                 \x20         persistentVolumeClaim:\n\
                 \x20           claimName: {}\n\
                 \x20           readOnly: {}\n",
                quote(claim),
                !out_on_data
            );
        }
        if let Some(claim) = &self.out_volume {
            let _ = write!(
                y,
                "        - name: manifests\n\
                 \x20         persistentVolumeClaim:\n\
                 \x20           claimName: {}\n",
                quote(claim)
            );
        }
    }
}

fn labels(indent: &str, component: &str) -> String {
    format!(
        "{indent}labels:\n{indent}  app.kubernetes.io/name: everybyte\n{indent}  app.kubernetes.io/component: {component}\n"
    )
}

/// A YAML double-quoted scalar (JSON's escaping is YAML's).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec {
            name: "scan-imagenet".into(),
            shards: 8,
            parallelism: 4,
            image: "ghcr.io/acme/everybyte:0.1.0".into(),
            data: "/data".into(),
            volume: Some("imagenet".into()),
            out_volume: Some("scan-results".into()),
            out: "/everybyte".into(),
            run: "scan-imagenet-20261207-101500".into(),
            files: Some("/everybyte/files.lst".into()),
            cpus: 2,
            memory: memory(None, Some(files_per_shard(1_000_000, 8))),
            merge_memory: memory(None, Some(2_000_000)),
        }
    }

    #[test]
    fn the_scan_job_is_indexed_and_each_pod_names_its_shard() {
        let y = spec().render().unwrap();
        for want in [
            "completionMode: Indexed",
            "completions: 8",
            "parallelism: 4",
            "backoffLimitPerIndex: 2",
            "\"$(JOB_COMPLETION_INDEX)/8\"",
            "\"/everybyte/scan-imagenet-20261207-101500/shard-$(JOB_COMPLETION_INDEX).json\"",
            "\"--files\", \"/everybyte/files.lst\"",
            "\"--shards\", \"8\", \"--dir\", \"/everybyte/scan-imagenet-20261207-101500\"",
            "name: scan-imagenet-merge",
            "claimName: \"imagenet\"\n            readOnly: true",
        ] {
            assert!(y.contains(want), "{want} missing from\n{y}");
        }
    }

    #[test]
    fn memory_grows_with_the_files_a_shard_gets() {
        let small = memory(None, Some(1000));
        assert_eq!(small.request, FLOOR);
        let m = Measured {
            before: 10 << 20,
            peak: 30 << 20,
            files: 10_000,
        };
        assert_eq!(m.per_file(), 2097);
        let big = memory(Some(m), Some(1_000_000));
        assert!(big.request >= 2_000_000_000, "{big:?}");
        assert_eq!(big.limit, 2 * big.request);
        assert!(
            big.how.contains("measured: a scan of 10000 files"),
            "{}",
            big.how
        );
        // The hash's imbalance is allowed for, but stays small against the mean.
        let f = files_per_shard(1_000_000, 8);
        assert!((125_000..127_000).contains(&f), "{f}");
        assert_eq!(files_per_shard(3, 1), 3);
    }

    #[test]
    fn bad_requests_are_named() {
        let mut s = spec();
        s.name = "Scan_ImageNet".into();
        assert!(matches!(s.render(), Err(JobError::Name(_))));
        let mut s = spec();
        s.shards = 0;
        assert_eq!(s.render(), Err(JobError::Shards(0)));
        let mut s = spec();
        s.volume = None;
        s.out_volume = None;
        assert_eq!(s.render(), Err(JobError::NoSharedVolume));
        let mut s = spec();
        s.out_volume = None;
        assert!(matches!(s.render(), Err(JobError::OutNotShared { .. })));
        s.out = "/data/.everybyte".into();
        let y = s.render().unwrap();
        assert!(
            y.contains("claimName: \"imagenet\"\n            readOnly: false"),
            "{y}"
        );
        let mut s = spec();
        s.data = "data".into();
        assert!(matches!(s.render(), Err(JobError::Relative { .. })));
    }
}
