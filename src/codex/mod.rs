//! The ChatGPT Codex backend: its wire types, SSE decoding and the upstream client.
//!
//! - [`request`]: the Responses API request body we send.
//! - [`events`]: the streaming events it answers with.
//! - [`sse`]: bytes → [`events::CodexEvent`]s.
//! - [`limits`]: the usage windows reported in response headers.
//! - [`client`]: the reqwest client that posts to `{base}/codex/responses` and
//!   reads `{base}/codex/models`.
//! - [`identity`]: the client identity headers (the Codex CLI's), in one place.
//! - [`catalogue`]: the live model catalogue: retired models, lanes, efforts.
//! - [`lane`]: the request shape per lane (Responses, Responses Lite).
//!
//! Everything that depends on what today's backend accepts lives here, so
//! that translation need not change when the backend does.

pub mod catalogue;
pub mod client;
pub mod error;
pub mod events;
pub mod identity;
pub mod lane;
pub mod limits;
pub mod request;
pub mod sse;
