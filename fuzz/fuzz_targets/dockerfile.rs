#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = everybyte_env::image::check_dockerfile("Dockerfile", &text);
});
