//! What an upstream HTTP error becomes for the client.
//!
//! The Codex backend answers errors as `{"detail": …}` or
//! `{"error": {"type"|"code": …, "message": …}}` with a status; this module
//! turns status + headers + body into the [`ApiError`] the client sees, with
//! the Anthropic type that fits and, for rate limits, a `retry-after` and a
//! message that says when the limit resets: the body's `resets_in_seconds`
//! or `resets_at`, else `retry-after`, else the reset of the usage window
//! that tripped, in the limit family the backend names (see
//! [`crate::codex::limits`]). Pure: the current time is a parameter.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::anthropic::{ApiError, ErrorKind};
use crate::codex::limits::ActiveLimit;

/// The parts of an upstream error answer we look at.
#[derive(Debug, Clone, Default)]
pub struct UpstreamFailure<'a> {
    pub status: u16,
    /// The answer's headers that are text, as (name, value).
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl<'a> UpstreamFailure<'a> {
    /// The first header called `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.trim())
    }
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
            u64::try_from(at.checked_sub(now.timestamp())?).ok()
        })
        .or_else(|| failure.header("retry-after").and_then(|v| v.parse().ok()))
        .or_else(|| {
            let at = ActiveLimit::from_headers(|name| failure.header(name), now).resets_at()?;
            u64::try_from((at - now).num_seconds()).ok()
        });

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

/// "at 2026-11-24 14:05 UTC (in 52 min)"; only "in …" when the time is
/// out of chrono's range.
fn describe_reset(now: DateTime<Utc>, secs: u64) -> String {
    let at = i64::try_from(secs).ok().and_then(chrono::Duration::try_seconds).and_then(|d| now.checked_add_signed(d));
    let minutes = secs.div_ceil(60);
    let span = if minutes < 120 {
        format!("{minutes} min")
    } else if minutes < 48 * 60 {
        format!("{} h {} min", minutes / 60, minutes % 60)
    } else {
        format!("{} days", minutes / (24 * 60))
    };
    match at {
        Some(at) => format!("at {} UTC (in {span})", at.format("%Y-%m-%d %H:%M")),
        None => format!("in {span}"),
    }
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

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn plain_rate_limit_uses_headers() {
        let failure = UpstreamFailure {
            status: 429,
            headers: &headers(&[("Retry-After", " 17 ")]),
            body: br#"{"error":{"code":"rate_limit_exceeded","message":"slow down"}}"#,
        };
        let err = map_upstream_error(&failure, now());
        assert_eq!(err.retry_after, Some(17));
        assert!(err.message.contains("slow down"));
    }

    /// A 429 whose body says nothing of the reset: the reset of the window
    /// that tripped, in the family `x-codex-active-limit` names.
    #[test]
    fn without_a_reset_in_the_body_the_tripped_window_says_when() {
        let body = br#"{"error":{"type":"usage_limit_reached","plan_type":"plus"}}"#;
        let (hour, week) = ("1764003600", "1764400000");
        let table: [(&str, Vec<(&str, &str)>, Option<u64>); 7] = [
            (
                "primary used up",
                vec![("x-codex-primary-used-percent", "100"), ("x-codex-primary-reset-at", hour)],
                Some(3_600),
            ),
            (
                "secondary used up, named by the active limit",
                vec![
                    ("x-codex-active-limit", "codex"),
                    ("x-codex-rate-limit-reached-type", "rate_limit_reached"),
                    ("x-codex-primary-used-percent", "35"),
                    ("x-codex-primary-reset-at", hour),
                    ("x-codex-secondary-used-percent", "100"),
                    ("x-codex-secondary-reset-at", week),
                ],
                Some(400_000),
            ),
            (
                "secondary used up, no active limit header",
                vec![
                    ("x-codex-primary-used-percent", "35"),
                    ("x-codex-primary-reset-at", hour),
                    ("x-codex-secondary-used-percent", "100"),
                    ("x-codex-secondary-reset-after-seconds", "400000"),
                ],
                Some(400_000),
            ),
            (
                "another family",
                vec![
                    ("x-codex-active-limit", "codex_bengalfox"),
                    ("x-codex-primary-used-percent", "100"),
                    ("x-codex-primary-reset-at", week),
                    ("x-codex-bengalfox-primary-used-percent", "100"),
                    ("x-codex-bengalfox-primary-reset-at", hour),
                ],
                Some(3_600),
            ),
            (
                "another family without windows: not the codex ones",
                vec![
                    ("x-codex-active-limit", "codex_other"),
                    ("x-codex-primary-used-percent", "100"),
                    ("x-codex-primary-reset-at", hour),
                ],
                None,
            ),
            (
                "retry-after comes first",
                vec![
                    ("retry-after", "90"),
                    ("x-codex-primary-used-percent", "100"),
                    ("x-codex-primary-reset-at", hour),
                ],
                Some(90),
            ),
            (
                "a reset in the past",
                vec![("x-codex-primary-used-percent", "100"), ("x-codex-primary-reset-at", "1")],
                None,
            ),
        ];
        for (name, pairs, want) in table {
            let failure = UpstreamFailure { status: 429, headers: &headers(&pairs), body };
            let err = map_upstream_error(&failure, now());
            assert_eq!(err.kind, ErrorKind::RateLimitError, "{name}");
            assert_eq!(err.retry_after, want, "{name}");
            match want {
                Some(secs) => assert!(err.message.contains(&describe_reset(now(), secs)), "{name}: {}", err.message),
                None => assert!(!err.message.contains("resets"), "{name}: {}", err.message),
            }
        }
    }

    #[test]
    fn resets_out_of_range_do_not_panic() {
        let table = [
            r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":18446744073709551615}}"#,
            r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":9223372036854775807}}"#,
            r#"{"error":{"type":"usage_limit_reached","resets_at":-9223372036854775808}}"#,
            r#"{"error":{"type":"usage_limit_reached","resets_at":9223372036854775807}}"#,
        ];
        for body in table {
            let err = map(429, body);
            assert_eq!(err.kind, ErrorKind::RateLimitError, "{body}");
        }
    }

    #[test]
    fn long_bodies_are_truncated_on_a_char_boundary() {
        let body = format!("{{\"detail\":\"{}\"}}", "é".repeat(600));
        let err = map(400, &body);
        assert!(err.message.len() < 600 + 100);
        assert!(err.message.ends_with('…'));
    }
}
