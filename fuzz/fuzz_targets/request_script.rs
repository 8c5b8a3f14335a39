//! Structured Messages requests (every block type, colliding tool-call ids,
//! odd schemas, every tool choice and thinking setting): translation must
//! end in a clean 400 or in a request the Codex backend accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|conversation: codexd_fuzz::conversation::Conversation| codexd_fuzz::check_conversation(&conversation));
