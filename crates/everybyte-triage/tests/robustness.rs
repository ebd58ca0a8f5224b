//! Hostile input: arbitrary bytes, invalid UTF-8, megabyte lines, empty input, gzip, CRLF,
//! and exact line numbers across buffer boundaries.

use everybyte_core::rng::Rng;
use std::io::Write;

use everybyte_core::config::TriageOptions;
use everybyte_triage::triage_reader;

const OOM: &str = "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.69 GiB total capacity; 20.15 GiB already allocated; 30.00 MiB free; 21.50 GiB reserved in total by PyTorch)";

fn triage(bytes: &[u8]) -> everybyte_triage::TriageResult {
    triage_reader(bytes, "t.log", &TriageOptions::default()).expect("in-memory reads do not fail")
}

#[test]
fn empty_input() {
    let r = triage(b"");
    assert!(r.findings.is_empty());
    assert_eq!(r.lines, 0);
}

#[test]
fn random_bytes_and_fragments_never_panic() {
    let words: [&[u8]; 12] = [
        b"segfault at ",
        b"Traceback (most recent call last):\n",
        b"  File \"",
        b"out of memory",
        b"Xid (",
        b"loss: ",
        b"nan",
        b"exit code ",
        b"\xff\xfe",
        b"\n",
        b"NCCL error",
        b"version `GLIBC_",
    ];
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2_000 {
        let mut buf = Vec::new();
        for _ in 0..(rng.next_u64() % 40) {
            if rng.next_u64().is_multiple_of(2) {
                buf.extend_from_slice(words[(rng.next_u64() % words.len() as u64) as usize]);
            } else {
                for _ in 0..(rng.next_u64() % 20) {
                    buf.push((rng.next_u64() & 0xff) as u8);
                }
            }
        }
        let r = triage(&buf);
        let newlines = memchr::memchr_iter(b'\n', &buf).count() as u64;
        let expect = newlines + u64::from(!buf.is_empty() && buf.last() != Some(&b'\n'));
        assert_eq!(r.lines, expect, "line count for {buf:?}");
    }
}

#[test]
fn invalid_utf8_around_an_incident() {
    let mut buf = b"\xff\xfe\xfd garbage\n".to_vec();
    buf.extend_from_slice(b"\xc3\x28 ");
    buf.extend_from_slice(OOM.as_bytes());
    buf.extend_from_slice(b" \xe2\x82\n");
    let r = triage(&buf);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].code, "LOG001");
    assert_eq!(r.findings[0].location.line, Some(2));
}

#[test]
fn megabyte_lines_are_cut_not_buffered_whole() {
    let mut buf = Vec::new();
    buf.extend_from_slice(OOM.as_bytes());
    buf.extend(std::iter::repeat_n(b'x', 5 << 20));
    buf.extend_from_slice(b"\nsecond line\n");
    buf.extend(std::iter::repeat_n(b'y', 3 << 20));
    buf.extend_from_slice(b"\nTerminated\n");
    let r = triage(&buf);
    let got: Vec<(&str, u64)> = r
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.location.line.unwrap()))
        .collect();
    assert_eq!(got, [("LOG001", 1), ("LOG004", 4)]);
    assert_eq!(r.lines, 4);
}

#[test]
fn exact_line_numbers_across_buffer_boundaries() {
    let mut log = String::new();
    let mut expected = Vec::new();
    let mut line = 0u64;
    let mut rng = Rng::new(42);
    while log.len() < 5 << 20 {
        line += 1;
        if rng.next_u64().is_multiple_of(5_000) {
            log.push_str("[2024-05-01T10:00:00Z] step 12 | loss: nan\n");
            expected.push(line);
        } else {
            log.push_str(&format!(
                "[2024-05-01T10:00:00Z] INFO step {line} | lr 3.0e-04 | throughput {} samples/s\n",
                rng.next_u64() % 1000
            ));
        }
    }
    let r = triage(log.as_bytes());
    assert_eq!(r.lines, line);
    assert_eq!(r.findings.len(), usize::from(!expected.is_empty()));
    if let Some(f) = r.findings.first() {
        assert_eq!(f.location.line, Some(expected[0]));
        if expected.len() > 1 {
            assert_eq!(f.data["count"], expected.len() as u64);
            assert_eq!(f.data["last_line"], *expected.last().unwrap());
        }
    }
}

#[test]
fn gzip_is_read_transparently_and_corrupt_gzip_is_an_error() {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(b"hello\n").unwrap();
    enc.write_all(OOM.as_bytes()).unwrap();
    enc.write_all(b"\n").unwrap();
    let gz = enc.finish().unwrap();
    let r = triage(&gz);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].location.line, Some(2));

    let mut broken = gz.clone();
    broken.truncate(gz.len() / 2);
    let err = triage_reader(&broken[..], "cut.log.gz", &TriageOptions::default()).unwrap_err();
    assert!(err.to_string().starts_with("cut.log.gz: "), "{err}");
}

#[test]
fn crlf_lines() {
    let r = triage(format!("a\r\n{OOM}\r\nb\r\n").as_bytes());
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].location.line, Some(2));
    assert!(!r.findings[0].message.contains('\r'));
}

#[test]
fn incidents_are_capped() {
    let mut log = String::new();
    for i in 0..50 {
        log.push_str(&format!("NVRM: Xid (PCI:0000:{i:02x}:00): 79, pid=1, name=python3, GPU has fallen off the bus.\n"));
    }
    let opts = TriageOptions {
        max_incidents: 10,
        ..TriageOptions::default()
    };
    let r = triage_reader(log.as_bytes(), "x", &opts).unwrap();
    assert_eq!(r.findings.len(), 10);
    assert_eq!(r.dropped, 40);
}
