//! The record-file passes: a TFRecord file read record by record, a WebDataset tar shard
//! member by member (each member checked as its own format, in memory, without extracting),
//! both through gzip where they are compressed; then their facts judged.

use std::collections::HashSet;
use std::path::Path;

use everybyte_core::Finding;

use super::Kind;
use super::file::FileResult;
use crate::compress::{self, BreakSlot};
use crate::facts::{
    ArrayFacts, ArrayFault, ContainerFault, DuplicateKeys, Fact, Facts, FileFacts, ImageFacts,
};
use crate::fields::FieldTracker;

/// A compressed stream's break, judged (after what was read before it).
fn judge_break(slot: &BreakSlot, facts: &mut Facts, findings: &mut Vec<Finding>) {
    let broke = slot.borrow_mut().take();
    if let Some(b) = broke {
        facts.fact = Fact::Container(ContainerFault {
            format: b.codec.name(),
            message: format!("{} after {} bytes of content", b.message, b.after),
            line: None,
        });
        crate::rules::judge(facts, findings);
    }
}

/// Checks a TFRecord file (plain or gzip).
pub(crate) fn check_tfrecord(path: &Path, facts: &mut Facts, out: &mut FileResult) {
    let (reader, _, slot) = match std::fs::File::open(path).and_then(compress::open) {
        Ok(o) => o,
        Err(e) => return out.unreadable(&facts.rel, &e),
    };
    let s = match crate::tfrecord::scan(std::io::BufReader::with_capacity(256 << 10, reader)) {
        Ok(s) => s,
        Err(e) => return out.unreadable(&facts.rel, &e),
    };
    if let Some((index, offset)) = s.first_bad_data {
        facts.fact = Fact::Container(ContainerFault {
            format: "TFRecord",
            message: format!(
                "{} record{} fail{} the data checksum (first: record {index}, byte {offset}); {} records read whole",
                s.bad_data,
                if s.bad_data == 1 { "" } else { "s" },
                if s.bad_data == 1 { "s" } else { "" },
                s.records
            ),
            line: None,
        });
        crate::rules::judge(facts, &mut out.findings);
    }
    if let Some(stopped) = s.stopped {
        facts.fact = Fact::Container(ContainerFault {
            format: "TFRecord",
            message: format!("{stopped}; {} records read before it", s.records),
            line: None,
        });
        crate::rules::judge(facts, &mut out.findings);
    }
    judge_break(&slot, facts, &mut out.findings);
    if let Some(t) = s.features {
        facts.fact = Fact::Fields(t.gaps("record", "feature"));
        crate::rules::judge(facts, &mut out.findings);
    }
}

/// How many duplicate keys a finding names.
const EXAMPLES: usize = 5;

/// Checks a tar shard (plain or gzip) as WebDataset reads it.
pub(crate) fn check_tar(path: &Path, _size: u64, facts: &mut Facts, out: &mut FileResult) {
    let (reader, _, slot) = match std::fs::File::open(path).and_then(compress::open) {
        Ok(o) => o,
        Err(e) => return out.unreadable(&facts.rel, &e),
    };
    let mut samples = Samples::default();
    let mut member_facts = Facts {
        rel: facts.rel.clone(),
        fact: Fact::Nothing,
    };
    let mut buf = Vec::new();
    let reader = std::io::BufReader::with_capacity(256 << 10, reader);
    let walked = crate::tar::walk(reader, &mut buf, |m| {
        let (key, ext) = crate::tar::key_and_extension(m.name);
        samples.member(key, ext);
        let before = out.findings.len();
        check_member(ext, m.data, m.size, &mut member_facts, &mut out.findings);
        for f in &mut out.findings[before..] {
            f.message = match f.message.strip_prefix("WebDataset: ") {
                Some(rest) => format!("WebDataset: member `{}`: {rest}", m.name),
                None => format!("member `{}`: {}", m.name, f.message),
            };
        }
    });
    let (members, broke) = match walked {
        Ok(w) => w,
        Err(e) => return out.unreadable(&facts.rel, &e),
    };
    // A gzip stream that broke ends the walk too: its break is the cause, the walk's the
    // consequence.
    let gz_broke = slot.borrow().is_some();
    if broke.is_some() || gz_broke {
        // The sample the break cut lacks members because of the break, not of its writer.
        samples.current = None;
    } else {
        samples.end();
    }
    judge_break(&slot, facts, &mut out.findings);
    if let Some(b) = broke.filter(|_| !gz_broke) {
        facts.fact = Fact::Container(ContainerFault {
            format: "tar",
            message: format!("{}; {members} members read before it", b.message),
            line: None,
        });
        crate::rules::judge(facts, &mut out.findings);
    }
    if samples.tracker.records() > 1 {
        facts.fact = Fact::Fields(samples.tracker.gaps("sample", "member"));
        crate::rules::judge(facts, &mut out.findings);
    }
    if samples.duplicates.count > 0 {
        facts.fact = Fact::DuplicateKeys(samples.duplicates);
        crate::rules::judge(facts, &mut out.findings);
    }
}

/// A shard's samples, as WebDataset groups its members: adjacent members with one key.
/// Memory: the keys seen (to find one that comes back), one per sample of the shard.
#[derive(Default)]
struct Samples {
    tracker: FieldTracker,
    seen: HashSet<String>,
    current: Option<String>,
    /// The current sample's extensions.
    exts: HashSet<String>,
    duplicates: DuplicateKeys,
}

impl Samples {
    fn member(&mut self, key: &str, ext: &str) {
        if self.current.as_deref() != Some(key) {
            self.end();
            if !self.seen.insert(key.to_owned()) {
                self.duplicate(key.to_owned());
            }
            self.current = Some(key.to_owned());
        }
        if !self.exts.insert(ext.to_owned()) {
            self.duplicate(format!("{key}.{ext}"));
        }
        self.tracker.field(&format!(".{ext}"));
    }

    fn duplicate(&mut self, what: String) {
        self.duplicates.count += 1;
        if self.duplicates.examples.len() < EXAMPLES {
            self.duplicates.examples.push(what);
        }
    }

    /// Ends the current sample.
    fn end(&mut self) {
        if let Some(key) = self.current.take() {
            self.tracker
                .end_record(move || (format!("sample {key}"), None));
            self.exts.clear();
        }
    }
}

/// Checks one member by its extension (the part after its last dot), from its bytes.
fn check_member(
    ext: &str,
    data: Option<&[u8]>,
    size: u64,
    facts: &mut Facts,
    findings: &mut Vec<Finding>,
) {
    let Some(data) = data else {
        return;
    };
    let last = ext.rsplit('.').next().unwrap_or(ext);
    let kind = super::by_extension(&format!("m.{last}"));
    if size == 0 {
        facts.fact = Fact::File(FileFacts {
            size,
            sniffed: None,
            extension: kind,
        });
        crate::rules::judge(facts, findings);
        return;
    }
    match (kind, last.to_ascii_lowercase().as_str()) {
        (Some(k @ (Kind::Jpeg | Kind::Png | Kind::Gif | Kind::Webp | Kind::Bmp)), _) => {
            let sniffed = super::sniff(&data[..data.len().min(64)]);
            facts.fact = Fact::File(FileFacts {
                size,
                sniffed,
                extension: Some(k),
            });
            crate::rules::judge(facts, findings);
            let k = sniffed.unwrap_or(k);
            facts.fact = Fact::Image(ImageFacts {
                kind: k,
                structure: crate::image::check(k, data),
                decoded: None,
                max_pixels: super::ScanOptions::default().max_pixels,
            });
            crate::rules::judge(facts, findings);
        }
        (Some(Kind::Npy), _) => {
            let mut a = ArrayFacts::default();
            match crate::array::npy_header(data, size) {
                Err(e) => a.fault = Some(ArrayFault::Npy(e)),
                Ok(h) => {
                    let body = data.get(usize::try_from(h.data_offset).unwrap_or(usize::MAX)..);
                    if let Some(body) = body
                        && let Ok(c) = crate::array::count_nonfinite(body, h.dtype, h.elements)
                    {
                        a.nonfinite.push(super::arrays::npy_count(&h, c));
                    }
                }
            }
            facts.fact = Fact::Array(a);
            crate::rules::judge(facts, findings);
        }
        (_, "json") => {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(data) {
                unparsable(facts, findings, format!("not JSON ({e})"));
            }
        }
        (_, "cls" | "cls2" | "index" | "idx" | "label") => {
            let text = std::str::from_utf8(data).map(str::trim);
            if !text.is_ok_and(|t| t.parse::<i64>().is_ok()) {
                let shown: String =
                    String::from_utf8_lossy(&data[..data.len().min(20)]).into_owned();
                unparsable(
                    facts,
                    findings,
                    format!("a class label is an integer, this holds {shown:?}"),
                );
            }
        }
        _ => {}
    }
}

/// A member whose bytes are not what its extension says.
fn unparsable(facts: &mut Facts, findings: &mut Vec<Finding>, message: String) {
    facts.fact = Fact::Container(ContainerFault {
        format: "WebDataset",
        message,
        line: None,
    });
    crate::rules::judge(facts, findings);
}
