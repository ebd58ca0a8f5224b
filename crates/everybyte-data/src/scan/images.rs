//! The image pass: the structure walked (and with `--decode`, the pixels decoded) from the
//! bytes already read; a read stopped at the closing bytes is read to the end first where a
//! finding or a decode depends on it.

use super::file::FileResult;
use super::read::{MAX_IMAGE_BYTES, read_on};
use super::{Kind, ScanOptions};
use crate::facts::{Fact, Facts, ImageFacts};

/// The image's bytes as read so far.
pub(crate) struct Read<'a> {
    pub file: &'a mut std::fs::File,
    /// Holds the file's first `n` bytes.
    pub scratch: &'a mut Vec<u8>,
    pub n: usize,
    /// Whether the read stopped at the format's closing bytes, before the end of the file.
    pub stopped_early: bool,
}

/// Walks (and decodes) the image, and judges it.
pub(crate) fn check(
    kind: Kind,
    read: Read<'_>,
    opts: &ScanOptions,
    facts: &mut Facts,
    out: &mut FileResult,
) {
    let Read {
        file,
        scratch,
        mut n,
        stopped_early,
    } = read;
    let mut checked = crate::image::check(kind, &scratch[..n]);
    if stopped_early && (checked.is_err() || opts.decode) {
        // Confirm with a read to the end of the file before reporting anything.
        let max_image = usize::try_from(MAX_IMAGE_BYTES).unwrap_or(usize::MAX);
        match read_on(file, scratch, n, max_image, |_| false) {
            Ok((m, _)) if m > n => {
                n = m;
                checked = crate::image::check(kind, &scratch[..n]);
                if let Some(r) = &mut out.record {
                    r.size = n as u64;
                }
                out.key = Some((n as u64, crc32fast::hash(&scratch[..n])));
            }
            Ok(_) => {}
            Err(e) => {
                out.unreadable(&facts.rel, &e);
                return;
            }
        }
    }
    let decoded = match &checked {
        Ok(info) if opts.decode && info.width.saturating_mul(info.height) <= opts.max_pixels => {
            Some(crate::decode::decode(&scratch[..n], kind, info))
        }
        _ => None,
    };
    if let Ok(info) = &checked
        && !matches!(decoded, Some(Err(_)))
    {
        out.mode = Some((info.mode, info.bits == 16));
    }
    facts.fact = Fact::Image(ImageFacts {
        kind,
        structure: checked,
        decoded,
        max_pixels: opts.max_pixels,
    });
    crate::rules::judge(facts, &mut out.findings);
}
