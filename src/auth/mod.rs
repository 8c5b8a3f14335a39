//! Login, token store and refresh: everything that turns a ChatGPT sign-in
//! into the Bearer token and account id each upstream request needs.

mod claims;
pub mod commands;
mod store;
mod tokens;
mod http;
mod oauth;
