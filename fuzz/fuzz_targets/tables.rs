#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = everybyte_data::table::scan(data, b',');
    let _ = everybyte_data::table::scan(data, b'\t');
    let _ = everybyte_data::table::scan_jsonl(data);
});
