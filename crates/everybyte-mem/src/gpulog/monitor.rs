//! The GPU-log alerts raised live as samples arrive (`gpu watch`).

use std::collections::BTreeMap;

use everybyte_core::Finding;

use super::{Sample, Thresholds, span};
use crate::rules::{gpu_memory_full, gpu_stall, gpu_throttling};

/// The same alerts, raised live as samples arrive (`gpu watch`): each condition alerts once
/// when it starts (a stall once it has lasted the threshold) and re-arms when it ends.
#[derive(Debug, Default)]
pub struct Monitor {
    th: Thresholds,
    gpus: BTreeMap<String, Runs>,
}

#[derive(Debug, Default)]
struct Runs {
    stall: Option<(Sample, bool)>,
    full: Option<Sample>,
    hot: Option<Sample>,
}

impl Monitor {
    pub fn new(th: Thresholds) -> Self {
        Monitor {
            th,
            gpus: BTreeMap::new(),
        }
    }

    /// Feeds one sample; returns the alerts it raises.
    pub fn push(&mut self, path: &str, s: &Sample) -> Vec<Finding> {
        let th = &self.th;
        let runs = self.gpus.entry(s.gpu.clone()).or_default();
        let mut out = Vec::new();
        if gpu_stall::stalled(s) {
            let (start, reported) = runs.stall.get_or_insert_with(|| (s.clone(), false));
            if !*reported && span(start, s) >= th.stall_seconds {
                out.push(gpu_stall::finding(path, &s.gpu, start, s));
                *reported = true;
            }
        } else {
            runs.stall = None;
        }
        if gpu_memory_full::full(s, th) {
            if runs.full.is_none() {
                out.push(gpu_memory_full::finding(
                    path,
                    &s.gpu,
                    s,
                    None,
                    s.used.unwrap_or(0),
                ));
                runs.full = Some(s.clone());
            }
        } else {
            runs.full = None;
        }
        if gpu_throttling::hot(s, th) {
            if runs.hot.is_none() {
                out.push(gpu_throttling::finding(path, &s.gpu, s, None));
                runs.hot = Some(s.clone());
            }
        } else {
            runs.hot = None;
        }
        out
    }
}
