#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = everybyte_data::array::npy_header(data, data.len() as u64);
    let _ = everybyte_core::safetensors::parse_header(data, data.len() as u64);
});
