//! The crash log of an RTX 3090 run: a segfault, a CUDA OOM that is a capacity problem
//! (short by about 7.6 GiB, not fragmentation), and the SIGTERM that followed it.

use everybyte_core::config::TriageOptions;
use everybyte_triage::triage_reader;

const CRASH_LOG: &str = "\
[2023-10-27T14:22:01.442Z] kernel: [12409.552101] python3[14201]: segfault at 0 ip 00007f8e12a34b12 sp 00007ffc8e12a340 error 4 in libtorch_cuda.so[7f8e10000000+12a34000]
[2023-10-27T14:22:01.443Z] torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 12.50 GiB (GPU 0; 23.65 GiB total capacity; 18.21 GiB already allocated; 4.12 GiB free; 19.00 GiB reserved in total by PyTorch) If reserved memory is >> allocated memory try setting max_split_size_mb to avoid fragmentation.
[2023-10-27T14:22:01.445Z] Terminated: 15 (SIGTERM)
[2023-10-27T14:22:01.446Z] Environment: Ubuntu 22.04.3 LTS, Python 3.10.12, PyTorch 2.0.1+cu118, NVIDIA-SMI 535.104.05, Driver 535.104.05, CUDA 12.1, Hardware: 1x RTX 3090 (24GB), 64GB DDR4 RAM, i9-12900K.
";

#[test]
fn rtx3090_crash_log_diagnoses() {
    let r = triage_reader(CRASH_LOG.as_bytes(), "crash.log", &TriageOptions::default()).unwrap();
    let codes: Vec<&str> = r.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["LOG003", "LOG001", "LOG004"]);

    let seg = &r.findings[0];
    assert_eq!(seg.data["offset"], "0x2a34b12");
    assert!(seg.message.contains("NULL pointer dereference"));
    assert!(seg.message.contains("user-mode read"));

    let oom = &r.findings[1];
    assert_eq!(oom.code, "LOG001", "capacity, not fragmentation");
    let gib = |k: &str| oom.data[k].as_u64().unwrap() as f64 / (1u64 << 30) as f64;
    assert!((gib("shortfall_bytes") - 7.59).abs() < 0.01);
    assert!((gib("reserved_unallocated_bytes") - 0.79).abs() < 0.01);
    assert!((gib("obtainable_bytes") - 4.91).abs() < 0.01);

    let term = &r.findings[2];
    assert_eq!(term.data["signal"], 15);
    assert_eq!(
        term.data["after_line"], 2,
        "the SIGTERM is linked to the OOM before it"
    );

    let ctx: Vec<(String, String)> = r
        .context
        .iter()
        .map(|c| (c.key.clone(), c.value.clone()))
        .collect();
    insta::assert_debug_snapshot!("crash_log_context", ctx);
    insta::assert_snapshot!(
        "crash_log_findings",
        serde_json::to_string_pretty(&r.findings).unwrap()
    );
}
