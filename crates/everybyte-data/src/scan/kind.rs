//! What a file is: sniffed from its first bytes, or read from its extension.

use serde::Serialize;

/// What a file is, from its first bytes (tables from their extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Jpeg,
    Png,
    Gif,
    Webp,
    Bmp,
    Npy,
    Safetensors,
    Csv,
    Tsv,
    Jsonl,
    TfRecord,
    Parquet,
    /// Arrow IPC, the file format (`ARROW1`) or the stream format (Hugging Face `datasets`'
    /// cache files).
    Arrow,
    /// A tar archive (a WebDataset shard), plain or gzip-compressed.
    Tar,
    Other,
}

impl Kind {
    /// Every kind, in declaration order (`kind as usize` indexes it).
    pub const ALL: [Kind; 15] = [
        Kind::Jpeg,
        Kind::Png,
        Kind::Gif,
        Kind::Webp,
        Kind::Bmp,
        Kind::Npy,
        Kind::Safetensors,
        Kind::Csv,
        Kind::Tsv,
        Kind::Jsonl,
        Kind::TfRecord,
        Kind::Parquet,
        Kind::Arrow,
        Kind::Tar,
        Kind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Jpeg => "JPEG",
            Kind::Png => "PNG",
            Kind::Gif => "GIF",
            Kind::Webp => "WebP",
            Kind::Bmp => "BMP",
            Kind::Npy => "NumPy",
            Kind::Safetensors => "safetensors",
            Kind::Csv => "CSV",
            Kind::Tsv => "TSV",
            Kind::Jsonl => "JSON Lines",
            Kind::TfRecord => "TFRecord",
            Kind::Parquet => "Parquet",
            Kind::Arrow => "Arrow IPC",
            Kind::Tar => "tar",
            Kind::Other => "other",
        }
    }
}

pub fn sniff(head: &[u8]) -> Option<Kind> {
    Some(if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Kind::Jpeg
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Kind::Png
    } else if head.starts_with(b"GIF8") {
        Kind::Gif
    } else if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        Kind::Webp
    } else if head.starts_with(b"BM") && head.len() >= 26 {
        Kind::Bmp
    } else if head.starts_with(b"\x93NUMPY") {
        Kind::Npy
    } else if head.len() > 9 && head[8] == b'{' && head[..8].iter().rev().take(4).all(|b| *b == 0) {
        Kind::Safetensors
    } else if head.starts_with(b"PAR1") {
        Kind::Parquet
    } else if head.starts_with(b"ARROW1") {
        Kind::Arrow
    } else if crate::tfrecord::sniff(head) {
        Kind::TfRecord
    } else {
        return None;
    })
}

pub fn by_extension(name: &str) -> Option<Kind> {
    // `a.jsonl.gz`, `b.csv.zst`: a table under a compression suffix.
    if let Some(inner) = crate::compress::inner_name(name) {
        return by_extension_plain(inner).filter(|k| {
            matches!(
                k,
                Kind::Csv | Kind::Tsv | Kind::Jsonl | Kind::TfRecord | Kind::Tar
            )
        });
    }
    by_extension_plain(name)
}

fn by_extension_plain(name: &str) -> Option<Kind> {
    // The extension is the text after the last dot of the file name, at most 11 bytes long
    // ("safetensors"); it is lowered on the stack, as this runs once per file.
    let b = name.as_bytes();
    let dot = b
        .iter()
        .rev()
        .take(12)
        .position(|&c| c == b'.' || c == b'/')?;
    let ext = &b[b.len() - dot..];
    if b[b.len() - dot - 1] != b'.' {
        return None;
    }
    let mut low = [0u8; 11];
    low[..ext.len()].copy_from_slice(ext);
    low.make_ascii_lowercase();
    Some(match &low[..ext.len()] {
        b"jpg" | b"jpeg" | b"jpe" | b"jfif" => Kind::Jpeg,
        b"png" => Kind::Png,
        b"gif" => Kind::Gif,
        b"webp" => Kind::Webp,
        b"bmp" => Kind::Bmp,
        b"npy" => Kind::Npy,
        b"safetensors" => Kind::Safetensors,
        b"csv" => Kind::Csv,
        b"tsv" | b"tab" => Kind::Tsv,
        b"jsonl" | b"ndjson" => Kind::Jsonl,
        b"tfrecord" | b"tfrecords" | b"tfr" => Kind::TfRecord,
        b"parquet" | b"parq" | b"pq" => Kind::Parquet,
        b"arrow" | b"arrows" | b"feather" | b"ipc" => Kind::Arrow,
        b"tar" | b"tgz" => Kind::Tar,
        _ => return None,
    })
}
