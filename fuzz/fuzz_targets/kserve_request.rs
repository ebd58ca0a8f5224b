#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // REST: the first byte picks where the JSON header ends (the binary extension).
    if let Some((&split, body)) = data.split_first() {
        let header = (split as usize).min(body.len());
        let _ = everybyte_serve::http::parse_request(&bytes::Bytes::copy_from_slice(body), Some(header), 1 << 20);
        let _ = everybyte_serve::http::parse_request(&bytes::Bytes::copy_from_slice(body), None, 1 << 20);
    }
    // gRPC: any bytes as a ModelInferRequest message.
    if let Ok(req) = <everybyte_serve::proto::ModelInferRequest as prost::Message>::decode(data) {
        let _ = everybyte_serve::grpc::decode(req, 1 << 20);
    }
});
