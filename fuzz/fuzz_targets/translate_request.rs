//! Arbitrary bytes as a `POST /v1/messages` body: parsing and translation
//! must end in a clean 400 or in a request the Codex backend accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| codexd_fuzz::check_request(data));
