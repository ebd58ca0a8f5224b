#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let opts = everybyte_core::config::TriageOptions::default();
    let _ = everybyte_triage::triage_reader(data, "fuzz.log", &opts);
});
