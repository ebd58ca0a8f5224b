//! REPRO019: training data read from local files that nothing checks.

use everybyte_core::Finding;

use super::Context;
use crate::model::Call;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A training program that reads its data from local files — `ImageFolder`, `np.memmap`,
    /// `np.fromfile`, `pd.read_csv` / `read_parquet` / `read_json`, `load_dataset("json" |
    /// "csv" | "parquet" | "imagefolder", data_files=...)`, `load_from_disk`, `h5py.File`,
    /// `lmdb.open`, `webdataset.WebDataset`, images opened with PIL, `cv2.imread` or
    /// `read_image`, and files opened for reading whose path names data (`data`, `train`,
    /// `corpus`, `input`, `shard`, `.bin`; configs, logs and checkpoints aside) — while nothing in the project checks those files:
    /// no hash computed in running code (`hashlib`, `check_integrity`), no launcher that checks
    /// it (`everybyte data verify`, `sha256sum -c`, `dvc pull`), no checksum manifest or
    /// data-version file in the project (`*manifest*`, `*.sha256`, `*.md5`, `checksums*`, `*.dvc`,
    /// `dvc.lock`). Datasets that verify their own downloads (`torchvision.datasets.*(...,
    /// download=True)`) are not reported.
    /// ## Why it matters
    /// The data is the one input with no version: a re-tokenised `train.bin`, a folder where a
    /// few images were replaced or truncated, a CSV regenerated with a new filter. The code and
    /// the seed are the same, the run is not, and nothing says the inputs changed.
    /// ## Example
    /// ```python
    /// data = np.memmap(os.path.join(data_dir, "train.bin"), dtype=np.uint16, mode="r")
    /// ```
    /// ## Fix
    /// Record a manifest of the data and check it before training:
    /// `everybyte data scan DATA_DIR --manifest data.manifest` once, then
    /// `everybyte data verify data.manifest` in the launcher (or DVC).
    pub static DATA_WITHOUT_CHECKSUM = { code: "REPRO019", name: "data-without-checksum", severity: Info, summary: "Training data is read from local files with no checksum or manifest" };
}

const LOCAL_BUILDERS: &[&str] = &[
    "json",
    "csv",
    "parquet",
    "text",
    "imagefolder",
    "audiofolder",
    "arrow",
];

/// A dataset class or array reader over local files.
fn reads_dataset(c: &Call, verified: bool) -> bool {
    let n = c.name();
    let callee = c.callee.as_str();
    matches!(
        n,
        "ImageFolder" | "DatasetFolder" | "memmap" | "fromfile" | "load_from_disk" | "WebDataset"
    ) || (callee.starts_with("pandas.") && n.starts_with("read_"))
        || callee.starts_with("torchvision.datasets.")
            && n.chars().next().is_some_and(char::is_uppercase)
            && !verified
        || callee.starts_with("pyarrow") && matches!(n, "ParquetFile" | "read_table" | "dataset")
        || callee.starts_with("timm.data")
            && n == "create_dataset"
            && c.keyword("download") != Some("True")
        || callee == "h5py.File"
        || callee == "lmdb.open"
        || callee.ends_with("load_dataset")
            && (c.args.first().is_some_and(|a| {
                LOCAL_BUILDERS.contains(&a.trim_matches(|q| q == '"' || q == '\''))
            }) || c.keyword("data_files").is_some()
                || c.keyword("data_dir").is_some())
}

/// Words of a path that names training data, and of one that does not.
const DATA: &[&str] = &[
    "data", "train", "corpus", "input", "shard", ".bin", "dataset",
];
const NOT: &[&str] = &[
    "config",
    "cfg",
    "yaml",
    "yml",
    "log",
    "ckpt",
    "checkpoint",
    "vocab",
    "readme",
    "args",
    "output",
    "out_dir",
    "eval",
    "meta",
];

/// A file opened for reading whose path — or, for `path.open("rb")`, the object, or the
/// function that reads — names training data (configs, logs and checkpoints aside); images
/// opened by PIL, OpenCV or torchvision.
fn opens_data(ctx: &Context<'_>, c: &Call) -> bool {
    let callee = c.callee.as_str();
    if c.name() == "open" && callee.contains("Image")
        || matches!(
            callee,
            "cv2.imread" | "numpy.frombuffer" | "torch.from_file"
        )
        || matches!(c.name(), "read_image" | "decode_image")
    {
        return true;
    }
    let method_open = c.name() == "open"
        && c.written.contains('.')
        && !callee.starts_with("gzip")
        && !callee.starts_with("bz2")
        && c.args
            .first()
            .is_some_and(|m| m.contains('r') && !m.contains('w'));
    let function_open = matches!(callee, "open" | "io.open" | "gzip.open" | "bz2.open");
    if !method_open && !function_open {
        return false;
    }
    let mode = if method_open {
        c.args.first().map_or("r", String::as_str)
    } else {
        c.args
            .get(1)
            .map(String::as_str)
            .or_else(|| c.keyword("mode"))
            .unwrap_or("r")
    };
    if mode.contains('w') || mode.contains('a') {
        return false;
    }
    let path = format!(
        "{} {} {}",
        if method_open {
            c.written.clone()
        } else {
            ctx.value_text(c)
        },
        c.function.as_deref().unwrap_or_default(),
        c.assigned_to.as_deref().unwrap_or_default()
    )
    .to_ascii_lowercase();
    DATA.iter().any(|w| path.contains(w)) && !NOT.iter().any(|w| path.contains(w))
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.training().is_none() || !ctx.manifests.is_empty() {
        return;
    }
    let s = ctx.script;
    let checks = s.calls.iter().any(|c| {
        c.callee.starts_with("hashlib.")
            || matches!(
                c.name(),
                "check_integrity" | "check_md5" | "verify_checksum" | "sha256sum"
            )
    }) || s
        .strings
        .iter()
        .any(|t| t.contains("sha256sum") || t.contains("--verify"));
    if checks {
        return;
    }
    // torchvision datasets that download verify their archives' MD5 (the same class built
    // again for the test split reads the verified files).
    let verified = s.calls.iter().any(|c| {
        c.callee.starts_with("torchvision.datasets.") && c.keyword("download") == Some("True")
    });
    let read = s
        .live_calls()
        .find(|c| reads_dataset(c, verified))
        .or_else(|| s.live_calls().find(|c| opens_data(ctx, c)));
    let Some(c) = read else { return };
    out.push(
        Finding::new(
            &DATA_WITHOUT_CHECKSUM,
            ctx.at(c.file, c.line, c.column),
            format!(
                "{}(...) reads the training data from local files, and nothing in the project records or checks their checksums",
                c.written
            ),
        )
        .with_help("record a manifest once (everybyte data scan DATA_DIR --manifest data.manifest) and check it before each run (everybyte data verify data.manifest)"),
    );
}
