//! The HTTP client of the auth side: awc with rustls (ring, webpki roots),
//! adapted to the `oauth2` crate's [`oauth2::AsyncHttpClient`] and offering
//! the one plain call the rest needs: a JSON POST, for the device-code
//! endpoints and the token refresh.
//!
//! awc's `Client` is `!Send`, so [`HttpClient`] keeps only the (shareable)
//! TLS configuration and builds a client per call — cheap, and auth calls are
//! rare. Calls must run on an actix runtime, like every awc call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use awc::http::header::{HeaderName, HeaderValue};
use awc::http::Method;

/// Largest answer read from an auth endpoint.
const BODY_LIMIT: usize = 1 << 20;
/// Time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes HTTP(S) calls; `Send + Sync`, cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
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
    /// A client whose calls give up after `timeout` (connect to last byte).
    pub fn new(timeout: Duration) -> Self {
        HttpClient { tls: Arc::new(tls_config()), timeout }
    }

    fn client(&self) -> awc::Client {
        let connector = awc::Connector::new().rustls_0_23(self.tls.clone()).timeout(CONNECT_TIMEOUT.min(self.timeout));
        awc::Client::builder().connector(connector).timeout(self.timeout).disable_redirects().finish()
    }

    /// Send a request built by the `oauth2` crate.
    pub async fn execute(&self, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, HttpError> {
        let url = request.uri().to_string();
        let method =
            Method::from_bytes(request.method().as_str().as_bytes()).map_err(|e| HttpError::Request(e.to_string()))?;
        let mut outgoing = self.client().request(method, url.as_str());
        for (name, value) in request.headers() {
            let name =
                HeaderName::from_bytes(name.as_str().as_bytes()).map_err(|e| HttpError::Request(e.to_string()))?;
            let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|e| HttpError::Request(e.to_string()))?;
            outgoing = outgoing.insert_header((name, value));
        }
        let mut response = outgoing
            .send_body(request.into_body())
            .await
            .map_err(|e| HttpError::Unreachable { url: url.clone(), message: e.to_string() })?;

        let mut answer = oauth2::http::Response::builder().status(response.status().as_u16());
        for (name, value) in response.headers() {
            answer = answer.header(name.as_str(), value.as_bytes());
        }
        let body = response
            .body()
            .limit(BODY_LIMIT)
            .await
            .map_err(|e| HttpError::Body { url: url.clone(), message: e.to_string() })?;
        answer.body(body.to_vec()).map_err(|e| HttpError::Body { url, message: e.to_string() })
    }

    /// POST a JSON body.
    pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<Answer, HttpError> {
        let request = self.client().post(url).insert_header(("accept", "application/json"));
        let response = request.send_json(body).await;
        Self::read(url, response).await
    }

    async fn read<S>(
        url: &str,
        response: Result<awc::ClientResponse<S>, awc::error::SendRequestError>,
    ) -> Result<Answer, HttpError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
    {
        let mut response =
            response.map_err(|e| HttpError::Unreachable { url: url.to_string(), message: e.to_string() })?;
        let body = response
            .body()
            .limit(BODY_LIMIT)
            .await
            .map_err(|e| HttpError::Body { url: url.to_string(), message: e.to_string() })?;
        Ok(Answer { status: response.status().as_u16(), body: body.to_vec() })
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
