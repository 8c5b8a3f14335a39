//! The Anthropic Messages API as codexd serves it: wire types mirrored with
//! serde, and the error type every client-facing failure becomes.
//!
//! - [`request`]: what clients send to `POST /v1/messages`.
//! - [`response`]: the message we answer with, and the streaming events.
//! - [`sse`]: encoding of streaming events as `event:`/`data:` frames.
//! - [`error`]: [`ApiError`], the one error type clients ever see.

pub mod error;
pub mod request;
pub mod response;
pub mod sse;

pub use error::{ApiError, ErrorKind};
