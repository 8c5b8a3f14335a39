//! An upstream [`Failure`] as the client's [`ApiError`]: the one place the
//! two meet. The server turns a failed request into its answer here, at its
//! edge; the stream translator, the `error` event that ends a committed
//! stream.
//!
//! | Failure kind                                   | Anthropic error              |
//! |------------------------------------------------|------------------------------|
//! | `Overloaded`                                   | 529 `overloaded_error`       |
//! | `RateLimited`, `UsageLimit`                    | 429 `rate_limit_error`       |
//! | `NotIncluded`, `QuotaExhausted`, `Forbidden`   | 403 `permission_error`       |
//! | `InvalidRequest`, `PolicyRefusal`              | 400 `invalid_request_error`  |
//! | `Unauthorized`                                 | 401 `authentication_error`   |
//! | `NotFound`                                     | 404 `not_found_error`        |
//! | `TooLarge`                                     | 413 `request_too_large`      |
//! | `Server`                                       | `api_error`, the upstream 5xx or 500 |
//! | `Unreachable`, `TimedOut`                      | 502 `api_error`              |
//! | `Malformed`                                    | 500 `api_error`              |
//!
//! The failure's `retry_after` becomes the `retry-after` header.

use crate::anthropic::{ApiError, ErrorKind};
use crate::codex::error::{Failure, Kind};

/// The client's error for `failure`.
pub fn api_error(failure: &Failure) -> ApiError {
    let message = failure.message.clone();
    let err = match failure.kind {
        Kind::Overloaded => ApiError::overloaded(message),
        Kind::RateLimited | Kind::UsageLimit => ApiError::new(ErrorKind::RateLimitError, message),
        Kind::NotIncluded | Kind::QuotaExhausted | Kind::Forbidden => {
            ApiError::new(ErrorKind::PermissionError, message)
        }
        Kind::InvalidRequest | Kind::PolicyRefusal => ApiError::invalid_request(message),
        Kind::Unauthorized => ApiError::authentication(message),
        Kind::NotFound => ApiError::not_found(message),
        Kind::TooLarge => ApiError::new(ErrorKind::RequestTooLarge, message),
        Kind::Server => {
            ApiError::api(message).with_status(failure.status.filter(|s| (500..600).contains(s)).unwrap_or(500))
        }
        Kind::Unreachable | Kind::TimedOut => ApiError::api(message).with_status(502),
        Kind::Malformed => ApiError::api(message),
    };
    match failure.retry_after {
        Some(secs) => err.with_retry_after(secs),
        None => err,
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        api_error(&failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codex::error::{map_upstream_error, UpstreamFailure, BACKEND_CODES};
    use serde_json::json;

    /// What each status and code reached the client as before the failure
    /// type existed: the statuses and types are unchanged.
    #[test]
    fn failures_reach_the_client_with_the_anthropic_status_and_type() {
        #[rustfmt::skip]
        let table: [(u16, serde_json::Value, ErrorKind, u16); 19] = [
            (400, json!({"detail": "no"}), ErrorKind::InvalidRequestError, 400),
            (422, json!({"detail": "no"}), ErrorKind::InvalidRequestError, 400),
            (401, json!({"detail": "no"}), ErrorKind::AuthenticationError, 401),
            (403, json!({"detail": "no"}), ErrorKind::PermissionError, 403),
            (404, json!({"detail": "no"}), ErrorKind::NotFoundError, 404),
            (413, json!({"detail": "no"}), ErrorKind::RequestTooLarge, 413),
            (418, json!({}), ErrorKind::InvalidRequestError, 400),
            (429, json!({"detail": "no"}), ErrorKind::RateLimitError, 429),
            (500, json!({"detail": "no"}), ErrorKind::ApiError, 500),
            (502, json!({"detail": "no"}), ErrorKind::ApiError, 502),
            (503, json!({"detail": "no"}), ErrorKind::OverloadedError, 529),
            (529, json!({"detail": "no"}), ErrorKind::OverloadedError, 529),
            (403, json!({"error": {"code": "cyber_policy"}}), ErrorKind::InvalidRequestError, 400),
            (403, json!({"error": {"code": "usage_not_included"}}), ErrorKind::PermissionError, 403),
            (429, json!({"error": {"code": "insufficient_quota"}}), ErrorKind::PermissionError, 403),
            (429, json!({"error": {"type": "usage_limit_reached"}}), ErrorKind::RateLimitError, 429),
            (400, json!({"error": {"code": "context_length_exceeded"}}), ErrorKind::InvalidRequestError, 400),
            (503, json!({"error": {"code": "slow_down"}}), ErrorKind::OverloadedError, 529),
            (429, json!({"error": {"code": "rate_limit_exceeded"}}), ErrorKind::RateLimitError, 429),
        ];
        for (status, body, kind, want) in table {
            let body = body.to_string();
            let failure = map_upstream_error(
                &UpstreamFailure { status, body: body.as_bytes(), ..Default::default() },
                chrono::Utc::now(),
            );
            let err = api_error(&failure);
            assert_eq!((err.kind, err.status), (kind, want), "{status} {body}");
            assert_eq!(err.message, failure.message);
        }
        for kind in [Kind::Unreachable, Kind::TimedOut] {
            assert_eq!(api_error(&Failure::new(kind, "x")).status, 502);
        }
        assert_eq!(api_error(&Failure::new(Kind::Malformed, "x")).status, 500);
        // Every code in the table reaches some Anthropic type, retry-after kept.
        for code in BACKEND_CODES.iter().map(|known| known.code) {
            let body = json!({"error": {"code": code, "resets_in_seconds": 5}}).to_string();
            let failure = map_upstream_error(
                &UpstreamFailure { status: 429, body: body.as_bytes(), ..Default::default() },
                chrono::Utc::now(),
            );
            assert_eq!(api_error(&failure).retry_after, failure.retry_after, "{code}");
        }
    }
}
