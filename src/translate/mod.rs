//! Pure functions between the two protocols: no I/O, no clock, no globals.
//!
//! - [`model`]: Claude model name → Codex model and reasoning effort.
//! - [`schema`]: tool JSON-schema normalisation.
//! - [`request`]: Anthropic request → Codex request.
//! - [`stream`]: Codex events → Anthropic events, one state machine.
//! - [`response`]: Anthropic events → one aggregated Anthropic message.

pub mod model;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;
