//! ONNX Runtime, loaded at run time: finding the library, loading a model once, running a
//! batch. The only `unsafe` here copies tensor bytes into and out of ONNX Runtime's buffers,
//! whose lengths ONNX Runtime itself reports.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ort::AsPointer;
use ort::memory::Allocator;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{DynTensor, DynTensorValueType, DynValue, TensorElementType, ValueType};

use crate::engine::{Engine, IoSpec, ModelInfo, Warmup, warmup_inputs};
use crate::error::{EngineError, LoadError, Unbatchable};
use crate::repo::{DEFAULT_MAX_BATCH, ModelEntry};
use crate::tensor::{DataType, Tensor};

/// Where the ONNX Runtime library was looked for, and why each place failed.
#[derive(Debug, thiserror::Error)]
#[error(
    "no ONNX Runtime library (libonnxruntime.so) found; looked at: {}. Install it into the active Python environment (pip install onnxruntime) or point ORT_DYLIB_PATH (or --ort-library) at a libonnxruntime.so.1.x",
    .0.join("; ")
)]
pub struct LibraryNotFound(pub Vec<String>);

/// The files in `dir` whose names start with `prefix`, sorted; none when it cannot be read.
pub(crate) fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

fn library_in(dir: &Path) -> Option<PathBuf> {
    files_starting(&dir.join("onnxruntime/capi"), "libonnxruntime.so").pop()
}

/// Finds `libonnxruntime.so`: the explicit path, `ORT_DYLIB_PATH`, the configured path, the
/// active virtual environment's `onnxruntime` package, then the `onnxruntime` that `python3`
/// imports.
pub fn find_library(
    explicit: Option<&Path>,
    configured: Option<&Path>,
) -> Result<PathBuf, LibraryNotFound> {
    let mut tried = Vec::new();
    if let Some(p) = explicit {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        tried.push(format!("--ort-library {} (no such file)", p.display()));
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        tried.push(format!("ORT_DYLIB_PATH={} (no such file)", p.display()));
    }
    if let Some(p) = configured {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        tried.push(format!(
            "[serve] ort-library = {} in the configuration (no such file)",
            p.display()
        ));
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        let lib = Path::new(&venv).join("lib");
        let site: Vec<PathBuf> = std::fs::read_dir(&lib)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path().join("site-packages"))
                    .collect()
            })
            .unwrap_or_default();
        for s in &site {
            if let Some(found) = library_in(s) {
                return Ok(found);
            }
        }
        tried.push(format!(
            "the virtual environment {} (no onnxruntime/capi/libonnxruntime.so*)",
            lib.display()
        ));
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import importlib.util as u, os; s = u.find_spec('onnxruntime'); print(os.path.dirname(os.path.dirname(s.origin)) if s and s.origin else '')",
        ])
        .stderr(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let dir = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            if let Some(found) = Some(dir)
                .filter(|d| !d.is_empty())
                .and_then(|d| library_in(Path::new(&d)))
            {
                return Ok(found);
            }
            tried.push("python3's onnxruntime package (not installed)".to_owned());
        }
        _ => tried.push("python3 (not runnable)".to_owned()),
    }
    Err(LibraryNotFound(tried))
}

/// Loads the library and creates the process's one ONNX Runtime environment. Each model's
/// session has its own compute pool, sized by its execution plan ([`crate::plan`]).
pub fn init(library: &Path) -> Result<ort::environment::Environment, LoadError> {
    let builder = ort::init_from(library).map_err(|error| LoadError::Library {
        library: library.to_path_buf(),
        error,
    })?;
    builder
        .with_name("everybyte")
        .with_telemetry(false)
        .build()
        .map_err(LoadError::Environment)
}

/// Where a model runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    /// ONNX Runtime's CUDA execution provider on GPU `N`.
    Cuda(i32),
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Device, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<i32>().ok())
                .filter(|n| *n >= 0)
                .map(Device::Cuda)
                .ok_or_else(|| format!("{s:?}: expected cpu, cuda or cuda:N")),
        }
    }
}

/// How one session computes: the threads of its intra-op pool (the calling thread counts as
/// one), whether idle pool threads spin before sleeping, the device, and on a GPU the cap on
/// its memory arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exec {
    pub threads: usize,
    pub spin: bool,
    pub device: Device,
    /// `gpu_mem_limit` of the CUDA arena, in bytes; 0: ONNX Runtime's default (no cap).
    pub gpu_mem_limit: usize,
}

impl Default for Exec {
    fn default() -> Self {
        Exec {
            threads: 1,
            spin: true,
            device: Device::Cpu,
            gpu_mem_limit: 0,
        }
    }
}

/// The ONNX Runtime version, from the library's file name (`libonnxruntime.so.1.32.0`).
pub fn runtime_version(library: &Path) -> String {
    library
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split_once(".so."))
        .map_or_else(|| "unknown".to_owned(), |(_, v)| v.to_owned())
}

fn datatype(t: TensorElementType) -> Option<DataType> {
    Some(match t {
        TensorElementType::Bool => DataType::Bool,
        TensorElementType::Uint8 => DataType::U8,
        TensorElementType::Uint16 => DataType::U16,
        TensorElementType::Uint32 => DataType::U32,
        TensorElementType::Uint64 => DataType::U64,
        TensorElementType::Int8 => DataType::I8,
        TensorElementType::Int16 => DataType::I16,
        TensorElementType::Int32 => DataType::I32,
        TensorElementType::Int64 => DataType::I64,
        TensorElementType::Float16 => DataType::F16,
        TensorElementType::Float32 => DataType::F32,
        TensorElementType::Float64 => DataType::F64,
        TensorElementType::Bfloat16 => DataType::Bf16,
        _ => return None,
    })
}

fn element_type(d: DataType) -> Option<TensorElementType> {
    Some(match d {
        DataType::Bool => TensorElementType::Bool,
        DataType::U8 => TensorElementType::Uint8,
        DataType::U16 => TensorElementType::Uint16,
        DataType::U32 => TensorElementType::Uint32,
        DataType::U64 => TensorElementType::Uint64,
        DataType::I8 => TensorElementType::Int8,
        DataType::I16 => TensorElementType::Int16,
        DataType::I32 => TensorElementType::Int32,
        DataType::I64 => TensorElementType::Int64,
        DataType::F16 => TensorElementType::Float16,
        DataType::F32 => TensorElementType::Float32,
        DataType::F64 => TensorElementType::Float64,
        DataType::Bf16 => TensorElementType::Bfloat16,
        DataType::Bytes => return None,
    })
}

fn spec(
    model: &Path,
    kind: &'static str,
    name: &str,
    t: &ValueType,
) -> Result<(IoSpec, Vec<String>), LoadError> {
    let ValueType::Tensor {
        ty,
        shape,
        dimension_symbols,
    } = t
    else {
        return Err(LoadError::NotTensor {
            path: model.to_path_buf(),
            kind,
            name: name.to_owned(),
            ty: t.to_string(),
        });
    };
    let Some(dt) = datatype(*ty) else {
        return Err(LoadError::ElementType {
            path: model.to_path_buf(),
            kind,
            name: name.to_owned(),
            ty: format!("{ty:?}"),
        });
    };
    Ok((
        IoSpec {
            name: name.to_owned(),
            datatype: dt,
            shape: shape.iter().copied().collect(),
        },
        dimension_symbols.iter().cloned().collect(),
    ))
}

/// Batching along dimension 0 needs every input and output to have a dynamic first
/// dimension, the inputs' the same one (the same symbol, where the model names them; exporters
/// name output dimensions arbitrarily, so outputs are checked by a two-row probe instead).
fn batchable(
    inputs: &[(IoSpec, Vec<String>)],
    outputs: &[(IoSpec, Vec<String>)],
) -> Result<(), Unbatchable> {
    let mut symbol: Option<&str> = None;
    for (i, (s, syms)) in inputs.iter().chain(outputs).enumerate() {
        let is_input = i < inputs.len();
        match s.shape.first() {
            None => {
                return Err(Unbatchable::Scalar {
                    name: s.name.clone(),
                });
            }
            Some(&d) if d >= 0 => {
                return Err(Unbatchable::FixedFirst {
                    name: s.name.clone(),
                    dim: d,
                    shape: s.shape.clone(),
                });
            }
            Some(_) => {}
        }
        if let Some(sym) = syms.first().filter(|x| is_input && !x.is_empty()) {
            match symbol {
                Some(prev) if prev != sym => {
                    return Err(Unbatchable::Symbols {
                        name: s.name.clone(),
                        symbol: sym.clone(),
                        other: prev.to_owned(),
                    });
                }
                _ => symbol = Some(sym),
            }
        }
    }
    Ok(())
}

/// A session for `entry` that computes as `exec` says.
fn session(
    env: &ort::environment::Environment,
    entry: &ModelEntry,
    exec: Exec,
) -> Result<Session, LoadError> {
    let fail = |error: ort::Error| LoadError::Model {
        path: entry.path.clone(),
        error,
    };
    let mut builder = Session::builder(env)
        .map_err(fail)?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| fail(e.into()))?
        .with_intra_threads(exec.threads.max(1))
        .map_err(|e| fail(e.into()))?
        .with_inter_threads(1)
        .map_err(|e| fail(e.into()))?
        .with_intra_op_spinning(exec.spin)
        .map_err(|e| fail(e.into()))?;
    if let Device::Cuda(id) = exec.device {
        let mut cuda = ort::ep::CUDA::default().with_device_id(id);
        if exec.gpu_mem_limit > 0 {
            cuda = cuda.with_memory_limit(exec.gpu_mem_limit);
        }
        builder = builder
            .with_execution_providers([cuda.build().error_on_failure()])
            .map_err(|e| LoadError::Device {
                path: entry.path.clone(),
                device: exec.device.to_string(),
                error: e.into(),
            })?;
    }
    builder.commit_from_file(&entry.path).map_err(fail)
}

/// A model loaded into ONNX Runtime: the session (one copy of the weights), what it is, and
/// how it computes. Runs may be concurrent: ONNX Runtime documents `Run` on one session as
/// safe to call from several threads, each with its own inputs and outputs.
pub struct OnnxEngine {
    session: Session,
    pub info: Arc<ModelInfo>,
    pub exec: Exec,
    input_names: Vec<CString>,
    output_names: Vec<CString>,
}

impl OnnxEngine {
    /// Loads `entry` into the environment [`init`] created.
    pub fn load(
        env: &ort::environment::Environment,
        entry: &ModelEntry,
        exec: Exec,
    ) -> Result<OnnxEngine, LoadError> {
        let session = session(env, entry, exec)?;
        let mut ins = Vec::new();
        for i in session.inputs() {
            ins.push(spec(&entry.path, "input", i.name(), i.dtype())?);
        }
        let mut outs = Vec::new();
        for o in session.outputs() {
            outs.push(spec(&entry.path, "output", o.name(), o.dtype())?);
        }
        let check = batchable(&ins, &outs);
        let (max_batch, unbatchable) = match (entry.settings.max_batch, check) {
            (Some(0), _) => (0, None),
            (Some(n), Ok(())) => (n, None),
            (None, Ok(())) => (DEFAULT_MAX_BATCH, None),
            (Some(n), Err(why)) => {
                return Err(LoadError::Unbatchable {
                    path: entry.path.clone(),
                    max_batch: n,
                    why,
                });
            }
            (None, Err(why)) => (0, Some(why.to_string())),
        };
        let mut info = ModelInfo {
            name: entry.name.clone(),
            version: entry.version.clone(),
            path: entry.path.clone(),
            inputs: ins.into_iter().map(|(s, _)| s).collect(),
            outputs: outs.into_iter().map(|(s, _)| s).collect(),
            max_batch,
            batch_limit: max_batch,
            unbatchable,
            settings: entry.settings.clone(),
            warmup: Warmup::NotRun,
        };
        let names = |v: &[IoSpec]| -> Vec<CString> {
            v.iter()
                .map(|s| CString::new(s.name.as_str()).unwrap_or_default())
                .collect()
        };
        let mut engine = OnnxEngine {
            input_names: names(&info.inputs),
            output_names: names(&info.outputs),
            session,
            info: Arc::new(info.clone()),
            exec,
        };
        // Warm up, and where the model batches, prove it: two rows in, two rows out of
        // every output.
        let rows = if info.max_batch > 1 { 2 } else { 1 };
        match engine.run(&warmup_inputs(&info, rows)) {
            Ok(outputs) => {
                if let Some(o) = outputs
                    .iter()
                    .find(|o| rows > 1 && o.shape.first() != Some(&2))
                {
                    let why = format!("output {} has shape {:?} for a batch of 2", o.name, o.shape);
                    if entry.settings.max_batch.is_some() {
                        return Err(LoadError::NotBatching {
                            path: entry.path.clone(),
                            max_batch: info.max_batch,
                            why,
                        });
                    }
                    info.max_batch = 0;
                    info.batch_limit = 0;
                    info.unbatchable = Some(why);
                }
                info.warmup = Warmup::Ok;
            }
            Err(e) => {
                // Batching was never proven: only what the configuration asks for stays on.
                if entry.settings.max_batch.is_none() && info.max_batch > 0 {
                    info.max_batch = 0;
                    info.batch_limit = 0;
                    info.unbatchable =
                        Some("the warm-up inference failed, so batching was not proven".into());
                }
                info.warmup = Warmup::Failed(e.to_string());
            }
        }
        engine.info = Arc::new(info);
        Ok(engine)
    }

    /// Runs the model on `inputs` (one per model input, in order, already validated) and
    /// returns every output. Safe to call from several threads at once.
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, EngineError> {
        let allocator = Allocator::default();
        let mut values: Vec<DynValue> = Vec::with_capacity(inputs.len());
        for t in inputs {
            let ty = element_type(t.datatype).ok_or_else(|| EngineError::BytesInput {
                input: t.name.clone(),
            })?;
            let mut tensor = DynTensor::new(&allocator, ty, t.shape.clone()).map_err(|error| {
                EngineError::Input {
                    input: t.name.clone(),
                    error,
                }
            })?;
            let len = tensor.size().unwrap_or(0);
            if len != t.data.len() {
                return Err(EngineError::InputLength {
                    input: t.name.clone(),
                    got: t.data.len(),
                    len,
                });
            }
            if len > 0 {
                let dst = tensor.data_ptr_mut().cast::<u8>();
                // SAFETY: ONNX Runtime allocated `len` bytes for this CPU tensor, and
                // `t.data` holds exactly `len` bytes; the buffers are distinct.
                unsafe { std::ptr::copy_nonoverlapping(t.data.as_ptr(), dst, len) };
            }
            values.push(tensor.into_dyn());
        }
        if values.len() != self.input_names.len() {
            return Err(EngineError::Other(format!(
                "{} inputs given, the model takes {}",
                values.len(),
                self.input_names.len()
            )));
        }
        let in_names: Vec<*const std::ffi::c_char> =
            self.input_names.iter().map(|n| n.as_ptr()).collect();
        let out_names: Vec<*const std::ffi::c_char> =
            self.output_names.iter().map(|n| n.as_ptr()).collect();
        let in_values: Vec<*const ort::sys::OrtValue> = values.iter().map(AsPointer::ptr).collect();
        let mut out_values: Vec<*mut ort::sys::OrtValue> =
            vec![std::ptr::null_mut(); out_names.len()];
        let api = ort::api();
        // SAFETY: the session lives as long as `self`; every pointer array holds as many
        // entries as its length says, the names are NUL-terminated and outlive the call, and
        // ONNX Runtime fills `out_values` with values this function then owns.
        let status = unsafe {
            (api.Run)(
                self.session.ptr().cast_mut(),
                std::ptr::null(),
                in_names.as_ptr(),
                in_values.as_ptr(),
                in_values.len(),
                out_names.as_ptr(),
                out_names.len(),
                out_values.as_mut_ptr(),
            )
        };
        // Outputs are owned from here on, so that an error below still releases them.
        let owned: Vec<Option<DynValue>> = out_values
            .iter()
            .map(|&p| {
                // SAFETY: a non-null output is a value ONNX Runtime created for this call,
                // with the default CPU allocator.
                std::ptr::NonNull::new(p)
                    .map(|p| unsafe { DynValue::from_ptr(p, Some(&allocator)) })
            })
            .collect();
        if !status.0.is_null() {
            // SAFETY: a non-null status carries a message until it is released, once, here.
            let message = unsafe {
                let m = std::ffi::CStr::from_ptr((api.GetErrorMessage)(status.0))
                    .to_string_lossy()
                    .into_owned();
                (api.ReleaseStatus)(status.0);
                m
            };
            return Err(EngineError::Runtime(ort::Error::new(message)));
        }
        let mut result = Vec::with_capacity(self.info.outputs.len());
        for (spec, value) in self.info.outputs.iter().zip(owned) {
            let value = value.ok_or_else(|| EngineError::MissingOutput {
                output: spec.name.clone(),
            })?;
            let tensor =
                value
                    .downcast::<DynTensorValueType>()
                    .map_err(|error| EngineError::Output {
                        output: spec.name.clone(),
                        error,
                    })?;
            let shape: Vec<i64> = tensor.shape().iter().copied().collect();
            let len = tensor.size().unwrap_or(0);
            let mut data = vec![0u8; len];
            if len > 0 {
                let src = tensor.data_ptr().cast::<u8>();
                // SAFETY: ONNX Runtime reports `len` bytes of CPU memory for this output; the
                // tensor lives until the end of this block.
                unsafe { std::ptr::copy_nonoverlapping(src, data.as_mut_ptr(), len) };
            }
            result.push(Tensor {
                name: spec.name.clone(),
                datatype: spec.datatype,
                shape,
                data: Bytes::from(data),
            });
        }
        Ok(result)
    }
}

impl Engine for OnnxEngine {
    fn info(&self) -> &Arc<ModelInfo> {
        &self.info
    }

    fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, EngineError> {
        OnnxEngine::run(self, inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(name: &str, shape: &[i64], sym: &str) -> (IoSpec, Vec<String>) {
        (
            IoSpec {
                name: name.into(),
                datatype: DataType::F32,
                shape: shape.to_vec(),
            },
            vec![sym.into()],
        )
    }

    #[test]
    fn batchability_follows_the_first_dimension() {
        assert!(
            batchable(
                &[io("ids", &[-1, -1], "batch")],
                &[io("out", &[-1, 384], "unk_1")]
            )
            .is_ok()
        );
        // silero: fixed batch of 1, state batched on dimension 1
        let e = batchable(
            &[io("input", &[1, 576], ""), io("state", &[2, 1, 128], "")],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("fixed first dimension (1)"), "{e}");
        let e = batchable(&[io("a", &[-1, 3], "n"), io("b", &[-1, 3], "m")], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("another's is n"), "{e}");
        assert!(
            batchable(&[], &[io("s", &[], "")])
                .unwrap_err()
                .to_string()
                .contains("scalar")
        );
    }

    #[test]
    fn a_missing_library_names_every_place_looked() {
        let e = LibraryNotFound(vec!["ORT_DYLIB_PATH=/x (no such file)".into()]).to_string();
        assert!(e.contains("ORT_DYLIB_PATH=/x"));
        assert!(e.contains("pip install onnxruntime"));
    }
}
