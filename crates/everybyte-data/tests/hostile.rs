//! Arbitrary bytes into every data parser: errors or findings, never a panic.

use everybyte_core::rng::Rng;
use everybyte_data::{array, image, table};

#[test]
fn random_and_mutated_inputs_never_panic() {
    let mut rng = Rng::new(0x1234_5678_9abc_def1);
    let seeds: [&[u8]; 6] = [
        b"a,b,\"c\"\n1,2,3\n\"x\ny\",NaN,inf\r\n",
        b"{\"a\": NaN, \"b\": \"x\"}\n{\"a\": [1, 2]}\n",
        b"\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n",
        b"\x20\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xc0\x00\x0b\x08\x00\x04\x00\x06\x01\x01\x11\x00\xff\xda\x00\x08\x01\x01\x00\x00?\x00\x12\xff\xd9",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03\x08\x02\x00\x00\x00",
    ];
    for round in 0..3000 {
        let seed = seeds[round % seeds.len()];
        let mut input = seed.to_vec();
        for _ in 0..(rng.next_u64() % 6) {
            match rng.next_u64() % 3 {
                0 if !input.is_empty() => {
                    let at = (rng.next_u64() as usize) % input.len();
                    input[at] = (rng.next_u64() & 0xff) as u8;
                }
                1 => {
                    let n = (rng.next_u64() % 16) as usize;
                    let extra = rng.bytes(n);
                    let at = (rng.next_u64() as usize) % (input.len() + 1);
                    input.splice(at..at, extra);
                }
                _ => {
                    let keep = (rng.next_u64() as usize) % (input.len() + 1);
                    input.truncate(keep);
                }
            }
        }
        let _ = table::scan(&input[..], b',');
        let _ = table::scan(&input[..], b'\t');
        let _ = table::scan_jsonl(&input[..]);
        let _ = array::npy_header(&input, input.len() as u64);
        let _ = everybyte_core::safetensors::parse_header(&input, input.len() as u64);
        let _ = (
            image::jpeg(&input),
            image::png(&input),
            image::gif(&input),
            image::webp(&input),
            image::bmp(&input),
        );
        let n = (rng.next_u64() % 200) as usize;
        let random = rng.bytes(n);
        let _ = table::scan(&random[..], b',');
        let _ = everybyte_core::safetensors::parse_header(&random, random.len() as u64);
    }
}
