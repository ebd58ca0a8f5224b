#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = everybyte_env::python::dist::parse_headers(&text);
    let _ = everybyte_env::python::dist::parse_record(&text);
    for line in text.lines() {
        let _ = everybyte_env::python::requirement::Requirement::parse(line);
        let _ = everybyte_env::python::version::SpecifierSet::parse(line);
        let _ = everybyte_env::python::marker::Marker::parse(line);
    }
});
