#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(samples) = everybyte_mem::gpulog::parse(&text) {
        let _ = everybyte_mem::gpulog::analyze("gpu.csv", &samples, &Default::default());
    }
});
