//! What the manifests are held to, and how `deploy lint` gathers it from the measurements it
//! is given: a profile record, a benchmark report, a model file.

use std::path::{Path, PathBuf};

use everybyte_core::chart::Figure;

use crate::Error;

/// What the manifests are held to.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Peak memory measured by `everybyte profile` (PSS where available), and its source.
    pub peak_bytes: Option<(u64, String)>,
    /// Cold start measured by `everybyte profile`, seconds.
    pub cold_start: Option<f64>,
    /// Size of the model the containers load, when no profile exists, and where it was read.
    pub model_bytes: Option<(u64, String)>,
    /// Limits must be at least the peak times this (default 1.2).
    pub headroom: f64,
    /// The p99 latency of one inference, seconds, from `everybyte bench --format json`, and
    /// where it was read.
    pub p99_seconds: Option<(f64, String)>,
    /// One sample's bytes as the DataLoader yields it (`deploy lint --sample-bytes`): with the
    /// workers and batch size of a command line, what passes through `/dev/shm`.
    pub sample_bytes: Option<u64>,
}

/// The measurements `deploy lint` is given (`--profile`, `--bench`, `--model`, `--headroom`).
#[derive(Debug, Clone, Copy)]
pub struct Measurements<'a> {
    pub profile: Option<&'a Path>,
    pub bench: Option<&'a Path>,
    pub model: Option<&'a Path>,
    pub headroom: f64,
}

/// A headroom factor must be a number of at least 1.
pub fn check_headroom(headroom: f64) -> Result<(), Error> {
    if headroom.is_finite() && headroom >= 1.0 {
        Ok(())
    } else {
        Err(Error::Headroom { value: headroom })
    }
}

impl Measurements<'_> {
    /// The expectations, and the profile's memory figure where a profile was given.
    pub fn expectations(&self) -> Result<(Expectations, Vec<Figure>), Error> {
        check_headroom(self.headroom)?;
        let mut expect = Expectations {
            headroom: self.headroom,
            ..Expectations::default()
        };
        let mut figures = Vec::new();
        if let Some(p) = self.profile {
            let r = crate::profile::load(p)?;
            let shown = p.display().to_string();
            expect.peak_bytes = Some((r.peak(), shown.clone()));
            expect.cold_start = r.cold_start_seconds;
            figures.push(crate::profile::figure(&r, &shown));
            figures.extend(crate::profile::activity_figure(&r, &shown));
        }
        if let Some(b) = self.bench {
            let p99 = bench_p99_ms(b)?;
            expect.p99_seconds = Some((p99 / 1000.0, b.display().to_string()));
        }
        if let Some(m) = self.model {
            let len = std::fs::metadata(m)
                .map_err(|err| Error::ModelRead {
                    path: m.to_owned(),
                    err,
                })?
                .len();
            // A sharded checkpoint's index names the total of its shards.
            let total = m
                .to_string_lossy()
                .ends_with(".index.json")
                .then(|| std::fs::read_to_string(m).ok())
                .flatten()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| everybyte_mem::budget::index_total_size(&v));
            expect.model_bytes = Some((total.unwrap_or(len), m.display().to_string()));
        }
        Ok((expect, figures))
    }
}

/// The p99 latency, milliseconds, of a report of `everybyte bench --format json`.
fn bench_p99_ms(path: &Path) -> Result<f64, Error> {
    let text = std::fs::read_to_string(path).map_err(|err| Error::BenchRead {
        path: path.to_owned(),
        err,
    })?;
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["latency"]["p99_ms"].as_f64())
        .ok_or_else(|| Error::BenchReport {
            path: PathBuf::from(path),
        })
}
