use everybyte_core::Finding;

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Width × height from the image header against a pixel limit (default 89,478,485, the limit
    /// Pillow warns at).
    /// ## Why it matters
    /// Decoding a 30,000 × 30,000 image takes 2.7 GB of RAM per copy; with 16 DataLoader workers
    /// the host runs out of memory and the OOM killer ends the run. Malicious files declare huge
    /// sizes in a few bytes.
    /// ## Example
    /// ```text
    /// data/raw/scan-0007.png  warning  DATA004  PNG is 40000x40000 (1600000000 pixels), above the limit of 89478485
    /// ```
    /// ## Fix
    /// Resize the image offline, or raise the limit if such sizes are intended (`[data] max-pixels
    /// = …`).
    pub static IMAGE_TOO_LARGE = { code: "DATA004", name: "image-too-large", severity: Warning, summary: "An image's dimensions exceed the configured limit (decompression bomb)" };
}

/// Width × height above the scan's pixel limit.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Image(img) = &facts.fact else {
        return;
    };
    let Ok(info) = &img.structure else {
        return;
    };
    let pixels = info.width.saturating_mul(info.height);
    if pixels > img.max_pixels {
        out.push(
            Finding::new(
                &IMAGE_TOO_LARGE,
                facts.at(),
                format!(
                    "{} is {}x{} ({pixels} pixels), above the limit of {}",
                    img.kind.name(),
                    info.width,
                    info.height,
                    img.max_pixels
                ),
            )
            .with_help("resize it offline, or raise the limit if intended (--max-pixels)")
            .with_data("width", info.width)
            .with_data("height", info.height),
        );
    }
}
