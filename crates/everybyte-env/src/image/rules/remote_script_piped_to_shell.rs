//! IMG003: a downloaded script run straight from the network.

use everybyte_core::Finding;

use super::fetch::{Fetch, Output, fetch, yielded};
use super::{Context, Program, program};
use crate::image::shell::{SubKind, Word};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A `RUN` that downloads a script and runs it without keeping or checking it:
    /// `curl URL | sh`, `curl URL | bash`, `wget -O- URL | sh`, `curl URL | python`,
    /// `bash <(curl URL)`, `sh -c "$(curl URL)"`, `python -c "$(curl URL)"` and
    /// `eval "$(curl URL)"`, through `sudo`/`env` and inside `sh -c` scripts and heredocs. An
    /// interpreter that reads something else than the download (`curl URL | python -c
    /// 'import json…'`, `curl URL | python -m json.tool`) is not reported.
    /// ## Why it matters
    /// The script that runs is whatever the server returns at build time, as root, with no
    /// record of what it was: a compromised or moved URL, a new upstream version, or a
    /// truncated download (a cut connection can run half a script) all land in the image
    /// unnoticed. The same Dockerfile builds different images on different days.
    /// ## Example
    /// ```dockerfile
    /// RUN curl -s https://packagecloud.io/install/repositories/github/git-lfs/script.deb.sh | bash
    /// ```
    /// ## Fix
    /// Download to a file, check it against the checksum the project publishes, then run it:
    /// `curl -fsSLo /tmp/install.sh URL && echo "<sha256>  /tmp/install.sh" | sha256sum -c - &&
    /// bash /tmp/install.sh`. Better, install the tool from a pinned package or release
    /// archive (for git-lfs: `apt-get install git-lfs=<version>`).
    pub static REMOTE_SCRIPT_PIPED_TO_SHELL = { code: "IMG003", name: "remote-script-piped-to-shell", severity: Error, summary: "A downloaded script is piped into a shell or interpreter" };
}

fn help(f: &Fetch<'_>) -> String {
    format!(
        "download it to a file, check it against the checksum the project publishes, then run it: curl -fsSLo /tmp/install.sh {} && echo \"<sha256>  /tmp/install.sh\" | sha256sum -c - && bash /tmp/install.sh; or install the tool from a pinned package",
        f.url()
    )
}

/// The download a word's substitution yields (`"$(curl URL)"`, `<(curl URL)`).
fn substituted(w: &Word) -> Option<Fetch<'_>> {
    w.subs
        .iter()
        .filter(|s| s.kind != SubKind::ProcessOut)
        .find_map(|s| yielded(&s.script))
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for run in &ctx.runs {
        for script in &run.scripts {
            for pipeline in script.all_pipelines() {
                let cmds = &pipeline.commands;
                let Some((i, f)) = cmds
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| fetch(c).map(|f| (i, f)))
                    .find(|(_, f)| f.output == Output::Stdout)
                else {
                    continue;
                };
                let Some(shell) = cmds[i + 1..]
                    .iter()
                    .find(|c| matches!(program(c), Some(Program::Stdin)))
                else {
                    continue;
                };
                out.push(ctx.finding(
                    &REMOTE_SCRIPT_PIPED_TO_SHELL,
                    f.pos(),
                    format!(
                        "remote script {} is piped from {} into {}: whatever the server returns at build time runs unverified",
                        f.url(),
                        f.tool,
                        shell.name()
                    ),
                    help(&f),
                ));
            }
            for cmd in script.all_commands() {
                let (word, how) = match program(cmd) {
                    Some(Program::Inline(w)) if cmd.name() == "eval" => {
                        (w, "eval \"$(…)\"".to_owned())
                    }
                    Some(Program::Inline(w)) => {
                        let flag = if matches!(cmd.name(), "perl" | "ruby" | "node") {
                            "-e"
                        } else {
                            "-c"
                        };
                        (w, format!("{} {flag} \"$(…)\"", cmd.name()))
                    }
                    Some(Program::File(w)) => (w, format!("{} <(…)", cmd.name())),
                    _ => match cmd.argv.first() {
                        Some(w) => (w, "a command \"$(…)\"".to_owned()),
                        None => continue,
                    },
                };
                let Some(f) = substituted(word) else { continue };
                out.push(ctx.finding(
                    &REMOTE_SCRIPT_PIPED_TO_SHELL,
                    f.pos(),
                    format!(
                        "remote script {} is fetched by {} and run by {how}: whatever the server returns at build time runs unverified",
                        f.url(),
                        f.tool
                    ),
                    help(&f),
                ));
            }
        }
    }
}
