use everybyte_core::Finding;

use crate::facts::{ArrayFault, Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// NumPy `.npy` files: the magic, the header dict (`descr`, `fortran_order`, `shape`), and
    /// shape × itemsize against the bytes that follow. `.safetensors` files: the header length, the
    /// JSON header, each tensor's dtype, shape and offsets (inside the data region, sizes matching
    /// the shapes, no overlaps, no gaps).
    /// ## Why it matters
    /// A truncated array loads with an error at best; a safetensors file with overlapping offsets
    /// maps two tensors onto the same bytes. Both usually come from an interrupted write.
    /// ## Example
    /// ```text
    /// data/features.npy  error  DATA011  shape [300, 16] × 4 bytes = 19200 bytes of data, but the file holds 9600 (truncated)
    /// ```
    /// ## Fix
    /// Re-export the array; write outputs to a temporary file and rename it so an interrupted job
    /// leaves no half file.
    pub static CORRUPT_ARRAY = { code: "DATA011", name: "corrupt-array", severity: Error, summary: "An .npy or .safetensors file is malformed or truncated" };
}

/// A malformed or truncated `.npy` or `.safetensors` header.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Array(a) = &facts.fact else {
        return;
    };
    match &a.fault {
        None => {}
        Some(ArrayFault::Npy(e)) => out.push(
            Finding::new(&CORRUPT_ARRAY, facts.at(), e.to_string())
                .with_help("re-export the array (write to a temporary file, then rename)"),
        ),
        Some(ArrayFault::SafetensorsUnreadable(e)) => out.push(Finding::new(
            &CORRUPT_ARRAY,
            facts.at(),
            format!("safetensors: {e}"),
        )),
        Some(ArrayFault::Safetensors(e)) => out.push(
            Finding::new(&CORRUPT_ARRAY, facts.at(), format!("safetensors: {e}"))
                .with_help("re-export the file (write to a temporary file, then rename)"),
        ),
    }
}
