//! What an upstream HTTP error becomes for the client.
//!
//! The Codex backend answers errors as `{"detail": …}` or
//! `{"error": {"type"|"code": …, "message": …}}` with a status; this module
//! turns status + headers + body into the [`ApiError`] the client sees, with
//! the Anthropic type that fits and, for rate limits, a `retry-after` and a
//! message that says when the limit resets. Pure: the current time is a
//! parameter.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::anthropic::{ApiError, ErrorKind};

/// The parts of an upstream error answer we look at.
#[derive(Debug, Clone, Default)]
pub struct UpstreamFailure<'a> {
    pub status: u16,
    /// Value of `retry-after`, if the upstream sent one.
    pub retry_after: Option<&'a str>,
    /// Value of `x-codex-primary-reset-after-seconds`, if sent.
    pub primary_reset_after: Option<&'a str>,
    pub body: &'a [u8],
}

/// Map an upstream error answer to the client's error.
pub fn map_upstream_error(failure: &UpstreamFailure<'_>, now: DateTime<Utc>) -> ApiError {
    let body: Value = serde_json::from_slice(failure.body).unwrap_or(Value::Null);
    let detail = upstream_message(&body, failure.body);
    let code =
        body.pointer("/error/type").or_else(|| body.pointer("/error/code")).and_then(Value::as_str).unwrap_or("");

    match failure.status {
        400 | 422 => ApiError::invalid_request(format!("Codex backend rejected the request: {detail}")),
        401 => ApiError::authentication(format!(
            "ChatGPT rejected the login ({detail}). Run `codexd login` to sign in again."
        )),
        403 => ApiError::new(
            ErrorKind::PermissionError,
            format!("ChatGPT refused access ({detail}). Check that your plan includes Codex."),
        ),
        404 => ApiError::not_found(format!("Codex backend: {detail}")),
        413 => ApiError::new(ErrorKind::RequestTooLarge, format!("Codex backend: {detail}")),
        429 => rate_limited(&body, code, &detail, failure, now),
        503 | 529 => ApiError::overloaded(format!("Codex backend is overloaded ({detail}); try again shortly.")),
        500..=599 => {
            ApiError::api(format!("Codex backend error {}: {detail}", failure.status)).with_status(failure.status)
        }
        other => ApiError::invalid_request(format!("Codex backend answered {other}: {detail}")),
    }
}

fn rate_limited(body: &Value, code: &str, detail: &str, failure: &UpstreamFailure<'_>, now: DateTime<Utc>) -> ApiError {
    let resets_in = body
        .pointer("/error/resets_in_seconds")
        .and_then(Value::as_u64)
        .or_else(|| {
            let at = body.pointer("/error/resets_at").and_then(Value::as_i64)?;
            u64::try_from(at - now.timestamp()).ok()
        })
        .or_else(|| failure.retry_after.and_then(|v| v.trim().parse().ok()))
        .or_else(|| failure.primary_reset_after.and_then(|v| v.trim().parse().ok()));

    let message = if code == "usage_limit_reached" || code == "usage_not_included" {
        let plan = body.pointer("/error/plan_type").and_then(Value::as_str);
        let plan = plan.map(|p| format!(" ({p} plan)")).unwrap_or_default();
        match resets_in {
            Some(secs) => format!("ChatGPT usage limit reached{plan}; resets {}.", describe_reset(now, secs)),
            None => format!("ChatGPT usage limit reached{plan}."),
        }
    } else {
        format!("Codex backend rate limit: {detail}")
    };
    let err = ApiError::new(ErrorKind::RateLimitError, message);
    match resets_in {
        Some(secs) => err.with_retry_after(secs.max(1)),
        None => err,
    }
}

/// "at 14:05 UTC (in 52 min)".
fn describe_reset(now: DateTime<Utc>, secs: u64) -> String {
    let at = now + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2_000));
    let minutes = secs.div_ceil(60);
    let span = if minutes < 120 {
        format!("{minutes} min")
    } else if minutes < 48 * 60 {
        format!("{} h {} min", minutes / 60, minutes % 60)
    } else {
        format!("{} days", minutes / (24 * 60))
    };
    format!("at {} UTC (in {span})", at.format("%Y-%m-%d %H:%M"))
}

/// The human part of an upstream error body, whatever its shape.
fn upstream_message(body: &Value, raw: &[u8]) -> String {
    let text = body
        .get("detail")
        .and_then(|d| d.as_str().map(str::to_owned).or_else(|| Some(d.to_string())))
        .or_else(|| body.pointer("/error/message").and_then(Value::as_str).map(str::to_owned))
        .or_else(|| body.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(raw).trim().to_owned());
    if text.is_empty() {
        "no details given".to_owned()
    } else {
        truncate(text, 500)
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000, 0).unwrap()
    }

    fn map(status: u16, body: &str) -> ApiError {
        map_upstream_error(&UpstreamFailure { status, body: body.as_bytes(), ..Default::default() }, now())
    }

    #[test]
    fn statuses_map_to_anthropic_types() {
        let table = [
            (
                400,
                r#"{"detail":"Unsupported parameter: temperature"}"#,
                ErrorKind::InvalidRequestError,
                400,
                "Unsupported parameter: temperature",
            ),
            (
                400,
                r#"{"error":{"message":"bad tool","type":"invalid_request_error"}}"#,
                ErrorKind::InvalidRequestError,
                400,
                "bad tool",
            ),
            (401, r#"{"detail":"token expired"}"#, ErrorKind::AuthenticationError, 401, "codexd login"),
            (403, r#"{"detail":"forbidden"}"#, ErrorKind::PermissionError, 403, "forbidden"),
            (404, r#"{"detail":"The 'gpt-9' model is not supported"}"#, ErrorKind::NotFoundError, 404, "gpt-9"),
            (500, "oops", ErrorKind::ApiError, 500, "oops"),
            (502, "", ErrorKind::ApiError, 502, "no details given"),
            (503, r#"{"detail":"busy"}"#, ErrorKind::OverloadedError, 529, "busy"),
            (418, "{}", ErrorKind::InvalidRequestError, 400, "418"),
        ];
        for (status, body, kind, want_status, needle) in table {
            let err = map(status, body);
            assert_eq!(err.kind, kind, "{status} {body}");
            assert_eq!(err.status, want_status, "{status} {body}");
            assert!(err.message.contains(needle), "{status}: {:?} lacks {needle:?}", err.message);
        }
    }

    #[test]
    fn usage_limit_gets_retry_after_and_reset_time() {
        let body = include_str!("../../tests/fixtures/codex-429-usage-limit.http");
        let json = body.split("\n\n").nth(1).unwrap();
        let err = map(429, json);
        assert_eq!(err.kind, ErrorKind::RateLimitError);
        assert_eq!(err.status, 429);
        assert_eq!(err.retry_after, Some(3120));
        assert!(err.message.contains("usage limit reached (plus plan)"), "{}", err.message);
        assert!(err.message.contains("in 52 min"), "{}", err.message);
    }

    #[test]
    fn resets_at_is_used_when_resets_in_is_missing() {
        let err = map(429, r#"{"error":{"type":"usage_limit_reached","resets_at":1764007200}}"#);
        assert_eq!(err.retry_after, Some(7200));
        assert!(err.message.contains("in 2 h 0 min"), "{}", err.message);
    }

    #[test]
    fn plain_rate_limit_uses_headers() {
        let failure = UpstreamFailure {
            status: 429,
            retry_after: Some("17"),
            body: br#"{"error":{"code":"rate_limit_exceeded","message":"slow down"}}"#,
            ..Default::default()
        };
        let err = map_upstream_error(&failure, now());
        assert_eq!(err.retry_after, Some(17));
        assert!(err.message.contains("slow down"));
    }

    #[test]
    fn long_bodies_are_truncated_on_a_char_boundary() {
        let body = format!("{{\"detail\":\"{}\"}}", "é".repeat(600));
        let err = map(400, &body);
        assert!(err.message.len() < 600 + 100);
        assert!(err.message.ends_with('…'));
    }
}
