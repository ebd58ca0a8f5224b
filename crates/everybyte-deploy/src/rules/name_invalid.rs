//! K8S030 name-invalid: the rule's documentation, its declaration and its check.

use everybyte_core::Finding;

use super::on_doc;
use crate::k8s::Manifest;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// `metadata.name` against the rules the API server applies: a DNS-1123 subdomain for most
    /// kinds (lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit,
    /// at most 253 characters), a DNS-1035 label for Services (at most 63, starting with a letter).
    /// Custom resources are held to the subdomain rule too, which the API server enforces for
    /// them; RBAC objects, whose names are path segments (`system:auth-delegator`), are not.
    /// ## Why it matters
    /// `kubectl apply` fails with `Invalid value: "Llama_Server": a lowercase RFC 1123 subdomain
    /// must consist of …`; in a pipeline that renders names from model names
    /// (`Llama-3.1-8B`) it fails at deploy time, not at review.
    /// ## Example
    /// ```yaml
    /// metadata: {name: Llama3_8B-server}
    /// ```
    /// ## Fix
    /// ```yaml
    /// metadata: {name: llama3-8b-server}
    /// ```
    pub static NAME_INVALID = { code: "K8S030", name: "name-invalid", severity: Error, summary: "An object name the API server rejects" };
}

fn alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Why a name breaks the rule for its kind, where it does.
fn invalid(name: &str, kind: &str) -> Option<String> {
    let label = kind == "Service";
    let max = if label { 63 } else { 253 };
    let b = name.as_bytes();
    if b.len() > max {
        return Some(format!("it is {} characters long, over {max}", b.len()));
    }
    if let Some(c) = name.chars().find(|c| {
        !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || (*c == '.' && !label))
    }) {
        return Some(format!(
            "`{c}` is not allowed (lower-case letters, digits, `-`{})",
            if label { "" } else { " and `.`" }
        ));
    }
    let first_ok = if label {
        b[0].is_ascii_lowercase()
    } else {
        alnum(b[0])
    };
    if !first_ok || !alnum(b[b.len() - 1]) {
        return Some(format!(
            "it must start with a {} and end with a letter or digit",
            if label { "letter" } else { "letter or digit" }
        ));
    }
    None
}

pub fn check(m: &Manifest, out: &mut Vec<Finding>) {
    for d in &m.docs {
        let Some(name) = &d.name else { continue };
        let kind = d.kind.as_deref().unwrap_or("");
        // RBAC names are path segments (`system:metrics-reader` is valid); placeholders are
        // K8S028's.
        if matches!(
            kind,
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
        ) || name.text.is_empty()
            || name.text.contains(['$', '{', '<'])
        {
            continue;
        }
        if let Some(why) = invalid(&name.text, kind) {
            let fixed: String = name
                .text
                .to_ascii_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || (c == '.' && kind != "Service") {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            out.push(
                on_doc(
                    &NAME_INVALID,
                    m,
                    d,
                    name.line,
                    format!(
                        "{kind} name {:?} is rejected by the API server: {why}",
                        name.text
                    ),
                )
                .with_help(format!(
                    "metadata:\n  name: {}",
                    fixed.trim_matches(['-', '.'])
                )),
            );
        }
    }
}
