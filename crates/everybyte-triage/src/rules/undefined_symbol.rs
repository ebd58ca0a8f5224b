//! LOG027: an extension that needs a symbol the loaded libraries do not define.

use std::sync::LazyLock;

use regex::Regex;

use crate::demangle::demangle;
use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The dynamic loader's `undefined symbol`: `ImportError: …/X.so: undefined symbol:
    /// _ZN3c10…` (with or without a traceback), `OSError` from `ctypes`, and `symbol lookup
    /// error: …: undefined symbol: …` when a program runs. The C++ name is demangled
    /// (`c10::Error::Error(c10::SourceLocation, std::__cxx11::basic_string<…>)`); a symbol of
    /// PyTorch's C++ API (`c10::`, `at::`, `torch::`) or one carrying the `__cxx11` ABI names
    /// an extension built against another PyTorch (or the other C++11 ABI setting), and the
    /// package to rebuild is taken from the library's path.
    /// ## Why it matters
    /// PyTorch has no stable C++ ABI: a compiled extension (flash-attn, xformers, apex,
    /// torchvision, mmcv, a custom op) works only with the exact torch it was built against,
    /// and with the same `_GLIBCXX_USE_CXX11_ABI`. Upgrading torch alone leaves the wheel
    /// behind, and the import fails on the first symbol that moved.
    /// ## Example
    /// ```text
    /// ImportError: /opt/venv/lib/python3.10/site-packages/flash_attn_2_cuda.cpython-310-x86_64-linux-gnu.so: undefined symbol: _ZN3c105ErrorC2ENS_14SourceLocationENSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE
    /// ```
    /// ## Fix
    /// Reinstall the extension for the installed torch: a wheel built for that exact version
    /// (`pip install --force-reinstall PACKAGE` from an index matching the torch/CUDA pair), or
    /// build it against it (`pip install --no-build-isolation --no-cache-dir PACKAGE`).
    /// `python -c 'import torch; print(torch.__version__, torch.compiled_with_cxx11_abi())'`
    /// shows what it must match. For other libraries, `nm -D --defined-only LIB | grep SYMBOL`
    /// finds which one should provide it.
    pub static UNDEFINED_SYMBOL = { code: "LOG027", name: "undefined-symbol", severity: Error, summary: "A compiled extension needs a symbol no loaded library defines (built against another version)" };
}

static UNDEFINED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:(/[^\s:]+|[\w.+-]+\.so[\w.]*)\s*:\s*)?undefined symbol:?\s*([A-Za-z_.$][\w.$@]*)",
    )
    .expect("valid regex")
});

/// The distribution a library file belongs to, from its path: `…/site-packages/apex/…` is
/// apex, a module file directly in `site-packages` is named for its module.
pub fn package_of(path: &str) -> Option<String> {
    let after = path
        .rsplit_once("site-packages/")
        .or_else(|| path.rsplit_once("dist-packages/"))
        .map(|(_, a)| a)?;
    let first = after.split('/').next().filter(|s| !s.is_empty())?;
    let module = first.split('.').next().unwrap_or(first);
    let known = match module {
        "flash_attn_2_cuda" | "flash_attn_cuda" | "flash_attn" => "flash-attn",
        "amp_C" | "fused_layer_norm_cuda" | "apex_C" | "fused_dense_cuda" | "apex" => "apex",
        "causal_conv1d_cuda" | "causal_conv1d" => "causal-conv1d",
        "selective_scan_cuda" | "mamba_ssm" => "mamba-ssm",
        "torch_scatter" => "torch-scatter",
        "torch_sparse" => "torch-sparse",
        "torch_cluster" => "torch-cluster",
        "detectron2" => "detectron2",
        "mmcv" => "mmcv",
        "xformers" => "xformers",
        "vllm" => "vllm",
        "deepspeed" => "deepspeed",
        "bitsandbytes" => "bitsandbytes",
        "torchvision" => "torchvision",
        "torchaudio" => "torchaudio",
        "transformer_engine" | "transformer_engine_torch" => "transformer-engine",
        m => return Some(m.trim_start_matches('_').replace('_', "-")),
    };
    Some(known.to_owned())
}

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    let Some(c) = UNDEFINED.captures(line) else {
        return;
    };
    let lib = c.get(1).map(|m| m.as_str());
    let symbol = &c[2];
    let demangled = demangle(symbol);
    let shown = demangled.as_deref().unwrap_or(symbol);
    let torch_api = ["c10::", "at::", "torch::", "caffe2::"]
        .iter()
        .any(|ns| shown.starts_with(ns) || shown.contains(&format!(" {ns}")))
        || symbol.starts_with("_ZN3c10")
        || symbol.starts_with("_ZN2at")
        || symbol.starts_with("_ZN5torch")
        || symbol.starts_with("_ZNK3c10")
        || symbol.starts_with("_ZNK2at");
    let cxx11 = symbol.contains("__cxx11") || symbol.contains("B5cxx11");
    let file = lib.map(|l| l.rsplit('/').next().unwrap_or(l));
    let package = lib.and_then(package_of);
    let who = file.unwrap_or("a library");
    let mut message = format!("{who} needs {shown}, which no loaded library defines");
    let help = if torch_api || cxx11 {
        let abi = if cxx11 {
            " (the symbol uses the C++11 string ABI, std::__cxx11: the extension and this torch disagree on the torch version or on _GLIBCXX_USE_CXX11_ABI)"
        } else {
            ""
        };
        message.push_str(&format!(
            ": an extension built against another PyTorch than the one installed{abi}"
        ));
        let pkg = package
            .clone()
            .unwrap_or_else(|| "the extension".to_owned());
        format!(
            "python -c 'import torch; print(torch.__version__, torch.version.cuda, torch.compiled_with_cxx11_abi())' shows what it must match; reinstall {pkg} for this torch: pip install --force-reinstall --no-cache-dir {pkg} from an index built for that torch/CUDA pair, or build it against it: pip install --no-build-isolation --no-cache-dir {pkg}; or install the torch version {pkg} was built for"
        )
    } else {
        format!(
            "nm -D --defined-only LIB | grep '{symbol}' finds the library that should define it; the {} was built against a newer (or different) version of that library: reinstall it or the library so they match",
            package.as_deref().unwrap_or("binary")
        )
    };
    let mut hit = Hit::new(
        &UNDEFINED_SYMBOL,
        c.get(0).map_or(0, |m| m.start()),
        message,
        help,
    )
    .role(Role::None)
    .key(format!("undefined-{symbol}"))
    .data("symbol", symbol)
    .data("torch_abi", torch_api || cxx11);
    if let Some(d) = &demangled {
        hit = hit.data("demangled", d.as_str());
    }
    if let Some(l) = lib {
        hit = hit.data("library", l);
    }
    if let Some(p) = package {
        hit = hit.data("package", p);
    }
    out.push(hit);
}

#[cfg(test)]
mod tests {
    use super::{detect, package_of};

    #[test]
    fn names_the_package_and_the_symbol() {
        assert_eq!(
            package_of("/opt/venv/lib/python3.10/site-packages/flash_attn_2_cuda.cpython-310-x86_64-linux-gnu.so").as_deref(),
            Some("flash-attn")
        );
        assert_eq!(
            package_of("/usr/lib/python3/dist-packages/torchvision/_C.so").as_deref(),
            Some("torchvision")
        );
        assert_eq!(package_of("/usr/lib/libfoo.so"), None);
        let mut out = Vec::new();
        detect(
            "ImportError: /opt/venv/lib/python3.10/site-packages/flash_attn_2_cuda.cpython-310-x86_64-linux-gnu.so: undefined symbol: _ZN3c105ErrorC2ENS_14SourceLocationENSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE",
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert!(
            out[0]
                .message
                .contains("c10::Error::Error(c10::SourceLocation"),
            "{}",
            out[0].message
        );
        assert!(out[0].help.contains("flash-attn"), "{}", out[0].help);
    }
}
