//! IMG001: a base image that is not pinned by digest.

use everybyte_core::Finding;

use super::{Context, is_sha256_hex};
use crate::image::dockerfile::{Base, Pos};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `FROM` lines (and `COPY --from=IMAGE`) that name an image without a digest: a tag only
    /// (`pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime`), `:latest`, no tag at all (which means
    /// `:latest`), or a malformed digest. `ARG`s before the first `FROM` are substituted, so
    /// `FROM python:${PY}` is judged as the image it resolves to. `FROM scratch` and `FROM` of
    /// an earlier stage (`FROM build`) are not images and are not reported.
    /// ## Why it matters
    /// A tag is a movable pointer. Publishers re-push tags for security rebuilds and patch
    /// releases, and `latest` moves with every release, so the same Dockerfile builds a
    /// different image next week: another CUDA, another glibc, another Python patch level.
    /// Builds stop being reproducible and a compromised or broken push reaches you silently.
    /// Only `@sha256:<digest>` names immutable content.
    /// ## Example
    /// ```dockerfile
    /// FROM pytorch/pytorch:latest AS train
    /// FROM python:3.10-slim AS server
    /// ```
    /// ## Fix
    /// Resolve the tag to its digest with `docker buildx imagetools inspect IMAGE` (or `crane
    /// digest IMAGE`) and pin it, keeping the tag for readability:
    /// `FROM python:3.10-slim@sha256:<digest>`. Let a bot (Renovate, Dependabot) raise pull
    /// requests when the digest behind the tag changes.
    pub static UNPINNED_BASE_IMAGE = { code: "IMG001", name: "unpinned-base-image", severity: Error, summary: "A base image is not pinned by digest" };
}

/// How an image reference fails to pin its content.
enum Problem<'a> {
    Latest,
    NoTag,
    Tag,
    BadDigest(&'a str),
}

fn problem(image: &str) -> Option<Problem<'_>> {
    if let Some((_, digest)) = image.split_once('@') {
        return match digest.strip_prefix("sha256:") {
            Some(hex) if is_sha256_hex(hex) => None,
            _ => Some(Problem::BadDigest(digest)),
        };
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, "latest")) => Some(Problem::Latest),
        Some(_) => Some(Problem::Tag),
        None => Some(Problem::NoTag),
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for stage in &ctx.df.stages {
        if stage.base != Base::Image {
            continue;
        }
        let Some(token) = &stage.image else { continue };
        let written = token.as_str();
        if stage.resolved.is_empty() {
            let vars = stage.unresolved.join(", ");
            out.push(ctx.finding(
                &UNPINNED_BASE_IMAGE,
                token.start(),
                format!("FROM {written} resolves to an empty image name: {vars} has no default, so the base is whatever --build-arg passes"),
                format!("give the ARG a pinned default before the first FROM: ARG {}=IMAGE:TAG@sha256:<digest> (docker buildx imagetools inspect IMAGE:TAG prints the digest)", stage.unresolved.first().map_or("BASE", String::as_str)),
            ));
            continue;
        }
        report(ctx, &stage.resolved, written, "FROM ", token.start(), out);
    }
    for (idx, ins) in ctx.df.instructions.iter().enumerate() {
        if ins.keyword != "COPY" {
            continue;
        }
        let Some(flag) = ins.flag("from") else {
            continue;
        };
        let Some(value) = &flag.value else { continue };
        let vars = ctx.df.vars_at(idx);
        let resolved = crate::image::dockerfile::expand(value, &vars, ctx.df.escape).0;
        if resolved.is_empty()
            || ctx.df.from_stage(&resolved, ins.stage).is_some()
            || ctx.df.from_stage(value, ins.stage).is_some()
        {
            continue;
        }
        let at = Pos::new(flag.pos.line, flag.pos.col + "--from=".len());
        report(ctx, &resolved, value, "COPY --from=", at, out);
    }
}

fn report(
    ctx: &Context<'_>,
    image: &str,
    written: &str,
    how: &str,
    at: Pos,
    out: &mut Vec<Finding>,
) {
    let Some(problem) = problem(image) else {
        return;
    };
    let shown = if written == image {
        image.to_owned()
    } else {
        format!("{image} (written {how}{written})")
    };
    let repo = image.split('@').next().unwrap_or(image);
    let (message, help) = match problem {
        Problem::Latest => (
            format!(
                "{shown} floats: latest is re-pointed at every release, so each build can get a different base"
            ),
            format!(
                "pick a version tag and pin its digest: docker buildx imagetools inspect {name}:<version> (or crane digest {name}:<version>) prints it; then {how}{name}:<version>@sha256:<digest>, keeping the tag for readability",
                name = repo.trim_end_matches(":latest")
            ),
        ),
        Problem::NoTag => (
            format!(
                "{shown} has no tag or digest: it means {image}:latest, which is re-pointed at every release"
            ),
            format!(
                "pick a version tag and pin its digest: docker buildx imagetools inspect {image}:<version> (or crane digest {image}:<version>) prints it; then {how}{image}:<version>@sha256:<digest>"
            ),
        ),
        Problem::Tag => (
            format!(
                "{shown} is pinned by tag only: tags are re-pushed (patch releases, security rebuilds), so the base can change under the same name"
            ),
            format!(
                "docker buildx imagetools inspect {repo} (or crane digest {repo}) prints the digest; then {how}{repo}@sha256:<digest>, keeping the tag for readability"
            ),
        ),
        Problem::BadDigest(digest) => (
            format!(
                "{shown} has a malformed digest {digest}: a pin is @sha256: followed by 64 hex digits"
            ),
            format!(
                "docker buildx imagetools inspect {repo} (or crane digest {repo}) prints the full digest; then {how}{repo}@sha256:<digest>"
            ),
        ),
    };
    out.push(ctx.finding(&UNPINNED_BASE_IMAGE, at, message, help));
}
