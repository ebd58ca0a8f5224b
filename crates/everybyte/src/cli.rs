//! The command line, declared once: parsing, help, completions.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use everybyte_serve::bench;

#[derive(Debug, Parser)]
#[command(
    name = "everybyte",
    version,
    about = "Finds what kills ML jobs: crash logs, environments down to each shared object, datasets, GPU memory, non-determinism, Kubernetes manifests; and serves ONNX models",
    long_about = None,
    propagate_version = true,
    after_help = "Exit status: 0 no finding at or above --fail-on, 1 findings, 2 everybyte itself failed.\n`everybyte rule CODE` explains any finding."
)]
pub struct Cli {
    /// Read configuration from this file instead of discovering everybyte.toml / pyproject.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// When to colour text output (never when NO_COLOR is set, unless `always`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Grouped by file, for people.
    Text,
    /// One line per finding.
    Concise,
    /// A stable JSON object (docs/json-format.md).
    Json,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
    /// GitHub Actions annotations.
    Github,
    /// One self-contained HTML page with filters, rule explanations and charts.
    Html,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Info,
    Warning,
    Error,
    Never,
}

/// Options every reporting command takes.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Write the report to FILE (atomically: a temporary file, then a rename).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Only these rules (codes or prefixes such as LOG or LOG00); repeatable, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "CODE")]
    pub select: Vec<String>,

    /// Skip these rules (codes or prefixes); repeatable, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "CODE")]
    pub ignore: Vec<String>,

    /// The lowest severity that makes the exit status 1 [default: error, or fail-on in config].
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every check on a project and report (the main job).
    Audit(AuditArgs),
    /// Read logs and name each failure, with its numbers and the next command to run.
    Triage(TriageArgs),
    /// Audit a Python environment down to each shared object; snapshot and compare machines.
    Env {
        #[command(subcommand)]
        command: EnvCommand,
    },
    /// Scan datasets for files that would crash a loader or poison a loss; keep manifests.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Budget GPU memory before a run; explain an out-of-memory error after it.
    Mem {
        #[command(subcommand)]
        command: MemCommand,
    },
    /// Watch GPUs live, or read their logs: alerts for stalls, full memory, throttling and Xid errors.
    Gpu {
        #[command(subcommand)]
        command: GpuCommand,
    },
    /// Run a workload and record its memory (whole process tree, PSS), cold start and CPU time.
    Profile(ProfileArgs),
    /// Hold Kubernetes manifests to the workload's numbers (K8S rules).
    Deploy {
        #[command(subcommand)]
        command: DeployCommand,
    },
    /// Find what makes training non-deterministic; run a command twice and name the first
    /// output that differs.
    Repro {
        #[command(subcommand)]
        command: ReproCommand,
    },
    /// Serve ONNX models over the KServe v2 protocol (gRPC and HTTP, as Triton speaks it): one
    /// copy of the weights per model, dynamic batching, a bounded queue, Prometheus metrics.
    Serve(ServeArgs),
    /// Load-test any KServe v2 server (everybyte serve, Triton, KServe) over HTTP or gRPC:
    /// open loop at a fixed rate (latency from each request's intended send time) or closed
    /// loop at a concurrency; p50/p90/p99/p99.9/max, throughput, errors by kind.
    Bench(BenchArgs),
    /// List every rule.
    Rules(RulesArgs),
    /// Explain one rule: what it checks, why it matters, an example, the fix.
    Rule(RuleArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), from the same definition as --help:
    /// `everybyte man > everybyte.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// Log files (plain or gzip); standard input when none or `-`.
    pub files: Vec<PathBuf>,
    /// Print the words that make a line a candidate, one per line, and exit (for benchmarks).
    #[arg(long, hide = true)]
    pub list_triggers: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Attach to this running process (and its children) instead of starting a command;
    /// it is left running exactly as before when the profile ends.
    #[arg(long, conflicts_with_all = ["command", "ready_url", "ready_log", "after_ready", "timeout"])]
    pub pid: Option<u32>,
    /// With --pid: observe for this long (30s, 2m, 500ms; plain numbers are seconds)
    /// [default: until the process exits or Ctrl-C].
    #[arg(long, requires = "pid", value_parser = parse_seconds)]
    pub duration: Option<f64>,
    /// Cold start ends when this URL answers 200 (http://HOST:PORT/PATH).
    #[arg(long, conflicts_with = "ready_log")]
    pub ready_url: Option<String>,
    /// Cold start ends when a line of the workload's output matches this regex.
    #[arg(long)]
    pub ready_log: Option<String>,
    /// Stop the workload (SIGTERM) this many seconds after it is ready.
    #[arg(long, value_name = "SECONDS")]
    pub after_ready: Option<f64>,
    /// Stop the workload (SIGTERM) after this many seconds in any case.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Seconds between samples.
    #[arg(long, default_value_t = 0.1)]
    pub interval: f64,
    /// Also count system calls (all threads and children), as strace -c -f reports them (with
    /// --pid, as strace -c -f -p PID): in the kernel with BPF where permitted, else through
    /// ptrace (see --syscall-counter).
    #[arg(long)]
    pub syscalls: bool,
    /// How --syscalls counts: auto (BPF in the kernel where permitted, else ptrace, saying
    /// why), bpf (or an error saying why not), ptrace (as strace: each call stops its thread).
    #[arg(long, value_enum, default_value_t = SyscallCounter::Auto, value_name = "HOW")]
    pub syscall_counter: SyscallCounter,
    /// Write the JSON record (what `deploy lint --profile` reads) to FILE, atomically.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(last = true, required_unless_present = "pid", value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A model repository: NAME/VERSION/model.onnx, with an optional config.pbtxt or
    /// everybyte.toml per model (max-batch, max-delay-us, queue, preferred-batch).
    pub repository: PathBuf,
    /// Serve only this model of the repository (repeatable; default: every model), as
    /// Triton's --load-model: one server per model from a shared repository.
    #[arg(long, value_name = "NAME")]
    pub load_model: Vec<String>,
    /// Address of the REST endpoint (and /metrics).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub http: std::net::SocketAddr,
    /// Address of the gRPC endpoint.
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub grpc: std::net::SocketAddr,
    /// Intra-op threads of one run of a model [default: measured per model at start].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Runs of one model at once, each on its own thread, sharing the weights [default:
    /// measured per model at start].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub runs: Option<u16>,
    /// Time each model's execution plan (threads × concurrent runs × batch limit × spinning)
    /// is measured for at start; 0: the fixed default (one run on every core).
    #[arg(long, default_value_t = 3.0, value_name = "SECONDS")]
    pub plan_seconds: f64,
    /// The shape of an input to plan with, batch dimension included (input_ids=1,128);
    /// dynamic dimensions not given are 128, as `everybyte bench` fills them.
    #[arg(long, value_name = "NAME=D1,D2,…")]
    pub plan_shape: Vec<String>,
    /// Where models run: cpu, cuda or cuda:N (ONNX Runtime's CUDA execution provider, from
    /// the onnxruntime-gpu package). A model's everybyte.toml may say otherwise.
    #[arg(long, default_value = "cpu")]
    pub device: everybyte_serve::onnx::Device,
    /// Cap on each model's GPU memory arena (gpu_mem_limit), so that models cannot starve
    /// each other.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub gpu_mem_limit: Option<u64>,
    /// The ONNX Runtime library [default: ORT_DYLIB_PATH, else the onnxruntime package of
    /// the active Python environment].
    #[arg(long, value_name = "FILE")]
    pub ort_library: Option<PathBuf>,
    /// Largest request accepted.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub max_request: u64,
    /// Seconds that in-flight requests get to finish after SIGTERM.
    #[arg(long, default_value_t = 30)]
    pub drain_seconds: u64,
    /// Compute threads sleep as soon as they are idle instead of spinning briefly: less CPU
    /// taken from other processes, slower first requests after a pause [default: measured].
    #[arg(long)]
    pub no_spin: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The server: http://HOST:PORT (REST) or grpc://HOST:PORT.
    pub url: String,
    #[arg(long)]
    pub model: String,
    /// Requests per second, open loop.
    #[arg(long, conflicts_with = "concurrency")]
    pub rate: Option<f64>,
    /// Requests in flight, closed loop [default: 1].
    #[arg(long)]
    pub concurrency: Option<usize>,
    #[arg(long, default_value = "10s", value_parser = bench::parse_duration)]
    pub duration: Duration,
    /// Time sent but not measured, first.
    #[arg(long, default_value = "2s", value_parser = bench::parse_duration)]
    pub warmup: Duration,
    /// Sizes for an input's dynamic dimensions, e.g. --shape input_ids=1,128.
    #[arg(long = "shape", value_name = "NAME=D1,D2,…", value_parser = bench::parse_shape)]
    pub shapes: Vec<(String, Vec<i64>)>,
    /// HTTP: send tensors as JSON instead of the binary extension.
    #[arg(long)]
    pub json: bool,
    /// Fill an input with one value instead of pseudo-random data, e.g. --fill attention_mask=1.
    #[arg(long = "fill", value_name = "NAME=VALUE", value_parser = bench::parse_fill)]
    pub fills: Vec<(String, f64)>,
    /// An output to ask for (repeatable) [default: all].
    #[arg(long = "output", value_name = "NAME")]
    pub outputs: Vec<String>,
    #[arg(long, default_value = "30s", value_parser = bench::parse_duration)]
    pub timeout: Duration,
    /// Open loop: requests outstanding at most; later ones wait, and the wait counts.
    #[arg(long, default_value_t = 10_000)]
    pub max_in_flight: usize,
    /// Also write the latency percentile curve to an HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[arg(long, short = 'f', value_enum, default_value_t = DocFormat::Text)]
    pub format: DocFormat,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[arg(long, short = 'f', value_enum, default_value_t = DocFormat::Text)]
    pub format: DocFormat,
}

#[derive(Debug, Args)]
pub struct RuleArgs {
    /// A rule code (LOG001) or name (cuda-oom-capacity).
    pub code: String,
    #[arg(long, short = 'f', value_enum, default_value_t = DocFormat::Text)]
    pub format: DocFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DocFormat {
    Text,
    Json,
}

/// Which environment to examine.
#[derive(Debug, Args)]
pub struct EnvTargetArgs {
    /// A Python interpreter whose environment to examine.
    #[arg(long, value_name = "PATH", conflicts_with = "venv")]
    pub python: Option<PathBuf>,
    /// A virtual environment folder to examine (default: $VIRTUAL_ENV, $CONDA_PREFIX, or python3).
    #[arg(long, value_name = "DIR")]
    pub venv: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Check every ELF object's libraries and symbol versions, and the GPU stack.
    Check(EnvCheckArgs),
    /// Write a JSON fingerprint: OS, kernel, glibc, CPU, memory, GPUs, interpreter,
    /// distributions, and every shared object with its size and BLAKE3 hash.
    Snapshot(EnvSnapshotArgs),
    /// What differs between two snapshots, most consequential first (exit 1 when they differ).
    Diff(EnvDiffArgs),
}

#[derive(Debug, Args)]
pub struct EnvCheckArgs {
    #[command(flatten)]
    pub target: EnvTargetArgs,
    /// Also judge every library alone, as a loop of `ldd` over each file does (reports
    /// siblings of vendored libraries that their loader provides at run time).
    #[arg(long)]
    pub ldd_compatible: bool,
    /// Compare the installed distributions with a lock file (requirements.txt with pins,
    /// pylock.toml, uv.lock or poetry.lock): missing, extra, other versions.
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct EnvSnapshotArgs {
    #[command(flatten)]
    pub target: EnvTargetArgs,
    /// Write to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnvDiffArgs {
    pub a: PathBuf,
    pub b: PathBuf,
    #[arg(long, short = 'f', value_enum, default_value_t = DocFormat::Text)]
    pub format: DocFormat,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Check every file (by its magic bytes): empty, corrupt or truncated images, NaN/inf and
    /// missing cells, ragged rows, malformed arrays, duplicates.
    Scan(DataScanArgs),
    /// Join the manifests of `scan --shard K/N` runs into one.
    Merge(DataMergeArgs),
    /// Walk a dataset once and write its file listing, for `scan --files` (each shard then
    /// reads its part of the listing instead of walking the tree).
    List(DataListArgs),
    /// Write a Kubernetes Indexed Job that scans a dataset in N shards, and the Job that
    /// merges their manifests.
    Job(DataJobArgs),
    /// Pack a numeric CSV/TSV, or an image folder (ROOT/CLASS/IMAGE), into one .safetensors file.
    Pack(DataPackArgs),
    /// Re-check a dataset against a manifest: changed, missing and new files (exit 1 on any).
    Verify(DataVerifyArgs),
}

#[derive(Debug, Args)]
pub struct DataScanArgs {
    /// Files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Also write a manifest (path, size, mtime, BLAKE3) to FILE, atomically.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Scan only shard K of N, chosen by a hash of each path. K counts from 0 to N-1, as a
    /// Kubernetes Indexed Job numbers its pods: `--shard $JOB_COMPLETION_INDEX/N`.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// Scan the files of this listing (from `data list`), relative to the one folder given,
    /// instead of walking it; with `--shard`, only that shard's part is kept.
    #[arg(long, value_name = "FILE")]
    pub files: Option<PathBuf>,
    /// Images with more pixels than this are reported (DATA004) [default: data.max-pixels
    /// in the configuration, or 89478485].
    #[arg(long)]
    pub max_pixels: Option<u64>,
    /// Also decode every image fully (slower), for corruptions only decoding finds.
    #[arg(long)]
    pub decode: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct DataMergeArgs {
    /// Shard manifests.
    #[arg(required_unless_present = "shards")]
    pub manifests: Vec<PathBuf>,
    /// Merge DIR/shard-0.json … DIR/shard-(N-1).json (what `data job` writes) instead.
    #[arg(long, value_name = "N", requires = "dir", conflicts_with = "manifests")]
    pub shards: Option<u64>,
    /// The folder of the shard manifests, with `--shards`.
    #[arg(long, value_name = "DIR", requires = "shards")]
    pub dir: Option<PathBuf>,
    /// With `--shards`: wait up to this long (`30s`, `2h`) for every shard's manifest to
    /// appear, as the merge step of a Job whose shards are still running does.
    #[arg(long, value_name = "DURATION", value_parser = parse_seconds)]
    pub wait: Option<f64>,
    /// The merged manifest (written atomically).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct DataListArgs {
    /// The dataset's folder.
    pub path: PathBuf,
    /// The listing to write (atomically).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct DataJobArgs {
    /// How many shards (the Job's completions), each a pod scanning 1/N of the files.
    #[arg(long, value_name = "N")]
    pub shards: u64,
    /// How many pods run at once [default: N, at most 32].
    #[arg(long, value_name = "P")]
    pub parallelism: Option<u64>,
    /// The container image, with everybyte on its PATH (pinned by digest, or a version tag).
    #[arg(long)]
    pub image: String,
    /// The dataset's folder inside the pod.
    #[arg(long, value_name = "PATH_IN_POD")]
    pub data: String,
    /// The PersistentVolumeClaim holding the dataset, mounted read-only at `--data`.
    #[arg(long, value_name = "CLAIM")]
    pub volume: Option<String>,
    /// The PersistentVolumeClaim the manifests are written to (ReadWriteMany), mounted at
    /// `--out` [default: none; `--out` is then on the node, which only suits one node].
    #[arg(long, value_name = "CLAIM")]
    pub out_volume: Option<String>,
    /// Where the shard manifests and the merged one go, inside the pods [default: /everybyte
    /// on `--out-volume`, or DATA/.everybyte on `--volume` (hidden: the scan skips it)].
    #[arg(long, value_name = "PATH_IN_POD")]
    pub out: Option<String>,
    /// A listing from `data list`, at this path inside the pods: each shard reads its part
    /// of it instead of walking the tree.
    #[arg(long, value_name = "PATH_IN_POD")]
    pub files: Option<String>,
    /// The listing on this machine, for the number of files each shard gets (its header).
    #[arg(long, value_name = "FILE")]
    pub list: Option<PathBuf>,
    /// Scan this folder here (a sample of the dataset, or all of it) to measure the scan's
    /// memory per file; the pods' requests and limits come from it.
    #[arg(long, value_name = "DIR")]
    pub measure: Option<PathBuf>,
    /// The number of files in the dataset, when no `--list` says it.
    #[arg(long, value_name = "COUNT")]
    pub total_files: Option<u64>,
    /// CPUs per pod (the scan uses every core it is given).
    #[arg(long, default_value_t = 2)]
    pub cpus: u64,
    /// The Job's name (the merge Job is NAME-merge).
    #[arg(long, default_value = "everybyte-data-scan")]
    pub name: String,
    /// Write the manifests to FILE instead of standard output (atomically).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DataPackArgs {
    /// A CSV/TSV file or an image folder.
    pub input: PathBuf,
    /// The .safetensors file to write (atomically).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Tables: what to do with NaN/inf cells: error, drop-row or fill=VALUE.
    #[arg(long, default_value = "error")]
    pub nan_policy: String,
    /// Tables: write float64 instead of float32.
    #[arg(long)]
    pub f64: bool,
    /// Tables: only these columns (default: every numeric column).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// Images: the size every image is resized to, WIDTHxHEIGHT.
    #[arg(long, default_value = "224x224")]
    pub size: String,
}

#[derive(Debug, Args)]
pub struct DataVerifyArgs {
    pub manifest: PathBuf,
    /// The folder the manifest's paths are relative to [default: the manifest's root].
    #[arg(long)]
    pub root: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    everybyte_core::bytesize::parse_bytes(s).ok_or_else(|| "not a size (64MiB)".to_owned())
}

/// Seconds from `30s`, `2m`, `500ms` or a plain number of seconds (as `bench --duration`).
fn parse_seconds(s: &str) -> Result<f64, String> {
    bench::parse_duration(s)
        .map_err(|e| e.to_string())
        .map(|d| d.as_secs_f64())
        .and_then(|v| {
            (v > 0.0)
                .then_some(v)
                .ok_or_else(|| "expected a positive duration such as 30s, 2m or 500ms".to_owned())
        })
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or("expected K/N, e.g. 3/8 (K from 0 to N-1)")?;
    let k: u64 = k
        .trim()
        .parse()
        .map_err(|_| format!("`{k}` is not a number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a number"))?;
    if n == 0 || k >= n {
        return Err(format!(
            "shard {k}/{n}: K counts from 0 to N-1 (as JOB_COMPLETION_INDEX does), so need 0 <= K < N"
        ));
    }
    Ok((k, n))
}

#[derive(Debug, Subcommand)]
pub enum MemCommand {
    /// The memory a run needs: weights, gradients, optimizer states, activations, KV cache,
    /// context, against the card with a buffer; and the largest batch that fits.
    Budget(Box<MemBudgetArgs>),
    /// Read a PyTorch allocator snapshot (`torch.cuda.memory._snapshot()` pickled; read as
    /// inert data, never executed) or the text of `torch.cuda.memory_summary()`: reserved,
    /// allocated, inactive split bytes, largest free block, fragmentation, top allocation sites.
    Snapshot(MemSnapshotArgs),
    /// Diagnose a CUDA out-of-memory message (argument, file, or standard input).
    Explain(MemExplainArgs),
}

#[derive(Debug, Args)]
pub struct MemBudgetArgs {
    /// A Hugging Face config.json, a .safetensors file or a *.safetensors.index.json.
    #[arg(long, value_name = "FILE", required_unless_present = "params")]
    pub model: Option<PathBuf>,
    /// The parameter count instead of a model (7B, 1.3B, 350M).
    #[arg(long, conflicts_with = "model")]
    pub params: Option<String>,
    #[arg(long, value_enum, default_value_t = BudgetMode::Train)]
    pub mode: BudgetMode,
    /// Weight dtype: bf16, fp16, fp32, int8.
    #[arg(long, default_value = "bf16")]
    pub dtype: String,
    #[arg(long, default_value = "adamw")]
    pub optimizer: String,
    /// bf16/fp16 weights and gradients with fp32 master weights (the ZeRO accounting).
    #[arg(long)]
    pub mixed_precision: bool,
    /// How training computes and stores: fp32, autocast-bf16 / autocast-fp16 (fp32 weights
    /// under torch.autocast), bf16 / fp16 (the model cast), mixed (the ZeRO accounting)
    /// [default: from --dtype and --mixed-precision].
    #[arg(long)]
    pub precision: Option<String>,
    /// The attention implementation: sdpa (fused, keeps no s×s scores) or eager.
    #[arg(long, default_value = "sdpa")]
    pub attention: String,
    /// Where it runs: cuda, or cpu (dropout masks in the input's dtype, no CUDA context).
    #[arg(long, default_value = "cuda")]
    pub device: String,
    #[arg(long, default_value_t = 1)]
    pub batch: u64,
    /// Sequence length [default: 2048, or the model's maximum when smaller].
    #[arg(long)]
    pub seq: Option<u64>,
    /// Activation recomputation: none, selective or full.
    #[arg(long, default_value = "none")]
    pub grad_checkpointing: String,
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub zero: u8,
    #[arg(long, default_value_t = 1)]
    pub gpus: u64,
    /// The card: a size (24GiB), a name (rtx3090, a100-80g, h100, h200), or auto (NVML).
    #[arg(long)]
    pub gpu: Option<String>,
    /// Fraction of the card kept free.
    #[arg(long, default_value_t = 0.15)]
    pub buffer: f64,
    /// Also write the budget as a stacked bar against the card, in an HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print only the host (RAM) budget of the pod: the memory limit and /dev/shm to set.
    #[arg(long)]
    pub host: bool,
    /// How the checkpoint is read: torch (torch.load), torch-mmap (torch.load(mmap=True)) or
    /// safetensors [default: from the model's files].
    #[arg(long, help_heading = "Host memory")]
    pub checkpoint: Option<String>,
    /// How the weights get into the model: state-dict (built, then load_state_dict: two
    /// copies) or direct (meta device and assign, from_pretrained: one) [default: direct for
    /// safetensors, state-dict for torch].
    #[arg(long = "load", help_heading = "Host memory")]
    pub loading: Option<String>,
    /// Processes per pod, each loading the model (DDP ranks, server workers) [default: --gpus].
    #[arg(long, help_heading = "Host memory")]
    pub procs: Option<u64>,
    /// DataLoader workers per process.
    #[arg(long, default_value_t = 0, help_heading = "Host memory")]
    pub workers: u64,
    /// DataLoader prefetch_factor: batches each worker keeps ready.
    #[arg(long, default_value_t = 2, help_heading = "Host memory")]
    pub prefetch_factor: u64,
    /// Bytes of one sample as the loader yields it (150KiB) [default: seq × 3 int64 for a
    /// token model, the pixels in fp32 for an image model].
    #[arg(long, value_parser = parse_size, help_heading = "Host memory")]
    pub sample_bytes: Option<u64>,
    /// The DataLoader pins its batches (pin_memory=True).
    #[arg(long, help_heading = "Host memory")]
    pub pin_memory: bool,
    /// The pod's memory limit (16Gi): says whether the host budget fits under it.
    #[arg(long, value_parser = parse_size, help_heading = "Host memory")]
    pub pod_limit: Option<u64>,
    #[arg(long, short = 'f', value_enum, default_value_t = DocFormat::Text)]
    pub format: DocFormat,
}

#[derive(Debug, Args)]
pub struct MemSnapshotArgs {
    pub file: PathBuf,
    /// Also draw the segment map (used, free and split bytes of every segment) to this SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    #[arg(long, short = 'f', value_enum, default_value_t = DocFormat::Text)]
    pub format: DocFormat,
}

#[derive(Debug, Args)]
pub struct MemExplainArgs {
    /// The message, or a file holding it; standard input when absent.
    pub message: Option<String>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BudgetMode {
    Train,
    Infer,
}

#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Lint Kubernetes manifests (Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod, KServe
    /// InferenceService; multi-document, Helm output) against measured or expected numbers.
    Lint(DeployLintArgs),
    /// Write the measured numbers into a manifest — memory limits and requests at the peak ×
    /// headroom, a startup probe covering 1.5 × the cold start — keeping comments, key order
    /// and formatting; atomically; prints the diff.
    Patch(DeployPatchArgs),
    /// Write the manifests that run `everybyte serve` on a cluster, sized from the
    /// measurements: KServe (a ServingRuntime and one InferenceService per model) or plain
    /// Kubernetes (Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler).
    Serve(DeployServeArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SyscallCounter {
    Auto,
    Bpf,
    Ptrace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServeTarget {
    /// A ServingRuntime running everybyte serve and one InferenceService per model.
    Kserve,
    /// A Deployment, a Service, a PodDisruptionBudget and a HorizontalPodAutoscaler.
    Kubernetes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServeDevice {
    Cpu,
    Cuda,
}

#[derive(Debug, Args)]
pub struct DeployServeArgs {
    /// The model repository the server serves (NAME/VERSION/model.onnx).
    pub repository: PathBuf,
    /// The image that runs the server, pinned by digest (IMAGE@sha256:…), with everybyte on
    /// its PATH.
    #[arg(long)]
    pub image: String,
    #[arg(long, value_enum)]
    pub target: ServeTarget,
    /// A record from `everybyte profile -o` of this server on this repository: peak memory,
    /// cold start (profile it with --ready-url …/v2/health/ready) and CPU.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// A report from `everybyte bench --format json`: probe timeouts above its p99.
    #[arg(long, value_name = "FILE")]
    pub bench: Option<PathBuf>,
    /// The server's log (its standard error) from the profiled run: each model's measured
    /// plan, threads × concurrent runs, sets the CPU request.
    #[arg(long, value_name = "FILE")]
    pub serve_log: Option<PathBuf>,
    /// Memory limits are the measured peak times this.
    #[arg(long, default_value_t = 1.2)]
    pub headroom: f64,
    /// The name of the Deployment (kubernetes) or ServingRuntime (kserve).
    #[arg(long, default_value = "everybyte-serve")]
    pub name: String,
    /// Where the models run.
    #[arg(long, value_enum, default_value_t = ServeDevice::Cpu)]
    pub device: ServeDevice,
    /// Replicas at least (the autoscaler's minimum).
    #[arg(long, default_value_t = 2)]
    pub replicas: u32,
    /// Replicas at most [default: 3 × --replicas].
    #[arg(long)]
    pub max_replicas: Option<u32>,
    /// Seconds in-flight requests get after SIGTERM (the server's --drain-seconds).
    #[arg(long, default_value_t = 30)]
    pub drain_seconds: u64,
    /// KServe: where the storage initializer downloads the repository from (s3://, gs://,
    /// pvc://…).
    #[arg(long, value_name = "URI")]
    pub storage_uri: Option<String>,
    /// Kubernetes: where the repository is inside the container.
    #[arg(long, default_value = "/models", value_name = "DIR")]
    pub models_path: String,
    /// Kubernetes: a PersistentVolumeClaim holding the repository, mounted read-only at
    /// --models-path [default: the image holds it].
    #[arg(long, value_name = "CLAIM")]
    pub models_claim: Option<String>,
    /// Write the manifests to FILE (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DeployLintArgs {
    /// Manifest files or directories.
    pub paths: Vec<PathBuf>,
    /// A record from `everybyte profile -o`: peak memory and cold start.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The model the containers load (its size bounds the memory limit without a profile).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// A report from `everybyte bench --format json`: probes must outlast its p99.
    #[arg(long, value_name = "FILE")]
    pub bench: Option<PathBuf>,
    /// Memory limits must cover the peak times this.
    #[arg(long, default_value_t = 1.2)]
    pub headroom: f64,
    /// Bytes of one sample as the DataLoader yields it (600KiB): with the workers and batch
    /// size a command line gives, the batches in flight that /dev/shm must hold (K8S008).
    #[arg(long, value_parser = parse_size)]
    pub sample_bytes: Option<u64>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct DeployPatchArgs {
    pub manifest: PathBuf,
    /// A record from `everybyte profile -o`.
    #[arg(long, value_name = "FILE")]
    pub profile: PathBuf,
    #[arg(long, default_value_t = 1.2)]
    pub headroom: f64,
    /// Print the diff only.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum ReproCommand {
    /// Lint Python training scripts for unseeded generators, non-deterministic cuDNN, data
    /// order, spawn, checkpoints and unrecorded hardware (REPRO rules).
    Lint(ReproLintArgs),
    /// Run a command N times in fresh processes and compare the outputs it writes: tensors
    /// (.npy, .safetensors, torch.save checkpoints, read without executing them) name the
    /// first tensor that differs; JSON/CSV metrics compare by value; other files byte for
    /// byte. Exits 0 only when every output matches.
    Run(ReproRunArgs),
}

#[derive(Debug, Args)]
pub struct ReproLintArgs {
    /// Python files or directories [default: .].
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct ReproRunArgs {
    /// How many runs.
    #[arg(short = 'n', long, default_value_t = 2)]
    pub runs: usize,
    /// Glob patterns of the outputs, relative to the working directory (repeatable).
    #[arg(long = "outputs", value_name = "GLOB", required = true, num_args = 1..)]
    pub outputs: Vec<String>,
    /// Relative tolerance for numbers.
    #[arg(long, default_value_t = 0.0)]
    pub rtol: f64,
    /// Absolute tolerance for numbers.
    #[arg(long, default_value_t = 0.0)]
    pub atol: f64,
    /// Where runs keep their outputs, logs and environment record
    /// [default: .everybyte/repro/TIMESTAMP].
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    #[arg(long, short = 'f', value_enum, default_value_t = DocFormat::Text)]
    pub format: DocFormat,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum GpuCommand {
    /// Live readings of every GPU through NVML (memory, utilisation, temperature, clocks, power,
    /// per-process memory), with alerts for stalls, full memory, throttling and Xid errors.
    /// Exits 1 when any alert was raised.
    Watch(GpuWatchArgs),
    /// Alerts over an `nvidia-smi --query-gpu=… --format=csv -l 1` log.
    Analyze(GpuAnalyzeArgs),
}

#[derive(Debug, Args)]
pub struct GpuWatchArgs {
    /// Seconds between readings.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Stop after this many readings (0: until interrupted).
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    /// Seconds of 0% utilisation with memory held before a stall is reported.
    #[arg(long, default_value_t = 20.0)]
    pub stall_seconds: f64,
    /// Also write the readings as nvidia-smi CSV (the columns `gpu analyze` reads) to this
    /// file, or `-` for standard output instead of the table.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GpuAnalyzeArgs {
    pub file: PathBuf,
    /// Seconds of 0% utilisation with memory held before a stall is reported.
    #[arg(long, default_value_t = 20.0)]
    pub stall_seconds: f64,
    #[command(flatten)]
    pub report: ReportArgs,
}
