//! Arbitrary bytes as an upstream SSE body, cut into arbitrary chunks: the
//! translation must be a valid Anthropic stream, whatever the chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| codexd_fuzz::check_sse(data));
