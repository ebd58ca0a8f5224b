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
