//! `env snapshot`: a JSON fingerprint of a machine and an environment, and `env diff`: what
//! differs between two, most consequential first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::elf;
use crate::error::SnapshotError;
use crate::resolve::{InfoCache, SearchConfig};
use crate::target::Target;

/// Snapshot format version.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cpu {
    pub model: Option<String>,
    pub logical_cores: usize,
    /// The instruction-set flags that change numerics or speed: AVX2, AVX-512, AMX, FMA, F16C.
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Gpu {
    pub model: String,
    pub bus: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Distribution {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Object {
    /// Relative to the environment's root.
    pub path: String,
    pub size: u64,
    pub blake3: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    pub format: u32,
    pub host: Option<String>,
    pub os: Option<String>,
    pub kernel: Option<String>,
    pub glibc: Option<String>,
    pub libstdcxx: Option<String>,
    pub cpu: Cpu,
    pub memory_bytes: Option<u64>,
    pub nvidia_driver: Option<String>,
    pub gpus: Vec<Gpu>,
    pub python: Option<String>,
    pub python_version: Option<String>,
    pub environment: Option<String>,
    pub distributions: Vec<Distribution>,
    pub objects: Vec<Object>,
}

const INTERESTING_FLAGS: &[&str] = &[
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "sse4_2",
];

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn os_release() -> Option<String> {
    let text = read("/etc/os-release")?;
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
}

fn cpu() -> Cpu {
    let text = read("/proc/cpuinfo").unwrap_or_default();
    let model = text.lines().find_map(|l| {
        l.strip_prefix("model name")
            .and_then(|r| r.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    });
    let flags_line = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("flags")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.to_owned())
        })
        .unwrap_or_default();
    let have: Vec<&str> = flags_line.split_whitespace().collect();
    Cpu {
        model,
        logical_cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        flags: INTERESTING_FLAGS
            .iter()
            .filter(|f| have.contains(f))
            .map(|f| (*f).to_owned())
            .collect(),
    }
}

fn memory() -> Option<u64> {
    let text = read("/proc/meminfo")?;
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn gpus() -> Vec<Gpu> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc/driver/nvidia/gpus") else {
        return out;
    };
    for e in rd.flatten() {
        let info = std::fs::read_to_string(e.path().join("information")).unwrap_or_default();
        if let Some(model) = info.lines().find_map(|l| l.strip_prefix("Model:")) {
            out.push(Gpu {
                model: model.trim().to_owned(),
                bus: Some(e.file_name().to_string_lossy().into_owned()),
            });
        }
    }
    out.sort_by(|a, b| a.bus.cmp(&b.bus));
    out
}

/// Installed distributions, from their metadata (`*.dist-info`, `*.egg-info`).
pub fn distributions(site_packages: &[PathBuf]) -> Vec<Distribution> {
    let mut out = Vec::new();
    for sp in site_packages {
        let Ok(scan) = crate::python::dist::scan_site_packages(sp) else {
            continue;
        };
        for d in scan.distributions {
            out.push(Distribution {
                name: d.normalized,
                version: d.version,
            });
        }
    }
    out.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    out.dedup();
    out
}

/// Hashes files with BLAKE3 on all cores; returns (path, size, hex digest) in input order.
/// Unreadable files are skipped.
pub fn hash_files(files: &[PathBuf]) -> Vec<Option<(u64, String)>> {
    everybyte_core::par::map(files, |p| {
        let mut h = blake3::Hasher::new();
        h.update_mmap(p)
            .ok()
            .map(|h| (h.count(), h.finalize().to_hex().to_string()))
    })
}

/// Takes a snapshot of this machine and the environment `target`.
/// Records the environment a run used into its folder: `env.json` (the snapshot `env
/// snapshot` takes) for `target`, or `env-unavailable.txt` saying why there is none.
pub fn record(
    target: Result<&Target, &crate::TargetError>,
    dir: &Path,
) -> Result<(), SnapshotError> {
    let (path, written) = match target {
        Ok(t) => {
            let snap = take(t, &SearchConfig::host());
            let path = dir.join("env.json");
            let written = everybyte_core::write_atomic(&path, |w| {
                serde_json::to_writer_pretty(&mut *w, &snap)?;
                w.write_all(b"\n")
            });
            (path, written)
        }
        Err(e) => {
            let path = dir.join("env-unavailable.txt");
            let written = std::fs::write(&path, format!("{e}\n"));
            (path, written)
        }
    };
    written.map_err(|err| SnapshotError::Write { path, err })
}

pub fn take(target: &Target, cfg: &SearchConfig) -> Snapshot {
    let objects = crate::native::find_objects(&target.roots);
    let hashes = hash_files(&objects);
    let infos = InfoCache::default();
    let host_version = |lib: &str, fam: &str| -> Option<String> {
        let p = cfg
            .cache
            .lookup(lib, elf::Kind::X86_64, true)?
            .to_path_buf();
        let info = infos.get(&p)?;
        elf::newest(&info.version_defs, fam)
            .map(|v| v.rsplit_once('_').map_or(v.clone(), |(_, n)| n.to_owned()))
    };
    let rel = |p: &Path| {
        p.strip_prefix(&target.display_root)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    Snapshot {
        format: FORMAT,
        host: read("/proc/sys/kernel/hostname").map(|s| s.trim().to_owned()),
        os: os_release(),
        kernel: read("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()),
        glibc: host_version("libc.so.6", "GLIBC"),
        libstdcxx: host_version("libstdc++.so.6", "GLIBCXX"),
        cpu: cpu(),
        memory_bytes: memory(),
        nvidia_driver: read("/proc/driver/nvidia/version")
            .and_then(|t| crate::gpu::driver_version(&t)),
        gpus: gpus(),
        python: target.python.as_ref().map(|p| p.display().to_string()),
        python_version: target.python_version.clone(),
        environment: Some(target.display_root.display().to_string()),
        distributions: distributions(&target.site_packages),
        objects: objects
            .iter()
            .zip(hashes)
            .filter_map(|(p, h)| {
                h.map(|(size, blake3)| Object {
                    path: rel(p),
                    size,
                    blake3,
                })
            })
            .collect(),
    }
}

impl Snapshot {
    /// Reads a snapshot file written by `env snapshot`.
    pub fn read(path: &Path) -> Result<Snapshot, SnapshotError> {
        let text = std::fs::read_to_string(path).map_err(|source| SnapshotError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| SnapshotError::Format {
            path: path.to_owned(),
            source,
        })
    }
}

/// One difference between two snapshots.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    /// What kind of thing changed, most consequential first: `driver`, `gpu`, `glibc`, …
    pub area: &'static str,
    pub item: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What differs between `a` and `b`, most consequential first (driver and GPUs, system
/// libraries, OS and CPU, Python, distributions, then changed shared objects).
pub fn diff(a: &Snapshot, b: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    let mut field = |area: &'static str, item: &str, x: Option<String>, y: Option<String>| {
        if x != y {
            out.push(Change {
                area,
                item: item.to_owned(),
                before: x,
                after: y,
            });
        }
    };
    field(
        "driver",
        "NVIDIA driver",
        a.nvidia_driver.clone(),
        b.nvidia_driver.clone(),
    );
    let cuda = |s: &Snapshot| {
        s.nvidia_driver
            .as_deref()
            .and_then(crate::rules::cuda_driver::cuda_for_driver)
            .map(|(x, y)| format!("{x}.{y}"))
    };
    field("driver", "CUDA supported by the driver", cuda(a), cuda(b));
    let g = |s: &Snapshot| {
        (!s.gpus.is_empty()).then(|| {
            s.gpus
                .iter()
                .map(|g| g.model.clone())
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    field("gpu", "GPUs", g(a), g(b));
    field("system", "glibc", a.glibc.clone(), b.glibc.clone());
    field(
        "system",
        "libstdc++ (GLIBCXX)",
        a.libstdcxx.clone(),
        b.libstdcxx.clone(),
    );
    field("system", "OS", a.os.clone(), b.os.clone());
    field("system", "kernel", a.kernel.clone(), b.kernel.clone());
    field("cpu", "CPU", a.cpu.model.clone(), b.cpu.model.clone());
    let flags = |s: &Snapshot| Some(s.cpu.flags.join(" "));
    field("cpu", "CPU flags", flags(a), flags(b));
    field(
        "python",
        "Python",
        a.python_version.clone(),
        b.python_version.clone(),
    );
    let dists = |s: &Snapshot| {
        s.distributions
            .iter()
            .map(|d| (d.name.clone(), d.version.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let (da, db) = (dists(a), dists(b));
    for name in da
        .keys()
        .chain(db.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        field(
            "distribution",
            name,
            da.get(name).cloned(),
            db.get(name).cloned(),
        );
    }
    let objs = |s: &Snapshot| {
        s.objects
            .iter()
            .map(|o| (o.path.clone(), o.blake3.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let (oa, ob) = (objs(a), objs(b));
    for path in oa
        .keys()
        .chain(ob.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let short = |h: Option<&String>| h.map(|h| h.chars().take(16).collect::<String>());
        field("object", path, short(oa.get(path)), short(ob.get(path)));
    }
    out
}

/// How many changed objects the text rendering of a diff names.
const SHOWN_OBJECTS: usize = 20;

/// `env diff` as text: the changes under their area's heading, at most 20 changed objects,
/// or a line saying the snapshots are identical.
pub fn write_diff_text(changes: &[Change], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut area = "";
    let mut objects = 0;
    for c in changes {
        if c.area == "object" {
            objects += 1;
            if objects > SHOWN_OBJECTS {
                continue;
            }
        }
        if c.area != area {
            writeln!(out, "{}", c.area)?;
            area = c.area;
        }
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        writeln!(
            out,
            "  {:<40} {} -> {}",
            c.item,
            show(&c.before),
            show(&c.after)
        )?;
    }
    if objects > SHOWN_OBJECTS {
        writeln!(
            out,
            "  … and {} more changed objects (--format json lists all)",
            objects - SHOWN_OBJECTS
        )?;
    }
    if changes.is_empty() {
        writeln!(out, "The snapshots are identical.")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_orders_by_consequence() {
        let a = Snapshot {
            nvidia_driver: Some("535.104.05".into()),
            glibc: Some("2.35".into()),
            distributions: vec![Distribution {
                name: "torch".into(),
                version: "2.1.0".into(),
            }],
            objects: vec![Object {
                path: "lib/x.so".into(),
                size: 1,
                blake3: "aa".repeat(32),
            }],
            ..Snapshot::default()
        };
        let mut b = a.clone();
        b.nvidia_driver = Some("470.182.03".into());
        b.glibc = Some("2.31".into());
        b.distributions[0].version = "2.0.1".into();
        b.objects[0].blake3 = "bb".repeat(32);
        let d = diff(&a, &b);
        let areas: Vec<&str> = d.iter().map(|c| c.area).collect();
        assert_eq!(
            areas,
            ["driver", "driver", "system", "distribution", "object"]
        );
        assert_eq!(d[1].after.as_deref(), Some("11.4"));
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn diff_text_names_areas_and_caps_objects() {
        let mut changes = vec![Change {
            area: "driver",
            item: "NVIDIA driver".into(),
            before: Some("535.104.05".into()),
            after: None,
        }];
        for i in 0..22 {
            changes.push(Change {
                area: "object",
                item: format!("lib/{i}.so"),
                before: Some("a".into()),
                after: Some("b".into()),
            });
        }
        let mut out = Vec::new();
        write_diff_text(&changes, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "driver");
        assert_eq!(
            lines[1],
            format!("  {:<40} 535.104.05 -> (none)", "NVIDIA driver")
        );
        assert_eq!(lines[2], "object");
        assert_eq!(lines.len(), 2 + 1 + 20 + 1);
        assert_eq!(
            lines[lines.len() - 1],
            "  … and 2 more changed objects (--format json lists all)"
        );
        let mut out = Vec::new();
        write_diff_text(&[], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "The snapshots are identical.\n"
        );
    }

    #[test]
    fn reading_a_snapshot_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let e = Snapshot::read(&missing).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: cannot read", missing.display()));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{").unwrap();
        let e = Snapshot::read(&bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: not an everybyte snapshot", bad.display())
        );
        let good = dir.path().join("good.json");
        std::fs::write(&good, serde_json::to_string(&Snapshot::default()).unwrap()).unwrap();
        assert_eq!(Snapshot::read(&good).unwrap(), Snapshot::default());
    }
}
