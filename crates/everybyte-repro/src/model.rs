//! What a Python script does, as the reproducibility rules need it: imports and their aliases,
//! every call (its callee resolved through the aliases, its keyword arguments, the function it
//! sits in), every assignment, and which functions actually run. Parsed by tree-sitter's Python
//! grammar, so strings and comments are never mistaken for code.

#![allow(clippy::many_single_char_names)] // n: a node, c: a cursor, as tree-sitter code writes them

use std::collections::{BTreeMap, BTreeSet};

use tree_sitter::{Node, Parser};

pub use crate::error::ParseError;

/// A call in the script.
#[derive(Debug, Clone)]
pub struct Call {
    /// The callee with import aliases resolved: `numpy.random.seed`, `torch.manual_seed`,
    /// `.backward` for a method call on an expression that is not an import.
    pub callee: String,
    /// The callee as written (`np.random.seed`).
    pub written: String,
    /// Keyword arguments: name and source text of the value.
    pub keywords: Vec<(String, String)>,
    /// Source text of the positional arguments.
    pub args: Vec<String>,
    pub line: u64,
    pub column: u64,
    /// The innermost function definition holding the call; `None` at module level.
    pub function: Option<String>,
    /// Directly the argument of `sorted(...)`.
    pub in_sorted: bool,
    /// The name the result is assigned to (`files = os.listdir(d)`), if any.
    pub assigned_to: Option<String>,
}

impl Call {
    pub fn keyword(&self, name: &str) -> Option<&str> {
        self.keywords
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The method name of `x.name(...)`, or the function name.
    pub fn name(&self) -> &str {
        self.callee.rsplit('.').next().unwrap_or(&self.callee)
    }
}

/// An assignment `target = value` (also augmented ones and `setdefault`-style calls are calls).
#[derive(Debug, Clone)]
pub struct Assign {
    /// The target with aliases resolved (`torch.backends.cudnn.benchmark`); subscripts keep
    /// their key: `os.environ["PYTHONHASHSEED"]`.
    pub target: String,
    pub value: String,
    pub line: u64,
    pub column: u64,
    pub function: Option<String>,
}

/// A function or method definition.
#[derive(Debug, Clone)]
pub struct Function {
    pub name: String,
    pub line: u64,
    /// Defined inside a class body.
    pub method: bool,
    pub decorated: bool,
}

/// The model of one script.
#[derive(Debug, Default)]
pub struct Script {
    /// Top-level modules imported (`numpy`, `torch`, `random`, `lightning`…).
    pub imports: BTreeSet<String>,
    pub calls: Vec<Call>,
    pub assigns: Vec<Assign>,
    pub functions: BTreeMap<String, Function>,
    /// Names used as values anywhere (arguments, `target=`), which makes a function reachable
    /// by a caller we cannot see (a framework, `mp.spawn`).
    pub referenced: BTreeSet<String>,
    /// Functions that run: module-level code, what it calls, transitively; methods and
    /// functions handed to others count as running.
    pub reachable: BTreeSet<String>,
    /// String literals anywhere (for `nvidia-smi` and the like).
    pub strings: Vec<String>,
}

struct Builder<'a> {
    src: &'a [u8],
    aliases: BTreeMap<String, String>,
    script: Script,
}

fn text<'a>(n: Node<'_>, src: &'a [u8]) -> &'a str {
    n.utf8_text(src).unwrap_or("")
}

fn pos(n: Node<'_>) -> (u64, u64) {
    let p = n.start_position();
    (p.row as u64 + 1, p.column as u64 + 1)
}

impl Builder<'_> {
    /// `np.random.seed` → `numpy.random.seed`, through the import aliases.
    fn resolve(&self, dotted: &str) -> String {
        let (head, rest) = dotted.split_once('.').map_or((dotted, ""), |(h, r)| (h, r));
        match self.aliases.get(head) {
            Some(full) if rest.is_empty() => full.clone(),
            Some(full) => format!("{full}.{rest}"),
            None => dotted.to_owned(),
        }
    }

    /// The dotted name of an expression (`a.b.c`, `os.environ["X"]`), when it is one.
    fn dotted(&self, n: Node<'_>) -> Option<String> {
        self.dotted_at(n, 0)
    }

    fn dotted_at(&self, n: Node<'_>, depth: usize) -> Option<String> {
        // Real names are a handful of parts; a hostile chain of thousands is not one.
        if depth > 32 {
            return None;
        }
        match n.kind() {
            "identifier" => Some(text(n, self.src).to_owned()),
            "attribute" => {
                let obj = n.child_by_field_name("object")?;
                let attr = n.child_by_field_name("attribute")?;
                let base = self.dotted_at(obj, depth + 1).unwrap_or_default();
                Some(format!("{base}.{}", text(attr, self.src)))
            }
            "subscript" => {
                let v = self.dotted_at(n.child_by_field_name("value")?, depth + 1)?;
                let key = n.child_by_field_name("subscript")?;
                Some(format!("{v}[{}]", text(key, self.src).replace('\'', "\"")))
            }
            "call" => {
                // `Path(x).glob`, `torch.Generator().manual_seed`: keep the callee's name.
                let f = self.dotted_at(n.child_by_field_name("function")?, depth + 1)?;
                Some(format!("{f}()"))
            }
            _ => None,
        }
    }

    fn import(&mut self, n: Node<'_>) {
        match n.kind() {
            "import_statement" => {
                let mut c = n.walk();
                for name in n.children_by_field_name("name", &mut c) {
                    let (module, alias) = if name.kind() == "aliased_import" {
                        let m = name.child_by_field_name("name").map(|x| text(x, self.src));
                        let a = name.child_by_field_name("alias").map(|x| text(x, self.src));
                        (m.unwrap_or(""), a)
                    } else {
                        (text(name, self.src), None)
                    };
                    self.script
                        .imports
                        .insert(module.split('.').next().unwrap_or(module).to_owned());
                    if let Some(a) = alias {
                        self.aliases.insert(a.to_owned(), module.to_owned());
                    } else {
                        let head = module.split('.').next().unwrap_or(module);
                        self.aliases.insert(head.to_owned(), head.to_owned());
                    }
                }
            }
            "import_from_statement" => {
                let Some(m) = n.child_by_field_name("module_name") else {
                    return;
                };
                let module = text(m, self.src).to_owned();
                if module.starts_with('.') {
                    return;
                }
                self.script
                    .imports
                    .insert(module.split('.').next().unwrap_or(&module).to_owned());
                let mut c = n.walk();
                for name in n.children_by_field_name("name", &mut c) {
                    let (orig, alias) = if name.kind() == "aliased_import" {
                        let o = name.child_by_field_name("name").map(|x| text(x, self.src));
                        let a = name.child_by_field_name("alias").map(|x| text(x, self.src));
                        (o.unwrap_or(""), a.unwrap_or(""))
                    } else {
                        (text(name, self.src), text(name, self.src))
                    };
                    self.aliases
                        .insert(alias.to_owned(), format!("{module}.{orig}"));
                }
            }
            _ => {}
        }
    }

    fn args(
        &mut self,
        list: Node<'_>,
        function: Option<&str>,
    ) -> (Vec<String>, Vec<(String, String)>) {
        let mut args = Vec::new();
        let mut kws = Vec::new();
        let mut c = list.walk();
        for a in list.named_children(&mut c) {
            if a.kind() == "keyword_argument" {
                let k = a.child_by_field_name("name").map(|x| text(x, self.src));
                let v = a.child_by_field_name("value");
                if let Some(v) = v.filter(|v| v.kind() == "identifier") {
                    self.script.referenced.insert(text(v, self.src).to_owned());
                }
                kws.push((
                    k.unwrap_or("").to_owned(),
                    v.map_or("", |x| text(x, self.src)).to_owned(),
                ));
            } else if a.kind() != "comment" {
                if a.kind() == "identifier" {
                    self.script.referenced.insert(text(a, self.src).to_owned());
                }
                args.push(text(a, self.src).to_owned());
            }
        }
        let _ = function;
        (args, kws)
    }

    fn walk(&mut self, n: Node<'_>, function: Option<&str>, class: bool, depth: usize) {
        if depth > 200 {
            return;
        }
        match n.kind() {
            "import_statement" | "import_from_statement" => self.import(n),
            "function_definition" => {
                let name = n
                    .child_by_field_name("name")
                    .map(|x| text(x, self.src).to_owned())
                    .unwrap_or_default();
                let decorated = n
                    .parent()
                    .is_some_and(|p| p.kind() == "decorated_definition");
                self.script
                    .functions
                    .entry(name.clone())
                    .or_insert(Function {
                        name: name.clone(),
                        line: pos(n).0,
                        method: class,
                        decorated,
                    });
                if let Some(body) = n.child_by_field_name("body") {
                    self.walk(body, Some(&name), false, depth + 1);
                }
                return;
            }
            "class_definition" => {
                if let Some(body) = n.child_by_field_name("body") {
                    self.walk(body, function, true, depth + 1);
                }
                return;
            }
            "call" => {
                if let Some(f) = n.child_by_field_name("function") {
                    let written = self.dotted(f).unwrap_or_else(|| {
                        // A method on an expression we cannot name: `.backward`.
                        f.child_by_field_name("attribute")
                            .map(|a| format!(".{}", text(a, self.src)))
                            .unwrap_or_default()
                    });
                    let callee = if written.starts_with('.') {
                        written.clone()
                    } else {
                        self.resolve(&written)
                    };
                    let (args, keywords) = n
                        .child_by_field_name("arguments")
                        .map(|a| self.args(a, function))
                        .unwrap_or_default();
                    let parent = n.parent();
                    let in_sorted = parent.is_some_and(|p| p.kind() == "argument_list")
                        && parent
                            .and_then(|p| p.parent())
                            .and_then(|c| c.child_by_field_name("function"))
                            .is_some_and(|f| text(f, self.src) == "sorted");
                    let assigned_to = parent
                        .filter(|p| p.kind() == "assignment")
                        .and_then(|p| p.child_by_field_name("left"))
                        .map(|l| text(l, self.src).to_owned());
                    let (line, column) = pos(n);
                    self.script.calls.push(Call {
                        callee,
                        written,
                        keywords,
                        args,
                        line,
                        column,
                        function: function.map(str::to_owned),
                        in_sorted,
                        assigned_to,
                    });
                }
            }
            "assignment" | "augmented_assignment" => {
                let left = n.child_by_field_name("left");
                let right = n.child_by_field_name("right");
                if let (Some(t), Some(r)) = (left.and_then(|l| self.dotted(l)), right) {
                    let (line, column) = pos(n);
                    let target = self.resolve(&t);
                    self.script.assigns.push(Assign {
                        target,
                        value: text(r, self.src).to_owned(),
                        line,
                        column,
                        function: function.map(str::to_owned),
                    });
                }
            }
            "string" => self.script.strings.push(text(n, self.src).to_owned()),
            _ => {}
        }
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            self.walk(child, function, class, depth + 1);
        }
    }
}

impl Script {
    /// Parses Python source. Syntax errors do not stop it: tree-sitter recovers, and the
    /// model holds what parsed.
    pub fn parse(source: &str) -> Result<Script, ParseError> {
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_python::LANGUAGE.into())
            .map_err(|e| ParseError(format!("the Python grammar: {e}")))?;
        let tree = parser
            .parse(source, None)
            .ok_or_else(|| ParseError("the parser gave up".into()))?;
        let mut b = Builder {
            src: source.as_bytes(),
            aliases: BTreeMap::new(),
            script: Script::default(),
        };
        b.walk(tree.root_node(), None, false, 0);
        let mut s = b.script;
        s.reachable = s.compute_reachable();
        Ok(s)
    }

    fn compute_reachable(&self) -> BTreeSet<String> {
        let mut reach: BTreeSet<String> = self
            .functions
            .values()
            .filter(|f| f.method || f.decorated || self.referenced.contains(&f.name))
            .map(|f| f.name.clone())
            .collect();
        loop {
            let before = reach.len();
            for c in &self.calls {
                let runs = c.function.as_ref().is_none_or(|f| reach.contains(f));
                if runs && self.functions.contains_key(&c.callee) {
                    reach.insert(c.callee.clone());
                }
            }
            if reach.len() == before {
                return reach;
            }
        }
    }

    /// Whether code in `function` (None: module level) runs.
    pub fn runs(&self, function: Option<&String>) -> bool {
        function.is_none_or(|f| self.reachable.contains(f))
    }

    /// Calls that run.
    pub fn live_calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.iter().filter(|c| self.runs(c.function.as_ref()))
    }

    /// Assignments that run.
    pub fn live_assigns(&self) -> impl Iterator<Item = &Assign> {
        self.assigns
            .iter()
            .filter(|a| self.runs(a.function.as_ref()))
    }

    /// Functions `root` runs, itself included, following direct calls.
    pub fn called_from(&self, root: &str) -> BTreeSet<String> {
        let mut set = BTreeSet::from([root.to_owned()]);
        loop {
            let before = set.len();
            for c in &self.calls {
                if c.function.as_ref().is_some_and(|f| set.contains(f))
                    && self.functions.contains_key(&c.callee)
                {
                    set.insert(c.callee.clone());
                }
            }
            if set.len() == before {
                return set;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_reachability_and_strings_are_not_code() {
        let s = Script::parse(
            r#"
import numpy as np
import torch, random
from torch.utils.data import DataLoader as DL

def seed_all(s):
    np.random.seed(s)

def unused():
    random.seed(0)

def main():
    seed_all(0)
    files = sorted(os.listdir("d"))
    loader = DL(ds, shuffle=True, generator=g)
    "torch.manual_seed(0)"  # a string, not a call
    loss.backward()

if __name__ == "__main__":
    main()
"#,
        )
        .unwrap();
        let callees: Vec<&str> = s.live_calls().map(|c| c.callee.as_str()).collect();
        assert!(callees.contains(&"numpy.random.seed"), "{callees:?}");
        assert!(!callees.contains(&"random.seed"), "{callees:?}");
        assert!(!callees.contains(&"torch.manual_seed"), "{callees:?}");
        assert!(
            s.live_calls().any(|c| c.name() == "backward"),
            "{callees:?}"
        );
        let dl = s
            .calls
            .iter()
            .find(|c| c.callee == "torch.utils.data.DataLoader")
            .unwrap();
        assert_eq!(dl.keyword("shuffle"), Some("True"));
        assert!(
            s.calls
                .iter()
                .any(|c| c.callee == "os.listdir" && c.in_sorted)
        );
        assert!(s.reachable.contains("seed_all") && !s.reachable.contains("unused"));
        assert!(s.imports.contains("numpy") && s.imports.contains("random"));
    }

    #[test]
    fn a_hostile_attribute_chain_is_not_a_stack_overflow() {
        let src = format!("x{}\ntorch.manual_seed(1)\n", ".a".repeat(100_000));
        let s = Script::parse(&src).unwrap();
        assert!(s.calls.iter().any(|c| c.callee == "torch.manual_seed"));
    }

    #[test]
    fn broken_source_still_parses_what_it_can() {
        let s = Script::parse("import torch\ndef f(:\n    pass\ntorch.manual_seed(1)\n").unwrap();
        assert!(s.calls.iter().any(|c| c.callee == "torch.manual_seed"));
    }
}
