//! `codexd login --device`: OpenAI's device-code login, for SSH sessions and
//! machines without a browser (codex.md §5). codexd asks for a user code,
//! the user types it at `{issuer}/codex/device` on any device, and codexd
//! polls until the issuer hands over an authorization code and its PKCE
//! verifier, which are exchanged like a browser login's.
//!
//! These endpoints are OpenAI's own (JSON, not RFC 8628), so they are spoken
//! directly; the final code exchange goes through the `oauth2` crate.

use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use super::http::{Answer, HttpError};
use super::login::{save_login, LoginContext, LoginError, SavedLogin};
use super::oauth::CLIENT_ID;
use super::tokens::StoredTokens;

/// How long a user code is valid.
pub const CODE_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Poll interval when the issuer names none, and the least we accept.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Added to the interval when the issuer asks to slow down (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Network failures in a row after which polling gives up.
const MAX_POLL_FAILURES: u32 = 5;

/// A user code to show, and what polling needs.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    /// Where the user types the code.
    pub verification_url: String,
    pub user_code: String,
    device_auth_id: String,
    interval: Duration,
}

#[derive(Deserialize)]
struct UserCodeAnswer {
    device_auth_id: String,
    #[serde(alias = "usercode")]
    user_code: String,
    #[serde(default, deserialize_with = "seconds")]
    interval: Option<u64>,
}

/// What the issuer hands over once the user has approved.
#[derive(Debug, Deserialize)]
struct DeviceGrant {
    authorization_code: String,
    code_verifier: String,
}

/// What one poll answer means.
#[derive(Debug)]
enum PollStep {
    Granted(DeviceGrant),
    Pending,
    SlowDown,
    Expired,
    Failed(String),
}

/// Ask the issuer for a user code.
pub async fn request_code(ctx: &LoginContext) -> Result<DeviceCode, LoginError> {
    let issuer = ctx.oauth.issuer();
    let url = format!("{issuer}/api/accounts/deviceauth/usercode");
    let answer = ctx.http.post_json(&url, &json!({ "client_id": CLIENT_ID })).await.map_err(unreachable)?;
    match answer.status {
        200..=299 => {}
        404 => return Err(LoginError::DeviceUnavailable { issuer: issuer.to_string() }),
        status => {
            return Err(LoginError::Device(format!(
                "asking for a code failed: {}",
                describe_failure(status, &answer.body)
            )))
        }
    }
    let code: UserCodeAnswer = serde_json::from_slice(&answer.body).map_err(|e| {
        LoginError::Device(format!("the answer to the code request is not understood ({:?} error)", e.classify()))
    })?;
    Ok(DeviceCode {
        verification_url: format!("{issuer}/codex/device"),
        user_code: code.user_code,
        device_auth_id: code.device_auth_id,
        interval: code.interval.map(Duration::from_secs).unwrap_or(DEFAULT_INTERVAL).max(MIN_INTERVAL),
    })
}

/// Poll until the user approves, then exchange and store the login.
pub async fn complete(ctx: &LoginContext, code: &DeviceCode) -> Result<SavedLogin, LoginError> {
    let grant = wait_for_grant(ctx, code).await?;
    let redirect_uri = format!("{}/deviceauth/callback", ctx.oauth.issuer());
    let verifier = oauth2::PkceCodeVerifier::new(grant.code_verifier);
    let issued = ctx.oauth.exchange_code(&ctx.http, &grant.authorization_code, verifier, &redirect_uri).await?;
    let tokens = StoredTokens::from_login(issued, chrono::Utc::now())?;
    save_login(&ctx.store, tokens).await
}

async fn wait_for_grant(ctx: &LoginContext, code: &DeviceCode) -> Result<DeviceGrant, LoginError> {
    let url = format!("{}/api/accounts/deviceauth/token", ctx.oauth.issuer());
    let body = json!({ "device_auth_id": code.device_auth_id, "user_code": code.user_code });
    let deadline = Instant::now() + CODE_LIFETIME;
    let mut interval = code.interval;
    let mut failures = 0;
    loop {
        match ctx.http.post_json(&url, &body).await {
            Ok(answer) => {
                failures = 0;
                match poll_step(&answer) {
                    PollStep::Granted(grant) => return Ok(grant),
                    PollStep::Pending => {}
                    PollStep::SlowDown => interval += SLOW_DOWN_STEP,
                    PollStep::Expired => return Err(LoginError::DeviceExpired),
                    PollStep::Failed(why) => return Err(LoginError::Device(why)),
                }
            }
            Err(e) if failures + 1 < MAX_POLL_FAILURES => {
                failures += 1;
                tracing::debug!(error = %e, "device-code poll failed; trying again");
            }
            Err(e) => return Err(unreachable(e)),
        }
        if Instant::now() + interval >= deadline {
            return Err(LoginError::DeviceExpired);
        }
        actix_web::rt::time::sleep(interval).await;
    }
}

/// Read one poll answer. Pending is 403/404 (what the issuer sends) or an
/// RFC 8628 `authorization_pending`.
fn poll_step(answer: &Answer) -> PollStep {
    let code = error_code(&answer.body).unwrap_or_default().to_ascii_lowercase();
    match (answer.status, code.as_str()) {
        (200..=299, _) => match serde_json::from_slice::<DeviceGrant>(&answer.body) {
            Ok(grant) => PollStep::Granted(grant),
            Err(e) => PollStep::Failed(format!("the approval answer is not understood ({:?} error)", e.classify())),
        },
        (_, "slow_down") | (429, _) => PollStep::SlowDown,
        (_, c) if c == "expired_token" || c.contains("expired") => PollStep::Expired,
        (410, _) => PollStep::Expired,
        (_, "access_denied") => PollStep::Failed("the sign-in was refused on the approval page".into()),
        (403 | 404, _) | (_, "authorization_pending") => PollStep::Pending,
        (status, _) => PollStep::Failed(describe_failure(status, &answer.body)),
    }
}

/// `error` as a string, `error.code`, or `code`: the shapes OpenAI uses.
fn error_code(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let code = match value.get("error") {
        Some(Value::String(code)) => Some(code.as_str()),
        Some(Value::Object(error)) => error.get("code").and_then(Value::as_str),
        _ => None,
    };
    code.or_else(|| value.get("code").and_then(Value::as_str)).map(str::to_string)
}

fn describe_failure(status: u16, body: &[u8]) -> String {
    match error_code(body) {
        Some(code) => format!("the sign-in server answered HTTP {status} ({code})"),
        None => format!("the sign-in server answered HTTP {status}"),
    }
}

fn unreachable(e: HttpError) -> LoginError {
    LoginError::Device(e.to_string())
}

/// The issuer sends `interval` as a string ("5"); accept a number too.
fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Number(u64),
        Text(String),
    }
    Ok(match Option::<Seconds>::deserialize(d)? {
        Some(Seconds::Number(n)) => Some(n),
        Some(Seconds::Text(s)) => s.trim().parse().ok(),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn poll_answers_are_read_the_way_the_issuer_means_them() {
        let table: [(u16, &str, &str); 11] = [
            (200, r#"{"authorization_code":"ac","code_challenge":"ch","code_verifier":"v"}"#, "Granted"),
            (403, r#"{"error":{"code":"deviceauth_authorization_pending"}}"#, "Pending"),
            (404, "", "Pending"),
            (400, r#"{"error":"authorization_pending"}"#, "Pending"),
            (400, r#"{"error":"slow_down"}"#, "SlowDown"),
            (429, "", "SlowDown"),
            (400, r#"{"error":"expired_token"}"#, "Expired"),
            (403, r#"{"error":{"code":"deviceauth_code_expired"}}"#, "Expired"),
            (410, "", "Expired"),
            (400, r#"{"error":"access_denied"}"#, "Failed"),
            (500, r#"{"error":{"code":"server_error"}}"#, "Failed"),
        ];
        for (status, body, expected) in table {
            let step = poll_step(&answer(status, body));
            assert!(format!("{step:?}").starts_with(expected), "{status} {body} -> {step:?}");
        }
        let PollStep::Granted(grant) = poll_step(&answer(200, r#"{"authorization_code":"ac","code_verifier":"v"}"#))
        else {
            panic!("expected a grant");
        };
        assert_eq!((grant.authorization_code.as_str(), grant.code_verifier.as_str()), ("ac", "v"));
        let PollStep::Failed(why) = poll_step(&answer(500, r#"{"error":{"code":"server_error"}}"#)) else { panic!() };
        assert_eq!(why, "the sign-in server answered HTTP 500 (server_error)");
    }

    #[test]
    fn the_interval_may_be_text_or_a_number() {
        let parse = |s: &str| serde_json::from_str::<UserCodeAnswer>(s).unwrap().interval;
        assert_eq!(parse(r#"{"device_auth_id":"d","user_code":"U","interval":"5"}"#), Some(5));
        assert_eq!(parse(r#"{"device_auth_id":"d","usercode":"U","interval":7}"#), Some(7));
        assert_eq!(parse(r#"{"device_auth_id":"d","user_code":"U"}"#), None);
        assert_eq!(parse(r#"{"device_auth_id":"d","user_code":"U","interval":"soon"}"#), None);
    }
}
