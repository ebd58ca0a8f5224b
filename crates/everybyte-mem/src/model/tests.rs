//! Model sizing from each kind of input, and its errors in the words the command prints.

use super::*;

fn configs() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/fixtures/configs")
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("everybyte-mem-model-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn params_win_and_are_checked() {
    let s = model_shape(None, Some("7B"), 2.0).unwrap();
    assert_eq!(s.params, 7_000_000_000);
    let e = model_shape(None, Some("lots"), 2.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--params lots: expected a count such as 7B, 1.3B or 350M"
    );
    let e = model_shape(None, None, 2.0).unwrap_err();
    assert_eq!(e.to_string(), "give --model FILE or --params N");
}

#[test]
fn a_config_counts_its_parameters() {
    let s = model_shape(Some(&configs().join("gpt2.json")), None, 2.0).unwrap();
    assert_eq!(s.params, 124_439_808);
    let dir = tmp("config");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"model_type\": \"gpt2\"}").unwrap();
    let e = model_shape(Some(&bad), None, 2.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: config has no hidden_size / n_embd", bad.display())
    );
    let not_json = dir.join("x.json");
    std::fs::write(&not_json, "hello").unwrap();
    let e = model_shape(Some(&not_json), None, 2.0).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: not JSON", not_json.display()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn safetensors_count_their_tensors_with_the_config_beside() {
    let dir = tmp("st");
    let header = r#"{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[4],"data_offsets":[12,28]},"__metadata__":{"format":"pt"}}"#;
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.resize(file.len() + 28, 0);
    let st = dir.join("model.safetensors");
    std::fs::write(&st, &file).unwrap();
    std::fs::copy(configs().join("gpt2.json"), dir.join("config.json")).unwrap();
    let s = model_shape(Some(&st), None, 2.0).unwrap();
    assert_eq!(s.params, 10);
    assert_eq!(s.layers, Some(12));

    let short = dir.join("short.safetensors");
    std::fs::write(&short, b"abc").unwrap();
    let e = model_shape(Some(&short), None, 2.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: not a safetensors file: shorter than 8 bytes",
            short.display()
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_sharded_index_gives_its_total_over_the_dtype() {
    let dir = tmp("index");
    let idx = dir.join("model.safetensors.index.json");
    std::fs::write(&idx, r#"{"metadata":{"total_size":1000},"weight_map":{}}"#).unwrap();
    let s = model_shape(Some(&idx), None, 2.0).unwrap();
    assert_eq!(s.params, 500);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_broken_onnx_model_says_why() {
    let dir = tmp("onnx");
    let broken = dir.join("broken.onnx");
    std::fs::write(&broken, b"\x3a\x7f\x2a").unwrap();
    let e = model_shape(Some(&broken), None, 4.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: field 7 of 127 bytes runs past the end (truncated)",
            broken.display()
        )
    );
    let onnx = Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/fixtures/onnx/mul_1.onnx");
    assert_eq!(model_shape(Some(&onnx), None, 4.0).unwrap().params, 6);
    let _ = std::fs::remove_dir_all(dir);
}
