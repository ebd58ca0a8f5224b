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
    /// The argument of `sorted(...)` (or of `set`, `len`, `max`, `min`, `any`, which do not
    /// depend on order), directly or through a comprehension.
    pub in_sorted: bool,
    /// The name the result is assigned to (`files = os.listdir(d)`), if any.
    pub assigned_to: Option<String>,
    /// The source file it is in: an index into the program's files (0: the entry point).
    pub file: usize,
    /// The conditions of the `if`s (in the same function) the call runs under, joined by
    /// `and`: `args.seed is not None`; an `else` branch reads `not (cond)`.
    pub guard: Option<String>,
    /// Inside a `for` or `while` body of its function.
    pub in_loop: bool,
    /// Under `if __name__ == "__main__":`, which runs only when the file is the program.
    pub main_guard: bool,
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
    pub file: usize,
    pub guard: Option<String>,
    pub main_guard: bool,
}

/// A function or method definition.
#[derive(Debug, Clone)]
pub struct Function {
    /// The name as the program's calls resolve to it: bare in the entry point, qualified by
    /// its module elsewhere (`utils.seed.set_seed`).
    pub name: String,
    pub line: u64,
    /// Defined inside a class body.
    pub method: bool,
    pub decorated: bool,
    pub file: usize,
    /// The class it is a method of.
    pub class: Option<String>,
}

impl Function {
    /// The name as written in its `def`.
    pub fn short(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }
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
    /// Names used as values under the main guard, which count only when the file is the
    /// program.
    pub main_referenced: BTreeSet<String>,
    /// Functions that run: module-level code, what it calls, transitively; methods and
    /// functions handed to others count as running.
    pub reachable: BTreeSet<String>,
    /// String literals anywhere (for `nvidia-smi` and the like).
    pub strings: Vec<String>,
    /// Import aliases: local name to what it names (`np` to `numpy`, `set_seed` to
    /// `utils.set_seed`; a relative import keeps its dots: `.utils.set_seed`).
    pub aliases: BTreeMap<String, String>,
    /// Every module an import statement names, as written (`utils`, `.data`, `pkg.sub`), and
    /// for `from m import a`, `m.a` too (it may be a submodule).
    pub imported: BTreeSet<String>,
    /// Modules imported with `from m import *`.
    pub star_imports: Vec<String>,
    /// The line of `if __name__ == "__main__":`, if the file has one.
    pub main_guard: Option<u64>,
    /// The display path of each file of the program; one for a single script.
    pub files: Vec<String>,
}

/// Where a statement sits: its function, the `if` it runs under, loops, the main guard.
#[derive(Clone, Default)]
struct Scope {
    function: Option<String>,
    class: Option<String>,
    guard: Option<String>,
    in_loop: bool,
    main_guard: bool,
}

struct Builder<'a> {
    src: &'a [u8],
    script: Script,
}

fn text<'a>(n: Node<'_>, src: &'a [u8]) -> &'a str {
    n.utf8_text(src).unwrap_or("")
}

/// Decorators that do not hand the function to anyone.
fn inert_decorator(d: &str) -> bool {
    let name = d
        .trim_start_matches('@')
        .split('(')
        .next()
        .unwrap_or("")
        .trim();
    let last = name.rsplit('.').next().unwrap_or(name);
    matches!(
        last,
        "classmethod"
            | "staticmethod"
            | "property"
            | "cached_property"
            | "abstractmethod"
            | "no_grad"
            | "inference_mode"
            | "enable_grad"
            | "wraps"
            | "lru_cache"
            | "cache"
            | "setter"
            | "getter"
            | "override"
            | "dataclass"
            | "overload"
    ) || name.starts_with("torch.jit")
        || name.starts_with("torch.compile")
        || name.starts_with("torch.autocast")
}

/// Methods that something outside the program calls: Python's protocol, `nn.Module`,
/// datasets, Lightning and callback hooks.
fn hook(name: &str) -> bool {
    (name.starts_with("__") && name.ends_with("__"))
        || name.starts_with("on_")
        || name.ends_with("_step")
        || name.ends_with("_step_end")
        || name.ends_with("_epoch_end")
        || name.ends_with("_dataloader")
        || matches!(
            name,
            "forward"
                | "configure_optimizers"
                | "setup"
                | "prepare_data"
                | "teardown"
                | "run"
                | "step"
                | "compute_loss"
                | "training_step"
                | "backward"
                | "state_dict"
                | "load_state_dict"
                | "extra_repr"
                | "reset_parameters"
                | "get_lr"
        )
}

fn pos(n: Node<'_>) -> (u64, u64) {
    let p = n.start_position();
    (p.row as u64 + 1, p.column as u64 + 1)
}

impl Builder<'_> {
    /// `np.random.seed` → `numpy.random.seed`, through the import aliases.
    fn resolve(&self, dotted: &str) -> String {
        let (head, rest) = dotted.split_once('.').map_or((dotted, ""), |(h, r)| (h, r));
        match self.script.aliases.get(head) {
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
                    self.script.imported.insert(module.to_owned());
                    if let Some(a) = alias {
                        self.script.aliases.insert(a.to_owned(), module.to_owned());
                    } else {
                        let head = module.split('.').next().unwrap_or(module);
                        self.script.aliases.insert(head.to_owned(), head.to_owned());
                    }
                }
            }
            "import_from_statement" => {
                let Some(m) = n.child_by_field_name("module_name") else {
                    return;
                };
                let module = text(m, self.src).to_owned();
                let relative = module.starts_with('.');
                if !relative {
                    self.script
                        .imports
                        .insert(module.split('.').next().unwrap_or(&module).to_owned());
                }
                self.script.imported.insert(module.clone());
                // `from . import utils` names `.utils`; `from .data import x` names `.data.x`.
                let join = |name: &str| {
                    if module.chars().all(|c| c == '.') {
                        format!("{module}{name}")
                    } else {
                        format!("{module}.{name}")
                    }
                };
                if n.named_children(&mut n.walk())
                    .any(|c| c.kind() == "wildcard_import")
                {
                    self.script.star_imports.push(module.clone());
                }
                let mut c = n.walk();
                for name in n.children_by_field_name("name", &mut c) {
                    let (orig, alias) = if name.kind() == "aliased_import" {
                        let o = name.child_by_field_name("name").map(|x| text(x, self.src));
                        let a = name.child_by_field_name("alias").map(|x| text(x, self.src));
                        (o.unwrap_or(""), a.unwrap_or(""))
                    } else {
                        (text(name, self.src), text(name, self.src))
                    };
                    self.script.imported.insert(join(orig));
                    self.script.aliases.insert(alias.to_owned(), join(orig));
                }
            }
            _ => {}
        }
    }

    fn args(&mut self, list: Node<'_>, main_guard: bool) -> (Vec<String>, Vec<(String, String)>) {
        let mut args = Vec::new();
        let mut kws = Vec::new();
        let mut c = list.walk();
        for a in list.named_children(&mut c) {
            if a.kind() == "keyword_argument" {
                let k = a.child_by_field_name("name").map(|x| text(x, self.src));
                let v = a.child_by_field_name("value");
                if let Some(v) = v.filter(|v| v.kind() == "identifier") {
                    self.reference(text(v, self.src), main_guard);
                }
                kws.push((
                    k.unwrap_or("").to_owned(),
                    v.map_or("", |x| text(x, self.src)).to_owned(),
                ));
            } else if a.kind() != "comment" {
                if a.kind() == "identifier" {
                    self.reference(text(a, self.src), main_guard);
                }
                args.push(text(a, self.src).to_owned());
            }
        }
        (args, kws)
    }

    fn reference(&mut self, name: &str, main_guard: bool) {
        let set = if main_guard {
            &mut self.script.main_referenced
        } else {
            &mut self.script.referenced
        };
        set.insert(name.to_owned());
    }

    /// `__name__ == "__main__"` either way round, either quote.
    fn is_main_guard(&self, cond: Node<'_>) -> bool {
        let t: String = text(cond, self.src)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .replace('\'', "\"");
        t == "__name__==\"__main__\"" || t == "\"__main__\"==__name__"
    }

    fn if_statement(&mut self, n: Node<'_>, scope: &Scope, depth: usize) {
        let cond = n.child_by_field_name("condition");
        let cond_text = cond.map(|c| text(c, self.src).to_owned());
        if let Some(c) = cond {
            self.walk(c, scope, depth + 1);
        }
        let main = scope.function.is_none() && cond.is_some_and(|c| self.is_main_guard(c));
        if main && self.script.main_guard.is_none() {
            self.script.main_guard = Some(pos(n).0);
        }
        // Nested conditions all hold: `a and b`.
        let chain = |c: Option<String>| match (&scope.guard, c) {
            (Some(outer), Some(c)) => Some(format!("{outer} and {c}")),
            (outer, c) => c.or_else(|| outer.clone()),
        };
        let then = Scope {
            guard: chain(cond_text.clone()),
            main_guard: scope.main_guard || main,
            ..scope.clone()
        };
        if let Some(body) = n.child_by_field_name("consequence") {
            self.walk(body, &then, depth + 1);
        }
        let mut c = n.walk();
        for alt in n.children_by_field_name("alternative", &mut c) {
            let (guard, body) = if alt.kind() == "elif_clause" {
                let g = alt.child_by_field_name("condition");
                if let Some(g) = g {
                    self.walk(g, scope, depth + 1);
                }
                (
                    g.map(|g| text(g, self.src).to_owned()),
                    alt.child_by_field_name("consequence"),
                )
            } else {
                (
                    cond_text.as_ref().map(|t| format!("not ({t})")),
                    alt.child_by_field_name("body"),
                )
            };
            let inner = Scope {
                guard: chain(guard),
                ..scope.clone()
            };
            if let Some(body) = body {
                self.walk(body, &inner, depth + 1);
            }
        }
    }

    #[allow(clippy::too_many_lines)] // one match over the statement kinds
    fn walk(&mut self, n: Node<'_>, scope: &Scope, depth: usize) {
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
                // Decorators that register the function with a caller we cannot see
                // (`@hydra.main`, `@app.command`) make it run; `@classmethod`, `@property`,
                // `@torch.no_grad()` and the like do not.
                let decorated = n
                    .parent()
                    .filter(|p| p.kind() == "decorated_definition")
                    .is_some_and(|p| {
                        let mut c = p.walk();
                        p.named_children(&mut c)
                            .filter(|d| d.kind() == "decorator")
                            .any(|d| !inert_decorator(text(d, self.src)))
                    });
                self.script
                    .functions
                    .entry(name.clone())
                    .or_insert(Function {
                        name: name.clone(),
                        line: pos(n).0,
                        method: scope.class.is_some(),
                        decorated,
                        file: 0,
                        class: scope.class.clone(),
                    });
                // Default values are evaluated where the `def` runs; inside, a parameter
                // holds its default unless a caller passes one.
                if let Some(params) = n.child_by_field_name("parameters") {
                    self.walk(params, scope, depth + 1);
                    let mut c = params.walk();
                    for p in params.named_children(&mut c) {
                        if !matches!(p.kind(), "default_parameter" | "typed_default_parameter") {
                            continue;
                        }
                        let (Some(k), Some(v)) = (
                            p.child_by_field_name("name"),
                            p.child_by_field_name("value"),
                        ) else {
                            continue;
                        };
                        let (line, column) = pos(p);
                        self.script.assigns.push(Assign {
                            target: text(k, self.src).to_owned(),
                            value: text(v, self.src).to_owned(),
                            line,
                            column,
                            function: Some(name.clone()),
                            file: 0,
                            guard: Some("<parameter default>".into()),
                            main_guard: false,
                        });
                    }
                }
                if let Some(body) = n.child_by_field_name("body") {
                    let inner = Scope {
                        function: Some(name),
                        ..Scope::default()
                    };
                    self.walk(body, &inner, depth + 1);
                }
                return;
            }
            "class_definition" => {
                let name = n
                    .child_by_field_name("name")
                    .map(|x| text(x, self.src).to_owned());
                if let Some(body) = n.child_by_field_name("body") {
                    let inner = Scope {
                        class: name,
                        ..scope.clone()
                    };
                    self.walk(body, &inner, depth + 1);
                }
                return;
            }
            "if_statement" => {
                self.if_statement(n, scope, depth);
                return;
            }
            "for_statement" | "while_statement" => {
                let inner = Scope {
                    in_loop: true,
                    ..scope.clone()
                };
                let mut c = n.walk();
                for child in n.named_children(&mut c) {
                    let s = if child.kind() == "block" {
                        &inner
                    } else {
                        scope
                    };
                    self.walk(child, s, depth + 1);
                }
                return;
            }
            "call" => self.call(n, scope),
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
                        function: scope.function.clone(),
                        file: 0,
                        guard: scope.guard.clone(),
                        main_guard: scope.main_guard,
                    });
                }
            }
            "string" => self.script.strings.push(text(n, self.src).to_owned()),
            _ => {}
        }
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            self.walk(child, scope, depth + 1);
        }
    }

    fn call(&mut self, n: Node<'_>, scope: &Scope) {
        let Some(f) = n.child_by_field_name("function") else {
            return;
        };
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
            .map(|a| self.args(a, scope.main_guard))
            .unwrap_or_default();
        // Through comprehensions and parentheses: `sorted([f for f in os.listdir(d) if ...])`,
        // `files = [f for f in glob(...)]`.
        let mut parent = n.parent();
        let mut hops = 0;
        while let Some(p) = parent.filter(|p| {
            matches!(
                p.kind(),
                "for_in_clause"
                    | "list_comprehension"
                    | "generator_expression"
                    | "set_comprehension"
                    | "parenthesized_expression"
                    | "list"
            )
        }) {
            parent = p.parent();
            hops += 1;
            if hops > 8 {
                break;
            }
        }
        let in_sorted = parent.is_some_and(|p| p.kind() == "argument_list" || p.kind() == "call")
            && {
                let call = parent.and_then(|p| {
                    if p.kind() == "call" {
                        Some(p)
                    } else {
                        p.parent()
                    }
                });
                call.and_then(|c| c.child_by_field_name("function"))
                    .is_some_and(|f| {
                        let t = text(f, self.src);
                        t == "sorted"
                            || t == "set"
                            || t == "len"
                            || t == "max"
                            || t == "min"
                            || t == "any"
                    })
            };
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
            function: scope.function.clone(),
            in_sorted,
            assigned_to,
            file: 0,
            guard: scope.guard.clone(),
            in_loop: scope.in_loop,
            main_guard: scope.main_guard,
        });
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
            script: Script::default(),
        };
        b.walk(tree.root_node(), &Scope::default(), 0);
        let mut s = b.script;
        s.reachable = s.compute_reachable();
        Ok(s)
    }

    pub(crate) fn compute_reachable(&self) -> BTreeSet<String> {
        // A method runs when running code calls a method of that name (`x.fit()`,
        // `self._save()`), when something outside calls it (a hook), or when it is handed on.
        let mut methods: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for f in self.functions.values().filter(|f| f.method) {
            methods.entry(f.short()).or_default().push(&f.name);
        }
        let mut reach: BTreeSet<String> = self
            .functions
            .values()
            .filter(|f| {
                f.method && hook(f.short())
                    || f.decorated
                    || self.referenced.contains(&f.name)
                    || self.main_referenced.contains(&f.name)
                    || self.referenced.contains(f.short()) && f.method
            })
            .map(|f| f.name.clone())
            .collect();
        loop {
            let before = reach.len();
            for c in &self.calls {
                let runs = c.function.as_ref().is_none_or(|f| reach.contains(f));
                if !runs {
                    continue;
                }
                if self.functions.contains_key(&c.callee) {
                    reach.insert(c.callee.clone());
                }
                if c.written.contains('.')
                    && let Some(ms) = methods.get(c.name())
                {
                    reach.extend(ms.iter().map(|m| (*m).to_owned()));
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
