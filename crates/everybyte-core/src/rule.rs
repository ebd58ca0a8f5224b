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
    /// Whether the rule runs by default, is new, or is retired (its code is never reused).
    pub status: RuleStatus,
}

/// A rule's standing in the codes table. A code is never reused: a retired rule stays in its
/// crate's table as [`RuleStatus::Removed`], so `everybyte rule CODE` still explains it and a
/// configuration that names it still loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleStatus {
    /// Runs by default; its code, name and meaning do not change.
    Stable,
    /// Runs only when selected by its full code; its message may still change.
    Preview,
    /// Retired: never raised.
    Removed,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Stable => "stable",
            RuleStatus::Preview => "preview",
            RuleStatus::Removed => "removed",
        }
    }
}

/// A rule together with the check that raises it. Each area's passes (a scan, a parse)
/// produce facts of type `F`; the check judges them. An area's one table of rules is a
/// `&[Check<F>]`, so a rule's declaration, documentation and check live in one file and adding a
/// rule is one new file and one line in the table. A rule raised where no fact of its own is
/// judged (an input that could not be read, say) has the check [`Check::raised_elsewhere`].
pub struct Check<F: ?Sized + 'static> {
    pub rule: &'static Rule,
    pub check: fn(&F, &mut Vec<crate::Finding>),
}

impl<F: ?Sized + 'static> Check<F> {
    /// A check that judges nothing: for a rule whose finding is raised by the pass itself.
    pub fn raised_elsewhere(_: &F, _: &mut Vec<crate::Finding>) {}

    /// Runs every check of a table on one fact.
    pub fn run_all(table: &[Check<F>], facts: &F, out: &mut Vec<crate::Finding>) {
        for c in table {
            (c.check)(facts, out);
        }
    }

    /// The rules of a table, for the registry.
    pub fn rules(table: &'static [Check<F>]) -> impl Iterator<Item = &'static Rule> {
        table.iter().map(|c| c.rule)
    }
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

    /// The rule as JSON (`everybyte rule CODE --format json`, `everybyte rules --format json`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "status": self.status,
            "summary": self.summary,
            "explanation": self.explanation(),
            "source": self.source,
        })
    }

    /// The rule as `everybyte rule CODE` prints it: title, summary, severity and status, the
    /// documentation, and the file that declares it.
    pub fn to_text(&self) -> String {
        let status = match self.status {
            RuleStatus::Stable => "",
            RuleStatus::Preview => {
                " · preview: runs only when selected by its code (--select CODE)"
            }
            RuleStatus::Removed => " · removed: no longer raised",
        };
        format!(
            "# {} ({})\n\n{} · default severity: {}{status}\n\n{}\nDeclared in {}\n",
            self.code,
            self.name,
            self.summary,
            self.severity,
            self.explanation(),
            self.source
        )
    }

    /// One line of `everybyte rules`.
    pub fn to_line(&self) -> String {
        let status = match self.status {
            RuleStatus::Stable => String::new(),
            other => format!(" [{}]", other.as_str()),
        };
        format!(
            "{:<8} {:<8} {:<26} {}{status}",
            self.code, self.severity, self.name, self.summary
        )
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
/// assert_eq!(EXAMPLE.status, everybyte_core::rule::RuleStatus::Stable);
/// ```
///
/// A rule that is not yet stable, or one that is retired, says so with `status: Preview` or
/// `status: Removed` after its summary.
#[macro_export]
macro_rules! declare_rule {
    ($(#[doc = $doc:literal])* $vis:vis static $id:ident = {
        code: $code:literal, name: $name:literal, severity: $sev:ident, summary: $summary:literal $(, status: $status:ident)? $(,)?
    };) => {
        $(#[doc = $doc])*
        $vis static $id: $crate::Rule = $crate::Rule {
            code: $code,
            name: $name,
            severity: $crate::Severity::$sev,
            summary: $summary,
            doc: concat!($($doc, "\n"),*),
            source: file!(),
            status: $crate::declare_rule!(@status $($status)?),
        };
    };
    (@status) => { $crate::rule::RuleStatus::Stable };
    (@status $status:ident) => { $crate::rule::RuleStatus::$status };
}

/// An area of everybyte: the rule prefixes it owns and how reports title its findings. Each
/// area crate declares its own, so renderers need not know the areas.
#[derive(Debug)]
pub struct Area {
    pub prefixes: &'static [&'static str],
    pub title: &'static str,
}

/// A `--select` or `--ignore` value that names no rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: unknown rule code or prefix `{selector}` (see `everybyte rules`)")]
pub struct UnknownSelector {
    pub flag: &'static str,
    pub selector: String,
}

/// Every rule the binary knows, in code order, and the areas they belong to.
#[derive(Debug, Default)]
pub struct Registry {
    rules: Vec<&'static Rule>,
    areas: Vec<&'static Area>,
}

impl Registry {
    pub fn new(groups: &[&[&'static Rule]]) -> Self {
        Self::from_rules(groups.iter().flat_map(|g| g.iter().copied()))
    }

    /// The registry of the given rules, in code order.
    pub fn from_rules(rules: impl IntoIterator<Item = &'static Rule>) -> Self {
        let mut rules: Vec<&'static Rule> = rules.into_iter().collect();
        rules.sort_by_key(|r| r.code);
        Registry {
            rules,
            areas: Vec::new(),
        }
    }

    /// The registry with the areas its rules belong to.
    #[must_use]
    pub fn with_areas(mut self, areas: &[&'static Area]) -> Self {
        self.areas.extend_from_slice(areas);
        self
    }

    /// The title of the area a code belongs to (`"inputs"` when no area claims it).
    pub fn area_title(&self, code: &str) -> &'static str {
        let prefix = code_prefix(code);
        self.areas
            .iter()
            .find(|a| a.prefixes.contains(&prefix))
            .map_or("inputs", |a| a.title)
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

    /// Checks command-line selectors: the first that names no rule is an error naming its flag.
    pub fn check_selectors(
        &self,
        select: &[String],
        ignore: &[String],
    ) -> Result<(), UnknownSelector> {
        for (flag, list) in [("--select", select), ("--ignore", ignore)] {
            if let Some(sel) = list.iter().find(|s| !self.selector_is_known(s)) {
                return Err(UnknownSelector {
                    flag,
                    selector: sel.clone(),
                });
            }
        }
        Ok(())
    }

    /// Whether a selector (`ALL`, a prefix like `LOG` or `LOG01`, or a full code) names at
    /// least one rule.
    pub fn selector_is_known(&self, selector: &str) -> bool {
        selector == "ALL" || self.rules.iter().any(|r| r.code.starts_with(selector))
    }
}
