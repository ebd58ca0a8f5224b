//! ENV012: a plugin no import loads cannot load here; the feature it provides is unavailable.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use everybyte_core::{Finding, Location};

use crate::load::list_some;
use crate::native::Objects;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The ELF objects that no entry point loads (no extension module, program or library a
    /// package loads itself has them in its closure; see ENV001) are plugins and optional
    /// backends: GPUDirect Storage's RDMA path, NVSHMEM's MPI, PMIx, UCX and libfabric
    /// transports, ONNX Runtime's CUDA and TensorRT execution providers. Their libraries
    /// `dlopen` them only when that feature is configured. A library such a plugin needs that
    /// cannot be found (or a symbol version its provider lacks) is reported once per plugin
    /// folder, naming the feature and what to install to use it. A library that an object
    /// the entry points load already provides (a plugin's host, such as triton's
    /// `libtriton.so`) counts as found.
    /// ## Why it matters
    /// `import` works and so does the common path; the feature fails only when asked for —
    /// an NVSHMEM job over UCX, a session on the CUDA execution provider that silently falls
    /// back to the CPU. Knowing which features this machine cannot use, and why, saves the
    /// search at run time; calling each of them an error, as a loop of `ldd` does, buries the
    /// one failure that breaks an import among a dozen that do not.
    /// ## Example
    /// ```text
    /// nvidia/nvshmem/lib  info  ENV012  optional plugins that load only on request cannot load here: NVSHMEM's UCX transport (nvshmem_transport_ucx.so.6) needs libucp.so.0, libucs.so.0 (UCX)
    /// ```
    /// ## Fix
    /// Nothing, unless the feature is wanted: then install what the help names (for example
    /// `apt-get install libucx0` for UCX, `ibverbs-providers librdmacm1` for RDMA,
    /// `pip install onnxruntime-gpu[cuda,cudnn]` for ONNX Runtime's CUDA provider).
    pub static OPTIONAL_PLUGIN_UNAVAILABLE = { code: "ENV012", name: "optional-plugin-unavailable", severity: Info, summary: "A plugin that no import loads cannot load here: its feature is unavailable" };
}

/// Plugins by file-name prefix: the feature each one provides.
const PLUGINS: &[(&str, &str)] = &[
    ("libcufile_rdma", "GPUDirect Storage over RDMA (cuFile)"),
    ("nvshmem_bootstrap_mpi", "NVSHMEM's MPI bootstrap"),
    ("nvshmem_bootstrap_shmem", "NVSHMEM's OpenSHMEM bootstrap"),
    ("nvshmem_bootstrap_pmix", "NVSHMEM's PMIx bootstrap"),
    ("nvshmem_transport_ib", "NVSHMEM's InfiniBand transport"),
    ("nvshmem_transport_ucx", "NVSHMEM's UCX transport"),
    (
        "nvshmem_transport_libfabric",
        "NVSHMEM's libfabric transport",
    ),
    (
        "nvshmem_transport_gpunetio",
        "NVSHMEM's DOCA GPUNetIO transport",
    ),
    ("libnccl-net", "NCCL's network plugin"),
    (
        "libonnxruntime_providers_cuda",
        "ONNX Runtime's CUDA execution provider",
    ),
    (
        "libonnxruntime_providers_tensorrt",
        "ONNX Runtime's TensorRT execution provider",
    ),
    (
        "libonnxruntime_providers_migraphx",
        "ONNX Runtime's MIGraphX execution provider",
    ),
    (
        "libonnxruntime_providers_rocm",
        "ONNX Runtime's ROCm execution provider",
    ),
    (
        "libonnxruntime_providers_openvino",
        "ONNX Runtime's OpenVINO execution provider",
    ),
    (
        "libcaffe2_nvrtc",
        "torch's runtime compilation (NVRTC) bridge",
    ),
];

/// Missing libraries by name prefix: what they are and how to get them.
const LIBRARIES: &[(&[&str], &str, &str)] = &[
    (
        &[
            "libibverbs.",
            "libmlx5.",
            "libmlx4.",
            "librdmacm.",
            "libefa.",
        ],
        "RDMA verbs",
        "apt-get install ibverbs-providers libibverbs1 librdmacm1 (rdma-core)",
    ),
    (
        &["libmpi.", "liboshmem.", "libopen-rte.", "libopen-pal."],
        "Open MPI",
        "apt-get install libopenmpi3, or load the cluster's MPI module",
    ),
    (&["libpmix."], "PMIx", "apt-get install libpmix2"),
    (
        &["libfabric."],
        "libfabric",
        "apt-get install libfabric1, or the AWS EFA installer",
    ),
    (
        &["libucp.", "libucs.", "libuct.", "libucm."],
        "UCX",
        "apt-get install libucx0",
    ),
    (
        &["libdoca_"],
        "NVIDIA DOCA",
        "NVIDIA DOCA's GPUNetIO packages",
    ),
    (
        &["libnvinfer", "libnvonnxparser"],
        "TensorRT",
        "pip install tensorrt (matching the CUDA major)",
    ),
    (
        &["libcudnn"],
        "cuDNN",
        "pip install nvidia-cudnn-cu12 or nvidia-cudnn-cu13 (the CUDA major the plugin names)",
    ),
    (
        &[
            "libcudart.",
            "libcublas.",
            "libcublasLt.",
            "libcufft.",
            "libcurand.",
            "libcusparse.",
            "libcusolver.",
            "libnvrtc.",
            "libnvJitLink.",
            "libnvrtc-builtins.",
        ],
        "the CUDA runtime libraries",
        "the NVIDIA CUDA wheels for the CUDA major the library names (nvidia-cublas, nvidia-cuda-runtime, ... for CUDA 13; nvidia-*-cu12 for CUDA 12; for ONNX Runtime, pip install onnxruntime-gpu[cuda,cudnn])",
    ),
];

fn plugin_feature(file: &str) -> Option<&'static str> {
    PLUGINS
        .iter()
        .find(|(p, _)| file.starts_with(p))
        .map(|(_, f)| *f)
}

fn library_group(name: &str) -> Option<(&'static str, &'static str)> {
    LIBRARIES
        .iter()
        .find(|(ps, _, _)| ps.iter().any(|p| name.starts_with(p)))
        .map(|(_, what, how)| (*what, *how))
}

/// What one plugin lacks: missing libraries and missing symbol versions.
#[derive(Default)]
struct Lacks {
    libraries: BTreeSet<String>,
    versions: BTreeSet<String>,
}

/// What the plugins of one feature lack.
#[derive(Default)]
struct Feature {
    files: Vec<String>,
    libraries: BTreeSet<String>,
    versions: BTreeSet<String>,
}

/// One finding per folder of plugins that cannot load.
pub fn check(facts: &Objects<'_>, out: &mut Vec<Finding>) {
    if facts.ldd_compatible {
        return;
    }
    for (folder, plugins) in lacking(facts) {
        out.push(finding(facts, &folder, &plugins));
    }
}

/// The plugins (objects no entry point loads) that lack something, by folder.
fn lacking(facts: &Objects<'_>) -> BTreeMap<PathBuf, BTreeMap<PathBuf, Lacks>> {
    // Names the entry points' closures already provide: a plugin loaded into that process
    // finds them by soname, as the loader does.
    let provided = facts.loaded_names();
    let mut by_folder: BTreeMap<PathBuf, BTreeMap<PathBuf, Lacks>> = BTreeMap::new();
    for (obj, c) in facts.objects.iter().zip(facts.closures) {
        if facts.loading.is_reached(obj) {
            continue;
        }
        let mut lacks = Lacks::default();
        for m in &c.missing {
            // What an entry point also loads was judged there (ENV001).
            if facts.loading.is_reached(&m.needed_by)
                || facts.is_absent_driver_library(&m.name)
                || provided.contains_key(&m.name)
            {
                continue;
            }
            lacks.libraries.insert(m.name.clone());
        }
        for g in &c.gaps {
            if !facts.loading.is_reached(&g.object) {
                let from = g.provider.file_name().map_or_else(
                    || g.provider.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                lacks
                    .versions
                    .insert(format!("{} (from {from})", g.version));
            }
        }
        if lacks.libraries.is_empty() && lacks.versions.is_empty() {
            continue;
        }
        let folder = obj.parent().map(Path::to_path_buf).unwrap_or_default();
        by_folder
            .entry(folder)
            .or_default()
            .insert(obj.clone(), lacks);
    }
    by_folder
}

/// The finding for one folder's plugins: each feature, what it lacks, what to install.
fn finding(facts: &Objects<'_>, folder: &Path, plugins: &BTreeMap<PathBuf, Lacks>) -> Finding {
    let mut features: BTreeMap<String, Feature> = BTreeMap::new();
    let mut installs: BTreeSet<String> = BTreeSet::new();
    let mut all_libraries: BTreeSet<String> = BTreeSet::new();
    for (plugin, lacks) in plugins {
        let file = plugin
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let feature = plugin_feature(&file)
            .map_or_else(|| format!("the optional plugin {file}"), str::to_owned);
        let e = features.entry(feature).or_default();
        e.files.push(file);
        e.libraries.extend(lacks.libraries.iter().cloned());
        e.versions.extend(lacks.versions.iter().cloned());
        for l in &lacks.libraries {
            all_libraries.insert(l.clone());
            if let Some((what, how)) = library_group(l) {
                installs.insert(format!("{what}: {how}"));
            }
        }
    }
    let parts: Vec<String> = features
        .iter()
        .map(|(name, f)| {
            let mut needs: Vec<String> = Vec::new();
            if !f.libraries.is_empty() {
                let libs: Vec<String> = f.libraries.iter().cloned().collect();
                let groups: BTreeSet<&str> = libs
                    .iter()
                    .filter_map(|l| library_group(l).map(|g| g.0))
                    .collect();
                let groups = if groups.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", groups.into_iter().collect::<Vec<_>>().join(", "))
                };
                needs.push(format!("needs {}{groups}", list_some(&libs, 4)));
            }
            if !f.versions.is_empty() {
                let v: Vec<String> = f.versions.iter().cloned().collect();
                needs.push(format!("requires {}", list_some(&v, 3)));
            }
            format!(
                "{name} ({}) {}",
                list_some(&f.files, 3),
                needs.join(" and ")
            )
        })
        .collect();
    let help = if installs.is_empty() {
        "nothing to do unless the feature is wanted; imports do not load these plugins".to_owned()
    } else {
        format!(
            "nothing to do unless the feature is wanted; to use it, install {}",
            installs.into_iter().collect::<Vec<_>>().join("; ")
        )
    };
    Finding::new(
        &OPTIONAL_PLUGIN_UNAVAILABLE,
        Location::file(facts.show(folder)),
        format!(
            "optional plugins that load only on request cannot load here: {}",
            parts.join("; ")
        ),
    )
    .with_help(help)
    .with_data("features", features.keys().cloned().collect::<Vec<_>>())
    .with_data(
        "plugins",
        plugins.keys().map(|p| facts.show(p)).collect::<Vec<_>>(),
    )
    .with_data("libraries", all_libraries.into_iter().collect::<Vec<_>>())
}
