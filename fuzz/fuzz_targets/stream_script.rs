//! Structured sequences of Codex events (any order, any slot, broken
//! arguments, early ends): the translation must be a valid Anthropic stream.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|script: codexd_fuzz::script::Script| codexd_fuzz::check_script(&script));
