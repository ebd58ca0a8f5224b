//! REPRO018: models, datasets and code fetched by name with nothing pinning the version.

use everybyte_core::Finding;

use everybyte_core::url::{BRANCHES, moving_ref};

use super::Context;
use crate::model::Call;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Remote artifacts named without a pin, in running code: `from_pretrained("org/name")`
    /// and `load_dataset("org/name")` without a `revision=` that has a value (the name as a
    /// literal, as the default of the option or the constant passed, or an option whose name
    /// says it is a hub name: `model_name_or_path`, `base_model`, `dataset_name`; a
    /// `--revision` option that defaults to `None` pins nothing by default), `timm.create_model(...,
    /// pretrained=True)`, and `torch.hub.load` of a repository without a tag or at a branch
    /// (`"pytorch/vision"`, `"org/repo:main"`), `hf_hub_download` and `snapshot_download` of a
    /// repository without a `revision=`, and download URLs at a branch head in running code
    /// (`https://raw.githubusercontent.com/ORG/REPO/master/…`, `github.com/ORG/REPO/raw/main/…`,
    /// `huggingface.co/…/resolve/main/…`, GitLab's `/-/raw/main/…`), as a string constant or a
    /// call's argument, f-strings included. Local paths and the file-format builders of
    /// `load_dataset` (`"json"`, `"csv"`, `"parquet"`, `"imagefolder"`…) are not remote.
    /// ## Why it matters
    /// A hub name resolves to whatever its default branch holds on the day of the run: the
    /// owner pushes new weights, a fixed tokenizer or a cleaned dataset, and the same command
    /// trains on different inputs a month later with nothing in the code or the logs to show
    /// it.
    /// ## Example
    /// ```python
    /// tok = AutoTokenizer.from_pretrained("meta-llama/Llama-3.1-8B")
    /// ds = load_dataset("tatsu-lab/alpaca")
    /// ```
    /// ## Fix
    /// Pin the commit: `from_pretrained(name, revision="<40-hex commit>")`,
    /// `load_dataset(name, revision="<commit>")`, `torch.hub.load("org/repo:v1.2.0", ...)`;
    /// for timm, pass `pretrained_cfg_overlay=dict(file=...)` to a downloaded, checksummed file.
    pub static UNPINNED_ARTIFACT = { code: "REPRO018", name: "unpinned-artifact", severity: Warning, summary: "A remote model, dataset or hub repository is fetched by name without a pinned revision" };
}

const BUILDERS: &[&str] = &[
    "json",
    "csv",
    "parquet",
    "text",
    "imagefolder",
    "audiofolder",
    "videofolder",
    "arrow",
    "pandas",
    "webdataset",
    "generator",
    "sql",
    "xml",
];

fn literal(s: &str) -> Option<&str> {
    let t = s.trim();
    // A dataclass option: `field(default="gpt2", metadata=...)`.
    let t = t
        .strip_prefix("field(")
        .and_then(|r| r.split("default=").nth(1))
        .map_or(t, |r| r.split([',', ')']).next().unwrap_or(r).trim());
    let inner = t
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| t.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))?;
    (!inner.contains(['{', '\n'])).then_some(inner)
}

/// A hub id: `name` or `org/name`, not a path.
fn hub_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    !s.is_empty()
        && parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && !p.starts_with('.')
        })
        && !std::path::Path::new(s).extension().is_some_and(|e| {
            [
                "pt",
                "pth",
                "bin",
                "json",
                "safetensors",
                "ckpt",
                "py",
                "txt",
            ]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
        })
}

/// The literal an argument names: itself, the default of the option it reads
/// (`args.model_name_or_path`), or a module constant.
fn named_literal<'a>(ctx: &'a Context<'_>, arg: &'a str) -> Option<&'a str> {
    if let Some(l) = literal(arg) {
        return Some(l);
    }
    let field = arg.rsplit('.').next()?;
    if !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let s = ctx.script;
    ctx.option(field)
        .and_then(|c| c.keyword("default"))
        .and_then(literal)
        .or_else(|| {
            s.assigns
                .iter()
                .filter(|a| a.target == field || a.target.ends_with(&format!(".{field}")))
                .find_map(|a| literal(&a.value))
        })
}

/// An option or parameter whose name says it holds a hub model or dataset name.
fn names_hub_id(arg: &str) -> bool {
    let field = arg.rsplit('.').next().unwrap_or(arg).to_ascii_lowercase();
    field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && [
            "model_name",
            "model_id",
            "base_model",
            "model_type",
            "pretrained_model",
            "tokenizer_name",
            "dataset_name",
            "hub_model",
        ]
        .iter()
        .any(|w| field.contains(w))
}

fn report(ctx: &Context<'_>, c: &Call, what: String, out: &mut Vec<Finding>) {
    out.push(
        Finding::new(&UNPINNED_ARTIFACT, ctx.at(c.file, c.line, c.column), what).with_help(
            "pin the commit: revision=\"<40-hex commit>\" (torch.hub: \"org/repo:<tag>\")",
        ),
    );
}

/// The text of a string literal or an f-string (`f"…"`, `rf'…'`), quotes removed.
fn string_text(s: &str) -> Option<&str> {
    let t = s.trim();
    let t = t.trim_start_matches(['f', 'F', 'r', 'R', 'b', 'B']);
    t.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| t.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
}

/// Download URLs at a branch head, in the constants and call arguments of running code; one
/// finding per URL.
fn moving_urls(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let s = ctx.script;
    let mut seen = std::collections::BTreeSet::new();
    let mut found: Vec<(usize, u64, u64, String, String)> = Vec::new();
    let mut look = |file: usize, line: u64, column: u64, value: &str| {
        let Some(text) = string_text(value) else {
            return;
        };
        if let Some(branch) = moving_ref(text) {
            let url = text.to_owned();
            if seen.insert(url.clone()) {
                found.push((file, line, column, url, branch.to_owned()));
            }
        }
    };
    for a in s.live_assigns() {
        look(a.file, a.line, a.column, &a.value);
    }
    for c in s.live_calls() {
        for v in c.args.iter().chain(c.keywords.iter().map(|(_, v)| v)) {
            look(c.file, c.line, c.column, v);
        }
    }
    for (file, line, column, url, branch) in found {
        out.push(
            Finding::new(
                &UNPINNED_ARTIFACT,
                ctx.at(file, line, column),
                format!("\"{url}\" downloads from the branch head `{branch}`: what the run fetches changes whenever the branch moves"),
            )
            .with_help("put a commit in the URL instead of the branch (raw.githubusercontent.com/ORG/REPO/<commit>/…, huggingface.co/…/resolve/<commit>/…) and check the file's sha256 after the download"),
        );
    }
}

/// timm weights by name and `torch.hub` repositories at a branch.
fn other_artifact(ctx: &Context<'_>, c: &Call, out: &mut Vec<Finding>) {
    if c.callee.starts_with("timm.")
        && c.name() == "create_model"
        && c.keyword("pretrained").is_some_and(|p| p != "False")
    {
        let p = c.keyword("pretrained").unwrap_or_default();
        let when = if p == "True" {
            String::new()
        } else {
            format!(" (when {p} is set)")
        };
        report(
            ctx,
            c,
            format!(
                "timm.create_model(..., pretrained={p}) downloads whatever weights the hub holds for the name today{when}"
            ),
            out,
        );
    } else if matches!(c.callee.as_str(), "torch.hub.load" | "torch.hub.list") {
        let Some(repo) = c.args.first().and_then(|a| literal(a)) else {
            return;
        };
        let branch = match repo.split_once(':') {
            None => true,
            Some((_, r)) => BRANCHES.contains(&r),
        };
        if branch
            && c.keyword("source") != Some("'local'")
            && c.keyword("source") != Some("\"local\"")
        {
            report(
                ctx,
                c,
                format!(
                    "{}(\"{repo}\") runs the repository's code and weights at a branch head",
                    c.written
                ),
                out,
            );
        }
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for c in ctx.script.live_calls() {
        let name = c.name();
        // A `from_pretrained` of the project's own class is its code, not the hub's.
        let own_method = name == "from_pretrained"
            && ctx
                .script
                .functions
                .values()
                .any(|f| f.short() == "from_pretrained")
            && ![
                "transformers.",
                "diffusers.",
                "peft.",
                "sentence_transformers.",
            ]
            .iter()
            .any(|p| c.callee.starts_with(p));
        // `revision=args.revision` pins only when the option has a value by default.
        // A branch name (`revision="main"`) moves as the default does.
        let pinned = c.keyword("revision").is_some_and(|r| {
            r.trim() != "None"
                && (named_literal(ctx, r).is_some_and(|v| !v.is_empty() && !BRANCHES.contains(&v))
                    || literal(r).is_none()
                        && named_literal(ctx, r).is_none()
                        && !ctx.defaults_none(r))
        });
        let hub_file = matches!(name, "hf_hub_download" | "snapshot_download")
            && (c.callee.starts_with("huggingface_hub.") || c.callee == name);
        if (name == "from_pretrained" && !own_method
            || c.callee.ends_with("load_dataset")
            || hub_file)
            && !pinned
        {
            let arg = c
                .args
                .first()
                .map(String::as_str)
                .or_else(|| c.keyword("pretrained_model_name_or_path"))
                .or_else(|| c.keyword("path"))
                .or_else(|| c.keyword("repo_id"));
            let Some(arg) = arg else { continue };
            let id = match named_literal(ctx, arg) {
                Some(id) if hub_id(id) => id.to_owned(),
                Some(_) => continue,
                // A model or dataset *name* taken from the command line or the config: a
                // hub id by what it is called, whatever value the run passes.
                _ if names_hub_id(arg) => arg.to_owned(),
                _ => continue,
            };
            let id = id.as_str();
            if name != "from_pretrained" && BUILDERS.contains(&id) {
                continue;
            }
            // A folder of the project with that name is local.
            if ctx
                .script
                .files
                .iter()
                .any(|f| f.contains(&format!("{id}/")))
            {
                continue;
            }
            let what = if id == arg {
                format!(
                    "{}({arg}), a hub name from the command line or config,",
                    c.written
                )
            } else {
                format!("{}(\"{id}\")", c.written)
            };
            report(
                ctx,
                c,
                match c
                    .keyword("revision")
                    .and_then(|r| named_literal(ctx, r))
                    .filter(|r| BRANCHES.contains(r))
                {
                    Some(branch) => format!(
                        "{what} at revision \"{branch}\", a branch: whatever it holds on the day decides what this run downloads"
                    ),
                    None => format!(
                        "{what} without a revision: the hub's default branch decides what this run downloads"
                    ),
                },
                out,
            );
        } else {
            other_artifact(ctx, c, out);
        }
    }
    moving_urls(ctx, out);
}

#[cfg(test)]
mod tests {
    use super::hub_id;

    #[test]
    fn hub_ids_and_paths() {
        for id in [
            "gpt2",
            "bert-base-uncased",
            "meta-llama/Llama-3.1-8B",
            "tatsu-lab/alpaca",
        ] {
            assert!(hub_id(id), "{id}");
        }
        for p in ["./ckpt", "/data/model", "out/a/b", "model.pt", "", "../x"] {
            assert!(!hub_id(p), "{p}");
        }
    }
}
