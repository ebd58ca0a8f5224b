//! Full decoding of images (`data scan --decode`), for the corruptions a structural walk
//! cannot see: a broken Huffman stream, a zlib stream that does not inflate, a frame that
//! decodes to other dimensions than its header says.

use crate::image::ImageInfo;
use crate::scan::Kind;

/// Decodes the image; returns an error that says what failed.
pub fn decode(bytes: &[u8], kind: Kind, header: &ImageInfo) -> Result<(), String> {
    let format = match kind {
        Kind::Jpeg => image::ImageFormat::Jpeg,
        Kind::Png => image::ImageFormat::Png,
        Kind::Gif => image::ImageFormat::Gif,
        Kind::Webp => image::ImageFormat::WebP,
        Kind::Bmp => image::ImageFormat::Bmp,
        _ => return Ok(()),
    };
    let img = image::load_from_memory_with_format(bytes, format).map_err(|e| e.to_string())?;
    let (w, h) = (u64::from(img.width()), u64::from(img.height()));
    if (w, h) != (header.width, header.height) && kind != Kind::Gif {
        return Err(format!(
            "decodes to {w}x{h}, the header says {}x{}",
            header.width, header.height
        ));
    }
    Ok(())
}
