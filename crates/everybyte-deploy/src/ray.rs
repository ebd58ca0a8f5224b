//! What a Ray Serve config (a RayService's `serveConfigV2`) or a RayJob's `runtimeEnvYAML`
//! makes every Ray worker do at start: install packages, download a working directory, load
//! hub models. These are YAML inside a string; their lines are mapped back to the manifest's.

use crate::k8s::{Value, is_hub_id};
use crate::yaml::{self, Node};

/// What a Ray config fetches and loads at start.
#[derive(Debug, Clone, Default)]
pub struct RayStart {
    /// `runtime_env.pip` (or `uv`, `conda`): packages installed on every worker start.
    pub packages: Option<Value>,
    /// `runtime_env.working_dir` (or `py_modules`) given as a URL: downloaded at every start.
    pub archive: Option<Value>,
    /// Hub model ids named by the applications (`model_id`, `model_source`, `MODEL_ID`).
    pub models: Vec<Value>,
    /// A revision is named somewhere (`revision`, `HF_REVISION`).
    pub pinned: bool,
}

const MODEL_KEYS: &[&str] = &[
    "model_id",
    "model_source",
    "model",
    "model_name",
    "base_model",
    "MODEL_ID",
    "MODEL_NAME",
    "MODEL",
    "HF_MODEL_ID",
];

fn walk(n: &Node, base: u64, out: &mut RayStart) {
    let at = |v: &Node, text: &str| Value {
        text: text.to_owned(),
        line: base + v.line().saturating_sub(1),
    };
    match n {
        Node::Map(pairs, _) => {
            for (k, v) in pairs {
                match (k.as_str(), v) {
                    ("pip" | "uv" | "conda", v) if !matches!(v, Node::Null(_)) => {
                        let what = match v {
                            Node::Seq(items, _) => items
                                .iter()
                                .filter_map(Node::str)
                                .collect::<Vec<_>>()
                                .join(" "),
                            Node::Scalar(s, _) => s.clone(),
                            _ => k.clone(),
                        };
                        out.packages.get_or_insert(at(v, &format!("{k}: {what}")));
                    }
                    ("working_dir" | "py_modules", Node::Scalar(s, _)) if s.contains("://") => {
                        out.archive.get_or_insert(at(v, s));
                    }
                    (k, Node::Scalar(s, _))
                        if k.to_ascii_lowercase().contains("revision") && !s.is_empty() =>
                    {
                        out.pinned = true;
                    }
                    (k, Node::Scalar(s, _)) if MODEL_KEYS.contains(&k) && is_hub_id(s) => {
                        out.models.push(at(v, s));
                    }
                    _ => walk(v, base, out),
                }
            }
        }
        Node::Seq(items, _) => items.iter().for_each(|i| walk(i, base, out)),
        _ => {}
    }
}

/// Reads the Ray config strings of a RayService or RayJob document.
pub fn start(doc: &Node) -> Option<RayStart> {
    let mut out = RayStart::default();
    let mut any = false;
    for key in ["spec.serveConfigV2", "spec.runtimeEnvYAML"] {
        let Some(n) = doc.at(key) else { continue };
        let Some(text) = n.str() else { continue };
        // The scalar's mark is the line its text starts on (after a block scalar's `|`).
        let base = n.line();
        let Ok(docs) = yaml::parse(text) else {
            continue;
        };
        any = true;
        for d in &docs {
            walk(d, base, &mut out);
        }
    }
    any.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serve_config_and_its_lines() {
        let doc = &yaml::parse("kind: RayService\nspec:\n  serveConfigV2: |\n    applications:\n    - name: llm\n      runtime_env:\n        working_dir: https://github.com/x/y/archive/main.zip\n        pip: [vllm==0.5.4]\n        env_vars:\n          MODEL_ID: meta-llama/Meta-Llama-3-8B-Instruct\n").unwrap()[0];
        let s = start(doc).unwrap();
        assert_eq!(s.archive.as_ref().map(|a| a.line), Some(7));
        assert_eq!(
            s.packages.as_ref().map(|p| p.text.as_str()),
            Some("pip: vllm==0.5.4")
        );
        assert_eq!(s.models.len(), 1);
        assert_eq!(s.models[0].line, 10);
        assert!(!s.pinned);
        assert!(start(&yaml::parse("kind: RayCluster\nspec: {}\n").unwrap()[0]).is_none());
    }
}
