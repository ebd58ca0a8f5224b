//! K8S022 fetch-at-start: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::{on, who};
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A command (of any container, init containers included) that installs packages or fetches
    /// code when it starts: `pip install`, `uv pip install`, `conda install`, `apt-get install`,
    /// `git clone`, or an archive of a branch (`…/archive/refs/heads/main.zip`).
    /// ## Why it matters
    /// What runs is decided at start, not at build: a new release of a dependency, a push to the
    /// branch, or a registry outage changes or breaks the workload with no change to the manifest
    /// or image, and every start pays the download. Two replicas started a day apart run different
    /// code.
    /// ## Example
    /// ```yaml
    /// command: ["bash", "-c", "pip install -r requirements.txt && python serve.py"]
    /// ```
    /// ## Fix
    /// Install at image build time, from a lock file with hashes, and reference the image by digest;
    /// fetch code at a commit (`git checkout <sha>`), never a branch.
    pub static FETCH_AT_START = { code: "K8S022", name: "fetch-at-start", severity: Warning, summary: "Code or packages are fetched when the container starts" };
}

const FETCHES: &[(&str, &str)] = &[
    ("pip install", "pip install"),
    ("pip3 install", "pip install"),
    ("conda install", "conda install"),
    ("mamba install", "conda install"),
    ("apt-get install", "apt-get install"),
    ("apt install", "apt install"),
    ("git clone", "git clone"),
    ("/archive/refs/heads/", "a branch archive"),
    ("/archive/main.", "a branch archive"),
    ("/archive/master.", "a branch archive"),
    (
        "raw.githubusercontent.com/",
        "code downloaded from a repository",
    ),
    ("gist.githubusercontent.com/", "code downloaded from a gist"),
];

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for w in &m.workloads {
        let Some(ray) = &w.ray else { continue };
        for v in [&ray.packages, &ray.archive].into_iter().flatten() {
            out.push(
                on(&FETCH_AT_START, m, w, None, v.line, format!("{} makes every Ray worker fetch at start ({}): what runs changes with the registry and the branch, not with the manifest", w.id(), v.text))
                    .with_help("# build an image with the packages and the code, and reference it by digest:
rayClusterConfig:
  workerGroupSpecs:
  - template: {spec: {containers: [{image: REPO:TAG@sha256:<digest>}]}}
# and drop runtime_env.pip / working_dir from the serve config"),
            );
        }
    }
    for (w, _, c) in m.containers() {
        let cmd = c.command_text();
        let cmd = cmd.split_whitespace().collect::<Vec<_>>().join(" ");
        let found: Vec<&str> = FETCHES
            .iter()
            .filter(|(k, _)| cmd.contains(k))
            .map(|(_, n)| *n)
            .fold(Vec::new(), |mut v, n| {
                if !v.contains(&n) {
                    v.push(n);
                }
                v
            });
        if found.is_empty() {
            continue;
        }
        out.push(
            on(&FETCH_AT_START, m, w, Some(c), c.argv_line.unwrap_or(c.line), format!("{} fetches at start ({}): what runs changes with the registry and the branch, not with the manifest", who(w, c), found.join(", ")))
                .with_help("# Dockerfile: install at build time from a hashed lock file\nRUN pip install --require-hashes -r requirements.lock\n# manifest: image: REPO:TAG@sha256:<digest>, command without installs"),
        );
    }
}
