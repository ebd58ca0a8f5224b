//! IMG002: `pip install` without hash checking.

use everybyte_core::Finding;

use super::Context;
use super::pip::{Spec, classify, is_exact, pip_install};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `pip install`, `pip3 install`, `python -m pip install` and `uv pip install` in a `RUN`
    /// that installs without verifying hashes: no `--require-hashes` (nor
    /// `PIP_REQUIRE_HASHES=1` / `UV_REQUIRE_HASHES=1` in the environment), and either
    /// `-r FILE` (whose hashes, if it has any, pip does not enforce unless told to) or package
    /// names on the command line (`pip install torch torchvision`). The message lists each
    /// package and how loose it is: any version, a range, or an exact version without a hash.
    /// Upgrading the installer itself (`pip install --upgrade pip`) is reported the same way
    /// and says so. Local paths (`pip install .`) are not reported; VCS requirements
    /// (`git+https://…`) are left to IMG004.
    /// ## Why it matters
    /// Without hashes, what gets installed is whatever the index serves on the day of the
    /// build: a new release of an unpinned package, a different wheel for the same version, a
    /// same-named package from an `--extra-index-url` (dependency confusion). Two builds of
    /// one Dockerfile then differ, and a training run cannot be reproduced from its image
    /// recipe.
    /// ## Example
    /// ```dockerfile
    /// RUN pip install --upgrade pip && pip install torch torchvision
    /// RUN pip install -r requirements.txt
    /// ```
    /// ## Fix
    /// Lock every dependency with its hashes (`pip-compile --generate-hashes -o
    /// requirements.txt`, or `uv pip compile --generate-hashes`) and install with `pip install
    /// --require-hashes -r requirements.txt` (with `--no-deps` if the lock is complete).
    pub static PIP_INSTALL_WITHOUT_LOCK = { code: "IMG002", name: "pip-install-without-lock", severity: Error, summary: "pip installs packages without verifying hashes" };
}

const TRUE: [&str; 4] = ["1", "true", "yes", "on"];

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for run in &ctx.runs {
        let env_requires = |cmd: &crate::image::shell::Command, key: &str| {
            let inline = cmd.assigns.iter().chain(cmd.prefix.iter()).find_map(|w| {
                w.as_str()
                    .strip_prefix(key)
                    .and_then(|r| r.strip_prefix('='))
                    .map(str::to_owned)
            });
            inline
                .or_else(|| run.vars.get(key).cloned())
                .is_some_and(|v| TRUE.contains(&v.to_ascii_lowercase().as_str()))
        };
        for cmd in run.commands() {
            let Some(pip) = pip_install(cmd) else {
                continue;
            };
            let key = if pip.invocation.starts_with("uv ") {
                "UV_REQUIRE_HASHES"
            } else {
                "PIP_REQUIRE_HASHES"
            };
            if pip.require_hashes || pip.offline || env_requires(cmd, key) {
                continue;
            }
            let inv = &pip.invocation;
            if let Some((flag, _)) = pip.requirement_files.first() {
                let files: Vec<String> = pip
                    .requirement_files
                    .iter()
                    .map(|(f, v)| {
                        if f.as_str().ends_with(v.as_str()) {
                            f.as_str().to_owned()
                        } else {
                            format!("{} {v}", f.as_str())
                        }
                    })
                    .collect();
                out.push(
                    ctx.finding(
                        &PIP_INSTALL_WITHOUT_LOCK,
                        flag.start,
                        format!("{inv} {}: the requirements are not verified by hash (no --require-hashes)", files.join(" ")),
                        format!("lock them with hashes (pip-compile --generate-hashes -o requirements.txt, or uv pip compile --generate-hashes) and install with {inv} --require-hashes {}", files.join(" ")),
                    )
                    .with_data("requirement_files", pip.requirement_files.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>()),
                );
            }
            let mut items = Vec::new();
            let mut names = Vec::new();
            let mut first = None;
            let mut only_installer = true;
            for w in &pip.specs {
                let text = w.as_str();
                let label = match classify(text) {
                    Spec::Local | Spec::Vcs(_) | Spec::Url { hashed: true } => continue,
                    Spec::Url { hashed: false } => {
                        only_installer = false;
                        format!("{text} (a URL without #sha256=)")
                    }
                    Spec::Named { name, specifier } => {
                        let installer = name.eq_ignore_ascii_case("pip");
                        only_installer &= installer;
                        let what = if specifier.is_empty() {
                            "any version"
                        } else if is_exact(specifier) {
                            "version only, no hash"
                        } else {
                            "a range"
                        };
                        if installer {
                            format!("{text} itself ({what})")
                        } else {
                            format!("{text} ({what})")
                        }
                    }
                };
                first.get_or_insert(w.start);
                names.push(text.to_owned());
                items.push(label);
            }
            let Some(at) = first else { continue };
            let upgrade = if pip.upgrade { " --upgrade" } else { "" };
            let help = if only_installer {
                "pin the installer too: put pip==<version> with its hashes in the lock (pip-compile --allow-unsafe --generate-hashes) and install it with --require-hashes, or keep the pip the base image ships".to_owned()
            } else {
                format!(
                    "pin every package with its hash in a lock file (pip-compile --generate-hashes, or uv pip compile --generate-hashes) and install it with {inv} --require-hashes -r requirements.txt"
                )
            };
            out.push(
                ctx.finding(
                    &PIP_INSTALL_WITHOUT_LOCK,
                    at,
                    format!("{inv}{upgrade} without hashes: {}", items.join(", ")),
                    help,
                )
                .with_data("packages", names),
            );
        }
    }
}
