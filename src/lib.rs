//! codexd: a local daemon that serves the Anthropic Messages API and answers
//! through the ChatGPT Codex backend.
//!
//! Data flows one way (see README "Architecture"):
//! `cli` → `config` → `server` → `translate` → `codex` (upstream client) → `auth`.

pub mod anthropic;
pub mod auth;
pub mod cli;
pub mod codex;
pub mod config;
pub mod doctor;
pub mod json;
pub mod logging;
pub mod memo;
pub mod models;
pub mod net;
pub mod server;
pub mod service;
pub mod shell;
pub mod tokens;
pub mod translate;
