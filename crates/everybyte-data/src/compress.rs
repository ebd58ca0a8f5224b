//! Compressed streams (gzip, zstd) read as the data inside them, streaming: a corpus of
//! `.jsonl.gz`, `.csv.zst` or `.tar.gz` shards is checked without unpacking it. A stream that
//! breaks (cut short, a bad checksum) is not an I/O error of the whole file: the reader ends
//! there, the content before it is judged, and the break is kept to be reported (DATA014).

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

/// How a stream is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Zstd,
}

impl Codec {
    pub fn of(head: &[u8]) -> Option<Codec> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Codec::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Codec::Zstd)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }
}

/// Where a broken stream broke: the codec's message and how many bytes it had given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub codec: Codec,
    pub message: String,
    /// Decompressed bytes read before the break.
    pub after: u64,
}

/// The slot a [`Fused`] reader leaves its break in.
pub type BreakSlot = Rc<RefCell<Option<Break>>>;

/// A decompressing reader that ends at the first error, keeping it in its slot.
pub struct Fused {
    inner: Box<dyn Read>,
    codec: Codec,
    read: u64,
    slot: BreakSlot,
}

impl Read for Fused {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.slot.borrow().is_some() {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                *self.slot.borrow_mut() = Some(Break {
                    codec: self.codec,
                    message: describe(self.codec, &e),
                    after: self.read,
                });
                Ok(0)
            }
        }
    }
}

fn describe(codec: Codec, e: &io::Error) -> String {
    match (codec, e.kind()) {
        (_, io::ErrorKind::UnexpectedEof) => {
            "the stream ends before its end marker (the file was cut short)".to_owned()
        }
        (Codec::Gzip, _) if e.to_string().contains("checksum") => {
            "the gzip CRC-32 does not match the data (corrupted)".to_owned()
        }
        _ => e.to_string(),
    }
}

/// `file` as the stream it holds: decompressed (every member of a multi-member gzip, every
/// frame of a zstd file) when its first bytes name a codec, the file itself (unbuffered: the
/// caller buffers as its format needs) otherwise. The slot is filled if the compressed stream
/// breaks. Memory: the decoder's window (32 KiB for gzip, up to the frame's window, 8 MiB by
/// default, for zstd) and a 256 KiB read buffer under it.
pub fn open(file: std::fs::File) -> io::Result<(Box<dyn Read>, Option<Codec>, BreakSlot)> {
    use std::os::unix::fs::FileExt;
    let mut head = [0u8; 4];
    let n = file.read_at(&mut head, 0)?;
    let codec = Codec::of(&head[..n]);
    let slot: BreakSlot = Rc::default();
    let r = io::BufReader::with_capacity(256 << 10, file);
    let inner: Box<dyn Read> = match codec {
        Some(Codec::Gzip) => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Some(Codec::Zstd) => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
        None => return Ok((Box::new(r.into_inner()), None, slot)),
    };
    let fused = Fused {
        inner,
        codec: codec.unwrap_or(Codec::Gzip),
        read: 0,
        slot: slot.clone(),
    };
    Ok((Box::new(fused), codec, slot))
}

/// Reads until `buf` is full or the stream ends; returns the bytes read (fewer than `buf`
/// holds: the stream ended).
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The extension under a compression suffix: `jsonl` for `a.jsonl.gz`; `None` when the name
/// has no compression suffix.
pub fn inner_name(name: &str) -> Option<&str> {
    let lower_ends = |s: &str| {
        name.len() > s.len()
            && name.is_char_boundary(name.len() - s.len())
            && name[name.len() - s.len()..].eq_ignore_ascii_case(s)
    };
    [".gz", ".gzip", ".zst", ".zstd"]
        .iter()
        .find(|s| lower_ends(s))
        .map(|s| &name[..name.len() - s.len()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> (Vec<u8>, Option<Codec>, Option<Break>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, bytes).unwrap();
        let (mut r, codec, slot) = open(std::fs::File::open(&p).unwrap()).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        let b = slot.borrow().clone();
        (out, codec, b)
    }

    #[test]
    fn a_whole_stream_reads_back_and_a_cut_one_says_where() {
        let text = b"{\"a\": 1}\n".repeat(10_000);
        let whole = gz(&text);
        assert_eq!(read_all(&whole), (text.clone(), Some(Codec::Gzip), None));
        let (got, _, b) = read_all(&whole[..whole.len() / 2]);
        let b = b.unwrap();
        assert!(b.message.contains("cut short"), "{b:?}");
        assert_eq!(b.after, got.len() as u64);
        assert!(text.starts_with(&got));
        let z = zstd::encode_all(&text[..], 3).unwrap();
        assert_eq!(read_all(&z).2, None);
        assert!(read_all(&z[..z.len() - 3]).2.is_some());
        assert_eq!(read_all(b"plain").0, b"plain");
        // Two gzip members, as `cat a.gz b.gz` makes: both are read.
        let mut two = gz(b"x\n");
        two.extend(gz(b"y\n"));
        assert_eq!(read_all(&two).0, b"x\ny\n");
    }

    #[test]
    fn inner_names() {
        assert_eq!(inner_name("a/b.jsonl.GZ"), Some("a/b.jsonl"));
        assert_eq!(inner_name("b.csv.zst"), Some("b.csv"));
        assert_eq!(inner_name("b.csv"), None);
        assert_eq!(inner_name(".gz"), None);
    }
}
