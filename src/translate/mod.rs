//! Pure functions between the two protocols: no I/O, no clock, no globals.
//!
//! - [`failure`]: an upstream failure → the client's error, in one place.
//! - [`model`]: Claude model name → Codex model and reasoning effort.
//! - [`schema`]: tool JSON-schema normalisation.
//! - [`request`]: Anthropic request → Codex request.
//! - [`names`]: tool names the backend accepts, and the way back.
//! - [`stream`]: Codex events → Anthropic events, one state machine.
//! - [`response`]: Anthropic events → one aggregated Anthropic message.

/// Marks a thinking block's `signature` as ours: the rest of it is the
/// upstream reasoning item's `encrypted_content`. The stream side writes it
/// (`translate::stream`), the request side reads it back to replay the
/// reasoning (`translate::request`); a signature without it is foreign and
/// dropped.
pub const SIGNATURE_PREFIX: &str = "codexd.v1.";

pub mod failure;
pub mod model;
pub mod names;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;
