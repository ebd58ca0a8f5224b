//! `mem budget --gpu auto`: the card this process would use, read through NVML.

use everybyte_core::bytesize::Bytes;

pub use crate::error::AutoGpuError;
use crate::nvml::Nvml;

/// The index of the first GPU a process would use: the first entry of `CUDA_VISIBLE_DEVICES`
/// when it is an index, else 0.
pub fn first_visible_index(cuda_visible_devices: Option<&str>) -> u32 {
    cuda_visible_devices
        .and_then(|v| {
            v.split(',')
                .next()
                .and_then(|i| i.trim().parse::<u32>().ok())
        })
        .unwrap_or(0)
}

/// The first GPU this process would use (the first of `CUDA_VISIBLE_DEVICES` when it names an
/// index): a line naming it, and its total memory.
pub fn auto_gpu() -> Result<(String, u64), AutoGpuError> {
    let nvml = Nvml::load().map_err(AutoGpuError::Load)?;
    let index = first_visible_index(std::env::var("CUDA_VISIBLE_DEVICES").ok().as_deref());
    let count = nvml.count()?;
    if index >= count {
        return Err(AutoGpuError::NoSuchGpu { index, count });
    }
    let r = nvml.read(index)?;
    let label = format!(
        "GPU {index} ({}): {} total, {} already in use by other processes",
        r.name,
        Bytes(r.total),
        Bytes(r.used)
    );
    Ok((label, r.total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_visible_index() {
        assert_eq!(first_visible_index(None), 0);
        assert_eq!(first_visible_index(Some("3,1")), 3);
        assert_eq!(first_visible_index(Some(" 2 ")), 2);
        assert_eq!(first_visible_index(Some("GPU-1234,0")), 0);
        assert_eq!(first_visible_index(Some("")), 0);
    }

    #[test]
    fn a_missing_gpu_says_how_many_the_driver_sees() {
        let e = AutoGpuError::NoSuchGpu { index: 2, count: 1 };
        assert_eq!(
            e.to_string(),
            "--gpu auto: GPU 2 does not exist (the driver sees 1)"
        );
    }
}
