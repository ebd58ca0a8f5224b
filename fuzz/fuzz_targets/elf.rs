#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = everybyte_env::elf::parse(data);
    let _ = everybyte_env::ldcache::LdCache::parse(data);
});
