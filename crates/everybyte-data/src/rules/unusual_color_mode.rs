everybyte_core::declare_rule! {
    /// ## What it checks
    /// The colour mode of every image (RGB, grayscale, CMYK, YCCK, palette, RGBA, 16-bit),
    /// summarised per scan: the modes other than the dominant one are reported with their counts
    /// and examples.
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
