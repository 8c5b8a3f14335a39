//! The daemon side of auth, in process: `Auth::credentials` with many
//! concurrent callers, the 401 refresh, permanent and transient refresh
//! failures, the refresh timer (with a hanging issuer, a failing one, and a
//! file replaced under it), two homes sharing one file through a symlink, and
//! logins written by another process.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use codexd::anthropic::{ApiError, ErrorKind};
use codexd::auth::{Auth, AuthError, Credentials};
use codexd::config::Settings;
use common::mock_oauth::{Minted, MockOAuth, RefreshBehavior, CLIENT_ID};
use futures_util::future::join_all;
use serde_json::Value;

struct Setup {
    mock: MockOAuth,
    _dir: tempfile::TempDir,
    settings: Settings,
}

impl Setup {
    fn new() -> Setup {
        let mock = MockOAuth::start();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::defaults();
        settings.home = dir.path().join("codexd");
        settings.auth_issuer = mock.url.clone();
        Setup { mock, _dir: dir, settings }
    }

    /// Store a login whose access token expires in `lifetime`.
    fn login(&self, lifetime: Duration) -> Minted {
        let minted = self.mock.mint(lifetime);
        self.write(&minted.tokens_json());
        minted
    }

    /// Replace the file the way another codexd would: write aside, rename.
    fn write(&self, tokens: &Value) {
        std::fs::create_dir_all(&self.settings.home).unwrap();
        let temp = self.settings.home.join(".tokens.json.test.tmp");
        std::fs::write(&temp, serde_json::to_vec_pretty(tokens).unwrap()).unwrap();
        std::fs::rename(&temp, self.settings.tokens_path()).unwrap();
    }

    fn file(&self) -> Value {
        read_json(&self.settings.tokens_path())
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Inside the 5-minute refresh margin, but still valid.
const EXPIRING: Duration = Duration::from_secs(60);
/// Expired: a request cannot go on without a refresh.
const EXPIRED: Duration = Duration::ZERO;
const FRESH: Duration = Duration::from_secs(3600);

#[actix_web::test]
async fn a_fresh_token_is_handed_out_without_refreshing() {
    let s = Setup::new();
    let minted = s.login(FRESH);
    let auth = Auth::new(&s.settings);
    let creds = auth.credentials().await.unwrap();
    assert_eq!(creds.access_token, minted.access_token);
    assert_eq!(creds.account_id.as_deref(), Some(minted.person.account_id.as_str()));
    assert_eq!(s.mock.refresh_calls(), 0);
    assert!(auth.logged_in());
}

#[actix_web::test]
async fn many_concurrent_callers_share_one_refresh() {
    let s = Setup::new();
    let old = s.login(EXPIRED);
    s.mock.set_refresh_delay(Duration::from_millis(300));
    let auth = Auth::new(&s.settings);

    let results = join_all((0..25).map(|_| auth.credentials())).await;

    assert_eq!(s.mock.refresh_calls(), 1, "exactly one refresh reaches the token endpoint");
    let stored = s.file();
    for creds in results {
        let creds = creds.unwrap();
        assert_ne!(creds.access_token, old.access_token);
        assert_eq!(creds.access_token, stored["access_token"]);
    }
    assert_ne!(stored["refresh_token"], old.refresh_token, "the rotated refresh token is kept");
    assert!(s.mock.problems().is_empty(), "{:?}", s.mock.problems());
    let request = &s.mock.token_requests()[0];
    assert_eq!(request["grant_type"], "refresh_token");
    assert_eq!(request["refresh_token"], old.refresh_token);
}

#[actix_web::test]
async fn the_refresh_is_the_codex_clis_json_body_without_scope() {
    let s = Setup::new();
    let old = s.login(EXPIRED);
    let auth = Auth::new(&s.settings);
    let creds = auth.credentials().await.unwrap();
    assert_ne!(creds.access_token, old.access_token);
    // The mock refuses a form body or any field beyond these three.
    assert!(s.mock.problems().is_empty(), "{:?}", s.mock.problems());
    let request = s.mock.token_requests().pop().unwrap();
    let expected = [("client_id", CLIENT_ID), ("grant_type", "refresh_token"), ("refresh_token", &old.refresh_token)];
    let expected: BTreeMap<String, String> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(request, expected);
}

#[actix_web::test]
async fn the_mock_refuses_a_refresh_in_another_format() {
    // Guards the test above: a form-encoded or scoped refresh must not pass.
    let s = Setup::new();
    let minted = s.mock.mint(FRESH);
    let url = format!("{}/oauth/token", s.mock.url);
    let client = awc::Client::default();
    let form = [("client_id", CLIENT_ID), ("grant_type", "refresh_token"), ("refresh_token", &minted.refresh_token)];
    let mut scoped = serde_json::json!({"client_id": CLIENT_ID, "grant_type": "refresh_token"});
    scoped["refresh_token"] = minted.refresh_token.clone().into();
    scoped["scope"] = "openid profile email".into();
    let answers = [client.post(&url).send_form(&form).await, client.post(&url).send_json(&scoped).await];
    for answer in answers {
        let mut answer = answer.unwrap();
        assert_eq!(answer.status().as_u16(), 400);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    }
    assert_eq!(s.mock.problems().len(), 2, "{:?}", s.mock.problems());
}

#[actix_web::test]
async fn a_request_that_arrives_during_a_refresh_waits_for_it() {
    let s = Setup::new();
    s.login(EXPIRED);
    s.mock.set_refresh_delay(Duration::from_millis(400));
    let auth = Auth::new(&s.settings);
    let first = auth.credentials();
    let late = async {
        actix_web::rt::time::sleep(Duration::from_millis(150)).await;
        auth.credentials().await
    };
    let (first, late) = futures_util::future::join(first, late).await;
    assert_eq!(first.unwrap(), late.unwrap());
    assert_eq!(s.mock.refresh_calls(), 1);
}

#[actix_web::test]
async fn two_auth_handles_on_one_file_refresh_once() {
    // Two daemons (or a daemon and `codexd status`) share the file and its lock.
    let s = Setup::new();
    s.login(EXPIRED);
    s.mock.set_refresh_delay(Duration::from_millis(300));
    let (a, b) = (Auth::new(&s.settings), Auth::new(&s.settings));
    let (ca, cb) = futures_util::future::join(a.credentials(), b.credentials()).await;
    assert_eq!(ca.unwrap(), cb.unwrap());
    assert_eq!(s.mock.refresh_calls(), 1);
}

#[actix_web::test]
async fn an_unauthorized_token_is_refreshed_once_for_all_callers() {
    let s = Setup::new();
    let old = s.login(FRESH);
    s.mock.set_refresh_delay(Duration::from_millis(200));
    let auth = Auth::new(&s.settings);
    let rejected = auth.credentials().await.unwrap();
    assert_eq!(rejected.access_token, old.access_token);

    let retries = join_all((0..10).map(|_| auth.refresh_after_unauthorized(&rejected))).await;
    assert_eq!(s.mock.refresh_calls(), 1);
    let fresh: Vec<Credentials> = retries.into_iter().map(Result::unwrap).collect();
    assert!(fresh.iter().all(|c| c == &fresh[0] && c.access_token != old.access_token));

    // A late 401 for the old token must not refresh again: a newer one exists.
    let again = auth.refresh_after_unauthorized(&rejected).await.unwrap();
    assert_eq!(again, fresh[0]);
    assert_eq!(s.mock.refresh_calls(), 1);
}

#[actix_web::test]
async fn a_permanent_refresh_failure_marks_the_login_as_needing_login() {
    for behavior in [
        RefreshBehavior::InvalidGrant,
        RefreshBehavior::ErrorCode("refresh_token_expired"),
        RefreshBehavior::ErrorCode("refresh_token_reused"),
        // Any 401 is final, as for the Codex CLI, whatever its body says.
        RefreshBehavior::Answer(401, r#"{"error":"invalid_client"}"#),
        RefreshBehavior::Answer(401, "Unauthorized"),
        // The three codes are final at any status.
        RefreshBehavior::Answer(400, r#"{"error":{"code":"refresh_token_invalidated","message":"revoked"}}"#),
    ] {
        let s = Setup::new();
        s.login(EXPIRED);
        s.mock.set_refresh_behavior(behavior.clone());
        let auth = Auth::new(&s.settings);

        let err = auth.credentials().await.unwrap_err();
        assert!(matches!(err, AuthError::NeedsLogin { .. }), "{behavior:?}: {err}");
        assert!(s.file()["needs_login"]["reason"].is_string(), "{behavior:?}: the mark is persisted");
        assert!(!auth.logged_in());

        let api = ApiError::from(err);
        assert_eq!((api.kind, api.status), (ErrorKind::AuthenticationError, 401));
        assert!(api.message.contains("codexd login"), "{}", api.message);

        // No more calls to the token endpoint, in this process or a new one.
        assert!(Auth::new(&s.settings).credentials().await.is_err());
        assert_eq!(s.mock.refresh_calls(), 1, "{behavior:?}");
    }
}

#[actix_web::test]
async fn a_transient_failure_keeps_a_still_valid_token_and_reports_an_expired_one() {
    let s = Setup::new();
    let still_valid = s.login(EXPIRING);
    s.mock.set_refresh_behavior(RefreshBehavior::ServerError);
    let auth = Auth::new(&s.settings);
    assert_eq!(auth.credentials().await.unwrap().access_token, still_valid.access_token);
    assert!(s.file().get("needs_login").is_none(), "a hiccup is not a lost login");

    let mut expired = s.mock.mint(FRESH).tokens_json();
    expired["expires_at"] = Value::from("2020-01-01T00:00:00Z");
    s.write(&expired);
    let err = auth.credentials().await.unwrap_err();
    assert!(matches!(err, AuthError::RefreshFailed { .. }), "{err}");
    let api = ApiError::from(err);
    assert_eq!((api.kind, api.status), (ErrorKind::ApiError, 503));
    assert!(api.retry_after.is_some());
}

#[actix_web::test]
async fn refusals_worth_retrying_keep_the_login() {
    for behavior in [
        RefreshBehavior::Answer(400, r#"{"error":{"code":"invalid_request","message":"try later"}}"#),
        RefreshBehavior::Answer(429, r#"{"error":{"code":"rate_limit_exceeded","message":"slow down"}}"#),
        RefreshBehavior::Answer(500, r#"{"error":"invalid_grant"}"#),
        RefreshBehavior::Answer(503, "<html>maintenance</html>"),
    ] {
        let s = Setup::new();
        let mut expired = s.mock.mint(FRESH).tokens_json();
        expired["expires_at"] = Value::from("2020-01-01T00:00:00Z");
        s.write(&expired);
        s.mock.set_refresh_behavior(behavior.clone());
        let auth = Auth::new(&s.settings);

        let err = auth.credentials().await.unwrap_err();
        assert!(matches!(err, AuthError::RefreshFailed { .. }), "{behavior:?}: {err}");
        assert!(s.file().get("needs_login").is_none(), "{behavior:?}: the login is kept");
        assert!(auth.logged_in(), "{behavior:?}");
    }
}

#[actix_web::test]
async fn no_login_is_a_clean_error() {
    let s = Setup::new();
    let auth = Auth::new(&s.settings);
    assert!(!auth.logged_in());
    let err = auth.credentials().await.unwrap_err();
    assert!(matches!(err, AuthError::NotLoggedIn), "{err}");
    let api = ApiError::from(err);
    assert_eq!(api.status, 401);
    assert!(api.message.contains("codexd login"));
}

#[actix_web::test]
async fn a_damaged_file_is_reported_and_left_alone() {
    let s = Setup::new();
    std::fs::create_dir_all(&s.settings.home).unwrap();
    std::fs::write(s.settings.tokens_path(), "{\"version\": 1, \"access_tok").unwrap();
    let auth = Auth::new(&s.settings);
    let err = auth.credentials().await.unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
    assert!(!auth.logged_in());
    assert_eq!(std::fs::read_to_string(s.settings.tokens_path()).unwrap(), "{\"version\": 1, \"access_tok");
}

#[actix_web::test]
async fn logins_and_logouts_by_other_processes_take_effect_at_once() {
    let s = Setup::new();
    let auth = Auth::new(&s.settings);
    assert!(matches!(auth.credentials().await, Err(AuthError::NotLoggedIn)));

    let first = s.login(FRESH);
    assert_eq!(auth.credentials().await.unwrap().access_token, first.access_token);
    let second = s.login(FRESH);
    assert_eq!(auth.credentials().await.unwrap().access_token, second.access_token);

    std::fs::remove_file(s.settings.tokens_path()).unwrap();
    assert!(matches!(auth.credentials().await, Err(AuthError::NotLoggedIn)));
}

#[actix_web::test]
async fn the_timer_refreshes_at_expiry_minus_five_minutes() {
    let s = Setup::new();
    // Due in one second: expires in 5 min + 1 s.
    let old = s.login(Duration::from_secs(5 * 60 + 1));
    let auth = Auth::new(&s.settings);
    auth.spawn_refresh_timer();
    assert_eq!(s.mock.refresh_calls(), 0);

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.mock.refresh_calls() == 0 && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.mock.refresh_calls(), 1);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_ne!(s.file()["access_token"], old.access_token);
    assert_eq!(s.mock.refresh_calls(), 1, "the new token is not due yet");
}

/// Wait up to `timeout` for `condition`, polling on the actix runtime.
async fn eventually(timeout: Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while !condition() && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}

#[actix_web::test]
async fn a_hanging_issuer_never_holds_up_a_valid_token() {
    // Inside the last 5 minutes, the timer's refresh hangs (until its 30 s
    // timeout); requests meanwhile get the still-valid token at once.
    let s = Setup::new();
    let current = s.login(EXPIRING);
    s.mock.set_refresh_behavior(RefreshBehavior::Hang);
    let auth = Auth::new(&s.settings);
    auth.spawn_refresh_timer();
    assert!(eventually(Duration::from_secs(5), || s.mock.refresh_calls() == 1).await, "the timer tried");

    for _ in 0..5 {
        let started = std::time::Instant::now();
        let creds = actix_web::rt::time::timeout(Duration::from_secs(2), auth.credentials())
            .await
            .expect("a valid token is handed out without waiting for the hanging refresh")
            .unwrap();
        assert_eq!(creds.access_token, current.access_token);
        assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
    }
    assert_eq!(s.mock.refresh_calls(), 1, "requests leave refreshing to the timer");
}

#[actix_web::test]
async fn a_failed_refresh_is_retried_by_the_timer_with_backoff() {
    let s = Setup::new();
    let current = s.login(EXPIRING);
    s.mock.set_refresh_behavior(RefreshBehavior::ServerError);
    let auth = Auth::new(&s.settings);
    auth.spawn_refresh_timer();
    assert!(eventually(Duration::from_secs(5), || s.mock.refresh_calls() == 1).await, "the timer tried");

    // Requests do not retry it themselves, however many there are.
    for _ in 0..10 {
        assert_eq!(auth.credentials().await.unwrap().access_token, current.access_token);
    }
    assert_eq!(s.mock.refresh_calls(), 1);

    // The issuer recovers; the timer's next try (after its first 5 s backoff) succeeds.
    s.mock.set_refresh_behavior(RefreshBehavior::Rotate);
    assert!(eventually(Duration::from_secs(9), || s.mock.refresh_calls() == 2).await, "the timer retried");
    assert!(eventually(Duration::from_secs(2), || s.file()["access_token"] != current.access_token).await);
    assert_ne!(auth.credentials().await.unwrap().access_token, current.access_token);
    assert_eq!(s.mock.refresh_calls(), 2);
}

#[actix_web::test]
async fn the_timer_notices_a_token_file_replaced_under_it() {
    // A fresh token: the timer plans its next look minutes away. Then another
    // process writes a login that is already due.
    let s = Setup::new();
    s.login(FRESH);
    let auth = Auth::new(&s.settings);
    auth.spawn_refresh_timer();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let replaced = s.login(EXPIRING);
    assert!(
        eventually(Duration::from_secs(6), || s.mock.refresh_calls() == 1).await,
        "the timer refreshed the new token without sleeping out its old plan"
    );
    assert!(eventually(Duration::from_secs(2), || s.file()["access_token"] != replaced.access_token).await);
}

#[cfg(unix)]
#[actix_web::test]
async fn two_homes_sharing_one_file_through_a_symlink_refresh_once() {
    let s = Setup::new();
    let old = s.login(EXPIRED);
    s.mock.set_refresh_delay(Duration::from_millis(300));
    let mut other = s.settings.clone();
    other.home = s._dir.path().join("other-home");
    std::fs::create_dir_all(&other.home).unwrap();
    std::os::unix::fs::symlink(s.settings.tokens_path(), other.tokens_path()).unwrap();

    let (a, b) = (Auth::new(&s.settings), Auth::new(&other));
    let (ca, cb) = futures_util::future::join(a.credentials(), b.credentials()).await;
    let (ca, cb) = (ca.unwrap(), cb.unwrap());
    assert_eq!(ca, cb, "both homes use the one refreshed token");
    assert_ne!(ca.access_token, old.access_token);
    assert_eq!(s.mock.refresh_calls(), 1, "one refresh: the rotating refresh token is not burnt");
    assert!(s.mock.problems().is_empty(), "{:?}", s.mock.problems());
    assert!(std::fs::symlink_metadata(other.tokens_path()).unwrap().file_type().is_symlink(), "the link is kept");
    assert_eq!(s.file()["access_token"], ca.access_token.as_str());
}

#[test]
fn credentials_debug_redacts_the_token() {
    let creds = Credentials { access_token: "sekrit-token".into(), account_id: Some("acc".into()) };
    let shown = format!("{creds:?}");
    assert!(!shown.contains("sekrit-token") && shown.contains("acc"), "{shown}");
}
