//! IMG004: code or archives fetched from the network without pinning their content.

use everybyte_core::Finding;

use super::fetch::{Output, fetch, url_path};
use super::pip::{Spec, classify, pip_install};
use super::{Context, Program, Run, is_commit, is_python, is_sha256_hex, program};
use crate::image::dockerfile::{Args, Pos, expand, split_words};
use crate::image::shell::{Command, Pipeline, Word};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Fetches whose content is not pinned:
    /// - `git clone URL` with no later `git checkout <40-hex sha>` (also `git -C DIR checkout`,
    ///   `git switch --detach`, `git reset --hard`, `git fetch origin <sha>`, or `git clone
    ///   --revision=<sha>`) in the same stage. `--branch v1.2` and `git checkout v1.2` name a
    ///   branch or tag, which can be moved, so they do not count; `ARG`/`ENV` values are
    ///   substituted, so `git checkout ${APEX_COMMIT}` counts when its default is a sha.
    /// - `ADD https://…` without `--checksum=sha256:<64 hex>`, and `ADD` of a git URL whose
    ///   `#ref` is not a commit sha.
    /// - `curl -o`/`curl -O`/`wget` downloads of archives, packages, installers and binaries
    ///   (by extension, or because the file is later unpacked, made executable or run) with no
    ///   later checksum check in the same `RUN` (`sha256sum -c`, `sha256sum --check`,
    ///   `echo "<hex>  FILE" | sha256sum -c -`, `shasum -a 256 -c`, `gpg --verify`), and
    ///   downloads streamed straight into `tar`/`unzip`.
    /// - `pip install git+https://…@REF` where `REF` is missing or not a 40-hex commit sha.
    /// ## Why it matters
    /// A branch, a tag or a URL names whatever the remote serves on the day of the build.
    /// Upstream moves a branch, re-tags a release, or replaces a file, and the next build of
    /// the same Dockerfile compiles different code into the image, without a diff to review.
    /// A checksum or a commit sha makes the build fail instead of changing silently.
    /// ## Example
    /// ```dockerfile
    /// RUN git clone https://github.com/NVIDIA/apex /tmp/apex && cd /tmp/apex && pip install .
    /// ADD https://github.com/protocolbuffers/protobuf/releases/download/v25.1/protoc-25.1-linux-x86_64.zip /tmp/
    /// ```
    /// ## Fix
    /// Check out a full commit after cloning (`git -C /tmp/apex checkout <40-hex sha>`; `git
    /// ls-remote URL REF` prints the sha of a tag or branch), give `ADD` a
    /// `--checksum=sha256:<digest>`, verify downloads with `echo "<sha256>  FILE" | sha256sum
    /// -c -` before using them, and pin VCS requirements as `git+https://…@<40-hex sha>`.
    pub static UNPINNED_REMOTE_FETCH = { code: "IMG004", name: "unpinned-remote-fetch", severity: Warning, summary: "Remote code or archives are fetched without a pinned commit or checksum" };
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    git_clones(ctx, out);
    add_urls(ctx, out);
    for run in &ctx.runs {
        downloads(ctx, run, out);
        pip_vcs(ctx, run, out);
    }
}

/// `git [-C DIR] [-c K=V] SUBCOMMAND ARGS`: the subcommand, its arguments, and `-C`.
fn git(cmd: &Command) -> Option<(&str, &[Word], Option<&str>)> {
    if cmd.name() != "git" {
        return None;
    }
    let args = cmd.args();
    let mut dir = None;
    let mut i = 0;
    loop {
        let s = args.get(i)?.as_str();
        match s {
            "-C" => {
                dir = args.get(i + 1).map(Word::as_str);
                i += 2;
            }
            "-c" | "--git-dir" | "--work-tree" | "--namespace" | "--exec-path" => i += 2,
            _ if s.starts_with('-') => i += 1,
            _ => return Some((s, args.get(i + 1..).unwrap_or_default(), dir)),
        }
    }
}

const CLONE_VALUE: [&str; 20] = [
    "-b",
    "--branch",
    "--depth",
    "-o",
    "--origin",
    "-u",
    "--upload-pack",
    "--reference",
    "--reference-if-able",
    "--separate-git-dir",
    "--template",
    "-c",
    "--config",
    "-j",
    "--jobs",
    "--shallow-since",
    "--shallow-exclude",
    "--server-option",
    "--bundle-uri",
    "--revision",
];

struct Clone<'a> {
    url: &'a Word,
    dir: String,
    branch: Option<String>,
    pinned: bool,
    /// A later `git checkout REF` of a branch or tag name.
    moved_to: Option<String>,
}

fn last_component(path: &str) -> &str {
    let p = path.trim_end_matches('/');
    p.rsplit('/').next().unwrap_or(p)
}

/// Reads `git clone` arguments: the URL word, the directory, `--branch`, `--revision`.
fn clone_args<'a>(run: &Run<'_>, args: &'a [Word]) -> Option<Clone<'a>> {
    let mut positional: Vec<&Word> = Vec::new();
    let mut branch = None;
    let mut revision = None;
    let mut only_positional = false;
    let mut i = 0;
    while let Some(w) = args.get(i) {
        let s = w.as_str();
        i += 1;
        if only_positional || !s.starts_with('-') {
            positional.push(w);
            continue;
        }
        if s == "--" {
            only_positional = true;
            continue;
        }
        let (opt, value) = match s.split_once('=') {
            Some((o, v)) if s.starts_with("--") => (o, Some(v.to_owned())),
            _ if CLONE_VALUE.contains(&s) => {
                i += 1;
                (s, args.get(i - 1).map(|v| v.as_str().to_owned()))
            }
            _ => (s, None),
        };
        match opt {
            "-b" | "--branch" => branch = value.map(|v| run.expand(&v)),
            "--revision" => revision = value.map(|v| run.expand(&v)),
            _ => {}
        }
    }
    let url = *positional.first()?;
    let dir = positional.get(1).map_or_else(
        || {
            let path = url_path(url.as_str()).trim_end_matches('/');
            let base = path.rsplit(['/', ':']).next().unwrap_or(path);
            base.strip_suffix(".git").unwrap_or(base).to_owned()
        },
        |d| run.expand(d.as_str()),
    );
    Some(Clone {
        url,
        dir,
        branch,
        pinned: revision.as_deref().is_some_and(is_commit),
        moved_to: None,
    })
}

fn git_clones(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut clones: Vec<(Option<usize>, Clone<'_>)> = Vec::new();
    for run in &ctx.runs {
        let stage = run.ins.stage;
        let mut cwd = workdir(ctx, run);
        for cmd in run.commands() {
            if cmd.name() == "cd" {
                if let Some(d) = cmd.args().first() {
                    cwd = Some(run.expand(d.as_str()));
                }
                continue;
            }
            let Some((sub, args, dir)) = git(cmd) else {
                continue;
            };
            if sub == "clone" {
                clones.extend(clone_args(run, args).map(|c| (stage, c)));
                continue;
            }
            if !matches!(sub, "checkout" | "switch" | "reset" | "fetch") {
                continue;
            }
            let refs: Vec<String> = args
                .iter()
                .map(|w| run.expand(w.as_str()))
                .take_while(|s| s != "--")
                .filter(|s| !s.starts_with('-'))
                .collect();
            let pinned = refs.iter().any(|r| is_commit(r));
            let moved = (!pinned && matches!(sub, "checkout" | "switch"))
                .then(|| refs.last().cloned())
                .flatten();
            if !pinned && moved.is_none() {
                continue;
            }
            let here = dir.map(|d| run.expand(d)).or_else(|| cwd.clone());
            let open = |c: &&mut (Option<usize>, Clone<'_>)| c.0 == stage && !c.1.pinned;
            let by_dir = here.as_deref().map(last_component).and_then(|h| {
                clones
                    .iter()
                    .rposition(|c| c.0 == stage && !c.1.pinned && last_component(&c.1.dir) == h)
            });
            let target = match by_dir {
                Some(i) => clones.get_mut(i),
                None => clones.iter_mut().rev().find(open),
            };
            if let Some((_, c)) = target {
                if pinned {
                    c.pinned = true;
                } else {
                    c.moved_to = moved;
                }
            }
        }
    }
    for (_, c) in clones.into_iter().filter(|(_, c)| !c.pinned) {
        let url = c.url.as_str();
        let message = match (&c.moved_to, &c.branch) {
            (Some(r), _) => format!(
                "git clone {url} is checked out at {r}, a branch or tag name that can be moved: only a 40-hex commit sha is pinned"
            ),
            (None, Some(b)) => format!(
                "git clone --branch {b} {url}: {b} is a branch or tag name that can be moved, and no git checkout of a commit sha follows"
            ),
            (None, None) => format!(
                "git clone {url} builds whatever the default branch points to at build time: no git checkout of a commit sha follows"
            ),
        };
        let reference = c.moved_to.or(c.branch).unwrap_or_else(|| "HEAD".to_owned());
        out.push(ctx.finding(
            &UNPINNED_REMOTE_FETCH,
            c.url.start,
            message,
            format!(
                "pin the commit after cloning: git -C {} checkout <40-hex sha> (git ls-remote {url} {reference} prints the sha it points to now)",
                c.dir
            ),
        ));
    }
}

/// The `WORKDIR` in effect at a `RUN`.
fn workdir(ctx: &Context<'_>, run: &Run<'_>) -> Option<String> {
    ctx.df
        .instructions
        .iter()
        .take(run.index)
        .rev()
        .take_while(|i| i.keyword != "FROM")
        .find(|i| i.keyword == "WORKDIR")
        .and_then(|i| i.shell())
        .map(|t| run.expand(t.as_str().trim()))
}

fn is_git_url(s: &str) -> bool {
    let base = s.split('#').next().unwrap_or(s);
    s.starts_with("git@")
        || s.starts_with("git://")
        || std::path::Path::new(base)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("git"))
}

fn add_urls(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for (idx, ins) in ctx.df.instructions.iter().enumerate() {
        if ins.keyword != "ADD" {
            continue;
        }
        let sources: Vec<(String, Pos)> = match &ins.args {
            Args::Exec(items) => items
                .iter()
                .map(|j| (j.text.as_str().to_owned(), j.pos))
                .collect(),
            Args::Shell(t) => split_words(t)
                .iter()
                .map(|w| (w.as_str().trim_matches(['"', '\'']).to_owned(), w.start()))
                .collect(),
        };
        let Some((_, sources)) = sources.split_last() else {
            continue;
        };
        let vars = ctx.df.vars_at(idx);
        let checksum = ins
            .flag("checksum")
            .and_then(|f| f.value.as_deref())
            .map(|v| expand(v, &vars, ctx.df.escape).0);
        for (src, at) in sources {
            let src = expand(src, &vars, ctx.df.escape).0;
            let remote = ["http://", "https://", "git@", "git://", "ssh://"]
                .iter()
                .any(|p| src.starts_with(p));
            if !remote {
                continue;
            }
            if is_git_url(&src) {
                let reference = src
                    .split_once('#')
                    .map(|(_, r)| r.split(':').next().unwrap_or(r).to_owned());
                let pinned = reference.as_deref().is_some_and(is_commit)
                    || checksum.as_deref().is_some_and(is_commit);
                if pinned {
                    continue;
                }
                let message = match &reference {
                    Some(r) if !r.is_empty() => format!(
                        "ADD {src} fetches {r}, a branch or tag name that can be moved: only a 40-hex commit sha is pinned"
                    ),
                    _ => format!(
                        "ADD {src} fetches whatever the default branch points to at build time: no #<commit sha>"
                    ),
                };
                let repo = src.split('#').next().unwrap_or(&src);
                out.push(ctx.finding(
                    &UNPINNED_REMOTE_FETCH,
                    *at,
                    message,
                    format!("pin the commit: ADD {repo}#<40-hex sha> (git ls-remote {repo} prints the shas of its branches and tags)"),
                ));
                continue;
            }
            let good = checksum.as_deref().is_some_and(|c| {
                c.strip_prefix("sha256:").is_some_and(is_sha256_hex)
                    || c.strip_prefix("sha384:")
                        .is_some_and(|h| h.len() == 96 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    || c.strip_prefix("sha512:")
                        .is_some_and(|h| h.len() == 128 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            });
            if good {
                continue;
            }
            let message = match &checksum {
                Some(c) => format!(
                    "ADD {src} has a malformed --checksum={c}: expected sha256: followed by 64 hex digits"
                ),
                None => format!(
                    "ADD {src} has no --checksum: whatever the server returns at build time goes into the image"
                ),
            };
            out.push(ctx.finding(
                &UNPINNED_REMOTE_FETCH,
                *at,
                message,
                format!("ADD --checksum=sha256:<digest> {src} DEST (curl -fsSL {src} | sha256sum prints the digest; check it against the publisher's)"),
            ));
        }
    }
}

const ARCHIVES: [&str; 28] = [
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tar.zst",
    ".tzst",
    ".zip",
    ".gz",
    ".xz",
    ".bz2",
    ".zst",
    ".7z",
    ".whl",
    ".deb",
    ".rpm",
    ".apk",
    ".jar",
    ".run",
    ".sh",
    ".appimage",
    ".exe",
    ".msi",
    ".egg",
    ".pkg",
];
const EXTRACTORS: [&str; 12] = [
    "tar", "bsdtar", "unzip", "gunzip", "gzip", "zcat", "xz", "unxz", "zstd", "bunzip2", "cpio",
    "7z",
];
const CONSUMERS: [&str; 11] = [
    "chmod",
    "install",
    "dpkg",
    "rpm",
    "apk",
    "sh",
    "bash",
    "source",
    ".",
    "java",
    "unsquashfs",
];

fn is_archive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ARCHIVES.iter().any(|e| name.ends_with(e))
}

fn is_checksum_tool(name: &str) -> bool {
    matches!(
        name,
        "sha224sum" | "sha256sum" | "sha384sum" | "sha512sum" | "b2sum" | "shasum"
    )
}

/// Whether a command checks a file against a known checksum or signature.
fn verifies(cmd: &Command, pipeline: &Pipeline) -> bool {
    let args: Vec<&str> = cmd.args().iter().map(Word::as_str).collect();
    let has = |opts: &[&str]| args.iter().any(|a| opts.contains(a));
    let check_flag = args.iter().any(|a| {
        *a == "--check" || (a.starts_with('-') && !a.starts_with("--") && a.contains('c'))
    });
    match cmd.name() {
        "sha224sum" | "sha256sum" | "sha384sum" | "sha512sum" | "b2sum" => check_flag,
        "shasum" => {
            let algo = args
                .iter()
                .position(|a| *a == "-a" || *a == "--algorithm")
                .and_then(|i| args.get(i + 1));
            check_flag && algo.is_some_and(|a| *a != "1")
        }
        "gpg" | "gpg2" => has(&["--verify"]),
        "gpgv" | "gpgv2" => true,
        "cosign" => args.first().is_some_and(|a| a.starts_with("verify")),
        "minisign" => has(&["-V", "-Vm"]),
        "[" | "[[" | "test" => cmd.words().any(|w| {
            w.subs.iter().any(|s| {
                s.script
                    .all_commands()
                    .iter()
                    .any(|c| is_checksum_tool(c.name()))
            })
        }),
        "grep" | "cmp" | "diff" => pipeline.commands.iter().any(|c| is_checksum_tool(c.name())),
        _ => false,
    }
}

/// Whether a later command unpacks, installs, makes executable or runs `file`.
fn consumes(cmd: &Command, file: &str) -> bool {
    let base = last_component(file);
    if base.is_empty() {
        return false;
    }
    let mentions = cmd
        .args()
        .iter()
        .any(|w| last_component(w.as_str()) == base);
    let runs = cmd
        .argv
        .first()
        .is_some_and(|w| last_component(w.as_str()) == base);
    let name = cmd.name();
    runs || (mentions
        && (EXTRACTORS.contains(&name) || CONSUMERS.contains(&name) || is_python(name)))
}

fn downloads(ctx: &Context<'_>, run: &Run<'_>, out: &mut Vec<Finding>) {
    let pipelines: Vec<&Pipeline> = run.scripts.iter().flat_map(|s| s.all_pipelines()).collect();
    let later = |p: usize, c: usize| {
        pipelines.iter().enumerate().flat_map(move |(pi, pl)| {
            pl.commands
                .iter()
                .enumerate()
                .filter(move |(ci, _)| pi > p || (pi == p && *ci > c))
                .map(move |(_, cmd)| (cmd, *pl))
        })
    };
    for (pi, pipeline) in pipelines.iter().enumerate() {
        for (ci, cmd) in pipeline.commands.iter().enumerate() {
            let Some(f) = fetch(cmd) else { continue };
            if f.output == Output::Stdout {
                let rest = &pipeline.commands[ci + 1..];
                let to_shell = rest
                    .iter()
                    .any(|c| matches!(program(c), Some(Program::Stdin)));
                let Some(x) = rest.iter().find(|c| EXTRACTORS.contains(&c.name())) else {
                    continue;
                };
                if to_shell {
                    continue;
                }
                let name = last_component(url_path(f.url())).to_owned();
                out.push(ctx.finding(
                    &UNPINNED_REMOTE_FETCH,
                    f.pos(),
                    format!("{} streams {} straight into {}: the archive is unpacked without any checksum check", f.tool, f.url(), x.name()),
                    format!("download to a file and verify it first: curl -fsSLo /tmp/{name} {} && echo \"<sha256>  /tmp/{name}\" | sha256sum -c - && tar -xf /tmp/{name}", f.url()),
                ));
                continue;
            }
            let Some(file) = f.file() else { continue };
            let archive = is_archive(url_path(f.url())) || is_archive(&file);
            let consumed = later(pi, ci).any(|(c, _)| consumes(c, &file));
            if !(archive || consumed) || later(pi, ci).any(|(c, p)| verifies(c, p)) {
                continue;
            }
            out.push(ctx.finding(
                &UNPINNED_REMOTE_FETCH,
                f.pos(),
                format!("{} downloads {} to {file} with no checksum check after it in this RUN: the file is used as whatever the server returned", f.tool, f.url()),
                format!("verify it right after the download: echo \"<sha256>  {file}\" | sha256sum -c - (take the sha256 from the publisher's release page)"),
            ));
        }
    }
}

/// The ref of a VCS URL (`git+https://host/org/repo.git@REF#egg=x`), if it has one.
fn vcs_ref(url: &str) -> Option<&str> {
    let u = url.split('#').next().unwrap_or(url);
    let after_scheme = u.split_once("://").map_or(u, |(_, r)| r);
    let path = &after_scheme[after_scheme.find('/')?..];
    path.rfind('@').map(|i| &path[i + 1..])
}

fn pip_vcs(ctx: &Context<'_>, run: &Run<'_>, out: &mut Vec<Finding>) {
    for cmd in run.commands() {
        let Some(pip) = pip_install(cmd) else {
            continue;
        };
        for w in pip.specs.iter().chain(pip.editables.iter()) {
            let text = w.as_str();
            let text = text.strip_prefix("-e").unwrap_or(text);
            let Spec::Vcs(url) = classify(text) else {
                continue;
            };
            let reference = vcs_ref(url).map(|r| run.expand(r));
            if reference.as_deref().is_some_and(is_commit) {
                continue;
            }
            let repo = url.split('#').next().unwrap_or(url);
            let repo = match vcs_ref(url) {
                Some(r) => repo
                    .strip_suffix(r)
                    .and_then(|x| x.strip_suffix('@'))
                    .unwrap_or(repo),
                None => repo,
            };
            let plain = repo.trim_start_matches("git+");
            let inv = &pip.invocation;
            let message = match &reference {
                Some(r) => format!(
                    "{inv} {url}: {r} is a branch or tag name that can be moved: only a 40-hex commit sha is pinned"
                ),
                None => format!(
                    "{inv} {url} installs whatever the default branch points to at build time: no @<commit sha>"
                ),
            };
            out.push(ctx.finding(
                &UNPINNED_REMOTE_FETCH,
                w.start,
                message,
                format!(
                    "pin the commit: {repo}@<40-hex sha> (git ls-remote {plain} {} prints it)",
                    reference.as_deref().unwrap_or("HEAD")
                ),
            ));
        }
    }
}
