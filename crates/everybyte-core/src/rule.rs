//! Rules: stable codes with their documentation, and the registry of all of them.

use crate::Severity;

/// A rule's metadata. Declared with [`declare_rule!`], whose doc comment becomes `doc`, so the
/// documentation printed by `everybyte rule CODE` cannot drift from the source.
#[derive(Debug)]
pub struct Rule {
    /// Stable code, area prefix + number (`LOG001`). Never reused.
    pub code: &'static str,
    /// Kebab-case name (`cuda-oom-capacity`).
    pub name: &'static str,
    pub severity: Severity,
    /// One line, no trailing period.
    pub summary: &'static str,
    /// Markdown: `## What it checks`, `## Why it matters`, `## Example`, `## Fix`.
    pub doc: &'static str,
    /// The source file that declares the rule.
    pub source: &'static str,
}

/// The sections every rule's documentation must have, in order.
pub const DOC_SECTIONS: [&str; 4] = [
    "## What it checks",
    "## Why it matters",
    "## Example",
    "## Fix",
];

impl Rule {
    /// The documentation with the single leading space of each `///` line removed.
    pub fn explanation(&self) -> String {
        let mut out = String::with_capacity(self.doc.len());
        for line in self.doc.lines() {
            out.push_str(line.strip_prefix(' ').unwrap_or(line));
            out.push('\n');
        }
        out
    }

    /// The area prefix of the code (`LOG` for `LOG001`).
    pub fn prefix(&self) -> &'static str {
        code_prefix(self.code)
    }
}

/// The area of a rule code: everything before its three-digit number (`K8S001` is `K8S`).
pub fn code_prefix(code: &str) -> &str {
    let n = code.len();
    match code.get(n.saturating_sub(3)..) {
        Some(num) if n > 3 && num.bytes().all(|b| b.is_ascii_digit()) => &code[..n - 3],
        _ => code,
    }
}

/// Declares a rule as a `static` whose doc comment is its documentation.
///
/// ```
/// everybyte_core::declare_rule! {
///     /// ## What it checks
///     /// Something.
///     /// ## Why it matters
///     /// Because.
///     /// ## Example
///     /// `x`
///     /// ## Fix
///     /// Do y.
///     pub static EXAMPLE = { code: "EX001", name: "example", severity: Warning, summary: "An example" };
/// }
/// assert_eq!(EXAMPLE.code, "EX001");
/// ```
#[macro_export]
macro_rules! declare_rule {
    ($(#[doc = $doc:literal])* $vis:vis static $id:ident = {
        code: $code:literal, name: $name:literal, severity: $sev:ident, summary: $summary:literal $(,)?
    };) => {
        $(#[doc = $doc])*
        $vis static $id: $crate::Rule = $crate::Rule {
            code: $code,
            name: $name,
            severity: $crate::Severity::$sev,
            summary: $summary,
            doc: concat!($($doc, "\n"),*),
            source: file!(),
        };
    };
}

/// Every rule the binary knows, in code order.
#[derive(Debug, Default)]
pub struct Registry {
    rules: Vec<&'static Rule>,
}

impl Registry {
    pub fn new(groups: &[&[&'static Rule]]) -> Self {
        let mut rules: Vec<&'static Rule> = groups.iter().flat_map(|g| g.iter().copied()).collect();
        rules.sort_by_key(|r| r.code);
        Registry { rules }
    }

    pub fn rules(&self) -> &[&'static Rule] {
        &self.rules
    }

    /// Looks a rule up by code (case-insensitive) or by name.
    pub fn get(&self, code_or_name: &str) -> Option<&'static Rule> {
        self.rules
            .iter()
            .copied()
            .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
    }

    /// Whether a selector (`ALL`, a prefix like `LOG` or `LOG01`, or a full code) names at
    /// least one rule.
    pub fn selector_is_known(&self, selector: &str) -> bool {
        selector == "ALL" || self.rules.iter().any(|r| r.code.starts_with(selector))
    }
}
