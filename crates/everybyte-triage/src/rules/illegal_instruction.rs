//! LOG021: a process died of SIGILL — a CPU instruction this machine does not have.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A process killed by SIGILL: a shell's `Illegal instruction (core dumped)` (zsh: `illegal
    /// hardware instruction`), Python's faulthandler `Fatal Python error: Illegal instruction`,
    /// `SIGILL`, the zh_CN shell's `非法指令`, and exit codes 132 (128 + 4) and -4
    /// (`"ExitCode": 132` too). The CUDA
    /// runtime's `an illegal instruction was encountered` is a GPU kernel's fault (LOG012), not
    /// this. When the line
    /// names the program or module (`python -c 'import tensorflow'`, a `.so`), the finding names
    /// the package to reinstall.
    /// ## Why it matters
    /// Wheels and binaries are often built for a newer CPU than the one they run on: TensorFlow
    /// since 1.6 and many prebuilt llama.cpp, faiss, XGBoost or ONNX Runtime builds require AVX
    /// or AVX2, some AVX-512. On an older Xeon, an Atom, a VM that hides the flags, or Rosetta
    /// on Apple silicon, the first vector instruction kills the process: no traceback, just
    /// `Illegal instruction` at import time.
    /// ## Example
    /// ```text
    /// Illegal instruction (core dumped)
    /// ```
    /// ## Fix
    /// Compare what the binary needs with what the CPU has: `grep -o 'avx[^ ]*' /proc/cpuinfo |
    /// sort -u` (and `lscpu | grep -i flags`). Install a build for this CPU (an older or
    /// `noavx` wheel, conda-forge's build, or build from source with `-march=native`), or run on
    /// a machine whose CPU has the instructions (a VM: expose the host's CPU model).
    pub static ILLEGAL_INSTRUCTION = { code: "LOG021", name: "illegal-instruction", severity: Error, summary: "A process died of an illegal CPU instruction (SIGILL): a build for a newer CPU" };
}

static EXIT_132: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:exit(?:ed with)?[ _]?(?:code|status)|exitcode|return ?code)"?\s*[:=]?\s*(132|-4)\b"#)
        .expect("valid regex")
});
/// A shell's job report: `Illegal instruction (core dumped)`, `run.sh: line 3:  4242 Illegal
/// instruction     python x.py`, zsh's `illegal hardware instruction  python x.py`.
static SHELL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(Illegal instruction\s+\(core dumped\)|^\s*Illegal instruction\s*$|\d+\s+Illegal instruction\b|^\[\d+\][+-]?\s+Illegal instruction\b|Fatal Python error: Illegal instruction|illegal hardware instruction|非法指令\s*[(（]核心已转储[)）]|^\s*非法指令\s*$)")
        .expect("valid regex")
});
static SIGILL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bSIGILL\b|Signals\.SIGILL").expect("valid regex"));
/// A Python module or a `.so` named in the command or line.
static MODULE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:import\s+([A-Za-z_][\w]*)|/site-packages/([A-Za-z_][\w-]*)|\blib([a-z][\w-]*?)(?:\.so|\.dylib))")
        .expect("valid regex")
});

const CPU: &str = "grep -o 'avx[^ ]*' /proc/cpuinfo | sort -u";

/// The package to reinstall for a module or library name, with what to install instead.
fn package_advice(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    let alt = match n.as_str() {
        "tensorflow" | "tensorflow_core" | "tf" => {
            "TensorFlow wheels since 1.6 need AVX: pip install a build for this CPU (conda-forge's tensorflow, or build from source with --config=opt without -mavx)"
        }
        "llama_cpp" | "llama" | "ggml" => {
            "rebuild llama-cpp-python for this CPU: CMAKE_ARGS=\"-DGGML_NATIVE=ON\" pip install --force-reinstall --no-binary llama-cpp-python llama-cpp-python"
        }
        "faiss" => {
            "install faiss-cpu's generic build or conda-forge's faiss-cpu (not the AVX2/AVX-512 variant)"
        }
        "torch" | "torch_cpu" | "c10" => {
            "PyTorch's official wheels dispatch on the CPU at run time; a custom or nightly build may not: reinstall torch from the official index"
        }
        "onnxruntime" => {
            "reinstall onnxruntime from PyPI (its wheels check the CPU), or build it without --use_avx2"
        }
        "xgboost" => "reinstall xgboost from conda-forge, whose build checks the CPU",
        _ => "",
    };
    if alt.is_empty() {
        format!(
            "reinstall {name} with a build for this CPU (a generic or noavx wheel, conda-forge, or from source with -march=native)"
        )
    } else {
        alt.to_owned()
    }
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    // The CUDA runtime's illegal instruction is a GPU kernel's (LOG012).
    if line.contains("illegal instruction was encountered") || line.contains("CUDA error") {
        return;
    }
    let stripped = crate::line::strip_decorations(line);
    let offset = line.len() - stripped.len();
    let (at, how) = if let Some(c) = SHELL.captures(stripped) {
        let m = c.get(1).map_or(0, |m| m.start());
        (offset + m, None)
    } else if let Some(m) = SIGILL.find(stripped) {
        (offset + m.start(), None)
    } else if let Some(c) = EXIT_132.captures(stripped) {
        let code: i64 = c[1].parse().unwrap_or(132);
        (offset + c.get(0).map_or(0, |m| m.start()), Some(code))
    } else {
        return;
    };
    let module = MODULE.captures(stripped).and_then(|c| {
        c.iter()
            .skip(1)
            .flatten()
            .next()
            .map(|m| m.as_str().to_owned())
    });
    let how_text = match how {
        Some(c) if c < 0 => format!(" (exit code {c})"),
        Some(c) => format!(" (exit code {c} = 128 + 4)"),
        None => String::new(),
    };
    let mut message = format!(
        "process died of SIGILL{how_text}: it executed a CPU instruction this machine lacks — a binary built for AVX/AVX2/AVX-512 on an older or virtualised CPU"
    );
    let help = match &module {
        Some(m) => {
            message.push_str(&format!(" ({m} is the likely build)"));
            format!(
                "{CPU} lists the vector extensions this CPU has; {}",
                package_advice(m)
            )
        }
        None => format!(
            "{CPU} lists the vector extensions this CPU has; run the program under gdb (gdb -batch -ex run -ex 'x/i $pc' -ex 'info sharedlibrary' --args CMD) to see the instruction and the library, then reinstall that package with a build for this CPU (a generic or noavx wheel, conda-forge, or from source with -march=native)"
        ),
    };
    let mut hit = Hit::new(&ILLEGAL_INSTRUCTION, at, message, help)
        .role(Role::Cause("illegal instruction"))
        .key(if how.is_some() {
            "sigill-exit".to_owned()
        } else {
            format!("sigill-{}", module.as_deref().unwrap_or("?"))
        })
        .data("signal", 4)
        .data("signal_name", "SIGILL");
    if let Some(c) = how {
        hit = hit.data("exit_code", c);
    }
    if let Some(m) = module {
        hit = hit.data("package", m);
    }
    out.push(hit);
}

#[cfg(test)]
mod tests {
    use super::detect;

    fn fires(line: &str) -> bool {
        let mut out = Vec::new();
        detect(line, &mut out);
        !out.is_empty()
    }

    #[test]
    fn shell_and_exit_forms() {
        assert!(fires("Illegal instruction (core dumped)"));
        assert!(fires(
            "zsh: illegal hardware instruction  python -c 'import tensorflow'"
        ));
        assert!(fires(
            "run.sh: line 3:  4242 Illegal instruction     python x.py"
        ));
        assert!(fires("Process exited with exit code 132"));
        assert!(fires("Fatal Python error: Illegal instruction"));
        assert!(!fires(
            "RuntimeError: CUDA error: an illegal instruction was encountered"
        ));
        assert!(!fires("ValueError: illegal instruction set name 'avx3'"));
        assert!(!fires("exit code 0"));
    }
}
