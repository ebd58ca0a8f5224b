//! This crate's part of `everybyte audit`: the GPU logs a project holds (MEM001–MEM003, with
//! their memory and utilisation charts) and the allocator snapshots (a segment map each).

use everybyte_core::chart::Figure;
use everybyte_core::{Audit, FileKind, Report};

use crate::error::Error;
use crate::gpulog::{self, GpuLog, Thresholds};

/// Adds the findings and figures of the project's GPU logs and allocator snapshots to the
/// report. A log that cannot be read is IO001; one that is not an nvidia-smi CSV log, or a
/// snapshot that is not one, is passed over.
pub fn audit(input: &Audit<'_>, report: &mut Report) -> Result<(), Error> {
    for f in input.project.files_of(FileKind::NvidiaSmiCsv) {
        match std::fs::read_to_string(&f.path) {
            Ok(text) => {
                if let Ok(samples) = gpulog::parse(&text) {
                    let figures = gpulog::figures(&f.rel, &samples);
                    let log = GpuLog::new(&f.rel, samples, Thresholds::default());
                    report.findings.extend(log.findings());
                    report.figures.extend(figures);
                }
            }
            Err(e) => report
                .findings
                .push(everybyte_core::rules::unreadable_io(&f.rel, &e)),
        }
    }
    for f in input.project.files_of(FileKind::AllocatorSnapshot) {
        let snap = std::fs::read(&f.path)
            .ok()
            .and_then(|b| crate::snapshot::read_snapshot(&b).ok());
        if let Some(s) = snap {
            report.figures.push(Figure {
                title: format!("{}: allocator segment map", f.rel),
                path: Some(f.rel.clone()),
                svg: crate::svg::segment_map_svg(&s),
            });
        }
    }
    Ok(())
}
