//! Retries before the first byte (and the backend's refusals, which are not
//! retried), usage windows, and the endpoints around `/v1/messages` that
//! Claude Code also calls.

mod common;

use common::mock_codex::{self, MockCodex, Reply};
use common::{client, parse_sse, start_daemon, wait_for_catalogue};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn ask(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream,
           "messages": [{"role": "user", "content": "hi"}]})
}

async fn post(daemon: &common::Daemon, body: &Value) -> (u16, Vec<u8>) {
    let (status, _, body) = post_with_retry_after(daemon, body).await;
    (status, body)
}

/// [`post`], with the answer's `retry-after`.
async fn post_with_retry_after(daemon: &common::Daemon, body: &Value) -> (u16, Option<u64>, Vec<u8>) {
    let mut resp = client().post(daemon.url("/v1/messages")).send_json(body).await.unwrap();
    let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    let body = resp.body().limit(1 << 24).await.unwrap();
    (resp.status().as_u16(), retry_after, body.to_vec())
}

/// A captured answer (`tests/fixtures/*.http`: status line, headers, blank
/// line, body), for the mock to replay.
fn capture(text: &str) -> Reply {
    let (head, body) = text.split_once("\n\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    Reply::Http { status, headers, body: body.to_owned() }
}

async fn get_json(daemon: &common::Daemon, path: &str) -> (u16, Value) {
    let mut resp = client().get(daemon.url(path)).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[actix_web::test]
async fn an_overload_inside_a_200_is_retried_before_the_first_byte() {
    let upstream = MockCodex::start();
    let failed = mock_codex::failed_stream("server_is_overloaded", "Our servers are currently overloaded.");
    for stream in [false, true] {
        upstream.push(Reply::Sse(failed.clone()));
        let daemon = start_daemon(&upstream);
        let before = upstream.requests().len();
        let (status, raw) = post(&daemon, &ask(stream)).await;
        assert_eq!(status, 200, "stream={stream}: {}", String::from_utf8_lossy(&raw));
        assert_eq!(upstream.requests().len() - before, 2, "one failure, one success");
        let text = if stream {
            let events = parse_sse(&raw);
            assert!(events.iter().all(|(name, _)| name != "error"), "the client never saw the failed try");
            events.iter().filter_map(|(_, d)| d["delta"]["text"].as_str()).collect::<String>()
        } else {
            let msg: Value = serde_json::from_slice(&raw).unwrap();
            let blocks = msg["content"].as_array().unwrap();
            let text = blocks.iter().find(|b| b["type"] == "text").expect("a text block");
            text["text"].as_str().unwrap().to_owned()
        };
        assert_eq!(text, "Hello from the mock. You said: hi");
    }
}

#[actix_web::test]
async fn http_5xx_and_overloads_are_retried_then_reported() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    upstream.push(Reply::Http { status: 502, headers: vec![], body: "bad gateway".into() });
    upstream.push(Reply::Http { status: 503, headers: vec![], body: "busy".into() });
    let (status, _) = post(&daemon, &ask(true)).await;
    assert_eq!(status, 200, "third try succeeds");
    assert_eq!(upstream.requests().len(), 3);

    for _ in 0..codexd::server::MAX_ATTEMPTS {
        upstream.push(Reply::Http { status: 503, headers: vec![], body: "busy".into() });
    }
    let (status, raw) = post(&daemon, &ask(false)).await;
    assert_eq!(status, 529, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(upstream.requests().len(), 3 + codexd::server::MAX_ATTEMPTS as usize, "gave up after the last try");
}

#[actix_web::test]
async fn client_errors_and_usage_limits_are_not_retried() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    upstream.push(Reply::Http { status: 400, headers: vec![], body: r#"{"detail":"nope"}"#.into() });
    upstream.push(Reply::Http {
        status: 429,
        headers: vec![],
        body: r#"{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_in_seconds":60}}"#.into(),
    });
    assert_eq!(post(&daemon, &ask(false)).await.0, 400);
    assert_eq!(post(&daemon, &ask(false)).await.0, 429);
    assert_eq!(upstream.requests().len(), 2);
}

#[actix_web::test]
async fn refusals_inside_a_stream_are_reported_at_once_not_retried() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let table = [
        ("cyber_policy", 400, "invalid_request_error"),
        ("bio_policy", 400, "invalid_request_error"),
        ("misalignment_policy_violation", 400, "invalid_request_error"),
        ("usage_not_included", 403, "permission_error"),
        ("insufficient_quota", 403, "permission_error"),
    ];
    for (code, status, kind) in table {
        for stream in [false, true] {
            upstream.push(Reply::Sse(mock_codex::failed_stream(code, "The backend says no.")));
            let before = upstream.requests().len();
            let (got, raw) = post(&daemon, &ask(stream)).await;
            let text = String::from_utf8_lossy(&raw);
            assert_eq!(got, status, "{code} stream={stream}: {text}");
            let err: Value = serde_json::from_slice(&raw).unwrap();
            assert_eq!(err["error"]["type"], kind, "{code} stream={stream}");
            assert!(err["error"]["message"].as_str().unwrap().contains("The backend says no"), "{text}");
            assert_eq!(upstream.requests().len() - before, 1, "{code} stream={stream}: not retried");
        }
    }
}

#[actix_web::test]
async fn a_usage_limit_inside_a_stream_says_when_it_resets() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    for stream in [false, true] {
        upstream.push(capture(include_str!("fixtures/codex-200-usage-limit.http")));
        let before = upstream.requests().len();
        let (status, raw) = post(&daemon, &ask(stream)).await;
        let text = String::from_utf8_lossy(&raw);
        assert_eq!(status, 429, "stream={stream}: {text}");
        let err: Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(err["error"]["type"], "rate_limit_error");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("usage limit reached (plus plan); resets at ") && message.contains("(in 52 min)"),
            "{message}"
        );
        assert_eq!(upstream.requests().len() - before, 1, "stream={stream}: not retried");
    }
}

#[actix_web::test]
async fn a_429_without_a_reset_in_its_body_reports_the_window_that_tripped() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let now = chrono::Utc::now().timestamp();
    let headers = [
        ("x-codex-active-limit", "codex".to_owned()),
        ("x-codex-rate-limit-reached-type", "rate_limit_reached".to_owned()),
        ("x-codex-primary-used-percent", "35".to_owned()),
        ("x-codex-primary-window-minutes", "300".to_owned()),
        ("x-codex-primary-reset-at", (now + 3_600).to_string()),
        ("x-codex-secondary-used-percent", "100".to_owned()),
        ("x-codex-secondary-window-minutes", "10080".to_owned()),
        ("x-codex-secondary-reset-at", (now + 400_000).to_string()),
    ];
    upstream.push(Reply::Http {
        status: 429,
        headers: headers.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        body: r#"{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus"}}"#
            .into(),
    });
    let (status, retry_after, raw) = post_with_retry_after(&daemon, &ask(false)).await;
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(status, 429, "{text}");
    assert!(retry_after.is_some_and(|secs| (399_990..=400_000).contains(&secs)), "the weekly reset: {retry_after:?}");
    assert!(text.contains("usage limit reached (plus plan); resets at ") && text.contains("(in 4 days)"), "{text}");
    assert_eq!(upstream.requests().len(), 1);
}

#[actix_web::test]
async fn a_cloudflare_block_page_says_the_request_was_blocked_on_the_way() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    upstream.push(capture(include_str!("fixtures/cloudflare-403.http")));
    let (status, raw) = post(&daemon, &ask(true)).await;
    let err: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["error"]["type"], "permission_error");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("blocked on its way to ChatGPT by Cloudflare"), "{message}");
    assert!(message.contains("VPN") && !message.contains("plan includes Codex"), "{message}");
    assert_eq!(upstream.requests().len(), 1);
}

#[actix_web::test]
async fn usage_windows_from_upstream_headers_show_in_health() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let (_, health) = get_json(&daemon, "/health").await;
    assert_eq!(health["rate_limits"], Value::Null, "nothing seen yet");

    assert_eq!(post(&daemon, &ask(false)).await.0, 200);
    let (_, health) = get_json(&daemon, "/health").await;
    let limits = &health["rate_limits"];
    assert_eq!(limits["primary"]["used_percent"], 12.0);
    assert_eq!(limits["primary"]["window_minutes"], 300);
    assert_eq!(limits["secondary"]["used_percent"], 3.0);
    assert!(limits["primary"]["resets_at"].is_string());
}

#[actix_web::test]
async fn models_are_listed_in_anthropic_format() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    wait_for_catalogue(&daemon).await;
    let (status, list) = get_json(&daemon, "/v1/models").await;
    assert_eq!(status, 200);
    let data = list["data"].as_array().unwrap();
    assert!(data.iter().all(|m| m["type"] == "model" && m["display_name"].is_string() && m["created_at"].is_string()));
    let ids: Vec<&str> = data.iter().filter_map(|m| m["id"].as_str()).collect();
    for id in ["opus", "sonnet", "haiku", "claude-sonnet-4-5-20250929", "gpt-6-sol", "gpt-6-astra", "gpt-6-luna"] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    // The live catalogue, not a fixed table: retired and hidden models are left out.
    for id in ["gpt-5.2-codex", "gpt-5.6-sol", "gpt-reserve"] {
        assert!(!ids.contains(&id), "{id} in {ids:?}");
    }
    assert_eq!(list["has_more"], false);
    assert_eq!(list["first_id"], data[0]["id"]);

    let (status, page) = get_json(&daemon, "/v1/models?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], true);
    let (_, next) =
        get_json(&daemon, &format!("/v1/models?limit=2&after_id={}", page["last_id"].as_str().unwrap())).await;
    assert_eq!(next["data"][0]["id"], data[2]["id"]);

    let (status, one) = get_json(&daemon, "/v1/models/claude-opus-4-1-20250805").await;
    assert_eq!(status, 200);
    assert!(one["display_name"].as_str().unwrap().contains("GPT-6 Sol (high effort)"), "{one}");
    let (status, err) = get_json(&daemon, "/v1/models/not-a-model").await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["type"], "not_found_error");
}

#[actix_web::test]
async fn claude_code_side_traffic_succeeds() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let cases = [
        // The /model probe: non-streaming, max_tokens 1.
        (
            json!({"model": "claude-opus-4-1-20250805", "max_tokens": 1, "messages": [{"role": "user", "content": "quota"}]}),
            "gpt-6-sol",
            Some("high"),
        ),
        // Title generation on a haiku model.
        (
            json!({"model": "claude-3-5-haiku-20241022", "max_tokens": 512, "system": "Write a 5-word title.", "messages": [{"role": "user", "content": "fix the bug"}], "stream": true}),
            "gpt-6-luna",
            Some("low"),
        ),
        // A 1M-context model name.
        (
            json!({"model": "claude-sonnet-4-5-20250929[1m]", "max_tokens": 32000, "messages": [{"role": "user", "content": "hi"}], "stream": true}),
            "gpt-5.6-terra",
            Some("medium"),
        ),
    ];
    for (body, model, effort) in cases {
        let (status, raw) = post(&daemon, &body).await;
        assert_eq!(status, 200, "{body}: {}", String::from_utf8_lossy(&raw));
        if body["stream"] == true {
            let events = parse_sse(&raw);
            assert_eq!(events.last().unwrap().0, "message_stop");
            assert_eq!(events[0].1["message"]["model"], body["model"]);
        } else {
            let msg: Value = serde_json::from_slice(&raw).unwrap();
            assert_eq!(msg["model"], body["model"]);
        }
        let sent = upstream.last_request();
        assert_eq!(sent.body["model"], model, "{body}");
        assert_eq!(sent.body["reasoning"]["effort"].as_str(), effort, "{body}");
        let lite = sent.header("x-openai-internal-codex-responses-lite") == Some("true");
        assert_eq!(lite, model.ends_with("-luna"), "only Luna goes over Responses Lite: {body}");
    }
}

#[actix_web::test]
async fn codexd_status_shows_the_usage_windows_the_daemon_saw() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    wait_for_catalogue(&daemon).await;
    assert_eq!(post(&daemon, &ask(false)).await.0, 200);
    let port = daemon.url.rsplit(':').next().unwrap().to_owned();
    let home = daemon.home.path().to_owned();
    let output = actix_web::rt::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_codexd"))
            .args(["status"])
            .env_clear()
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", &home)
            .env("CODEXD_HOME", &home)
            .env("PORT", port)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("Signed in to ChatGPT as user@example.com (plan: plus)."), "{stdout}");
    assert!(stdout.contains("/health answers"), "{stdout}");
    assert!(stdout.contains("usage      5 h window 12% used, resets "), "{stdout}");
    assert!(stdout.contains("weekly window 3% used"), "{stdout}");
    assert!(stdout.contains("models     catalogue: live, read "), "{stdout}");
    assert!(!stdout.contains(mock_codex::MOCK_TOKEN));
}

/// [`post`], with the answer's `x-should-retry` and how long it took.
async fn post_timed(daemon: &common::Daemon, body: &Value) -> (u16, Option<String>, Vec<u8>, Duration) {
    let started = Instant::now();
    let mut resp = client().post(daemon.url("/v1/messages")).send_json(body).await.unwrap();
    let should_retry = resp.headers().get("x-should-retry").and_then(|v| Some(v.to_str().ok()?.to_owned()));
    let body = resp.body().limit(1 << 24).await.unwrap();
    (resp.status().as_u16(), should_retry, body.to_vec(), started.elapsed())
}

fn daemon_with(upstream: &MockCodex, tune: impl FnOnce(&mut codexd::config::Settings)) -> common::Daemon {
    let home = tempfile::tempdir().unwrap();
    common::write_tokens(home.path(), mock_codex::MOCK_TOKEN);
    let mut settings = common::test_settings(upstream, home.path());
    tune(&mut settings);
    common::start_daemon_with(settings, home)
}

/// An upstream that never sends its headers is waited for once, within the
/// request's one deadline, not `request_timeout` per try; the client is
/// told not to try again on its own.
#[actix_web::test]
async fn all_tries_share_one_deadline() {
    let upstream = MockCodex::start();
    let daemon = daemon_with(&upstream, |s| s.request_timeout = Duration::from_secs(2));
    for _ in 0..codexd::server::MAX_ATTEMPTS {
        upstream
            .push(Reply::Delayed(Duration::from_secs(30), Box::new(Reply::Sse(mock_codex::text_stream("m", "late")))));
    }
    let (status, should_retry, raw, took) = post_timed(&daemon, &ask(false)).await;
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(status, 502, "{text}");
    assert!(took < Duration::from_millis(3_500), "one deadline for all tries: took {took:?}");
    assert!(text.contains("timed out"), "{text}");
    assert_eq!(should_retry.as_deref(), Some("false"));
    assert_eq!(upstream.requests().len(), 1, "no try starts past the deadline");
}

/// A 503's `retry-after` is waited out before the next try; once codexd
/// has used up its tries, the client is told not to multiply them.
#[actix_web::test]
async fn a_503_retry_after_is_honoured_and_giving_up_says_do_not_retry() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let busy = || Reply::Http { status: 503, headers: vec![("retry-after".into(), "1".into())], body: "busy".into() };
    let first = upstream.push(busy());
    let second = upstream.push(Reply::Sse(mock_codex::text_stream("gpt-5.6-terra", "fine")));
    let (status, should_retry, _, took) = post_timed(&daemon, &ask(false)).await;
    assert_eq!(status, 200);
    assert_eq!(should_retry, None);
    assert!(took >= Duration::from_secs(1), "waited out retry-after: {took:?}");
    assert!(first.request().is_some() && second.request().is_some(), "the mock says which try got which reply");

    for _ in 0..codexd::server::MAX_ATTEMPTS {
        upstream.push(Reply::Http { status: 502, headers: vec![], body: "bad gateway".into() });
    }
    let (status, should_retry, raw, _) = post_timed(&daemon, &ask(true)).await;
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(should_retry.as_deref(), Some("false"), "codexd tried {} times already", codexd::server::MAX_ATTEMPTS);
    // Refusals that no retry would pass keep the client's own judgement.
    upstream.push(Reply::Http { status: 400, headers: vec![], body: r#"{"detail":"nope"}"#.into() });
    let (status, should_retry, _, _) = post_timed(&daemon, &ask(false)).await;
    assert_eq!((status, should_retry), (400, None));
}

/// A malformed event would be sent again: one try, not three.
#[actix_web::test]
async fn a_malformed_event_is_not_retried() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    for stream in [false, true] {
        let before = upstream.requests().len();
        upstream.push(Reply::Sse("event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\ndata: {not json\n\n".into()));
        let (status, _, raw, _) = post_timed(&daemon, &ask(stream)).await;
        let text = String::from_utf8_lossy(&raw);
        assert_eq!(status, 500, "stream={stream}: {text}");
        assert!(text.contains("malformed"), "{text}");
        assert_eq!(upstream.requests().len() - before, 1, "stream={stream}: not retried");
    }
}

/// A non-streaming answer that fails after its generation began has cost
/// quota: it is reported, not generated again (nor by the client).
#[actix_web::test]
async fn a_non_streaming_answer_that_fails_midway_is_not_generated_again() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let events = mock_codex::text_events("gpt-5.6-terra", "half an answer that never ends");
    let partial: Vec<(Duration, String)> =
        events[..5].iter().map(|event| (Duration::ZERO, mock_codex::sse(std::slice::from_ref(event)))).collect();
    upstream.push(Reply::ChunksThenReset(partial));
    let (status, should_retry, raw, _) = post_timed(&daemon, &ask(false)).await;
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(status, 500, "{text}");
    assert_eq!(should_retry.as_deref(), Some("false"), "{text}");
    for debug in ["Some(", ": None", "Os {"] {
        assert!(!text.contains(debug), "no Rust Debug output: {text}");
    }
    assert_eq!(upstream.requests().len(), 1, "generated once");
}
