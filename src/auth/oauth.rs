//! The OAuth side of the ChatGPT login (codex.md §5): the public Codex CLI
//! client, the authorize URL with PKCE S256 and OpenAI's extra parameters,
//! the code exchange (through the `oauth2` crate) and the refresh (a JSON
//! request of its own, see [`OAuth::refresh`]).
//!
//! OpenAI's token endpoint differs from RFC 6749 in three ways handled here:
//! a refresh is a JSON body, answers carry an `id_token` and may omit
//! `token_type` ([`TokenAnswer`]), and errors come either as
//! `{"error":"invalid_grant"}` or as
//! `{"error":{"code":"refresh_token_expired","message":…}}`
//! ([`TokenEndpointError`]).

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use oauth2::basic::{BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken,
    TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::http::{HttpClient, HttpError};
use super::tokens::IssuedTokens;

/// The Codex CLI's public OAuth client.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// Scopes asked for at login: the Codex CLI's (`codex-rs/login/src/server.rs`),
/// connector scopes included, so the tokens are the ones the Codex CLI gets.
pub const LOGIN_SCOPES: [&str; 6] =
    ["openid", "profile", "email", "offline_access", "api.connectors.read", "api.connectors.invoke"];
/// Refresh error codes after which only a new login helps, at any HTTP
/// status (the Codex CLI's `classify_refresh_token_failure`).
const PERMANENT_ERRORS: [&str; 3] = ["refresh_token_expired", "refresh_token_reused", "refresh_token_invalidated"];

type ConfiguredClient = oauth2::Client<
    TokenEndpointError,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The issuer's OAuth endpoints for the Codex client. `Send + Sync`.
#[derive(Clone)]
pub struct OAuth {
    issuer: String,
    token_url: String,
    client: ConfiguredClient,
}

/// A started browser login: the URL to open and what the callback must match.
pub struct Authorization {
    pub url: String,
    pub state: CsrfToken,
    pub verifier: PkceCodeVerifier,
    pub redirect_uri: String,
}

/// Why the token endpoint gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenFailure {
    /// The issuer refused; `permanent` when only a new login helps.
    #[error("the sign-in server refused: {error}")]
    Refused { error: TokenEndpointError, permanent: bool },
    /// No answer (network, timeout).
    #[error("{0}")]
    Unreachable(String),
    /// The issuer refused with an HTTP status and no error it explained.
    #[error("the sign-in server refused (HTTP {status})")]
    RefusedWithoutReason { status: u16, permanent: bool },
    /// An answer that is not a token response.
    #[error("the sign-in server gave an unexpected answer: {0}")]
    BadAnswer(String),
}

impl TokenFailure {
    /// True when retrying cannot help and the user must log in again.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            TokenFailure::Refused { permanent: true, .. } | TokenFailure::RefusedWithoutReason { permanent: true, .. }
        )
    }
}

impl OAuth {
    /// The endpoints under `issuer` (`settings.auth_issuer`, no trailing slash).
    pub fn new(issuer: &str) -> Result<Self, String> {
        let issuer = issuer.trim_end_matches('/').to_string();
        let auth_url =
            AuthUrl::new(format!("{issuer}/oauth/authorize")).map_err(|e| format!("bad auth issuer URL: {e}"))?;
        let token_url =
            TokenUrl::new(format!("{issuer}/oauth/token")).map_err(|e| format!("bad auth issuer URL: {e}"))?;
        let client = oauth2::Client::new(ClientId::new(CLIENT_ID.into()))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(auth_url)
            .set_token_uri(token_url.clone());
        Ok(OAuth { issuer, token_url: token_url.as_str().to_string(), client })
    }

    /// The issuer base URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A new authorize URL with a fresh state and PKCE pair.
    pub fn authorize(&self, redirect_uri: &str) -> Result<Authorization, String> {
        let redirect = RedirectUrl::new(redirect_uri.to_string()).map_err(|e| format!("bad redirect URI: {e}"))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .set_redirect_uri(Cow::Owned(redirect))
            .add_scopes(LOGIN_SCOPES.iter().map(|s| Scope::new(s.to_string())))
            .set_pkce_challenge(challenge)
            .add_extra_param("id_token_add_organizations", "true")
            .add_extra_param("codex_cli_simplified_flow", "true")
            .add_extra_param("originator", "codex_cli_rs")
            .url();
        Ok(Authorization { url: url.to_string(), state, verifier, redirect_uri: redirect_uri.to_string() })
    }

    /// Exchange an authorization code (browser or device flow) for tokens.
    pub async fn exchange_code(
        &self,
        http: &HttpClient,
        code: &str,
        verifier: PkceCodeVerifier,
        redirect_uri: &str,
    ) -> Result<IssuedTokens, TokenFailure> {
        let redirect =
            RedirectUrl::new(redirect_uri.to_string()).map_err(|e| TokenFailure::BadAnswer(e.to_string()))?;
        self.client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(verifier)
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(http)
            .await
            .map(TokenAnswer::into_issued)
            .map_err(classify)
    }

    /// Trade a refresh token for new tokens: `POST {issuer}/oauth/token` with
    /// the JSON body `{"client_id", "grant_type": "refresh_token",
    /// "refresh_token"}` and no scope, exactly what the Codex CLI sends
    /// (`request_chatgpt_token_refresh` in codex-rs/login/src/auth/manager.rs).
    ///
    /// Not through the `oauth2` crate: it only sends form-encoded token
    /// requests, and always would for a refresh. The answer is still read with
    /// the same types as the code exchange's.
    pub async fn refresh(&self, http: &HttpClient, refresh_token: &str) -> Result<IssuedTokens, TokenFailure> {
        let answer = http
            .post_json(&self.token_url, &refresh_body(refresh_token))
            .await
            .map_err(|e| TokenFailure::Unreachable(e.to_string()))?;
        read_refresh_answer(answer.status, &answer.body)
    }
}

/// The refresh request body. No `scope`: the Codex CLI sends none.
fn refresh_body(refresh_token: &str) -> serde_json::Value {
    serde_json::json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": refresh_token})
}

/// Read the token endpoint's answer to a refresh. Never keeps the raw body:
/// a 200 answer that failed to parse may hold tokens.
fn read_refresh_answer(status: u16, body: &[u8]) -> Result<IssuedTokens, TokenFailure> {
    if (200..300).contains(&status) {
        let mut de = serde_json::Deserializer::from_slice(body);
        return serde_path_to_error::deserialize::<_, TokenAnswer>(&mut de)
            .map(TokenAnswer::into_issued)
            .map_err(|e| TokenFailure::BadAnswer(describe_parse_error(&e)));
    }
    match serde_json::from_slice::<TokenEndpointError>(body) {
        Ok(error) => {
            let permanent = is_permanent_refusal(Some(status), error.issuer_code());
            Err(TokenFailure::Refused { error, permanent })
        }
        Err(_) => {
            Err(TokenFailure::RefusedWithoutReason { status, permanent: is_permanent_refusal(Some(status), None) })
        }
    }
}

/// True when a refused token request can only be fixed by a new login, as the
/// Codex CLI decides after a refresh (`request_chatgpt_token_refresh` and
/// `classify_refresh_token_failure` in codex-rs/login/src/auth/manager.rs):
///
/// - any 401, whatever the body: the issuer no longer accepts this login;
/// - `refresh_token_expired`, `refresh_token_reused` or
///   `refresh_token_invalidated` in either error shape, at any status;
/// - a 400 whose code is `invalid_grant`. Upstream first treated only the
///   two rules above as permanent; later versions add this one, because the
///   issuer may report an unusable refresh token the RFC 6749 way, as a bare
///   400 `invalid_grant` without the expired/reused/revoked subtype. Treating
///   it as transient would retry a dead token forever and tell clients "try
///   again shortly" where only `codexd login` helps.
///
/// Everything else (5xx, 429, other 400s, an `invalid_grant` at another
/// status) is transient: the login is kept and the refresh retried.
/// `status` is `None` where the `oauth2` crate does not hand it over (the
/// code exchange, where permanence does not matter: a failed login is over).
fn is_permanent_refusal(status: Option<u16>, code: Option<&str>) -> bool {
    let is = |expected: &str| code.is_some_and(|c| c.eq_ignore_ascii_case(expected));
    status == Some(401) || PERMANENT_ERRORS.iter().any(|c| is(c)) || (status == Some(400) && is("invalid_grant"))
}

/// Where and how a token answer failed to parse, without any of its content.
fn describe_parse_error(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    format!("{:?} error at `{}`", e.inner().classify(), e.path())
}

/// Sort an `oauth2` error into what the caller acts on. Never keeps the raw
/// body: a 200 answer that failed to parse may hold tokens.
fn classify(err: RequestTokenError<HttpError, TokenEndpointError>) -> TokenFailure {
    match err {
        RequestTokenError::ServerResponse(error) => {
            let permanent = is_permanent_refusal(None, error.issuer_code());
            TokenFailure::Refused { error, permanent }
        }
        RequestTokenError::Request(e) => TokenFailure::Unreachable(e.to_string()),
        RequestTokenError::Parse(e, _body) => TokenFailure::BadAnswer(describe_parse_error(&e)),
        RequestTokenError::Other(message) => TokenFailure::BadAnswer(message),
    }
}

/// The token endpoint's success answer. Only `access_token` is required.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenAnswer {
    access_token: AccessToken,
    #[serde(default = "bearer")]
    token_type: BasicTokenType,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default)]
    id_token: Option<String>,
    /// Scopes are not used; the answer's `scope` string is ignored.
    #[serde(skip)]
    scopes: Option<Vec<Scope>>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

impl TokenAnswer {
    fn into_issued(self) -> IssuedTokens {
        IssuedTokens {
            access_token: self.access_token.secret().clone(),
            refresh_token: self.refresh_token.map(|t| t.secret().clone()),
            id_token: self.id_token,
            expires_in: self.expires_in.map(Duration::from_secs),
            account_id: None,
        }
    }
}

impl TokenResponse for TokenAnswer {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

/// An error answer from the token endpoint, in either shape OpenAI uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEndpointError {
    error: ErrorField,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum ErrorField {
    /// RFC 6749: `"error": "invalid_grant"`.
    Code(String),
    /// OpenAI: `"error": {"code": …, "message": …}`.
    Detailed {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default, rename = "type")]
        kind: Option<String>,
    },
}

impl TokenEndpointError {
    /// The machine-readable code, e.g. `invalid_grant` or `refresh_token_expired`.
    pub fn code(&self) -> &str {
        match &self.error {
            ErrorField::Code(code) => code,
            ErrorField::Detailed { code, kind, .. } => code.as_deref().or(kind.as_deref()).unwrap_or("unknown_error"),
        }
    }

    /// The issuer's own code, `error` or `error.code`, without the `type`
    /// fallback of [`code`](Self::code): what permanence is decided on.
    fn issuer_code(&self) -> Option<&str> {
        match &self.error {
            ErrorField::Code(code) => Some(code),
            ErrorField::Detailed { code, .. } => code.as_deref(),
        }
    }

    /// The human-readable explanation, when the server gave one.
    pub fn message(&self) -> Option<&str> {
        match &self.error {
            ErrorField::Code(_) => self.error_description.as_deref(),
            ErrorField::Detailed { message, .. } => message.as_deref().or(self.error_description.as_deref()),
        }
    }
}

impl fmt::Display for TokenEndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message() {
            Some(message) => write!(f, "{message} ({})", self.code()),
            None => f.write_str(self.code()),
        }
    }
}

impl oauth2::ErrorResponse for TokenEndpointError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorize_url_carries_every_parameter_the_issuer_expects() {
        let oauth = OAuth::new("https://auth.example.test/").unwrap();
        let auth = oauth.authorize("http://localhost:1455/auth/callback").unwrap();
        let url = oauth2::url::Url::parse(&auth.url).unwrap();
        assert_eq!(url.path(), "/oauth/authorize");
        let query: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        let expect = [
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", "http://localhost:1455/auth/callback"),
            ("scope", "openid profile email offline_access api.connectors.read api.connectors.invoke"),
            ("code_challenge_method", "S256"),
            ("id_token_add_organizations", "true"),
            ("codex_cli_simplified_flow", "true"),
            ("originator", "codex_cli_rs"),
        ];
        for (key, value) in expect {
            assert_eq!(query.get(key).map(String::as_str), Some(value), "{key}");
        }
        assert_eq!(query.get("state"), Some(auth.state.secret()));
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&auth.verifier);
        assert_eq!(query.get("code_challenge"), Some(challenge.as_str().to_string()).as_ref());
    }

    #[test]
    fn every_login_gets_its_own_state_and_verifier() {
        let oauth = OAuth::new("https://auth.example.test").unwrap();
        let a = oauth.authorize("http://localhost:1455/auth/callback").unwrap();
        let b = oauth.authorize("http://localhost:1455/auth/callback").unwrap();
        assert_ne!(a.state.secret(), b.state.secret());
        assert_ne!(a.verifier.secret(), b.verifier.secret());
    }

    #[test]
    fn token_endpoint_errors_in_both_shapes() {
        let table = [
            (
                r#"{"error":"invalid_grant","error_description":"Refresh token is invalid"}"#,
                "invalid_grant",
                "Refresh token is invalid (invalid_grant)",
            ),
            (
                r#"{"error":{"code":"refresh_token_expired","message":"expired"}}"#,
                "refresh_token_expired",
                "expired (refresh_token_expired)",
            ),
            (r#"{"error":{"code":"refresh_token_reused"}}"#, "refresh_token_reused", "refresh_token_reused"),
            (r#"{"error":"temporarily_unavailable"}"#, "temporarily_unavailable", "temporarily_unavailable"),
            (r#"{"error":{"type":"server_error","message":"boom"},"extra":1}"#, "server_error", "boom (server_error)"),
        ];
        for (body, code, shown) in table {
            let error: TokenEndpointError = serde_json::from_str(body).unwrap();
            assert_eq!(error.code(), code, "{body}");
            assert_eq!(error.to_string(), shown, "{body}");
        }
    }

    #[test]
    fn refusals_that_need_a_new_login_follow_the_codex_cli() {
        let table: [(u16, &str, bool); 14] = [
            // Any 401, whatever it says.
            (401, r#"{"error":{"code":"refresh_token_expired","message":"expired"}}"#, true),
            (401, r#"{"error":"invalid_client"}"#, true),
            (401, r#"{"error":{"message":"Could not validate your token","type":"invalid_request_error"}}"#, true),
            (401, "Unauthorized", true),
            // The three refresh-token codes, in either shape, at any status.
            (400, r#"{"error":{"code":"refresh_token_reused"}}"#, true),
            (403, r#"{"error":"refresh_token_invalidated"}"#, true),
            (400, r#"{"error":{"code":"REFRESH_TOKEN_EXPIRED"}}"#, true),
            // RFC 6749's dead refresh token, on a 400 only.
            (400, r#"{"error":"invalid_grant","error_description":"Invalid refresh token"}"#, true),
            (500, r#"{"error":"invalid_grant"}"#, false),
            // Everything else is worth retrying.
            (400, r#"{"error":{"code":"invalid_request","message":"m"}}"#, false),
            (400, r#"{"error":{"type":"refresh_token_expired"}}"#, false),
            (429, r#"{"error":{"code":"rate_limit_exceeded"}}"#, false),
            (500, r#"{"error":{"type":"server_error","message":"boom"}}"#, false),
            (502, "<html>bad gateway</html>", false),
        ];
        for (status, body, permanent) in table {
            let failure = read_refresh_answer(status, body.as_bytes()).err().unwrap();
            assert_eq!(failure.is_permanent(), permanent, "{status} {body}: {failure}");
        }
    }

    #[test]
    fn parse_failures_never_keep_the_body() {
        let body = br#"{"access_token": 12, "refresh_token": "very-secret"}"#.to_vec();
        let mut de = serde_json::Deserializer::from_slice(&body);
        let err = serde_path_to_error::deserialize::<_, TokenAnswer>(&mut de).unwrap_err();
        let failure = classify(RequestTokenError::Parse(err, body));
        let shown = format!("{failure} {failure:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!failure.is_permanent());
    }

    #[test]
    fn the_refresh_body_is_the_codex_clis_json_without_scope() {
        assert_eq!(
            refresh_body("rt"),
            serde_json::json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": "rt"})
        );
    }

    #[test]
    fn refresh_answers_are_read_without_keeping_their_body() {
        let issued = read_refresh_answer(200, br#"{"access_token":"a","refresh_token":"r","id_token":"i"}"#).unwrap();
        assert_eq!((issued.access_token.as_str(), issued.refresh_token.as_deref()), ("a", Some("r")));

        let failure =
            read_refresh_answer(200, br#"{"access_token": 12, "refresh_token": "very-secret"}"#).err().unwrap();
        let shown = format!("{failure} {failure:?}");
        assert!(matches!(failure, TokenFailure::BadAnswer(_)) && !shown.contains("very-secret"), "{shown}");

        let failure = read_refresh_answer(401, br#"{"error":{"code":"refresh_token_expired","message":"m"}}"#);
        assert_eq!(failure.err().unwrap().to_string(), "the sign-in server refused: m (refresh_token_expired)");

        let failure = read_refresh_answer(502, b"<html>bad gateway</html>").err().unwrap();
        assert_eq!(failure.to_string(), "the sign-in server refused (HTTP 502)");
        assert!(!failure.is_permanent());
    }

    #[test]
    fn token_answers_need_only_an_access_token() {
        let answer: TokenAnswer = serde_json::from_str(r#"{"access_token":"a"}"#).unwrap();
        let issued = answer.into_issued();
        assert_eq!(issued.access_token, "a");
        assert_eq!(issued.refresh_token, None);
        let full: TokenAnswer = serde_json::from_str(
            r#"{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r","id_token":"i","scope":"openid"}"#,
        )
        .unwrap();
        let issued = full.into_issued();
        assert_eq!((issued.refresh_token.as_deref(), issued.id_token.as_deref()), (Some("r"), Some("i")));
        assert_eq!(issued.expires_in, Some(Duration::from_secs(3600)));
    }
}
