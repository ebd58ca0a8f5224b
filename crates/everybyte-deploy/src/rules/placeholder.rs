//! K8S028 placeholder-unrendered: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::on_doc;
use crate::k8s::{Container, Manifest};
use crate::yaml::Node;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A value Kubernetes takes literally that still holds a template placeholder: `${VAR}`,
    /// `$VAR`, `{{ … }}`, `<account>`/`<your-…>`/`<<PROJECT>>`, `YOUR-…`/`YOUR_…`, `REPLACE_ME`, and
    /// `{user}`-style braces, upper-case words in an image name (`PROJECT_ID`, `TAG_HERE`: image
    /// names are lower case), and a Secret value written as `{{TOKEN}}` (a YAML mapping, not a
    /// string). `${VAR}` in a
    /// command that a shell runs (`sh -c`) is the shell's and is not reported; in an exec-form
    /// command or an env value it is literal (Kubernetes expands only `$(VAR)`). KServe's
    /// `{{.Name}}` in a ServingRuntime and Argo's `{{inputs.…}}` are their templates, not
    /// placeholders.
    /// ## Why it matters
    /// The API server accepts most of them: the pod pulls an image literally named
    /// `${REGISTRY}/server`, the model server looks for a model called `<your-model-id>`, the job
    /// writes to `gs://{bucket}` — and fails at run time, far from the template that was never
    /// rendered.
    /// ## Example
    /// ```yaml
    /// image: ${REGISTRY}/llm-server:v1
    /// args: ["--model", "<your-model-id>"]
    /// ```
    /// ## Fix
    /// Render the template (`envsubst < tpl.yaml`, `helm template`, `kustomize build`) and lint the
    /// output; in commands, use `$(VAR)` with the variable in `env`.
    pub static PLACEHOLDER_UNRENDERED = { code: "K8S028", name: "placeholder-unrendered", severity: Error, summary: "A value holds a template placeholder that was never filled in" };
}

/// The placeholder in a value, where there is one.
/// `<account>`, `<<PROJECT>>`, `<YOUR_MODEL>`: a word in angle brackets. In a command only
/// the unmistakable ones (`<your-…>`, upper case) count: commands print `<` for other reasons.
fn angled(s: &str, value: bool) -> Option<String> {
    let mut from = 0;
    while let Some(i) = s[from..].find('<').map(|i| i + from) {
        let rest = s[i..].trim_start_matches('<');
        let Some(end) = rest.find('>') else { break };
        let inner = &rest[..end];
        let lower = inner.to_ascii_lowercase();
        let word = !inner.is_empty()
            && inner.as_bytes()[0].is_ascii_alphabetic()
            && inner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_- .".contains(&b));
        let plain = ["your", "insert", "replace", "enter"]
            .iter()
            .any(|p| lower.starts_with(p))
            || (inner.len() > 2
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b"_-".contains(&b)));
        if word && (value || plain) {
            return Some(format!("<{inner}>"));
        }
        from = i + 1;
    }
    None
}

/// The placeholder in a value, where there is one. `value`: a value Kubernetes reads (not a
/// command); `in_shell`: a command a shell runs, which expands `$VAR` itself; `templated`:
/// `{{ }}` belongs to the kind's own templates.
fn placeholder(s: &str, value: bool, in_shell: bool, templated: bool) -> Option<String> {
    if value
        && let Some(i) = s.find('{')
        && !s[..i].ends_with('$')
        && let Some(end) = s[i + 1..].find('}')
    {
        let inner = &s[i + 1..i + 1 + end];
        if !inner.is_empty()
            && inner.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            && !s[i + 1 + end..].starts_with("}}")
            && !s[..i].ends_with('{')
        {
            return Some(format!("{{{inner}}}"));
        }
    }
    if !in_shell && let Some(i) = s.find("${") {
        let end = s[i..].find('}').map_or(s.len(), |e| i + e + 1);
        return Some(s[i..end].to_owned());
    }
    if !templated && let Some(i) = s.find("{{") {
        let end = s[i..].find("}}").map_or(s.len(), |e| i + e + 2);
        return Some(s[i..end].to_owned());
    }
    if value {
        // `$VAR`: Kubernetes expands `$(VAR)` only.
        let b = s.as_bytes();
        for (i, _) in s.match_indices('$') {
            let next = b.get(i + 1).copied().unwrap_or(b' ');
            let escaped = i > 0 && b[i - 1] == b'$';
            if !escaped && (next.is_ascii_uppercase() || next == b'_') {
                let name: String = s[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                return Some(format!("${name}"));
            }
        }
    }
    if let Some(a) = angled(s, value) {
        return Some(a);
    }
    // `YOUR-PVC-NAME`, `YOUR_API_KEY`, `REPLACE_ME`, `CHANGEME`.
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .find(|w| {
            (w.starts_with("YOUR-")
                || w.starts_with("YOUR_")
                || matches!(*w, "REPLACE_ME" | "CHANGE_ME" | "CHANGEME" | "REPLACEME"))
                && w.len() > 5
        })
        .map(str::to_owned)
}

/// Fields whose values a program reads, not Kubernetes (annotations, config data, Ray Serve
/// configs): not judged.
const SKIP: &[&str] = &[
    "annotations",
    "data",
    "stringData",
    "serveConfigV2",
    "serveConfig",
    "runtimeEnvYAML",
    "entrypoint",
    "command",
    "args",
    "source",
    "script",
];

fn walk(n: &Node, templated: bool, found: &mut Vec<(u64, String)>) {
    match n {
        Node::Scalar(s, line) => {
            if let Some(p) = placeholder(s, true, false, templated) {
                found.push((*line, p));
            }
        }
        Node::Seq(items, _) => items.iter().for_each(|i| walk(i, templated, found)),
        Node::Map(pairs, _) => {
            for (k, v) in pairs {
                if !SKIP.contains(&k.as_str()) {
                    walk(v, templated, found);
                }
            }
        }
        Node::Null(_) => {}
    }
}

fn command(c: &Container, templated: bool, found: &mut Vec<(u64, String)>) {
    // Kubernetes expands only $(VAR); `${VAR}` reaches the program as written unless a
    // shell runs the command.
    let shell = c.shell();
    let line = c.argv_line.unwrap_or(c.line);
    for a in &c.argv {
        if let Some(p) = placeholder(a, false, shell, templated)
            .filter(|p| !p.starts_with('{') || p.starts_with("{{"))
        {
            found.push((line, p));
        }
    }
}

/// An image reference with upper-case letters in its name: image names are lower case, so
/// `REPO_HERE.azurecr.io/app:TAG_HERE` or `…/PROJECT_ID/…` was meant to be filled in.
fn upper_image(image: &str) -> Option<String> {
    let name = image.split('@').next().unwrap_or(image);
    let name = match name.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => n,
        _ => name,
    };
    let word: String = name
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| w.len() > 1 && w.bytes().any(|b| b.is_ascii_uppercase()))?
        .to_owned();
    Some(word)
}

/// A Secret's `data`/`stringData` value that is not a string: `{{HF_TOKEN}}` unquoted is YAML
/// for a nested mapping, which the API server refuses.
fn secret_values(d: &crate::k8s::Doc, found: &mut Vec<(u64, String)>) {
    for key in ["data", "stringData"] {
        if let Some(Node::Map(pairs, _)) = d.node.get(key) {
            for (k, v) in pairs {
                if v.is_map() {
                    found.push((v.line(), format!("{k}: {{{{…}}}}")));
                } else if let Some(s) = v.str()
                    && let Some(p) = placeholder(s, true, false, false)
                {
                    found.push((v.line(), p));
                }
            }
        }
    }
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for (i, d) in m.docs.iter().enumerate() {
        let kind = d.kind.as_deref().unwrap_or("");
        // KServe runtimes and Argo workflows have templates of their own.
        let templated = matches!(
            kind,
            "ServingRuntime"
                | "ClusterServingRuntime"
                | "Workflow"
                | "WorkflowTemplate"
                | "ClusterWorkflowTemplate"
                | "CronWorkflow"
        );
        let mut found = Vec::new();
        walk(&d.node, templated, &mut found);
        let workload = m.workloads.iter().find(|w| w.doc == i);
        if let Some(w) = workload {
            for p in &w.pods {
                for c in &p.containers {
                    command(c, templated, &mut found);
                    if let Some(img) = &c.image
                        && !found.iter().any(|(l, _)| *l == img.line)
                        && let Some(word) = upper_image(&img.text)
                    {
                        found.push((img.line, word));
                    }
                }
            }
        }
        if kind == "Secret" {
            secret_values(d, &mut found);
        }
        found.sort();
        found.dedup();
        let Some(&(first, _)) = found.first() else {
            continue;
        };
        let mut names: Vec<&str> = Vec::new();
        for (_, p) in &found {
            if !names.contains(&p.as_str()) {
                names.push(p);
            }
        }
        let shown = names.iter().take(4).copied().collect::<Vec<_>>().join(", ");
        let more = if names.len() > 4 {
            format!(" and {} more", names.len() - 4)
        } else {
            String::new()
        };
        let lines: Vec<String> = found.iter().map(|(l, _)| l.to_string()).collect();
        let mut lines = lines;
        lines.dedup();
        out.push(
            on_doc(&PLACEHOLDER_UNRENDERED, m, d, first, format!(
                "{} holds unrendered placeholder{} {shown}{more} (line{} {}): Kubernetes takes {} literally",
                d.id(),
                if names.len() == 1 { "" } else { "s" },
                if lines.len() == 1 { "" } else { "s" },
                lines.join(", "),
                if names.len() == 1 { "it" } else { "them" },
            ))
            .with_help("# render the template first and lint the output:
envsubst < tpl.yaml > out.yaml   # or helm template, kustomize build
# in commands, Kubernetes expands $(VAR) from env, not ${VAR}"),
        );
    }
}
