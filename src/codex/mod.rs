//! The ChatGPT Codex backend: its wire types, SSE decoding and the upstream client.
//!
//! - [`request`]: the Responses API request body we send.
//! - [`events`]: the streaming events it answers with.
//! - [`sse`]: bytes → [`events::CodexEvent`]s.
//! - [`limits`]: the usage windows reported in response headers.
//! - [`client`]: the awc client that posts to `{base}/codex/responses`.

pub mod client;
pub mod error;
pub mod events;
pub mod limits;
pub mod request;
pub mod sse;
