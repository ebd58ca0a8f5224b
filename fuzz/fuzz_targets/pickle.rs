#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = everybyte_mem::pickle::read_pickle(data);
    let _ = everybyte_mem::snapshot::read_snapshot(data);
    let _ = everybyte_repro::torchzip::read_checkpoint(data);
});
