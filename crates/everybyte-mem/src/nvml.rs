//! NVML, the NVIDIA Management Library, loaded at run time.
//!
//! The binary links nothing of NVIDIA's: `libnvidia-ml.so.1` ships with the driver, so it is
//! opened with `dlopen` when a command asks for a GPU, and a machine without a driver gets an
//! error that says what was looked for and how to fix it. Only the calls `gpu watch` and
//! `mem budget --gpu auto` need are resolved; the optional ones (per-process memory, Xid
//! events, throttle reasons) degrade to "not reported" on drivers that lack them.
//!
//! Every `unsafe` block below is a call through a function pointer resolved from the library
//! by its documented name, with arguments that follow the NVML header: output pointers to
//! live, correctly sized `#[repr(C)]` values and buffer lengths that match the buffers.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};

/// The environment variable that names the library when it is not on the loader's path.
pub const LIBRARY_ENV: &str = "EVERYBYTE_NVML_LIBRARY";

const SUCCESS: c_int = 0;
const ERROR_INSUFFICIENT_SIZE: c_int = 7;
const ERROR_TIMEOUT: c_int = 10;
const TEMPERATURE_GPU: c_int = 0;
const CLOCK_SM: c_int = 1;
const CLOCK_MEM: c_int = 2;
const EVENT_XID_CRITICAL_ERROR: u64 = 0x8;
const STRING_BUFFER: usize = 96;

type Device = *mut c_void;
type EventSet = *mut c_void;

#[repr(C)]
#[derive(Default)]
struct Memory {
    total: u64,
    free: u64,
    used: u64,
}

#[repr(C)]
#[derive(Default)]
struct Utilization {
    gpu: c_uint,
    memory: c_uint,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ProcessInfo {
    pid: c_uint,
    used_gpu_memory: u64,
    gpu_instance_id: c_uint,
    compute_instance_id: c_uint,
}

#[repr(C)]
#[allow(clippy::struct_field_names)] // the header's names
struct EventData {
    device: Device,
    event_type: u64,
    event_data: u64,
    gpu_instance_id: c_uint,
    compute_instance_id: c_uint,
}

type FnVoid = unsafe extern "C" fn() -> c_int;
type FnErrorString = unsafe extern "C" fn(c_int) -> *const c_char;
type FnCount = unsafe extern "C" fn(*mut c_uint) -> c_int;
type FnHandle = unsafe extern "C" fn(c_uint, *mut Device) -> c_int;
type FnDeviceString = unsafe extern "C" fn(Device, *mut c_char, c_uint) -> c_int;
type FnSystemString = unsafe extern "C" fn(*mut c_char, c_uint) -> c_int;
type FnMemory = unsafe extern "C" fn(Device, *mut Memory) -> c_int;
type FnUtilization = unsafe extern "C" fn(Device, *mut Utilization) -> c_int;
type FnSensor = unsafe extern "C" fn(Device, c_int, *mut c_uint) -> c_int;
type FnUint = unsafe extern "C" fn(Device, *mut c_uint) -> c_int;
type FnU64 = unsafe extern "C" fn(Device, *mut u64) -> c_int;
type FnProcesses = unsafe extern "C" fn(Device, *mut c_uint, *mut ProcessInfo) -> c_int;
type FnEventSetCreate = unsafe extern "C" fn(*mut EventSet) -> c_int;
type FnRegisterEvents = unsafe extern "C" fn(Device, u64, EventSet) -> c_int;
type FnEventWait = unsafe extern "C" fn(EventSet, *mut EventData, c_uint) -> c_int;
type FnEventSetFree = unsafe extern "C" fn(EventSet) -> c_int;

struct Api {
    init: FnVoid,
    shutdown: FnVoid,
    error_string: FnErrorString,
    count: FnCount,
    handle: FnHandle,
    name: FnDeviceString,
    uuid: FnDeviceString,
    driver_version: Option<FnSystemString>,
    memory: FnMemory,
    utilization: Option<FnUtilization>,
    temperature: Option<FnSensor>,
    clock: Option<FnSensor>,
    power: Option<FnUint>,
    throttle: Option<FnU64>,
    processes: Option<FnProcesses>,
    event_set_create: Option<FnEventSetCreate>,
    register_events: Option<FnRegisterEvents>,
    event_wait: Option<FnEventWait>,
    event_set_free: Option<FnEventSetFree>,
}

pub use crate::error::NvmlError;

/// An open NVML; `nvmlShutdown` runs on drop.
pub struct Nvml {
    api: Api,
    library: String,
    events: Option<EventSet>,
    // Last field: dropped after `Drop::drop` has called shutdown through `api`.
    _lib: libloading::Library,
}

/// One reading of one GPU. `None`: the driver does not report that value for this card.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub index: u32,
    pub name: String,
    pub uuid: String,
    pub total: u64,
    pub free: u64,
    pub used: u64,
    pub util_gpu: Option<u32>,
    pub util_memory: Option<u32>,
    pub temperature: Option<u32>,
    pub sm_clock_mhz: Option<u32>,
    pub mem_clock_mhz: Option<u32>,
    pub power_mw: Option<u32>,
    pub throttle: Option<u64>,
    /// (pid, bytes) of each compute process, when the driver reports them.
    pub processes: Option<Vec<(u32, u64)>>,
}

/// An Xid error the driver reported while watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XidEvent {
    pub index: Option<u32>,
    pub xid: u64,
}

fn sym<T: Copy>(lib: &libloading::Library, name: &str) -> Option<T> {
    let mut bytes = name.as_bytes().to_vec();
    bytes.push(0);
    // SAFETY: `T` is the function-pointer type the NVML header gives this symbol.
    unsafe { lib.get::<T>(&bytes).ok().map(|s| *s) }
}

fn read_string(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Nvml {
    /// Opens the library (`$EVERYBYTE_NVML_LIBRARY`, else `libnvidia-ml.so.1`, else
    /// `libnvidia-ml.so`) and initialises it.
    pub fn load() -> Result<Nvml, NvmlError> {
        let mut names = Vec::new();
        if let Some(p) = std::env::var_os(LIBRARY_ENV) {
            names.push(p.to_string_lossy().into_owned());
        }
        names.push("libnvidia-ml.so.1".to_owned());
        names.push("libnvidia-ml.so".to_owned());
        let mut tried = Vec::new();
        for name in names {
            // SAFETY: opening the driver's library runs its initialisers, which is how every
            // NVML client (nvidia-smi included) starts.
            match unsafe { libloading::Library::new(&name) } {
                Ok(lib) => return Nvml::from_library(lib, name),
                Err(e) => tried.push((name, e.to_string())),
            }
        }
        Err(NvmlError::NotFound(tried))
    }

    fn from_library(lib: libloading::Library, library: String) -> Result<Nvml, NvmlError> {
        let need = |symbol: &str| NvmlError::Missing {
            library: library.clone(),
            symbol: symbol.to_owned(),
        };
        let api = Api {
            init: sym(&lib, "nvmlInit_v2").ok_or_else(|| need("nvmlInit_v2"))?,
            shutdown: sym(&lib, "nvmlShutdown").ok_or_else(|| need("nvmlShutdown"))?,
            error_string: sym(&lib, "nvmlErrorString").ok_or_else(|| need("nvmlErrorString"))?,
            count: sym(&lib, "nvmlDeviceGetCount_v2")
                .ok_or_else(|| need("nvmlDeviceGetCount_v2"))?,
            handle: sym(&lib, "nvmlDeviceGetHandleByIndex_v2")
                .ok_or_else(|| need("nvmlDeviceGetHandleByIndex_v2"))?,
            name: sym(&lib, "nvmlDeviceGetName").ok_or_else(|| need("nvmlDeviceGetName"))?,
            uuid: sym(&lib, "nvmlDeviceGetUUID").ok_or_else(|| need("nvmlDeviceGetUUID"))?,
            memory: sym(&lib, "nvmlDeviceGetMemoryInfo")
                .ok_or_else(|| need("nvmlDeviceGetMemoryInfo"))?,
            driver_version: sym(&lib, "nvmlSystemGetDriverVersion"),
            utilization: sym(&lib, "nvmlDeviceGetUtilizationRates"),
            temperature: sym(&lib, "nvmlDeviceGetTemperature"),
            clock: sym(&lib, "nvmlDeviceGetClockInfo"),
            power: sym(&lib, "nvmlDeviceGetPowerUsage"),
            throttle: sym(&lib, "nvmlDeviceGetCurrentClocksEventReasons")
                .or_else(|| sym(&lib, "nvmlDeviceGetCurrentClocksThrottleReasons")),
            processes: sym(&lib, "nvmlDeviceGetComputeRunningProcesses_v3")
                .or_else(|| sym(&lib, "nvmlDeviceGetComputeRunningProcesses_v2")),
            event_set_create: sym(&lib, "nvmlEventSetCreate"),
            register_events: sym(&lib, "nvmlDeviceRegisterEvents"),
            event_wait: sym(&lib, "nvmlEventSetWait_v2"),
            event_set_free: sym(&lib, "nvmlEventSetFree"),
        };
        // SAFETY: nvmlInit_v2 takes no arguments.
        let ret = unsafe { (api.init)() };
        let mut nvml = Nvml {
            api,
            library,
            events: None,
            _lib: lib,
        };
        if ret != SUCCESS {
            let message = nvml.error(ret);
            // Never initialised: dropping must not call shutdown.
            nvml.api.shutdown = noop_shutdown;
            return Err(NvmlError::Call {
                call: "nvmlInit",
                message: format!(
                    "{message} (the library {} is present but the driver did not start: check `nvidia-smi` and the kernel module)",
                    nvml.library
                ),
            });
        }
        Ok(nvml)
    }

    /// The path or name the library was opened from.
    pub fn library(&self) -> &str {
        &self.library
    }

    fn error(&self, ret: c_int) -> String {
        // SAFETY: nvmlErrorString returns a static, NUL-terminated string for any code.
        let p = unsafe { (self.api.error_string)(ret) };
        if p.is_null() {
            return format!("error {ret}");
        }
        // SAFETY: non-null, NUL-terminated, static.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    fn check(&self, call: &'static str, ret: c_int) -> Result<(), NvmlError> {
        if ret == SUCCESS {
            Ok(())
        } else {
            Err(NvmlError::Call {
                call,
                message: self.error(ret),
            })
        }
    }

    /// The driver version, e.g. `550.54.15`.
    pub fn driver_version(&self) -> Option<String> {
        let f = self.api.driver_version?;
        let mut buf = [0 as c_char; STRING_BUFFER];
        // SAFETY: the buffer is STRING_BUFFER bytes long, as passed.
        let ret = unsafe { f(buf.as_mut_ptr(), STRING_BUFFER as c_uint) };
        (ret == SUCCESS).then(|| read_string(&buf))
    }

    /// The number of GPUs the driver sees.
    pub fn count(&self) -> Result<u32, NvmlError> {
        let mut n: c_uint = 0;
        // SAFETY: `n` is a live c_uint.
        let ret = unsafe { (self.api.count)(&raw mut n) };
        self.check("nvmlDeviceGetCount", ret)?;
        Ok(n)
    }

    fn device(&self, index: u32) -> Result<Device, NvmlError> {
        let mut dev: Device = std::ptr::null_mut();
        // SAFETY: `dev` is a live handle slot.
        let ret = unsafe { (self.api.handle)(index, &raw mut dev) };
        self.check("nvmlDeviceGetHandleByIndex", ret)?;
        Ok(dev)
    }

    fn device_string(f: FnDeviceString, dev: Device) -> String {
        let mut buf = [0 as c_char; STRING_BUFFER];
        // SAFETY: the buffer is STRING_BUFFER bytes long, as passed.
        let ret = unsafe { f(dev, buf.as_mut_ptr(), STRING_BUFFER as c_uint) };
        if ret == SUCCESS {
            read_string(&buf)
        } else {
            String::new()
        }
    }

    fn optional_u32(f: Option<FnUint>, dev: Device) -> Option<u32> {
        let f = f?;
        let mut v: c_uint = 0;
        // SAFETY: `v` is a live c_uint.
        (unsafe { f(dev, &raw mut v) } == SUCCESS).then_some(v)
    }

    fn sensor(f: Option<FnSensor>, dev: Device, which: c_int) -> Option<u32> {
        let f = f?;
        let mut v: c_uint = 0;
        // SAFETY: `v` is a live c_uint; `which` is a value of the enum the call takes.
        (unsafe { f(dev, which, &raw mut v) } == SUCCESS).then_some(v)
    }

    fn processes(&self, dev: Device) -> Option<Vec<(u32, u64)>> {
        let f = self.api.processes?;
        let mut infos = vec![ProcessInfo::default(); 64];
        for _ in 0..4 {
            let mut n = infos.len() as c_uint;
            // SAFETY: `infos` holds `n` entries, as passed; the call writes at most `n`.
            let ret = unsafe { f(dev, &raw mut n, infos.as_mut_ptr()) };
            match ret {
                SUCCESS => {
                    let n = (n as usize).min(infos.len());
                    return Some(
                        infos[..n]
                            .iter()
                            .map(|p| (p.pid, p.used_gpu_memory))
                            .collect(),
                    );
                }
                ERROR_INSUFFICIENT_SIZE => {
                    // More processes started between calls: grow and ask again.
                    let want = (n as usize).clamp(infos.len() * 2, 65_536);
                    infos.resize(want, ProcessInfo::default());
                }
                // Not supported on this card or driver, or a transient failure: not reported.
                _ => return None,
            }
        }
        None
    }

    /// Reads one GPU.
    pub fn read(&self, index: u32) -> Result<Reading, NvmlError> {
        let dev = self.device(index)?;
        let mut mem = Memory::default();
        // SAFETY: `mem` is a live nvmlMemory_t.
        let ret = unsafe { (self.api.memory)(dev, &raw mut mem) };
        self.check("nvmlDeviceGetMemoryInfo", ret)?;
        let util = self.api.utilization.and_then(|f| {
            let mut u = Utilization::default();
            // SAFETY: `u` is a live nvmlUtilization_t.
            (unsafe { f(dev, &raw mut u) } == SUCCESS).then_some(u)
        });
        let throttle = self.api.throttle.and_then(|f| {
            let mut m: u64 = 0;
            // SAFETY: `m` is a live unsigned long long.
            (unsafe { f(dev, &raw mut m) } == SUCCESS).then_some(m)
        });
        Ok(Reading {
            index,
            name: Self::device_string(self.api.name, dev),
            uuid: Self::device_string(self.api.uuid, dev),
            total: mem.total,
            free: mem.free,
            used: mem.used,
            util_gpu: util.as_ref().map(|u| u.gpu),
            util_memory: util.as_ref().map(|u| u.memory),
            temperature: Self::sensor(self.api.temperature, dev, TEMPERATURE_GPU),
            sm_clock_mhz: Self::sensor(self.api.clock, dev, CLOCK_SM),
            mem_clock_mhz: Self::sensor(self.api.clock, dev, CLOCK_MEM),
            power_mw: Self::optional_u32(self.api.power, dev),
            throttle,
            processes: self.processes(dev),
        })
    }

    /// Reads every GPU.
    pub fn read_all(&self) -> Result<Vec<Reading>, NvmlError> {
        (0..self.count()?).map(|i| self.read(i)).collect()
    }

    /// Starts listening for Xid errors on every GPU; false when the driver cannot report them.
    pub fn watch_xid(&mut self) -> bool {
        let (Some(create), Some(register)) = (self.api.event_set_create, self.api.register_events)
        else {
            return false;
        };
        let mut set: EventSet = std::ptr::null_mut();
        // SAFETY: `set` is a live handle slot.
        if unsafe { create(&raw mut set) } != SUCCESS {
            return false;
        }
        let mut any = false;
        for i in 0..self.count().unwrap_or(0) {
            if let Ok(dev) = self.device(i) {
                // SAFETY: a device handle from the driver and the set just created.
                any |= unsafe { register(dev, EVENT_XID_CRITICAL_ERROR, set) } == SUCCESS;
            }
        }
        self.events = Some(set);
        any
    }

    /// The Xid errors reported since the last call (waits at most `timeout_ms`).
    pub fn xid_events(&self, timeout_ms: u32) -> Vec<XidEvent> {
        let (Some(set), Some(wait)) = (self.events, self.api.event_wait) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut timeout = timeout_ms;
        while out.len() < 1024 {
            let mut data = EventData {
                device: std::ptr::null_mut(),
                event_type: 0,
                event_data: 0,
                gpu_instance_id: 0,
                compute_instance_id: 0,
            };
            // SAFETY: `data` is a live nvmlEventData_t; `set` came from nvmlEventSetCreate.
            let ret = unsafe { wait(set, &raw mut data, timeout) };
            if ret == ERROR_TIMEOUT || ret != SUCCESS {
                break;
            }
            timeout = 0;
            let index = (0..self.count().unwrap_or(0))
                .find(|&i| self.device(i).is_ok_and(|d| d == data.device));
            out.push(XidEvent {
                index,
                xid: data.event_data,
            });
        }
        out
    }
}

unsafe extern "C" fn noop_shutdown() -> c_int {
    SUCCESS
}

impl Drop for Nvml {
    fn drop(&mut self) {
        if let (Some(set), Some(free)) = (self.events.take(), self.api.event_set_free) {
            // SAFETY: the set came from nvmlEventSetCreate and is freed once.
            unsafe { free(set) };
        }
        // SAFETY: pairs the successful nvmlInit_v2 in `from_library`.
        unsafe { (self.api.shutdown)() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_sizes_follow_the_header() {
        assert_eq!(size_of::<Memory>(), 24);
        assert_eq!(size_of::<Utilization>(), 8);
        assert_eq!(size_of::<ProcessInfo>(), 24);
        assert_eq!(size_of::<EventData>(), 32);
    }

    #[test]
    fn a_missing_library_says_what_was_tried_and_how_to_fix_it() {
        let e = NvmlError::NotFound(vec![(
            "libnvidia-ml.so.1".into(),
            "cannot open shared object file".into(),
        )]);
        let s = e.to_string();
        assert!(
            s.starts_with("no NVIDIA driver library (NVML) on this machine; tried libnvidia-ml.so.1 (cannot open shared object file). libnvidia-ml.so.1 comes with the NVIDIA driver"),
            "{s}"
        );
        assert!(
            s.ends_with(&format!("set {LIBRARY_ENV} to its path")),
            "{s}"
        );
        assert!(s.contains(LIBRARY_ENV));
        assert!(s.contains("--gpus all"));
    }
}
