//! Login, token store and refresh: everything that turns a ChatGPT sign-in
//! into the Bearer token and account id each upstream request needs.
//!
//! - [`Auth`] (`manager.rs`): what the server uses — credentials, single-flight
//!   refresh, the refresh timer.
//! - `tokens.rs` / `store.rs`: the `tokens.json` record and its locked, atomic file.
//! - `oauth.rs` / `http.rs`: the issuer's endpoints through the `oauth2` crate on reqwest.
//! - `claims.rs`: identity and expiry out of the JWTs.
//! - `login.rs` with `browser.rs` (PKCE on a loopback callback), `device.rs`
//!   (one-time code) and `codex_import.rs` (the Codex CLI's auth.json): the
//!   three ways in.
//! - [`commands`]: `codexd login`, `logout`, `status`.

mod browser;
mod claims;
mod codex_import;
pub mod commands;
mod device;
mod error;
mod http;
mod login;
mod manager;
mod oauth;
mod store;
mod tokens;

pub use error::AuthError;
pub use manager::Auth;
pub use store::{StoreError, TokenStore};
pub use tokens::{Credentials, StoredTokens};
