//! The server's side of the login: a 401 from upstream refreshes once and
//! retries, and a token near expiry is used while it is valid, its refresh
//! shared by the timer and every 401 — without a restart.

mod common;

use std::time::Duration;

use common::mock_codex::{MockCodex, TokenRule};
use common::mock_oauth::{Minted, MockOAuth};
use common::{client, start_daemon_with, test_settings};
use futures_util::future::join_all;
use serde_json::{json, Value};

fn setup(lifetime: Duration) -> (MockCodex, MockOAuth, Minted, common::Daemon) {
    let upstream = MockCodex::start();
    let oauth = MockOAuth::start();
    let minted = oauth.mint(lifetime);
    upstream.set_account(&minted.person.account_id);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("tokens.json"), minted.tokens_json().to_string()).unwrap();
    let mut settings = test_settings(&upstream, home.path());
    settings.auth_issuer = oauth.url.clone();
    let daemon = start_daemon_with(settings, home);
    (upstream, oauth, minted, daemon)
}

async fn ask(daemon: &common::Daemon) -> (u16, Value) {
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]});
    let mut resp = client().post(daemon.url("/v1/messages")).send_json(&body).await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn bearer(recorded: &common::mock_codex::Recorded) -> String {
    recorded.header("authorization").unwrap().trim_start_matches("Bearer ").to_owned()
}

#[actix_web::test]
async fn an_upstream_401_refreshes_once_and_retries() {
    let (upstream, oauth, minted, daemon) = setup(Duration::from_secs(3600));
    upstream.set_token_rule(TokenRule::AnyBut(vec![minted.access_token.clone()]));

    let (status, body) = ask(&daemon).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(oauth.refresh_calls(), 1);
    let requests = upstream.requests();
    assert_eq!(requests.len(), 2, "the refused try and the retry");
    assert_eq!(bearer(&requests[0]), minted.access_token);
    assert_ne!(bearer(&requests[1]), minted.access_token, "the retry used the refreshed token");

    // The next request uses the refreshed token straight away.
    let (status, _) = ask(&daemon).await;
    assert_eq!(status, 200);
    assert_eq!(oauth.refresh_calls(), 1);
    assert_eq!(bearer(&upstream.last_request()), bearer(&requests[1]));
}

#[actix_web::test]
async fn a_401_after_refresh_is_reported_not_looped() {
    let (upstream, oauth, _minted, daemon) = setup(Duration::from_secs(3600));
    upstream.set_token_rule(TokenRule::Exactly("nobody-has-this".into()));
    let (status, body) = ask(&daemon).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["type"], "authentication_error");
    assert!(body["error"]["message"].as_str().unwrap().contains("codexd login"), "{body}");
    assert_eq!(oauth.refresh_calls(), 1, "exactly one refresh");
    assert_eq!(upstream.requests().len(), 2, "exactly one retry");
}

#[actix_web::test]
async fn concurrent_requests_near_expiry_share_one_refresh() {
    // Inside the 5-minute buffer the token is still valid, so requests use it
    // at once (the timer refreshes it). Here the backend already refuses it:
    // each request's 401 and the timer share one refresh, and every retry
    // uses the one new token.
    let (upstream, oauth, minted, daemon) = setup(Duration::from_secs(120));
    upstream.set_token_rule(TokenRule::AnyBut(vec![minted.access_token.clone()]));
    oauth.set_refresh_delay(Duration::from_millis(300));

    let results = join_all((0..8).map(|_| ask(&daemon))).await;
    assert!(results.iter().all(|(status, _)| *status == 200), "{results:?}");
    assert_eq!(oauth.refresh_calls(), 1, "single-flight refresh");
    let tokens: std::collections::BTreeSet<String> =
        upstream.requests().iter().map(bearer).filter(|t| *t != minted.access_token).collect();
    assert_eq!(tokens.len(), 1, "every retry used the one new token");
}
