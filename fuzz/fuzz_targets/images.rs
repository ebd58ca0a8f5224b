#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use everybyte_data::image;
    let _ = image::jpeg(data);
    let _ = image::png(data);
    let _ = image::gif(data);
    let _ = image::webp(data);
    let _ = image::bmp(data);
});
