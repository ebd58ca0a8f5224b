//! A project read as a reviewer reads it: its Python modules and how they import each other,
//! which files are programs (entry points), what the launchers set before each program starts,
//! and each program linked into one [`Script`] whose calls cross module boundaries.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::launch::{self, EnvSetting, Launcher, Target, TorchPin};
use crate::model::{Call, Script};

/// One Python file of the project.
#[derive(Debug)]
pub struct Module {
    /// Relative to the project root, `/`-separated.
    pub rel: String,
    /// What findings print.
    pub display: String,
    pub script: Script,
}

/// Why a file is a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryReason {
    /// The user named it.
    Named,
    /// `if __name__ == "__main__":`.
    MainGuard,
    /// A launcher runs it (file and line).
    Launched(String),
    /// A console script (`pyproject.toml` / `setup.py`) calls the function.
    ConsoleScript(String),
    /// Nothing imports it, and it trains at module level or is a script (module-level code
    /// in a folder that is not a package).
    TopLevel,
}

/// A program: the module it starts at and the functions something outside calls.
#[derive(Clone, Debug)]
pub struct Entry {
    pub module: usize,
    pub reason: EntryReason,
    pub roots: Vec<String>,
}

/// The project.
#[derive(Debug, Default)]
pub struct Project {
    pub modules: Vec<Module>,
    /// `a/b` for `a/b.py` and for `a/b/__init__.py`.
    by_path: HashMap<String, usize>,
    pub launchers: Vec<Launcher>,
    pub torch: Option<TorchPin>,
    /// `name = "pkg.mod:func"` entries of `[project.scripts]` / `console_scripts`.
    pub console_scripts: Vec<(String, String, String)>,
    /// Checksum manifests or data-version files in the project (`*.sha256`, `*.dvc`…).
    pub manifests: Vec<String>,
}

fn dir_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(d, _)| d)
}

fn join(dir: &str, rest: &str) -> String {
    if dir.is_empty() {
        rest.to_owned()
    } else if rest.is_empty() {
        dir.to_owned()
    } else {
        format!("{dir}/{rest}")
    }
}

/// Not a program even with a main guard: tests, test helpers, packaging, docs.
pub fn not_a_program(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let dirs: Vec<&str> = rel.split('/').rev().skip(1).collect();
    name.starts_with("test_")
        || name.ends_with("_test.py")
        || matches!(name, "conftest.py" | "setup.py" | "noxfile.py" | "tasks.py")
        || dirs
            .iter()
            .any(|d| matches!(*d, "tests" | "test" | "testing" | "docs" | "benchmarks"))
}

/// Files whose presence means the data is checked against recorded hashes.
#[allow(clippy::case_sensitive_file_extension_comparisons)] // lowercased first
pub fn is_manifest(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel).to_ascii_lowercase();
    name.ends_with(".sha256")
        || name.ends_with(".sha256sum")
        || name.ends_with(".md5")
        || name.ends_with(".dvc")
        || name == "dvc.yaml"
        || name == "dvc.lock"
        || name.contains("checksum")
        || name.starts_with("sha256sums")
        || name.starts_with("md5sums")
        || name.contains("manifest") && !name.ends_with(".in") && !name.ends_with(".py")
}

/// A launcher line that checks the data before a run: `everybyte data verify`,
/// `sha256sum -c`, `md5sum -c`, `dvc pull` / `dvc checkout`.
pub fn verifies_data(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        !l.starts_with('#')
            && (l.contains("data verify")
                || l.contains("sha256sum -c")
                || l.contains("sha256sum --check")
                || l.contains("md5sum -c")
                || l.contains("dvc pull")
                || l.contains("dvc checkout"))
    })
}

impl Project {
    /// Builds the project from its Python modules (relative path, display path, parsed
    /// script) and its other files (relative path, text), launchers and pins among them.
    pub fn new(modules: Vec<Module>, others: &[(String, String)]) -> Project {
        let mut p = Project {
            modules,
            ..Project::default()
        };
        for (i, m) in p.modules.iter().enumerate() {
            let stem = m.rel.strip_suffix(".py").unwrap_or(&m.rel);
            let key = stem.strip_suffix("/__init__").unwrap_or(stem).to_owned();
            // A module file wins over a package of the same name only if first seen.
            p.by_path.entry(key).or_insert(i);
        }
        for (rel, text) in others {
            if is_manifest(rel) || launch::launcher_kind(rel).is_some() && verifies_data(text) {
                p.manifests.push(rel.clone());
            }
            if let Some(l) = launch::read(rel, text) {
                p.launchers.push(l);
            }
            if launch::may_pin_torch(rel)
                && let Some(pin) = launch::torch_pin(rel, text)
            {
                // Requirements and locks speak for the project before a base image does.
                let better = p.torch.as_ref().is_none_or(|old| {
                    launch::launcher_kind(&old.file) == Some(launch::LauncherKind::Docker)
                });
                if better {
                    p.torch = Some(pin);
                }
            }
            let name = rel.rsplit('/').next().unwrap_or(rel);
            if matches!(name, "pyproject.toml" | "setup.py" | "setup.cfg") {
                p.console_scripts.extend(console_scripts(rel, text));
            }
        }
        p
    }

    /// The module `dotted` names when imported from module `from` (`level` leading dots for
    /// a relative import): the importing file's folder and each folder above it (scripts run
    /// from a subfolder put it first on `sys.path`), then the root and `src/`.
    pub fn resolve(&self, from: usize, dotted: &str) -> Option<usize> {
        let level = dotted.chars().take_while(|c| *c == '.').count();
        let rest = dotted[level..].replace('.', "/");
        let here = dir_of(&self.modules[from].rel);
        if level > 0 {
            let mut base = here;
            for _ in 1..level {
                base = dir_of(base);
            }
            return self.by_path.get(&join(base, &rest)).copied();
        }
        if rest.is_empty() {
            return None;
        }
        let mut dir = here;
        loop {
            if let Some(i) = self.by_path.get(&join(dir, &rest)) {
                return Some(*i);
            }
            if dir.is_empty() {
                break;
            }
            dir = dir_of(dir);
        }
        self.by_path.get(&join("src", &rest)).copied()
    }

    /// The module's dotted name (`pkg.utils`), `src/` dropped.
    pub fn dotted(&self, m: usize) -> String {
        let rel = &self.modules[m].rel;
        let stem = rel.strip_suffix(".py").unwrap_or(rel);
        let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
        let stem = stem.strip_prefix("src/").unwrap_or(stem);
        stem.replace('/', ".")
    }

    /// The project modules a module imports.
    pub fn imports_of(&self, m: usize) -> BTreeSet<usize> {
        let s = &self.modules[m].script;
        s.imported
            .iter()
            .filter_map(|d| self.resolve(m, d))
            .filter(|i| *i != m)
            .collect()
    }

    /// The module a launch target names.
    fn launched(&self, launcher: &str, target: &Target) -> Option<usize> {
        match target {
            Target::Script(path) => {
                let path = path.trim_start_matches("./");
                let candidates = [join(dir_of(launcher), path), path.to_owned()];
                let by_rel = |rel: &str| self.modules.iter().position(|m| m.rel == rel);
                candidates.iter().find_map(|c| by_rel(c)).or_else(|| {
                    // `cd src && python train.py`: a unique module with that path suffix.
                    let mut found = self
                        .modules
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| m.rel.ends_with(&format!("/{path}")));
                    let first = found.next();
                    if found.next().is_some() {
                        None
                    } else {
                        first.map(|(i, _)| i)
                    }
                })
            }
            Target::Module(dotted) => {
                let rest = dotted.replace('.', "/");
                self.by_path
                    .get(&rest)
                    .or_else(|| self.by_path.get(&join("src", &rest)))
                    .or_else(|| self.by_path.get(&join(&rest, "__main__")))
                    .or_else(|| self.by_path.get(&join("src", &join(&rest, "__main__"))))
                    .copied()
            }
            Target::Unknown => None,
        }
    }

    /// Whether the module's folder is a package (has an `__init__.py`).
    fn in_package(&self, m: usize) -> bool {
        let dir = dir_of(&self.modules[m].rel);
        !dir.is_empty()
            && self.by_path.contains_key(dir)
            && self.modules[self.by_path[dir]].rel.ends_with("__init__.py")
    }

    /// The programs of the project, in path order.
    pub fn entries(&self) -> Vec<Entry> {
        let mut imported_by_others = BTreeSet::new();
        for m in 0..self.modules.len() {
            imported_by_others.extend(self.imports_of(m));
        }
        let mut out: BTreeMap<usize, Entry> = BTreeMap::new();
        for l in &self.launchers {
            for r in &l.runs {
                if let Some(m) = self.launched(&l.file, &r.target) {
                    out.entry(m).or_insert(Entry {
                        module: m,
                        reason: EntryReason::Launched(format!("{}:{}", l.file, r.line)),
                        roots: Vec::new(),
                    });
                }
            }
        }
        for (name, module, func) in &self.console_scripts {
            let rest = module.replace('.', "/");
            let m = self
                .by_path
                .get(&rest)
                .or_else(|| self.by_path.get(&join("src", &rest)));
            if let Some(&m) = m {
                let e = out.entry(m).or_insert(Entry {
                    module: m,
                    reason: EntryReason::ConsoleScript(name.clone()),
                    roots: Vec::new(),
                });
                e.roots.push(func.clone());
            }
        }
        for (i, m) in self.modules.iter().enumerate() {
            if out.contains_key(&i) || not_a_program(&m.rel) {
                continue;
            }
            let s = &m.script;
            let name = m.rel.rsplit('/').next().unwrap_or(&m.rel);
            let reason = if s.main_guard.is_some() || name == "__main__.py" {
                Some(EntryReason::MainGuard)
            } else if !imported_by_others.contains(&i)
                && (s
                    .calls
                    .iter()
                    .any(|c| c.function.is_none() && crate::rules::is_training_call(c))
                    // A script: code at module level, in a folder that is not a package.
                    || !self.in_package(i) && s.calls.iter().any(|c| c.function.is_none()))
            {
                Some(EntryReason::TopLevel)
            } else {
                None
            };
            if let Some(reason) = reason {
                out.insert(
                    i,
                    Entry {
                        module: i,
                        reason,
                        roots: Vec::new(),
                    },
                );
            }
        }
        out.into_values().collect()
    }

    /// The environment the launchers give the program starting at `m`: variables of the
    /// launchers that run it (or run an unnamed Python program), and of those that set the
    /// environment of everything under their folder (a Dockerfile's `ENV`, `.env`).
    pub fn env_for(&self, m: usize) -> Vec<EnvSetting> {
        let mut out = Vec::new();
        for l in &self.launchers {
            let runs_it: Vec<_> = l
                .runs
                .iter()
                .filter(|r| {
                    r.target == Target::Unknown || self.launched(&l.file, &r.target) == Some(m)
                })
                .collect();
            // An image's or a folder's environment covers the programs under its folder.
            let covers = l.global && {
                let dir = dir_of(&l.file);
                dir.is_empty() || self.modules[m].rel.starts_with(&format!("{dir}/"))
            };
            if covers || !runs_it.is_empty() {
                out.extend(l.env.iter().cloned());
            }
            for r in runs_it {
                out.extend(r.inline_env.iter().cloned());
            }
        }
        out
    }

    /// The launch lines that start the program at `m`.
    pub fn runs_of(&self, m: usize) -> Vec<launch::Run> {
        self.launchers
            .iter()
            .flat_map(|l| l.runs.iter().map(move |r| (l, r)))
            .filter(|(l, r)| self.launched(&l.file, &r.target) == Some(m))
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// The modules of the program starting at `entry`: itself first, then what it imports,
    /// transitively, in the order found.
    pub fn closure(&self, entry: usize) -> Vec<usize> {
        let mut seen = BTreeSet::from([entry]);
        let mut order = vec![entry];
        let mut queue = VecDeque::from([entry]);
        while let Some(m) = queue.pop_front() {
            for i in self.imports_of(m) {
                if seen.insert(i) {
                    order.push(i);
                    queue.push_back(i);
                }
            }
        }
        order
    }

    /// The function a dotted callee names in module `m`, as the linked program keys it.
    fn function_key(
        &self,
        m: usize,
        callee: &str,
        keys: &HashMap<usize, String>,
        depth: usize,
    ) -> Option<String> {
        if depth > 6 || callee.is_empty() {
            return None;
        }
        let s = &self.modules[m].script;
        let qualify = |i: usize, name: &str| -> Option<String> {
            let q = keys.get(&i)?;
            Some(if q.is_empty() {
                name.to_owned()
            } else {
                format!("{q}.{name}")
            })
        };
        if !callee.contains('.') {
            if s.functions.contains_key(callee) {
                return qualify(m, callee);
            }
            if let Some(target) = s.aliases.get(callee) {
                return self.function_key_abs(m, target, keys, depth + 1);
            }
            for star in &s.star_imports {
                if let Some(i) = self.resolve(m, star)
                    && let Some(k) = self.function_key(i, callee, keys, depth + 1)
                {
                    return Some(k);
                }
            }
            return None;
        }
        self.function_key_abs(m, callee, keys, depth + 1)
    }

    /// `pkg.utils.set_seed` or `.utils.set_seed` imported in module `m`.
    fn function_key_abs(
        &self,
        m: usize,
        dotted: &str,
        keys: &HashMap<usize, String>,
        depth: usize,
    ) -> Option<String> {
        let (module, name) = dotted.rsplit_once('.')?;
        if name.is_empty() {
            return None;
        }
        // `from . import utils` then `utils.f`: the module part is all dots plus a name.
        let i = self.resolve(m, if module.is_empty() { "." } else { module })?;
        if i == m && module.chars().all(|c| c == '.') {
            return None;
        }
        self.function_key(i, name, keys, depth + 1)
    }

    /// Links the program starting at `entry` into one script: every module's calls,
    /// assignments and functions, with calls into project modules resolved to the functions
    /// they run. The entry point's functions keep their names; the others are qualified by
    /// their module (`utils.seed.set_seed`). Code under another module's main guard does not
    /// run.
    pub fn link(&self, entry: &Entry) -> Script {
        let mods = self.closure(entry.module);
        let keys: HashMap<usize, String> = mods
            .iter()
            .map(|&m| {
                let q = if m == entry.module {
                    String::new()
                } else {
                    self.dotted(m)
                };
                (m, q)
            })
            .collect();
        let mut out = Script::default();
        for (file, &m) in mods.iter().enumerate() {
            let s = &self.modules[m].script;
            out.files.push(self.modules[m].display.clone());
            let q = &keys[&m];
            let qualify = |f: &str| {
                if q.is_empty() {
                    f.to_owned()
                } else {
                    format!("{q}.{f}")
                }
            };
            let is_entry = m == entry.module;
            let where_ = |function: &Option<String>, main_guard: bool| {
                if main_guard && !is_entry {
                    Some(format!("{q}.<main>"))
                } else {
                    function.as_deref().map(qualify)
                }
            };
            for f in s.functions.values() {
                let mut f = f.clone();
                f.name = qualify(&f.name);
                f.file = file;
                out.functions.insert(f.name.clone(), f);
            }
            for c in &s.calls {
                let mut c: Call = c.clone();
                c.file = file;
                c.function = where_(&c.function, c.main_guard);
                if !c.written.starts_with('.')
                    && let Some(k) = self.function_key(m, &c.callee, &keys, 0)
                {
                    c.callee = k;
                }
                out.calls.push(c);
            }
            for a in &s.assigns {
                let mut a = a.clone();
                a.file = file;
                a.function = where_(&a.function, a.main_guard);
                out.assigns.push(a);
            }
            let main_refs = s.main_referenced.iter().filter(|_| is_entry);
            for r in s.referenced.iter().chain(main_refs) {
                let k = self
                    .function_key(m, r, &keys, 0)
                    .unwrap_or_else(|| r.clone());
                out.referenced.insert(k);
            }
            out.imports.extend(s.imports.iter().cloned());
            out.strings.extend(s.strings.iter().cloned());
            if is_entry {
                out.main_guard = s.main_guard;
                out.aliases = s.aliases.clone();
            }
        }
        out.referenced.extend(entry.roots.iter().cloned());
        out.reachable = out.compute_reachable();
        out
    }
}

/// `name = "pkg.mod:func"` lines of `[project.scripts]`, and `"name=pkg.mod:func"` strings of
/// setup.py's `console_scripts`.
fn console_scripts(rel: &str, text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut in_scripts = !rel.ends_with("pyproject.toml");
    for l in text.lines() {
        let t = l.trim();
        if t.starts_with('[') && rel.ends_with("pyproject.toml") {
            in_scripts = matches!(
                t,
                "[project.scripts]" | "[tool.poetry.scripts]" | "[project.gui-scripts]"
            );
            continue;
        }
        if !in_scripts {
            continue;
        }
        let parts = std::iter::once(t).chain(t.split(['"', '\'', ',']));
        for part in parts {
            let Some((name, target)) = part.split_once('=') else {
                continue;
            };
            let target = target.trim().trim_matches(|c| c == '"' || c == '\'');
            let Some((module, func)) = target.split_once(':') else {
                continue;
            };
            let name = name.trim();
            let ident = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
            };
            let name = name.trim_matches(|c| c == '"' || c == '\'');
            if ident(name) && ident(module) && ident(func) {
                out.push((name.to_owned(), module.to_owned(), func.to_owned()));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(rel: &str, src: &str) -> Module {
        Module {
            rel: rel.to_owned(),
            display: rel.to_owned(),
            script: Script::parse(src).unwrap(),
        }
    }

    #[test]
    fn calls_cross_modules_through_every_import_form() {
        let p = Project::new(
            vec![
                module(
                    "train.py",
                    "import utils\nfrom pkg import seeding\nfrom pkg.loop import *\nfrom src_pkg.helpers import go\n\nif __name__ == \"__main__\":\n    utils.random_seed(0)\n    seeding.seed_all(1)\n    fit()\n    go()\n",
                ),
                module(
                    "utils.py",
                    "import torch\ndef random_seed(s):\n    torch.manual_seed(s)\nif __name__ == \"__main__\":\n    torch.manual_seed(9)\n",
                ),
                module("pkg/__init__.py", "from .seeding import seed_all\n"),
                module(
                    "pkg/seeding.py",
                    "import numpy as np\ndef seed_all(s):\n    np.random.seed(s)\n",
                ),
                module(
                    "pkg/loop.py",
                    "from . import seeding\ndef fit():\n    seeding.seed_all(2)\n    loss.backward()\n",
                ),
                module("src/src_pkg/helpers.py", "def go():\n    pass\n"),
                module(
                    "tests/test_utils.py",
                    "if __name__ == '__main__':\n    pass\n",
                ),
            ],
            &[],
        );
        // utils.py has a main guard of its own: a program too; the test file is not one.
        let entries = p.entries();
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].reason, EntryReason::MainGuard);
        assert_eq!(p.modules[entries[1].module].rel, "utils.py");
        let s = p.link(&entries[0]);
        assert_eq!(s.files.len(), 6);
        let callees: Vec<&str> = s.live_calls().map(|c| c.callee.as_str()).collect();
        for want in [
            "utils.random_seed",
            "pkg.seeding.seed_all",
            "pkg.loop.fit",
            "src_pkg.helpers.go",
            "torch.manual_seed",
            "numpy.random.seed",
            "loss.backward",
        ] {
            assert!(callees.contains(&want), "{want} not in {callees:?}");
        }
        // The imported module's own main guard does not run.
        let guarded = s
            .calls
            .iter()
            .find(|c| c.callee == "torch.manual_seed" && c.line == 5)
            .unwrap();
        assert!(!s.runs(guarded.function.as_ref()));
        assert_eq!(s.files[guarded.file], "utils.py");
    }

    #[test]
    fn launchers_name_programs_and_give_them_their_environment() {
        let p = Project::new(
            vec![
                module("src/train.py", "import torch\nopt = torch.optim.SGD(m)\n"),
                module("lib.py", "def f():\n    pass\n"),
                module("cli.py", "def main():\n    loss.backward()\n"),
            ],
            &[
                (
                    "scripts/run.sh".into(),
                    "export CUBLAS_WORKSPACE_CONFIG=:4096:8\npython src/train.py\n".into(),
                ),
                (
                    "pyproject.toml".into(),
                    "[project.scripts]\ntrain-cli = \"cli:main\"\n".into(),
                ),
                ("requirements.txt".into(), "torch==2.1.2\n".into()),
                ("data/train.csv.sha256".into(), String::new()),
            ],
        );
        let entries = p.entries();
        let names: Vec<&str> = entries
            .iter()
            .map(|e| p.modules[e.module].rel.as_str())
            .collect();
        assert_eq!(names, ["src/train.py", "cli.py"]);
        assert!(
            matches!(entries[0].reason, EntryReason::Launched(ref at) if at == "scripts/run.sh:2")
        );
        let env = p.env_for(entries[0].module);
        assert_eq!(env[0].var, "CUBLAS_WORKSPACE_CONFIG");
        assert!(p.env_for(entries[1].module).is_empty());
        let s = p.link(&entries[1]);
        assert!(s.reachable.contains("main"));
        assert_eq!(p.torch.as_ref().unwrap().min, (2, 1));
        assert_eq!(p.manifests, ["data/train.csv.sha256"]);
    }
}
