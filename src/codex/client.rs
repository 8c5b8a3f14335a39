//! The upstream client: posts a Responses request to
//! `{codex_base_url}/codex/responses` with the headers the backend expects,
//! and hands back the streaming answer.
//!
//! One [`CodexClient`] per server worker (awc clients are `!Send`). TLS is
//! rustls with the ring provider and the Mozilla root set, so the binary
//! needs no system OpenSSL. The client knows nothing about tests: only the
//! base URL differs.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use bytes::Bytes;

use crate::anthropic::ApiError;
use crate::codex::error::{map_upstream_error, UpstreamFailure};
use crate::codex::limits::RateLimits;
use crate::config::Settings;

/// The streaming answer of a successful request.
pub type UpstreamResponse = awc::ClientResponse;

/// Largest upstream error body we read to explain a failure.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// `originator` header value: the backend checks for a known originator.
const ORIGINATOR: &str = "codex_cli_rs";

/// An HTTP answer: the usage windows it reported, and either the stream
/// (2xx) or the client's error.
pub struct Answer {
    pub limits: Option<RateLimits>,
    pub result: Result<UpstreamResponse, ApiError>,
}

/// What identifies the caller upstream, besides the body.
#[derive(Clone, Copy)]
pub struct CallContext<'a> {
    pub access_token: &'a str,
    pub account_id: Option<&'a str>,
    /// Same value as the body's `prompt_cache_key`.
    pub session_id: &'a str,
}

/// Why a request never produced an HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("timed out after {0:?} waiting for the Codex backend")]
    Timeout(Duration),
    #[error("cannot reach the Codex backend at {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
}

impl From<SendError> for ApiError {
    fn from(err: SendError) -> Self {
        ApiError::api(err.to_string()).with_status(StatusCode::BAD_GATEWAY.as_u16())
    }
}

pub struct CodexClient {
    http: awc::Client,
    endpoint: String,
    user_agent: String,
    timeout: Duration,
}

impl CodexClient {
    pub fn new(settings: &Settings) -> Self {
        let connector = awc::Connector::new()
            .rustls_0_23(Arc::new(tls_config()))
            .timeout(settings.connect_timeout)
            .limit(settings.max_concurrent_requests);
        let http =
            awc::Client::builder().connector(connector).timeout(settings.request_timeout).disable_redirects().finish();
        CodexClient {
            http,
            endpoint: format!("{}/codex/responses", settings.codex_base_url),
            user_agent: user_agent(),
            timeout: settings.request_timeout,
        }
    }

    /// POST the (already serialised) request body. A non-2xx answer becomes
    /// the matching client error; a 2xx carries the SSE stream.
    pub async fn send(&self, body: Bytes, ctx: CallContext<'_>) -> Result<Answer, SendError> {
        let mut request = self
            .http
            .post(&self.endpoint)
            .insert_header(("authorization", format!("Bearer {}", ctx.access_token)))
            .insert_header(("openai-beta", "responses=experimental"))
            .insert_header(("originator", ORIGINATOR))
            .insert_header(("session_id", ctx.session_id))
            .insert_header(("accept", "text/event-stream"))
            .insert_header(("content-type", "application/json"))
            .insert_header(("user-agent", self.user_agent.as_str()));
        if let Some(account) = ctx.account_id {
            request = request.insert_header(("chatgpt-account-id", account));
        }
        let response = request.send_body(body).await.map_err(|err| match err {
            awc::error::SendRequestError::Timeout => SendError::Timeout(self.timeout),
            other => SendError::Connect { endpoint: self.endpoint.clone(), reason: other.to_string() },
        })?;
        let now = chrono::Utc::now();
        let limits = RateLimits::from_headers(|name| response.headers().get(name).and_then(|v| v.to_str().ok()), now);
        let result = if response.status().is_success() { Ok(response) } else { Err(error_from(response).await) };
        Ok(Answer { limits, result })
    }
}

/// Read a failed answer (bounded) and turn it into the client's error.
async fn error_from(mut response: UpstreamResponse) -> ApiError {
    let status = response.status().as_u16();
    // Copied out: reading the body needs the response to itself. The names
    // of the limit headers depend on the family that tripped, so all go.
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    let body = response.body().limit(MAX_ERROR_BODY).await.unwrap_or_default();
    let failure = UpstreamFailure { status, headers: &headers, body: &body };
    map_upstream_error(&failure, chrono::Utc::now())
}

/// `codexd/0.1.0 (Linux; x86_64)`.
pub fn user_agent() -> String {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS",
        "windows" => "Windows",
        other => other,
    };
    format!("codexd/{} ({os}; {})", env!("CARGO_PKG_VERSION"), std::env::consts::ARCH)
}

fn tls_config() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("ring supports the default TLS versions"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_names_codexd_and_version() {
        let ua = user_agent();
        assert!(ua.starts_with(&format!("codexd/{} (", env!("CARGO_PKG_VERSION"))), "{ua}");
    }

    #[test]
    fn tls_config_builds_with_roots_and_alpn() {
        let config = tls_config();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    }
}
