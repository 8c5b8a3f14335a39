//! The HTTP client of the auth side: reqwest with rustls (ring, webpki
//! roots), adapted to the `oauth2` crate's [`oauth2::AsyncHttpClient`] and
//! offering the one plain call the rest needs: a JSON POST, for the
//! device-code endpoints and the token refresh.
//!
//! Like the upstream client (`codex::client`, which says why reqwest and not
//! awc), it goes through `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY`, or through
//! the proxy given with [`HttpClient::with_proxy`]. Calls need a Tokio
//! runtime (actix's is one).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::net::in_words;

/// Largest answer read from an auth endpoint.
const BODY_LIMIT: usize = 1 << 20;
/// Time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes HTTP(S) calls; `Send + Sync`, cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    http: reqwest::Client,
}

/// An HTTP call that did not produce an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("cannot build the request: {0}")]
    Request(String),
    #[error("no answer from {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("the answer from {url} could not be read: {message}")]
    Body { url: String, message: String },
}

/// A status and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpClient {
    /// A client whose calls give up after `timeout` (connect to last byte),
    /// through `proxy` (the `proxy` setting) when given, else through the
    /// environment's proxy if any.
    pub fn with_proxy(timeout: Duration, proxy: Option<&str>) -> Self {
        let builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config())
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Auth calls are minutes to an hour apart: an idle connection kept
            // for the next one is by then closed by the server, and a call
            // made just as the server closes it fails (the refresh timer's
            // first retry, 5 s after a failure, met the mock's 5 s keep-alive
            // in one test run in ten). A fresh connection per call costs
            // nothing that matters here.
            .pool_max_idle_per_host(0);
        let http = crate::net::proxy(builder, proxy)
            .build()
            .unwrap_or_else(|err| panic!("the auth HTTP client cannot be built: {err}"));
        HttpClient { http }
    }

    /// Send a request built by the `oauth2` crate.
    pub async fn execute(&self, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, HttpError> {
        let url = request.uri().to_string();
        let request = reqwest::Request::try_from(request).map_err(|e| HttpError::Request(in_words(&e)))?;
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| HttpError::Unreachable { url: url.clone(), message: in_words(&e) })?;
        let mut answer = oauth2::http::Response::builder().status(response.status().as_u16());
        for (name, value) in response.headers() {
            answer = answer.header(name.as_str(), value.as_bytes());
        }
        let body = read_limited(&url, response).await?;
        answer.body(body).map_err(|e| HttpError::Body { url, message: e.to_string() })
    }

    /// POST a JSON body.
    pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<Answer, HttpError> {
        let body = serde_json::to_vec(body).map_err(|e| HttpError::Request(e.to_string()))?;
        let request = self
            .http
            .post(url)
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .body(body);
        let response =
            request.send().await.map_err(|e| HttpError::Unreachable { url: url.to_string(), message: in_words(&e) })?;
        let status = response.status().as_u16();
        Ok(Answer { status, body: read_limited(url, response).await? })
    }
}

/// Read an answer's body, at most [`BODY_LIMIT`] bytes.
async fn read_limited(url: &str, mut response: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let chunk =
            response.chunk().await.map_err(|e| HttpError::Body { url: url.to_string(), message: in_words(&e) })?;
        let Some(chunk) = chunk else { return Ok(body) };
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(HttpError::Body { url: url.to_string(), message: format!("larger than {BODY_LIMIT} bytes") });
        }
        body.extend_from_slice(&chunk);
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.execute(request))
    }
}

/// rustls with the ring provider and the Mozilla roots shipped in webpki-roots.
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable_tls_defaults())
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// ring supports every default protocol version; this can only happen if
/// rustls changes its defaults incompatibly, a build-time bug.
#[cold]
fn unreachable_tls_defaults() -> ! {
    panic!("rustls' ring provider rejected its own default protocol versions")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The login's calls go through the proxy they are given: a loopback
    /// "proxy" records the request line and answers itself.
    #[tokio::test]
    async fn calls_go_through_the_given_proxy() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = format!("http://{}", listener.local_addr().unwrap());
        let seen = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap() == 1 {
                head.push(byte[0]);
            }
            socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await.unwrap();
            String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned()
        });
        let client = HttpClient::with_proxy(Duration::from_secs(10), Some(&proxy));
        // Nothing listens there: only the proxy can answer.
        let answer = client.post_json("http://auth.invalid/oauth/token", &serde_json::json!({})).await.unwrap();
        assert_eq!((answer.status, answer.body.as_slice()), (200, b"{}".as_slice()));
        assert_eq!(seen.await.unwrap(), "POST http://auth.invalid/oauth/token HTTP/1.1");
    }
}
