#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = everybyte_env::elf::parse(data);
    if let Ok(s) = everybyte_env::symbols::parse_bytes(data) {
        for name in ["malloc", "PyInit__C", ""] {
            let _ = s.defines(name);
        }
    }
    let _ = everybyte_env::ldcache::LdCache::parse(data);
});
