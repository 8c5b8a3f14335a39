//! What went wrong upstream, as a [`Failure`]: what happened ([`Kind`]),
//! the words to tell the user, and whether and when another try may help
//! ([`Failure::may_pass`], [`Failure::retry_after`]). Built here for an HTTP
//! error answer ([`map_upstream_error`]) and for an error inside a 200
//! stream ([`map_stream_error`]: the `response.error` of `response.failed`,
//! or an `error` event), by `client` for a request that got no answer, and
//! from a broken event stream ([`Failure::from`] an [`SseError`]). The
//! server's retry loop only reads it; it becomes the client's error once,
//! at the server's edge (`translate::failure`). Nothing here names the
//! Anthropic API.
//!
//! Both paths look the backend's error code up in one table,
//! [`BACKEND_CODES`], so a code means the same whichever way it comes. An
//! HTTP answer without a known code is judged by its status (the backend
//! answers `{"detail": …}` or `{"error": {"type"|"code": …, "message": …}}`);
//! a stream error without one is a [`Kind::Server`] failure.
//!
//! What may pass on another try: connect errors, overloads, and server
//! errors (5xx, an unknown error in a stream, a stream cut) before any output.
//! Policy refusals, a plan without Codex, a used-up quota, usage limits,
//! malformed events and anything after output began fail at once, with a
//! message that says what to do.
//!
//! Rate limits get a `retry_after` and a message that says when the limit
//! resets: the error's `resets_in_seconds` or `resets_at`, else (HTTP only)
//! `retry-after`, else the reset of the usage window that tripped, in the
//! limit family the backend names (see [`crate::codex::limits`]). An
//! overload's or 5xx's `retry-after` is kept too.
//!
//! A 403 that is a web page rather than the backend's JSON was sent by
//! something on the way — Cloudflare in front of chatgpt.com, a proxy — and
//! says so, rather than blaming the plan (see `blocked_on_the_way`).
//!
//! Pure: the current time is a parameter.

use chrono::{DateTime, Utc};
use serde_json::Value;

use std::time::Duration;

use crate::codex::limits::{ActiveLimit, REACHED_TYPE_HEADER};
use crate::codex::sse::SseError;

/// Longest upstream message passed on, in bytes.
const MAX_MESSAGE: usize = 500;
/// Where ChatGPT shows a plan's Codex usage and sells credits.
const USAGE_PAGE: &str = "https://chatgpt.com/codex/settings/usage";

/// What happened to a request upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The backend could not be reached: connection refused or reset, DNS,
    /// TLS, the proxy. May pass.
    Unreachable,
    /// No answer within the time left for the request.
    TimedOut,
    /// The backend is busy (an overload code, 503, 529). May pass.
    Overloaded,
    /// Too many requests for now (429 `rate_limit_exceeded`).
    RateLimited,
    /// A ChatGPT usage limit is used up; the message says when it resets.
    UsageLimit,
    /// The ChatGPT plan does not include Codex.
    NotIncluded,
    /// The account's quota is used up and no wait brings it back. Told as
    /// a refusal, not a rate limit: clients retry rate limits on their own,
    /// and only a change of plan, credits or account helps.
    QuotaExhausted,
    /// The backend cannot take something in the request (400, 422, a
    /// context too long, a status with no meaning of its own).
    InvalidRequest,
    /// Refused under a safety policy; the same request would be refused again.
    PolicyRefusal,
    /// The login was refused (401).
    Unauthorized,
    /// Access was refused (403): by the backend, or by something on the way.
    Forbidden,
    /// The backend does not know what was asked for (404).
    NotFound,
    /// The request was too large for the backend (413).
    TooLarge,
    /// The backend failed (5xx, an unknown error code in a stream, a stream
    /// cut short). May pass, before any output.
    Server,
    /// The backend sent what cannot be read (a malformed or oversized event,
    /// a corrupt stream): it would send it again.
    Malformed,
}

/// An upstream failure: what happened, what to tell the user, and whether
/// and when another try may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    /// For the user: says what happened and, where it can, what to do.
    pub message: String,
    /// The upstream HTTP status, when the failure came as an HTTP answer.
    pub status: Option<u16>,
    /// Seconds after which the backend says another try may work.
    pub retry_after: Option<u64>,
    /// The answer had begun when it failed: another try would generate (and
    /// spend quota on) it again, so none is made.
    pub midway: bool,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure { kind, message: message.into(), status: None, retry_after: None, midway: false }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Whether another try may pass: connect errors, overloads and server
    /// errors, before the answer began. Nothing that would repeat (bad
    /// requests, refusals, limits, malformed events) or that already cost
    /// quota (a generation that failed midway).
    pub fn may_pass(&self) -> bool {
        !self.midway && matches!(self.kind, Kind::Unreachable | Kind::Overloaded | Kind::Server)
    }

    /// How long the backend asked to wait before another try, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after.map(Duration::from_secs)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// A stream that could not be decoded: cut (may pass, before output) or
/// unreadable (would repeat).
impl From<SseError> for Failure {
    fn from(err: SseError) -> Self {
        let kind = match err {
            SseError::Transport(_) => Kind::Server,
            SseError::Framing(_) | SseError::Malformed { .. } | SseError::TooLarge { .. } => Kind::Malformed,
        };
        Failure::new(kind, err.to_string())
    }
}

/// What a backend error code means: which [`Kind`] of failure, and for
/// policy refusals, the policy's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendCode {
    pub code: &'static str,
    pub kind: Kind,
    /// The safety policy a [`Kind::PolicyRefusal`] names, for the message.
    pub policy: Option<&'static str>,
}

impl BackendCode {
    const fn new(code: &'static str, kind: Kind) -> Self {
        BackendCode { code, kind, policy: None }
    }

    const fn policy(code: &'static str, policy: &'static str) -> Self {
        BackendCode { code, kind: Kind::PolicyRefusal, policy: Some(policy) }
    }

    /// Overloads, plain rate limits and bad requests: the backend's own
    /// message says enough.
    fn is_plain(&self) -> bool {
        matches!(self.kind, Kind::Overloaded | Kind::RateLimited | Kind::InvalidRequest)
    }
}

/// Every backend error code codexd knows, and what it means, in an HTTP
/// error body (`error.code` or `error.type`) or in a stream (`response.failed`,
/// `error`). The codes are those the Codex CLI handles (`codex-rs/codex-api`).
pub const BACKEND_CODES: &[BackendCode] = &[
    BackendCode::new("server_is_overloaded", Kind::Overloaded),
    BackendCode::new("slow_down", Kind::Overloaded),
    BackendCode::new("rate_limit_exceeded", Kind::RateLimited),
    BackendCode::new("usage_limit_reached", Kind::UsageLimit),
    BackendCode::new("usage_not_included", Kind::NotIncluded),
    BackendCode::new("insufficient_quota", Kind::QuotaExhausted),
    BackendCode::new("context_length_exceeded", Kind::InvalidRequest),
    BackendCode::new("invalid_prompt", Kind::InvalidRequest),
    BackendCode::policy("cyber_policy", "cybersecurity"),
    BackendCode::policy("bio_policy", "biological safety"),
    BackendCode::policy("misalignment_policy_violation", "agent misalignment"),
];

/// What `code` means, if [`BACKEND_CODES`] has it.
pub fn backend_code(code: &str) -> Option<&'static BackendCode> {
    BACKEND_CODES.iter().find(|known| known.code == code)
}

/// An error as the backend describes it: the `error` object of an HTTP
/// error body or of a stream event.
#[derive(Debug, Clone, Copy, Default)]
pub struct BackendError<'a> {
    pub code: Option<&'a str>,
    /// `type`: where usage limits put their reason (over HTTP at least).
    pub kind: Option<&'a str>,
    pub message: &'a str,
    /// The ChatGPT plan, sent with usage limits.
    pub plan_type: Option<&'a str>,
    /// When a limit resets, in unix seconds.
    pub resets_at: Option<i64>,
    /// When a limit resets, in seconds from now.
    pub resets_in_seconds: Option<u64>,
}

impl<'a> BackendError<'a> {
    /// The `error` object of an HTTP body, with `message` as its message.
    fn from_body(body: &'a Value, message: &'a str) -> Self {
        let field = |name: &str| body.get("error").and_then(|error| error.get(name));
        let text = |name: &str| field(name).and_then(Value::as_str);
        BackendError {
            code: text("code"),
            kind: text("type"),
            message,
            plan_type: text("plan_type"),
            resets_at: field("resets_at").and_then(seconds),
            resets_in_seconds: field("resets_in_seconds").and_then(seconds).and_then(|s| u64::try_from(s).ok()),
        }
    }

    /// The known code among `code` and `type`. When both are known the
    /// more telling wins (a usage limit over a plain rate limit).
    fn known(&self) -> Option<&'static BackendCode> {
        let known = || [self.code, self.kind].into_iter().flatten().filter_map(backend_code);
        known().find(|known| !known.is_plain()).or_else(|| known().next())
    }

    /// Seconds until the limit resets, as the error itself says.
    fn resets_in(&self, now: DateTime<Utc>) -> Option<u64> {
        self.resets_in_seconds.or_else(|| u64::try_from(self.resets_at?.checked_sub(now.timestamp())?).ok())
    }

    /// The backend's message, or what it said instead.
    fn said(&self, code: &str) -> String {
        match self.message.trim() {
            "" => format!("the Codex backend reported an error: {code}"),
            message => message.to_owned(),
        }
    }

    /// The backend's message, to quote.
    fn quoted(&self) -> &str {
        match self.message.trim() {
            "" => "no details given",
            message => message.trim_end_matches('.'),
        }
    }
}

/// A number of seconds however the backend writes it: an integer, a
/// float, or digits in a string. Anything else is `None`.
pub fn seconds(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            // Whole seconds, well inside i64: anything larger is nonsense anyway.
            (f.is_finite() && f.abs() < 1e15).then_some(f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

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

/// What an upstream error answer means.
pub fn map_upstream_error(answer: &UpstreamFailure<'_>, now: DateTime<Utc>) -> Failure {
    let mut failure = judge_answer(answer, now).with_status(answer.status);
    // An overload or a server error may say when to come back (a 503 does).
    if failure.retry_after.is_none() && matches!(failure.kind, Kind::Overloaded | Kind::Server) {
        failure.retry_after = answer.header("retry-after").and_then(|v| v.parse().ok());
    }
    failure
}

fn judge_answer(failure: &UpstreamFailure<'_>, now: DateTime<Utc>) -> Failure {
    let body = serde_json::from_slice::<Value>(failure.body).ok();
    if body.is_none() {
        if let Some(blocked) = blocked_on_the_way(failure) {
            return blocked;
        }
    }
    let body = body.unwrap_or(Value::Null);
    let detail = upstream_message(&body, failure.body);
    // What the body says in words, if anything: not the raw JSON.
    let said = body.pointer("/error/message").or_else(|| body.get("detail")).and_then(Value::as_str);
    let said = said.map(|text| truncate(text.to_owned(), MAX_MESSAGE)).unwrap_or_default();
    let error = BackendError::from_body(&body, &said);
    if let Some(known) = error.known() {
        return backend_error(known, &error, Some(failure), now);
    }

    match failure.status {
        400 | 422 => Failure::new(Kind::InvalidRequest, format!("Codex backend rejected the request: {detail}")),
        401 => Failure::new(
            Kind::Unauthorized,
            format!("ChatGPT rejected the login ({detail}). Run `codexd login` to sign in again."),
        ),
        403 => Failure::new(
            Kind::Forbidden,
            format!("ChatGPT refused access ({detail}). Check that your plan includes Codex."),
        ),
        404 => Failure::new(Kind::NotFound, format!("Codex backend: {detail}")),
        413 => Failure::new(Kind::TooLarge, format!("Codex backend: {detail}")),
        429 => {
            let err = Failure::new(Kind::RateLimited, format!("Codex backend rate limit: {detail}"));
            with_reset(err, resets_in(&error, Some(failure), None, now))
        }
        503 | 529 => {
            Failure::new(Kind::Overloaded, format!("Codex backend is overloaded ({detail}); try again shortly."))
        }
        500..=599 => Failure::new(Kind::Server, format!("Codex backend error {}: {detail}", failure.status)),
        other => Failure::new(Kind::InvalidRequest, format!("Codex backend answered {other}: {detail}")),
    }
}

/// A 403 whose body is a web page, not JSON: the Codex backend answers in
/// JSON, so something on the way refused the request — Cloudflare in front
/// of chatgpt.com (its "Attention Required! … you have been blocked" page,
/// `cf-ray`, `server: cloudflare`), or a proxy. The plan is not the cause;
/// the network (region, VPN, proxy exit address) is. A JSON 403 carries a
/// `cf-ray` too, since all of chatgpt.com goes through Cloudflare: that
/// header alone proves nothing.
fn blocked_on_the_way(failure: &UpstreamFailure<'_>) -> Option<Failure> {
    let text = String::from_utf8_lossy(failure.body);
    let lower = text.to_ascii_lowercase();
    let html = failure.header("content-type").is_some_and(|t| t.to_ascii_lowercase().contains("text/html"))
        || lower.trim_start().starts_with('<');
    if failure.status != 403 || !html {
        return None;
    }
    let ray = failure.header("cf-ray").filter(|ray| !ray.is_empty());
    let cloudflare = ray.is_some()
        || failure.header("server").is_some_and(|server| server.to_ascii_lowercase().contains("cloudflare"))
        || lower.contains("cloudflare");
    let by = if cloudflare { " by Cloudflare" } else { "" };
    let title = page_title(&text, &lower).map(|title| format!(" (\"{title}\")")).unwrap_or_default();
    let ray = ray.map(|ray| format!(" (Cloudflare Ray ID {ray})")).unwrap_or_default();
    Some(Failure::new(
        Kind::Forbidden,
        format!(
            "The request was blocked on its way to ChatGPT{by}{ray}: the 403 is a web page{title}, not an answer \
             from the Codex backend, so your plan is not the cause. Such blocks come from the network: the \
             region you connect from, a VPN, or a proxy's exit address. Try another network, or turn the VPN or \
             proxy off."
        ),
    ))
}

/// The `<title>` of a web page, on one line; `lower` is `text` in ASCII
/// lower case (same byte offsets).
fn page_title(text: &str, lower: &str) -> Option<String> {
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = text.get(start..end)?.split_whitespace().collect::<Vec<_>>().join(" ");
    (!title.is_empty()).then(|| truncate(title, 100))
}

/// What an error reported inside a 200 stream means. An unknown code is a
/// [`Kind::Server`] failure: retried while the answer has not begun.
pub fn map_stream_error(error: &BackendError<'_>, now: DateTime<Utc>) -> Failure {
    if let Some(known) = error.known() {
        return backend_error(known, error, None, now);
    }
    let message = match (error.message.trim(), error.code.or(error.kind)) {
        ("", Some(code)) => format!("the Codex backend reported an error: {code}"),
        ("", None) => "the Codex backend reported an error without a message".to_owned(),
        (message, _) => message.to_owned(),
    };
    Failure::new(Kind::Server, message)
}

/// The failure a known code means; `http` is the answer it came with, if it
/// came as an HTTP error.
fn backend_error(
    known: &BackendCode,
    error: &BackendError<'_>,
    http: Option<&UpstreamFailure<'_>>,
    now: DateTime<Utc>,
) -> Failure {
    let code = known.code;
    if let Some(policy) = known.policy {
        return Failure::new(
            Kind::PolicyRefusal,
            format!(
                "ChatGPT's safety systems refused this request under the {policy} policy (`{code}`): {}. The \
                 same request would be refused again: change it rather than retrying.",
                error.quoted()
            ),
        );
    }
    match known.kind {
        Kind::RateLimited => {
            with_reset(Failure::new(Kind::RateLimited, error.said(code)), resets_in(error, http, None, now))
        }
        Kind::UsageLimit => usage_limit(error, http, now),
        Kind::NotIncluded => Failure::new(
            Kind::NotIncluded,
            format!(
                "Your ChatGPT plan does not include Codex ({}). Sign in with an account whose plan includes \
                 Codex (`codexd login`), or upgrade the plan.",
                error.quoted()
            ),
        ),
        Kind::QuotaExhausted => Failure::new(
            Kind::QuotaExhausted,
            format!(
                "ChatGPT says this account's quota is used up ({}); waiting will not bring it back. Check the \
                 plan and its credits at {USAGE_PAGE}, or sign in with another account (`codexd login`).",
                error.quoted()
            ),
        ),
        // Overloads and bad requests: the backend's own words say enough.
        kind => Failure::new(kind, error.said(code)),
    }
}

/// `usage_limit_reached`: when the limit resets, and which limit it is when
/// the headers say.
fn usage_limit(error: &BackendError<'_>, http: Option<&UpstreamFailure<'_>>, now: DateTime<Utc>) -> Failure {
    let active = http.map(|failure| ActiveLimit::from_headers(|name| failure.header(name), now));
    let resets_in = resets_in(error, http, active.as_ref(), now);
    let plan = error.plan_type.map(|p| format!(" ({p} plan)")).unwrap_or_default();
    let what = match http.and_then(|failure| failure.header(REACHED_TYPE_HEADER)) {
        Some("workspace_owner_credits_depleted") => {
            "Your ChatGPT workspace is out of credits: add credits to continue".to_owned()
        }
        Some("workspace_member_credits_depleted") => {
            "Your ChatGPT workspace is out of credits: ask the workspace owner to add some".to_owned()
        }
        Some("workspace_owner_usage_limit_reached") => {
            "You reached the spend cap set in your ChatGPT workspace: raise it to continue".to_owned()
        }
        Some("workspace_member_usage_limit_reached") => {
            "You reached the spend cap the owner of your ChatGPT workspace set: ask an owner to raise it".to_owned()
        }
        _ => match active.filter(|limit| !limit.is_default()) {
            Some(limit) => format!(
                "ChatGPT usage limit for {} reached{plan}; another model may still be available",
                limit.name.unwrap_or(limit.id)
            ),
            None => format!("ChatGPT usage limit reached{plan}"),
        },
    };
    let message = match resets_in {
        Some(secs) => format!("{what}; resets {}.", describe_reset(now, secs)),
        None => format!("{what}."),
    };
    with_reset(Failure::new(Kind::UsageLimit, message), resets_in)
}

/// Seconds until a limit resets: the error's own word, else (HTTP)
/// `retry-after`, else the reset of the window that tripped.
fn resets_in(
    error: &BackendError<'_>,
    http: Option<&UpstreamFailure<'_>>,
    active: Option<&ActiveLimit>,
    now: DateTime<Utc>,
) -> Option<u64> {
    error.resets_in(now).or_else(|| {
        let failure = http?;
        failure.header("retry-after").and_then(|v| v.parse().ok()).or_else(|| {
            let at = match active {
                Some(limit) => limit.resets_at(),
                None => ActiveLimit::from_headers(|name| failure.header(name), now).resets_at(),
            }?;
            u64::try_from((at - now).num_seconds()).ok()
        })
    })
}

fn with_reset(err: Failure, resets_in: Option<u64>) -> Failure {
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
        truncate(text, MAX_MESSAGE)
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
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000, 0).unwrap()
    }

    fn map(status: u16, body: &str) -> Failure {
        map_upstream_error(&UpstreamFailure { status, body: body.as_bytes(), ..Default::default() }, now())
    }

    #[test]
    fn statuses_say_what_happened() {
        let table = [
            (
                400,
                r#"{"detail":"Unsupported parameter: temperature"}"#,
                Kind::InvalidRequest,
                "Unsupported parameter: temperature",
            ),
            (
                400,
                r#"{"error":{"message":"bad tool","type":"invalid_request_error"}}"#,
                Kind::InvalidRequest,
                "bad tool",
            ),
            (401, r#"{"detail":"token expired"}"#, Kind::Unauthorized, "codexd login"),
            (403, r#"{"detail":"forbidden"}"#, Kind::Forbidden, "forbidden"),
            (404, r#"{"detail":"The 'gpt-9' model is not supported"}"#, Kind::NotFound, "gpt-9"),
            (413, "", Kind::TooLarge, "no details given"),
            (500, "oops", Kind::Server, "oops"),
            (502, "", Kind::Server, "no details given"),
            (503, r#"{"detail":"busy"}"#, Kind::Overloaded, "busy"),
            (418, "{}", Kind::InvalidRequest, "418"),
        ];
        for (status, body, kind, needle) in table {
            let err = map(status, body);
            assert_eq!(err.kind, kind, "{status} {body}");
            assert_eq!(err.status, Some(status), "{status} {body}");
            assert!(err.message.contains(needle), "{status}: {:?} lacks {needle:?}", err.message);
        }
    }

    #[test]
    fn usage_limit_gets_retry_after_and_reset_time() {
        let body = include_str!("../../tests/fixtures/codex-429-usage-limit.http");
        let json = body.split("\n\n").nth(1).unwrap();
        let err = map(429, json);
        assert_eq!(err.kind, Kind::UsageLimit);
        assert_eq!(err.status, Some(429));
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
            assert_eq!(err.kind, Kind::UsageLimit, "{name}");
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
            assert_eq!(err.kind, Kind::UsageLimit, "{body}");
        }
    }

    fn stream(code: &str, message: &str) -> Failure {
        map_stream_error(&BackendError { code: Some(code), message, ..Default::default() }, now())
    }

    /// One table for both paths: a code gives the same error over HTTP
    /// (as `code` or `type`, whatever the status) as in a stream.
    #[test]
    fn every_backend_code_means_the_same_over_http_and_in_a_stream() {
        for code in BACKEND_CODES.iter().map(|known| known.code) {
            let in_stream = stream(code, "the backend's words.");
            for status in [400, 403, 429, 500, 503] {
                for field in ["code", "type"] {
                    let body = json!({"error": {field: code, "message": "the backend's words."}}).to_string();
                    let http = map(status, &body);
                    assert_eq!(
                        (http.kind, &http.message, http.retry_after),
                        (in_stream.kind, &in_stream.message, in_stream.retry_after),
                        "{code} as {field} in a {status}"
                    );
                }
            }
        }
    }

    #[test]
    fn backend_codes_say_what_happened() {
        let flagged = "This request has been flagged for possible cybersecurity risk.";
        #[rustfmt::skip]
        let table: [(u16, Value, Kind, &[&str]); 12] = [
            (400, json!({"error": {"code": "cyber_policy", "message": flagged}}),
             Kind::PolicyRefusal, &["cybersecurity policy", flagged.trim_end_matches('.'), "refused again"]),
            (400, json!({"error": {"code": "bio_policy", "message": ""}}),
             Kind::PolicyRefusal, &["biological safety policy", "no details given", "refused again"]),
            // As the backend sends it: a 403 typed invalid_request_error.
            (403, json!({"error": {"type": "invalid_request_error", "code": "misalignment_policy_violation",
                                   "message": "This request was blocked by our safety systems."}}),
             Kind::PolicyRefusal, &["misalignment", "blocked by our safety systems", "refused again"]),
            (403, json!({"error": {"code": "usage_not_included", "message": "Codex is not included in your plan"}}),
             Kind::NotIncluded, &["does not include Codex (Codex is not included in your plan)", "codexd login"]),
            // Over HTTP the backend sends it as a 429, typed.
            (429, json!({"error": {"type": "usage_not_included"}}),
             Kind::NotIncluded, &["does not include Codex", "codexd login"]),
            (429, json!({"error": {"code": "insufficient_quota", "message": "You exceeded your current quota."}}),
             Kind::QuotaExhausted, &["You exceeded your current quota", "waiting will not", USAGE_PAGE]),
            (403, json!({"error": {"type": "insufficient_quota"}}),
             Kind::QuotaExhausted, &["quota is used up (no details given)"]),
            (400, json!({"error": {"code": "context_length_exceeded", "message": "Your input exceeds the context window."}}),
             Kind::InvalidRequest, &["Your input exceeds the context window."]),
            (503, json!({"error": {"code": "slow_down", "message": ""}}),
             Kind::Overloaded, &["the Codex backend reported an error: slow_down"]),
            (429, json!({"error": {"code": "rate_limit_exceeded", "message": "Slow down."}}),
             Kind::RateLimited, &["Slow down."]),
            // The more telling of code and type wins.
            (429, json!({"error": {"type": "usage_limit_reached", "code": "rate_limit_exceeded", "resets_in_seconds": 60}}),
             Kind::UsageLimit, &["usage limit reached; resets at"]),
            // Unknown codes fall back to the status.
            (403, json!({"error": {"code": "something_new", "message": "no"}}),
             Kind::Forbidden, &["Check that your plan includes Codex"]),
        ];
        for (status, body, kind, needles) in table {
            let err = map(status, &body.to_string());
            assert_eq!(err.kind, kind, "{status} {body}");
            for needle in needles {
                assert!(err.message.contains(needle), "{status} {body}: {:?} lacks {needle:?}", err.message);
            }
        }
    }

    #[test]
    fn a_usage_limit_in_a_stream_says_when_it_resets() {
        let table = [
            (BackendError { resets_in_seconds: Some(3_120), ..Default::default() }, Some(3_120), "in 52 min"),
            (BackendError { resets_at: Some(1_764_007_200), ..Default::default() }, Some(7_200), "in 2 h 0 min"),
            (BackendError::default(), None, "usage limit reached (pro plan)."),
        ];
        for (error, retry_after, needle) in table {
            let error = BackendError { kind: Some("usage_limit_reached"), plan_type: Some("pro"), ..error };
            let err = map_stream_error(&error, now());
            assert_eq!((err.kind, err.status, err.retry_after), (Kind::UsageLimit, None, retry_after));
            assert!(err.message.contains(needle), "{:?} lacks {needle:?}", err.message);
        }
    }

    #[test]
    fn usage_limit_headers_say_which_limit_and_why() {
        let body = br#"{"error":{"type":"usage_limit_reached","resets_in_seconds":600}}"#;
        let table: [(Vec<(&str, &str)>, &str); 4] = [
            (vec![], "ChatGPT usage limit reached; resets at"),
            (
                vec![
                    ("x-codex-active-limit", "codex_bengalfox"),
                    ("x-codex-bengalfox-limit-name", "GPT-5.2-Codex-Sonic"),
                ],
                "usage limit for GPT-5.2-Codex-Sonic reached; another model may still be available; resets at",
            ),
            (vec![("x-codex-rate-limit-reached-type", "workspace_owner_credits_depleted")], "add credits to continue"),
            (
                vec![("x-codex-rate-limit-reached-type", "workspace_member_usage_limit_reached")],
                "ask an owner to raise it",
            ),
        ];
        for (pairs, needle) in table {
            let err = map_upstream_error(&UpstreamFailure { status: 429, headers: &headers(&pairs), body }, now());
            assert_eq!(err.retry_after, Some(600), "{pairs:?}");
            assert!(err.message.contains(needle), "{pairs:?}: {:?} lacks {needle:?}", err.message);
        }
    }

    #[test]
    fn unknown_stream_codes_are_api_errors() {
        let table = [
            (Some("server_error"), "upstream fell over", "upstream fell over"),
            (Some("server_error"), " ", "the Codex backend reported an error: server_error"),
            (None, "", "the Codex backend reported an error without a message"),
        ];
        for (code, message, want) in table {
            let err = map_stream_error(&BackendError { code, message, ..Default::default() }, now());
            assert_eq!(err, Failure::new(Kind::Server, want));
        }
    }

    #[test]
    fn seconds_are_read_however_they_are_written() {
        let table = [
            (json!(1764003120), Some(1_764_003_120)),
            (json!(3120.7), Some(3_120)),
            (json!(" 3120 "), Some(3_120)),
            (json!(-5), Some(-5)),
            (json!(1e300), None),
            (json!("soon"), None),
            (json!(null), None),
            (json!({"at": 1}), None),
        ];
        for (value, want) in table {
            assert_eq!(seconds(&value), want, "{value}");
        }
    }

    /// `tests/fixtures/<name>`: (status, lower-case headers, body).
    fn http_fixture(text: &str) -> (u16, Vec<(String, String)>, String) {
        let (head, body) = text.split_once("\n\n").unwrap();
        let mut lines = head.lines();
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines.filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        (status, headers, body.to_owned())
    }

    #[test]
    fn a_403_web_page_says_the_request_was_blocked_on_the_way() {
        let (status, cloudflare_headers, cloudflare_page) =
            http_fixture(include_str!("../../tests/fixtures/cloudflare-403.http"));
        assert_eq!(status, 403);
        let plan = "Check that your plan includes Codex";
        let blocked = "blocked on its way to ChatGPT";
        let html = "<html><head><title>Access denied</title></head><body>Request blocked.</body></html>";
        let json_headers = [("content-type", "application/json"), ("server", "cloudflare"), ("cf-ray", "8f3a-FRA")];
        #[rustfmt::skip]
        let table: [(Vec<(String, String)>, &str, &[&str], &[&str]); 6] = [
            // Cloudflare's block page, as captured.
            (cloudflare_headers, &cloudflare_page,
             &[blocked, "by Cloudflare", "(Cloudflare Ray ID 8f3a2b1c4d5e6f70-FRA)", "(\"Attention Required! | Cloudflare\")",
               "your plan is not the cause", "VPN"],
             &[plan, "<html", "codexd login"]),
            // The page alone, without the headers.
            (vec![], &cloudflare_page, &[blocked, "by Cloudflare", "Attention Required!"], &[plan, "Ray ID"]),
            // Any other web page: a proxy, say.
            (headers(&[("content-type", "text/html")]), html, &[blocked, "(\"Access denied\")"], &[plan, "Cloudflare"]),
            (headers(&[("server", "cloudflare")]), "\n  <!DOCTYPE html><p>no</p>", &[blocked, "by Cloudflare"], &[plan]),
            // The backend's own 403s keep the plan message, cf-ray or not.
            (headers(&json_headers), r#"{"detail":"Your plan does not allow this."}"#,
             &[plan, "Your plan does not allow this."], &[blocked]),
            (headers(&[("content-type", "text/plain")]), "Forbidden", &[plan, "Forbidden"], &[blocked]),
        ];
        for (pairs, body, needles, absent) in table {
            let failure = UpstreamFailure { status: 403, headers: &pairs, body: body.as_bytes() };
            let err = map_upstream_error(&failure, now());
            assert_eq!(err.kind, Kind::Forbidden, "{body}");
            for needle in needles {
                assert!(err.message.contains(needle), "{:?} lacks {needle:?}", err.message);
            }
            for needle in absent {
                assert!(!err.message.contains(needle), "{:?} has {needle:?}", err.message);
            }
        }
        // Only a 403: a web page with another status is left to the status.
        let failure = UpstreamFailure { status: 502, headers: &[], body: cloudflare_page.as_bytes() };
        assert!(!map_upstream_error(&failure, now()).message.contains(blocked));
    }

    #[test]
    fn long_bodies_are_truncated_on_a_char_boundary() {
        let body = format!("{{\"detail\":\"{}\"}}", "é".repeat(600));
        let err = map(400, &body);
        assert!(err.message.len() < 600 + 100);
        assert!(err.message.ends_with('…'));
    }
}
