#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let exp = everybyte_deploy::Expectations { headroom: 1.2, ..Default::default() };
    let _ = everybyte_deploy::lint_manifest("k8s.yaml", &text, &exp);
    let t = everybyte_deploy::patch::Targets { memory_bytes: Some(1 << 30), cold_start: Some(60.0) };
    if let Ok((edits, _)) = everybyte_deploy::patch::plan(&text, &t) {
        let _ = everybyte_deploy::patch::apply(&text, &edits, "k8s.yaml");
    }
});
