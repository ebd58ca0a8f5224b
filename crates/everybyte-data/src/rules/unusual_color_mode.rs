use everybyte_core::{Finding, Location};

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The colour mode of every image (RGB, grayscale, CMYK, YCCK, palette, RGBA, 16-bit),
    /// summarised per scan: the modes other than the dominant one are reported with their counts
    /// and examples. An outlier needs a population to stand out from: the scan must hold at
    /// least 20 images, so three pictures of a README are not a dataset with a minority mode.
    /// ## Why it matters
    /// A pipeline written for 3-channel 8-bit RGB breaks on a 4-channel CMYK or a 1-channel
    /// grayscale image (a shape mismatch when batching), or, worse, converts it with the wrong
    /// colours. 16-bit PNGs overflow uint8 assumptions.
    /// ## Example
    /// ```text
    /// data/images  warning  DATA005  1 of 17 images is CMYK (dataset is mostly RGB): train/cat/9565.jpg
    /// ```
    /// ## Fix
    /// Convert the images to the dominant mode once (`convert in.jpg -colorspace sRGB out.jpg`), or
    /// call `.convert("RGB")` in the loader.
    pub static UNUSUAL_COLOR_MODE = { code: "DATA005", name: "unusual-color-mode", severity: Warning, summary: "Some images use a colour mode the rest of the dataset does not" };
}

/// The fewest images a scan needs before one colour mode is "the dataset's" and another an
/// outlier.
pub const MIN_POPULATION: usize = 20;

/// Every colour mode other than the dataset's dominant one.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::ColorModes(modes) = &facts.fact else {
        return;
    };
    if modes.total < MIN_POPULATION {
        return;
    }
    let Some(dominant) = modes.groups.get(modes.dominant) else {
        return;
    };
    let (dominant, total) = (&dominant.mode, modes.total);
    for (i, g) in modes.groups.iter().enumerate() {
        let Some(first) = g.files.first() else {
            continue;
        };
        if i == modes.dominant {
            continue;
        }
        let examples: Vec<&str> = g.files.iter().take(5).map(String::as_str).collect();
        out.push(
            Finding::new(
                &UNUSUAL_COLOR_MODE,
                Location::file(first.clone()),
                format!("{} of {total} images are {} (the dataset is mostly {dominant}): {}", g.files.len(), g.mode, examples.join(", ")),
            )
            .with_help(format!("convert them to {dominant} once, or convert in the loader (Image.open(p).convert(\"RGB\"))"))
            .with_data("mode", g.mode.as_str())
            .with_data("count", g.files.len())
            .with_data("files", g.files.clone()),
        );
    }
}
