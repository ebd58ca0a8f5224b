//! The deploy area's part of `everybyte audit`: every Kubernetes manifest of the project,
//! held to the size of the largest model the project holds.

use std::path::Path;

use everybyte_core::{Audit, FileKind, Report};

use crate::Error;
use crate::expect::Expectations;
use crate::lint::lint_parsed;
use crate::yaml;

/// Lints the project's Kubernetes manifests, each read and parsed once: YAML with a
/// Kubernetes object in it (a `kind` and an `apiVersion`; a `kind` is enough in a folder of
/// manifests), or YAML that does not parse in such a folder. Helm chart templates (`{{ … }}`
/// that is not YAML until rendered) and values files are not manifests. The memory the
/// manifests need is the largest model's size times the configured headroom
/// (`[deploy] headroom`).
pub fn audit(input: &Audit<'_>, report: &mut Report) -> Result<(), Error> {
    let mut expect: Option<Expectations> = None;
    for f in &input.project.files {
        let named = f.kind == FileKind::KubernetesManifest;
        let yaml_ext = Path::new(&f.rel)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if !named && !yaml_ext {
            continue;
        }
        let text = match std::fs::read_to_string(&f.path) {
            Ok(t) => t,
            Err(e) if named => {
                report
                    .findings
                    .push(everybyte_core::rules::unreadable_io(&f.rel, &e));
                continue;
            }
            Err(_) => continue,
        };
        let docs = yaml::parse(&text);
        let lint = match &docs {
            Ok(docs) => docs
                .iter()
                .any(|d| d.get("kind").is_some() && (named || d.get("apiVersion").is_some())),
            Err(_) => named && !text.contains("{{"),
        };
        if !lint {
            continue;
        }
        let expect = expect.get_or_insert_with(|| Expectations {
            model_bytes: everybyte_mem::model::largest_model(input.project),
            headroom: input.config.options.deploy.headroom,
            ..Expectations::default()
        });
        report
            .findings
            .extend(lint_parsed(&f.rel, &text, docs, expect));
    }
    Ok(())
}
