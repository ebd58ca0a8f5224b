#![no_main]
// Lock files are read by path: each input is written under the names that select each format.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("everybyte-fuzz-lock-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    for name in ["uv.lock", "poetry.lock", "pylock.toml", "requirements.txt", "Pipfile.lock"] {
        let p = dir.join(name);
        if std::fs::write(&p, data).is_ok() {
            let _ = everybyte_env::python::lock::read_lock(&p, None);
            let _ = everybyte_env::python::lock::parse_requirements(&p);
            let _ = everybyte_env::python::lock::check_requirements_file(&p, name);
        }
    }
});
