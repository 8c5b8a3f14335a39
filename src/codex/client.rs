//! The upstream client: posts a Responses request to
//! `{codex_base_url}/codex/responses` with the headers the backend expects,
//! hands back the streaming answer, and reads the model catalogue from
//! `{codex_base_url}/codex/models`.
//!
//! The HTTP client is reqwest (hyper), not awc, for two concrete reasons:
//! awc's HTTP/1 decoder (actix-http) reads an answer framed by the
//! connection's end — no `Content-Length`, not chunked, as some proxies send
//! — as empty (actix/actix-web#2287, never fixed), and awc cannot go through
//! a proxy (no CONNECT). reqwest reads every HTTP/1.1 framing and honours
//! `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY` (HTTP CONNECT for https, SOCKS5 too),
//! or the `proxy` setting ([`crate::net::proxy`]). One [`CodexClient`] per server worker.
//! TLS is rustls with the ring provider (the binary's only crypto backend)
//! and the Mozilla root set, so the binary needs no system OpenSSL. Who the client says it is comes from
//! [`identity`](super::identity); the lane adds its header. Cookies the
//! backend sets (Cloudflare's `__cf_bm` and the like) are kept and sent back,
//! as the Codex CLI does. The client knows nothing about tests: only the
//! base URL differs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::codex::catalogue::{Catalogue, CatalogueError};
use crate::codex::error::{map_upstream_error, Failure, Kind, UpstreamFailure};
use crate::codex::identity::{Caller, Identity};
use crate::codex::lane::Lane;
use crate::codex::limits::RateLimits;
use crate::config::Settings;
use crate::net::{in_words, proxy};

/// The streaming answer of a successful request.
pub type UpstreamResponse = reqwest::Response;

/// Largest upstream error body we read to explain a failure.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Largest model catalogue we read (today's is about 100 KiB).
const MAX_CATALOGUE_BODY: usize = 8 * 1024 * 1024;

/// An HTTP answer: the usage windows it reported, and either the stream
/// (2xx) or what the failure means.
pub struct Answer {
    pub limits: Option<RateLimits>,
    pub result: Result<UpstreamResponse, Failure>,
}

/// Why a request never produced an HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("timed out after {} s waiting for the Codex backend", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("cannot reach the Codex backend at {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
}

/// A request that got no answer: a connect error may pass on another try;
/// a timeout used up the time there was.
impl From<SendError> for Failure {
    fn from(err: SendError) -> Self {
        let kind = match err {
            SendError::Timeout(_) => Kind::TimedOut,
            SendError::Connect { .. } => Kind::Unreachable,
        };
        Failure::new(kind, err.to_string())
    }
}

/// Why the model catalogue could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueFetchError {
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("{0}")]
    Refused(Failure),
    #[error("cannot read the answer: {0}")]
    Body(String),
    #[error(transparent)]
    Unusable(#[from] CatalogueError),
}

pub struct CodexClient {
    http: reqwest::Client,
    base_url: String,
    endpoint: String,
    client_version: String,
    /// Made by the first request, not by [`CodexClient::new`]: the server
    /// builds one client per worker before it accepts a connection, and the
    /// OS part of the User-Agent takes a blocking read (`identity::platform`).
    identity: tokio::sync::OnceCell<Identity>,
    timeout: Duration,
    cookies: CookieJar,
}

impl CodexClient {
    pub fn new(settings: &Settings) -> Self {
        let builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config())
            .connect_timeout(settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::none());
        let http = proxy(builder, settings.proxy.as_deref())
            .build()
            .unwrap_or_else(|err| panic!("the upstream HTTP client cannot be built: {err}"));
        CodexClient {
            http,
            base_url: settings.codex_base_url.clone(),
            endpoint: format!("{}/codex/responses", settings.codex_base_url),
            client_version: settings.client_version.clone(),
            identity: tokio::sync::OnceCell::new(),
            timeout: settings.request_timeout,
            cookies: CookieJar::default(),
        }
    }

    /// Who this client says it is.
    pub async fn identity(&self) -> &Identity {
        self.identity.get_or_init(|| Identity::new(&self.client_version)).await
    }

    /// POST the (already serialised) request body in `lane`'s shape,
    /// waiting at most `wait` for the answer's headers (what is left of the
    /// client request's deadline). A non-2xx answer becomes a [`Failure`];
    /// a 2xx carries the SSE stream.
    pub async fn send(&self, body: Bytes, caller: Caller<'_>, lane: Lane, wait: Duration) -> Result<Answer, SendError> {
        let wait = wait.min(self.timeout);
        let identity = self.identity().await;
        let mut request = self
            .http
            .post(&self.endpoint)
            .header("accept", "text/event-stream")
            .header("content-type", "application/json");
        for (name, value) in identity.headers(caller) {
            request = request.header(name, value);
        }
        for &(name, value) in lane.headers() {
            request = request.header(name, value);
        }
        if let Some(cookie) = self.cookies.header() {
            request = request.header("cookie", cookie);
        }
        // The wait covers the headers only: the body streams for as long as
        // the answer takes (the server watches its silences).
        let response = match tokio::time::timeout(wait, request.body(body).send()).await {
            Ok(sent) => sent.map_err(|err| send_error(&err, &self.endpoint))?,
            Err(_) => return Err(SendError::Timeout(wait)),
        };
        self.cookies.keep(response.headers());
        let now = chrono::Utc::now();
        let limits = RateLimits::from_headers(|name| response.headers().get(name).and_then(|v| v.to_str().ok()), now);
        let result = if response.status().is_success() {
            Ok(response)
        } else {
            Err(identity.explain_refusal(error_from(response).await))
        };
        Ok(Answer { limits, result })
    }

    /// The account's model catalogue for this client's version.
    pub async fn fetch_catalogue(&self, caller: Caller<'_>) -> Result<Catalogue, CatalogueFetchError> {
        let body = self.fetch_models(caller).await?;
        Ok(Catalogue::from_answer(&body, chrono::Utc::now())?)
    }

    /// GET the account's model catalogue for this client's version: the
    /// raw `{"models":[…]}` answer.
    pub async fn fetch_models(&self, caller: Caller<'_>) -> Result<Bytes, CatalogueFetchError> {
        let identity = self.identity().await;
        let url = format!("{}/codex/models?client_version={}", self.base_url, identity.version);
        let mut request = self.http.get(&url).header("accept", "application/json");
        for (name, value) in identity.headers(caller) {
            request = request.header(name, value);
        }
        if let Some(cookie) = self.cookies.header() {
            request = request.header("cookie", cookie);
        }
        let response = match tokio::time::timeout(self.timeout, request.send()).await {
            Ok(sent) => sent.map_err(|err| send_error(&err, &url))?,
            Err(_) => return Err(SendError::Timeout(self.timeout).into()),
        };
        self.cookies.keep(response.headers());
        if !response.status().is_success() {
            return Err(CatalogueFetchError::Refused(error_from(response).await));
        }
        read_limited(response, MAX_CATALOGUE_BODY).await.map_err(CatalogueFetchError::Body)
    }
}

fn send_error(err: &reqwest::Error, endpoint: &str) -> SendError {
    SendError::Connect { endpoint: endpoint.to_owned(), reason: in_words(err) }
}

/// Read a body, at most `limit` bytes.
async fn read_limited(mut response: UpstreamResponse, limit: usize) -> Result<Bytes, String> {
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| in_words(&err))? {
        if body.len() + chunk.len() > limit {
            return Err(format!("the answer is larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The body of an answer, its failures in words with their causes (never
/// Rust `Debug` output such as `Some(Os { code: 104, … })`).
pub fn body_of(response: UpstreamResponse) -> impl futures_util::Stream<Item = Result<Bytes, String>> + Unpin {
    futures_util::StreamExt::map(response.bytes_stream(), |chunk| chunk.map_err(|err| in_words(&err)))
}

/// Cookies the backend set, sent back with later requests (its Cloudflare
/// front end sets `__cf_bm` and expects it back). Names and values only:
/// every request goes to the one backend. Bounded, newest kept.
#[derive(Default)]
struct CookieJar(Mutex<BTreeMap<String, String>>);

/// Cookies kept at most.
const MAX_COOKIES: usize = 32;

impl CookieJar {
    fn keep(&self, headers: &reqwest::header::HeaderMap) {
        let mut jar = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for value in headers.get_all("set-cookie").into_iter().filter_map(|v| v.to_str().ok()) {
            let Ok(cookie) = cookie::Cookie::parse(value) else { continue };
            let expired =
                cookie.max_age().is_some_and(|age| age.is_zero() || age.is_negative()) || cookie.value().is_empty();
            if expired {
                jar.remove(cookie.name());
            } else if jar.len() < MAX_COOKIES || jar.contains_key(cookie.name()) {
                jar.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
    }

    /// The `Cookie` header to send, if any cookie is kept.
    fn header(&self) -> Option<String> {
        let jar = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (!jar.is_empty())
            .then(|| jar.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; "))
    }
}

/// Read a failed answer (bounded) and say what it means.
async fn error_from(response: UpstreamResponse) -> Failure {
    let status = response.status().as_u16();
    // Copied out: reading the body needs the response to itself. The names
    // of the limit headers depend on the family that tripped, so all go.
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    let body = read_limited(response, MAX_ERROR_BODY).await.unwrap_or_default();
    let failure = UpstreamFailure { status, headers: &headers, body: &body };
    map_upstream_error(&failure, chrono::Utc::now())
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
    fn the_cookie_jar_keeps_what_the_backend_sets_and_forgets_what_it_expires() {
        use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
        let jar = CookieJar::default();
        assert_eq!(jar.header(), None);
        let set = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(HeaderName::from_static("set-cookie"), HeaderValue::from_str(v).unwrap());
            }
            headers
        };
        jar.keep(&set(&["__cf_bm=abc; Path=/; HttpOnly; Secure", "_cfuvid=xyz; Path=/", "not a cookie"]));
        assert_eq!(jar.header().as_deref(), Some("__cf_bm=abc; _cfuvid=xyz"));
        jar.keep(&set(&["__cf_bm=new", "_cfuvid=; Max-Age=0"]));
        assert_eq!(jar.header().as_deref(), Some("__cf_bm=new"));
        let many: Vec<String> = (0..100).map(|i| format!("c{i}=v")).collect();
        jar.keep(&set(&many.iter().map(String::as_str).collect::<Vec<_>>()));
        assert_eq!(jar.0.lock().unwrap().len(), MAX_COOKIES);
    }

    #[test]
    fn tls_config_builds_with_roots_and_alpn() {
        let config = tls_config();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    }
}
