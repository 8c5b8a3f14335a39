//! [`ApiError`]: the single error type that crosses the client boundary.
//!
//! Every failure a client can see — bad input, missing login, upstream
//! trouble — ends up as an `ApiError`, which knows its Anthropic error `type`,
//! its HTTP status, and how to render itself as JSON (for a plain response)
//! or as an SSE `error` event (once a stream has begun).

use std::fmt;

use serde::Serialize;

/// The Anthropic error `type`s, each with the HTTP status the API uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    InvalidRequestError,
    AuthenticationError,
    PermissionError,
    NotFoundError,
    RequestTooLarge,
    RateLimitError,
    ApiError,
    OverloadedError,
}

impl ErrorKind {
    /// The HTTP status Anthropic pairs with this error type.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequestError => 400,
            ErrorKind::AuthenticationError => 401,
            ErrorKind::PermissionError => 403,
            ErrorKind::NotFoundError => 404,
            ErrorKind::RequestTooLarge => 413,
            ErrorKind::RateLimitError => 429,
            ErrorKind::ApiError => 500,
            ErrorKind::OverloadedError => 529,
        }
    }

    /// The wire name, e.g. `invalid_request_error`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequestError => "invalid_request_error",
            ErrorKind::AuthenticationError => "authentication_error",
            ErrorKind::PermissionError => "permission_error",
            ErrorKind::NotFoundError => "not_found_error",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::RateLimitError => "rate_limit_error",
            ErrorKind::ApiError => "api_error",
            ErrorKind::OverloadedError => "overloaded_error",
        }
    }
}

/// A rate limit that resets further away than this (seconds) is a usage
/// limit the client cannot wait out sensibly: it is answered with
/// `x-should-retry: false` (see [`ApiError::should_retry`]).
pub const LONGEST_RETRYABLE_WAIT: u64 = 60;

/// An error as the client sees it: `{"type":"error","error":{"type":…,"message":…}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// HTTP status; usually `kind.status()`, but upstream statuses such as
    /// 502/503 are kept when they are more precise.
    pub status: u16,
    /// Seconds for the `retry-after` header (rate limits, overloads).
    pub retry_after: Option<u64>,
    /// The `x-should-retry` header: `Some(false)` tells the Anthropic SDKs
    /// not to retry on their own (codexd already has).
    pub should_retry: Option<bool>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError { kind, status: kind.status(), message: message.into(), retry_after: None, should_retry: None }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequestError, message)
    }

    pub fn authentication(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AuthenticationError, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFoundError, message)
    }

    pub fn api(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ApiError, message)
    }

    pub fn overloaded(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::OverloadedError, message)
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Whether trying the same request again can succeed. `false` for a
    /// missing or dead login (`authentication_error`: only `codexd login`,
    /// or the right local key, fixes it) and for a rate limit that resets
    /// more than [`LONGEST_RETRYABLE_WAIT`] away (a usage limit: the newest
    /// SDKs would otherwise sleep the whole `retry-after`, e.g. 52 minutes).
    /// Answers with `false` carry `x-should-retry: false`, which makes
    /// Claude Code and the SDKs stop at once.
    pub fn should_retry(&self) -> bool {
        if let Some(decided) = self.should_retry {
            return decided;
        }
        match self.kind {
            ErrorKind::AuthenticationError => false,
            ErrorKind::RateLimitError => self.retry_after.is_none_or(|secs| secs <= LONGEST_RETRYABLE_WAIT),
            _ => true,
        }
    }

    /// Say explicitly whether a retry can help (codexd's retry policy has
    /// already decided, e.g. after its own tries are spent).
    pub fn with_should_retry(mut self, should_retry: bool) -> Self {
        self.should_retry = Some(should_retry);
        self
    }

    /// The JSON body: `{"type":"error","error":{"type":…,"message":…}}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "error",
            "error": { "type": self.kind.as_str(), "message": self.message },
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.kind.as_str(), self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_the_anthropic_table() {
        let table = [
            (ErrorKind::InvalidRequestError, 400, "invalid_request_error"),
            (ErrorKind::AuthenticationError, 401, "authentication_error"),
            (ErrorKind::PermissionError, 403, "permission_error"),
            (ErrorKind::NotFoundError, 404, "not_found_error"),
            (ErrorKind::RequestTooLarge, 413, "request_too_large"),
            (ErrorKind::RateLimitError, 429, "rate_limit_error"),
            (ErrorKind::ApiError, 500, "api_error"),
            (ErrorKind::OverloadedError, 529, "overloaded_error"),
        ];
        for (kind, status, name) in table {
            assert_eq!(kind.status(), status, "{name}");
            assert_eq!(kind.as_str(), name);
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
        }
    }

    #[test]
    fn only_a_dead_login_and_a_distant_reset_are_final() {
        let limit = |secs| ApiError::new(ErrorKind::RateLimitError, "limit").with_retry_after(secs);
        let table = [
            (ApiError::authentication("run codexd login"), false),
            (limit(LONGEST_RETRYABLE_WAIT + 1), false),
            (limit(52 * 60), false),
            (limit(LONGEST_RETRYABLE_WAIT), true),
            (limit(2), true),
            (ApiError::new(ErrorKind::RateLimitError, "limit"), true),
            (ApiError::api("refresh failed").with_status(503).with_retry_after(30), true),
            (ApiError::overloaded("busy").with_retry_after(600), true),
            (ApiError::invalid_request("bad"), true),
        ];
        for (error, retry) in table {
            assert_eq!(error.should_retry(), retry, "{error}");
        }
    }

    #[test]
    fn body_has_the_anthropic_shape() {
        let err = ApiError::invalid_request("messages: field required");
        assert_eq!(
            err.body(),
            serde_json::json!({"type":"error","error":{"type":"invalid_request_error","message":"messages: field required"}})
        );
    }
}
