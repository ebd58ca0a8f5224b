//! Full decoding of images (`data scan --decode`), for the corruptions a structural walk
//! cannot see: a broken Huffman stream, a zlib stream that does not inflate, a frame that
//! decodes to other dimensions than its header says.

use crate::error::DecodeError;
use crate::image::ImageInfo;
use crate::scan::Kind;

/// Decodes the image; returns an error that says what failed.
pub fn decode(bytes: &[u8], kind: Kind, header: &ImageInfo) -> Result<(), DecodeError> {
    let format = match kind {
        Kind::Jpeg => image::ImageFormat::Jpeg,
        Kind::Png => image::ImageFormat::Png,
        Kind::Gif => image::ImageFormat::Gif,
        Kind::Webp => image::ImageFormat::WebP,
        Kind::Bmp => image::ImageFormat::Bmp,
        _ => return Ok(()),
    };
    let (w, h) = if kind == Kind::Jpeg {
        strict_jpeg(bytes)?
    } else {
        let img = image::load_from_memory_with_format(bytes, format)?;
        (u64::from(img.width()), u64::from(img.height()))
    };
    if (w, h) != (header.width, header.height) && kind != Kind::Gif {
        return Err(DecodeError::Dimensions {
            width: w,
            height: h,
            header_width: header.width,
            header_height: header.height,
        });
    }
    Ok(())
}

/// Decodes a JPEG the way libjpeg (and so PIL, and torchvision) judges it. The `image`
/// crate's decoder is lenient: a Huffman stream that breaks ends the picture there and the
/// rest is filled with grey, as browsers show it; a training loader would get that grey
/// picture, or an exception from PIL. Strict decoding names the break. Bytes between two
/// headers are let through: libjpeg warns about them and decodes the picture whole.
fn strict_jpeg(bytes: &[u8]) -> Result<(u64, u64), DecodeError> {
    let options = zune_core::options::DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let decode = |options| {
        let mut d = zune_jpeg::JpegDecoder::new_with_options(
            zune_core::bytestream::ZCursor::new(bytes),
            options,
        );
        d.decode()?;
        Ok::<_, zune_jpeg::errors::DecodeErrors>(d.dimensions())
    };
    let size = match decode(options) {
        Ok(size) => size,
        Err(e) => {
            let e = e.to_string();
            if !e.contains("Extra bytes between headers") {
                return Err(DecodeError::Strict(e.trim_matches('"').to_owned()));
            }
            decode(options.set_strict_mode(false)).map_err(|e| DecodeError::Jpeg(e.to_string()))?
        }
    };
    let (w, h) = size.ok_or(DecodeError::NoFrame)?;
    Ok((w as u64, h as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg_file() -> Vec<u8> {
        let pixels: Vec<u8> = (0..64u32 * 48)
            .flat_map(|i| {
                let (x, y) = (i % 64, i / 64);
                [(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8]
            })
            .collect();
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode(&pixels, 64, 48, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    #[test]
    fn a_broken_huffman_stream_fails_where_a_lenient_decoder_passes() {
        let good = jpeg_file();
        let info = crate::image::jpeg(&good).unwrap();
        assert_eq!((info.width, info.height), (64, 48));
        decode(&good, Kind::Jpeg, &info).unwrap();
        // Scan data overwritten (0xFF 0x00 pairs keep the marker structure intact).
        let mut bad = good.clone();
        let sos = bad.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        for k in sos + 20..bad.len() - 2 {
            if bad[k] != 0xFF && bad[k - 1] != 0xFF {
                bad[k] = if k % 2 == 1 { 0xFF } else { 0x00 };
            }
        }
        let info = crate::image::jpeg(&bad).expect("the structure is still sound");
        assert!(
            image::load_from_memory(&bad).is_ok(),
            "the lenient decoder passes it"
        );
        let err = decode(&bad, Kind::Jpeg, &info).unwrap_err().to_string();
        assert!(err.contains("strict decoding fails"), "{err}");
        // A header that disagrees with the frame decoded.
        let liar = crate::image::ImageInfo {
            width: 65,
            ..crate::image::jpeg(&good).unwrap()
        };
        assert!(
            decode(&good, Kind::Jpeg, &liar)
                .unwrap_err()
                .to_string()
                .contains("decodes to 64x48")
        );
    }

    #[test]
    fn stray_bytes_between_headers_are_let_through() {
        // libjpeg warns about them ("extraneous bytes before marker") and decodes the picture.
        let good = jpeg_file();
        assert_eq!(&good[2..4], &[0xFF, 0xE0], "the encoder writes APP0 first");
        let app0_len = usize::from(u16::from_be_bytes([good[4], good[5]]));
        let mut odd = good[..4 + app0_len].to_vec();
        odd.extend_from_slice(&[0x12, 0x34, 0x56]);
        odd.extend_from_slice(&good[4 + app0_len..]);
        let strict = zune_core::options::DecoderOptions::default().set_strict_mode(true);
        let err = zune_jpeg::JpegDecoder::new_with_options(
            zune_core::bytestream::ZCursor::new(&odd[..]),
            strict,
        )
        .decode()
        .unwrap_err();
        assert!(
            err.to_string().contains("Extra bytes between headers"),
            "{err}"
        );
        let info = crate::image::jpeg(&good).unwrap();
        decode(&odd, Kind::Jpeg, &info).unwrap();
    }
}
