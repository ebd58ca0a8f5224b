use everybyte_core::{Finding, Location};

use crate::facts::{Fact, Facts};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// Images walked structure by structure, without decoding pixels: JPEG marker by marker (SOI,
    /// segment lengths, a frame header with non-zero dimensions before the scan, entropy-coded
    /// data, and the EOI marker at the end), PNG chunk by chunk (signature, IHDR first and valid,
    /// every chunk's CRC-32, IDAT present, IEND), GIF (header, screen size, trailer), WebP (RIFF
    /// size against the file's, frame dimensions), BMP (declared size, DIB dimensions). The finding
    /// gives the byte offset of the fault.
    /// ## Why it matters
    /// A truncated JPEG passes a header-only check and PIL's `Image.verify()`, then fails (or
    /// decodes half grey) when a worker loads it. A PNG with a bad CRC was damaged in transit.
    /// Either kills a worker or silently trains on garbage.
    /// ## Example
    /// ```text
    /// data/images/train/dog/11702.jpg  error  DATA003  JPEG: file ends inside the image data, before the EOI marker (truncated) at byte 950
    /// ```
    /// ## Fix
    /// Restore the file from its source (compare with the manifest: `everybyte data verify
    /// MANIFEST`), or drop it and its label.
    pub static CORRUPT_IMAGE = { code: "DATA003", name: "corrupt-image", severity: Error, summary: "An image is truncated or structurally corrupt" };
}

/// A structural fault, or a sound structure that does not decode.
pub fn check(facts: &Facts, out: &mut Vec<Finding>) {
    let Fact::Image(img) = &facts.fact else {
        return;
    };
    let kind = img.kind.name();
    match (&img.structure, &img.decoded) {
        (Err(f), _) => out.push(
            Finding::new(&CORRUPT_IMAGE, Location { detail: Some(format!("byte {}", f.offset)), ..facts.at() }, format!("{kind}: {}", f.what))
                .with_help("restore the file from its source (everybyte data verify MANIFEST finds every changed file), or drop it and its label")
                .with_data("offset", f.offset),
        ),
        (Ok(_), Some(Err(e))) => out.push(
            Finding::new(&CORRUPT_IMAGE, facts.at(), format!("{kind}: structure is sound but decoding fails: {e}"))
                .with_help("restore the file from its source, or drop it and its label")
                .with_data("decode_error", e.to_string()),
        ),
        (Ok(_), _) => {}
    }
}
