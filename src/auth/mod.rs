//! Login, token store and refresh: everything that turns a ChatGPT sign-in
//! into the Bearer token and account id each upstream request needs.
//!
//! - [`Auth`] (`manager.rs`): what the server uses — credentials, single-flight
//!   refresh, the refresh timer.
//! - `tokens.rs` / `store.rs`: the `tokens.json` record and its locked, atomic file.
//! - `oauth.rs` / `http.rs`: the issuer's endpoints through the `oauth2` crate on awc.
//! - `claims.rs`: identity and expiry out of the JWTs.
//! - [`commands`]: `codexd login`, `logout`, `status`.

mod claims;
pub mod commands;
mod error;
mod http;
mod manager;
mod oauth;
mod store;
mod tokens;

pub use error::AuthError;
pub use manager::Auth;
pub use tokens::Credentials;
