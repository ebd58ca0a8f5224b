//! `repro lint` reads a project as a reviewer does: the programs it starts, the modules they
//! import, the launchers that run them and the torch version it pins.

use std::path::{Path, PathBuf};

use everybyte_core::Finding;
use everybyte_repro::lint_paths;
use everybyte_test_support::render;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn lint(path: &Path) -> Vec<Finding> {
    lint_paths(&[path.to_owned()], &[]).unwrap().findings
}

fn codes(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|f| f.code.as_str()).collect()
}

const TRAIN: &str = r#"
import torch
from utils.seeding import random_seed
from engine import train_one_epoch

def main():
    random_seed(0)
    torch.use_deterministic_algorithms(True)
    print(torch.__version__, torch.version.cuda)
    model = torch.nn.Linear(8, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    train_one_epoch(model, opt)

if __name__ == "__main__":
    main()
"#;

const SEEDING: &str = r"
import random
import numpy as np
import torch

def random_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
";

const ENGINE: &str = r#"
import glob
import torch

def train_one_epoch(model, opt):
    files = glob.glob("data/*.pt")
    for f in files:
        loss = model(torch.load(f)).sum()
        loss.backward()
        opt.step()
"#;

fn project(root: &Path) {
    write(root, "pyproject.toml", "[project]\nname = \"demo\"\n");
    write(root, "train.py", TRAIN);
    write(root, "utils/__init__.py", "");
    write(root, "utils/seeding.py", SEEDING);
    write(root, "engine.py", ENGINE);
    // Not programs: a test with a main guard, a library module no program imports.
    write(
        root,
        "tests/test_engine.py",
        "import torch\nif __name__ == '__main__':\n    torch.optim.SGD([]).step()\n    loss.backward()\n",
    );
    write(
        root,
        "src/demo/model.py",
        "import torch\nimport glob\ndef build():\n    for f in glob.glob('w/*'):\n        pass\n    return torch.optim.Adam([])\n",
    );
}

#[test]
fn seeding_in_a_helper_module_counts_and_gaps_in_a_module_point_there() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    project(root);
    let f = lint(root);
    let shown = render(&f);
    // Seeded through utils.seeding.random_seed: no REPRO001.
    assert!(!codes(&f).contains(&"REPRO001"), "{shown}");
    // The unsorted listing is in engine.py, reported for the run of train.py.
    let listing = f.iter().find(|f| f.code == "REPRO007").expect(&shown);
    assert!(listing.location.path.ends_with("engine.py"), "{shown}");
    assert_eq!(listing.location.line, Some(6));
    assert!(listing.message.contains("in the run of"), "{shown}");
    assert!(
        listing.data["program"]
            .as_str()
            .unwrap()
            .ends_with("train.py"),
        "{shown}"
    );
    // Nothing from the test or the library module no program runs.
    assert!(
        f.iter()
            .all(|f| !f.location.path.contains("tests/") && !f.location.path.contains("src/demo")),
        "{shown}"
    );
    // Deterministic algorithms with no launcher and no pin: REPRO003 says what it assumed.
    let cublas = f.iter().find(|f| f.code == "REPRO003").expect(&shown);
    assert!(cublas.message.contains("no torch pin found"), "{shown}");
}

#[test]
fn a_launcher_that_exports_the_variable_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    project(root);
    write(
        root,
        "scripts/train.sh",
        "#!/bin/bash\nexport CUBLAS_WORKSPACE_CONFIG=:4096:8\ntorchrun --nproc_per_node=8 train.py \"$@\"\n",
    );
    let linted = lint_paths(&[root.to_owned()], &[]).unwrap();
    assert!(
        !codes(&linted.findings).contains(&"REPRO003"),
        "{}",
        render(&linted.findings)
    );
    // The report says where the variable came from.
    let ctx = &linted.context[0];
    assert_eq!(
        (ctx.path.as_str(), ctx.key.as_str(), ctx.line),
        ("scripts/train.sh", "CUBLAS_WORKSPACE_CONFIG", Some(2))
    );
    assert!(ctx.value.starts_with(":4096:8 for "), "{}", ctx.value);
    // A launcher that runs another program does not set it for this one.
    std::fs::write(
        root.join("scripts/train.sh"),
        "export CUBLAS_WORKSPACE_CONFIG=:4096:8\npython other.py\n",
    )
    .unwrap();
    assert!(codes(&lint(root)).contains(&"REPRO003"));
    // A Dockerfile ENV sets it for every program in the image.
    write(
        root,
        "Dockerfile",
        "FROM python:3.12\nENV CUBLAS_WORKSPACE_CONFIG=:16:8\n",
    );
    assert!(!codes(&lint(root)).contains(&"REPRO003"));
}

#[test]
fn the_pinned_torch_version_decides_the_cublas_requirement() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    project(root);
    write(root, "requirements.txt", "numpy\ntorch==2.10.0\n");
    assert!(!codes(&lint(root)).contains(&"REPRO003"));
    write(root, "requirements.txt", "numpy\ntorch==2.4.1\n");
    let f = lint(root);
    let c = f
        .iter()
        .find(|f| f.code == "REPRO003")
        .unwrap_or_else(|| panic!("{}", render(&f)));
    assert!(c.message.contains("requirements.txt:2"), "{}", c.message);
}

#[test]
fn a_file_is_the_program_it_starts_in_the_project_around_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    project(root);
    // A second program with a gap of its own is not linted when train.py is named.
    write(
        root,
        "other.py",
        "import torch\nif __name__ == '__main__':\n    torch.optim.SGD([]).step()\n",
    );
    let f = lint(&root.join("train.py"));
    let shown = render(&f);
    assert!(!codes(&f).contains(&"REPRO001"), "{shown}");
    assert!(codes(&f).contains(&"REPRO007"), "{shown}");
    assert!(
        f.iter().all(|f| !f.location.path.ends_with("other.py")),
        "{shown}"
    );
    // The whole project lints other.py too: it never seeds.
    let all = lint(root);
    assert!(
        all.iter()
            .any(|f| f.code == "REPRO001" && f.location.path.ends_with("other.py")),
        "{}",
        render(&all)
    );
}

#[test]
fn a_training_loop_in_an_imported_module_is_judged_with_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".git/HEAD", "ref: refs/heads/main\n");
    write(
        root,
        "run.py",
        "from trainer import Trainer\nif __name__ == '__main__':\n    Trainer().fit()\n",
    );
    write(
        root,
        "trainer.py",
        "import torch\nclass Trainer:\n    def fit(self):\n        opt = torch.optim.AdamW([])\n        loss.backward()\n",
    );
    let f = lint(&PathBuf::from(root));
    let unseeded = f
        .iter()
        .find(|f| f.code == "REPRO001")
        .unwrap_or_else(|| panic!("{}", render(&f)));
    assert!(unseeded.location.path.ends_with("trainer.py"));
    assert!(
        unseeded.data["program"]
            .as_str()
            .unwrap()
            .ends_with("run.py")
    );
}

#[test]
fn the_documented_command_decides_options_left_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "pyproject.toml", "[project]\nname = \"demo\"\n");
    write(
        root,
        "train.py",
        r#"
import argparse
import torch

p = argparse.ArgumentParser()
p.add_argument("--seed", type=int, default=None)
p.add_argument("--tf32", type=int, default=0)
args = p.parse_args()
if args.seed is not None:
    torch.manual_seed(args.seed)
if args.tf32:
    torch.backends.cuda.matmul.allow_tf32 = True
print(torch.__version__)
opt = torch.optim.SGD([], lr=0.1)
loss.backward()
"#,
    );
    // Nothing runs it with options: TF32 is a choice left off, the default run is unseeded.
    let f = lint(root);
    assert!(codes(&f).contains(&"REPRO013"), "{}", render(&f));
    assert!(!codes(&f).contains(&"REPRO014"), "{}", render(&f));
    // The README's command passes both.
    write(
        root,
        "README.md",
        "# demo\n\nTrain:\n\n```bash\npython train.py --seed 0 --tf32 1\n```\n",
    );
    let f = lint(root);
    let shown = render(&f);
    assert!(!codes(&f).contains(&"REPRO013"), "{shown}");
    let tf32 = f.iter().find(|f| f.code == "REPRO014").expect(&shown);
    assert!(tf32.message.contains("README.md:6"), "{}", tf32.message);
}
