//! Local guards, limits, fault injection and load: every failure reaches
//! the client in Anthropic form, the daemon keeps serving, and nothing is
//! left in flight.

mod common;

use std::time::Duration;

use codexd::config::Secret;
use common::mock_codex::{self, MockCodex, Reply};
use common::{client, parse_sse, start_daemon, start_daemon_with, test_settings, write_tokens};
use futures_util::future::join_all;
use serde_json::{json, Value};

fn ask(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream,
           "messages": [{"role": "user", "content": "hi"}]})
}

/// A daemon whose settings `tune` adjusts.
fn daemon_with(upstream: &MockCodex, tune: impl FnOnce(&mut codexd::config::Settings)) -> common::Daemon {
    let home = tempfile::tempdir().unwrap();
    write_tokens(home.path(), mock_codex::MOCK_TOKEN);
    let mut settings = test_settings(upstream, home.path());
    tune(&mut settings);
    start_daemon_with(settings, home)
}

async fn send(req: awc::ClientRequest, body: &Value) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
    let mut resp = req.send_json(body).await.expect("codexd answers");
    let raw = resp.body().limit(1 << 24).await.unwrap_or_default();
    (resp.status().as_u16(), resp.headers().clone(), raw.to_vec())
}

fn error_type(raw: &[u8]) -> String {
    let v: Value = serde_json::from_slice(raw).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(raw)));
    assert_eq!(v["type"], "error");
    v["error"]["type"].as_str().unwrap().to_owned()
}

async fn in_flight(daemon: &common::Daemon) -> u64 {
    let mut resp = client().get(daemon.url("/health")).send().await.unwrap();
    let health: Value = resp.json().await.unwrap();
    health["in_flight"].as_u64().unwrap()
}

/// Wait (bounded) for the daemon to have nothing in flight.
async fn settle(daemon: &common::Daemon) {
    for _ in 0..100 {
        if in_flight(daemon).await == 0 {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("requests still in flight");
}

#[actix_web::test]
async fn foreign_hosts_and_browser_origins_are_refused() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let url = daemon.url("/v1/messages");

    let (status, headers, raw) =
        send(client().post(&url).insert_header(("host", "evil.example:19080")), &ask(false)).await;
    assert_eq!(status, 403);
    assert_eq!(error_type(&raw), "permission_error");
    assert!(headers.get("request-id").is_some());

    let (status, headers, raw) =
        send(client().post(&url).insert_header(("origin", "https://evil.example")), &ask(false)).await;
    assert_eq!(status, 403);
    assert_eq!(error_type(&raw), "permission_error");
    assert!(headers.get("access-control-allow-origin").is_none(), "no permissive CORS");

    let mut preflight = client()
        .request(awc::http::Method::OPTIONS, &url)
        .insert_header(("origin", "https://evil.example"))
        .insert_header(("access-control-request-method", "POST"))
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 403);
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
    let _ = preflight.body().await;

    assert!(upstream.requests().is_empty(), "nothing refused reached upstream");
    let (status, _, _) = send(client().post(&url).insert_header(("host", "localhost:19080")), &ask(false)).await;
    assert_eq!(status, 200, "loopback names pass");
}

#[actix_web::test]
async fn an_allowed_origin_gets_cors_and_preflights() {
    let upstream = MockCodex::start();
    let daemon = daemon_with(&upstream, |s| s.allowed_origins = vec!["http://localhost:3000".into()]);
    let url = daemon.url("/v1/messages");
    let mut preflight = client()
        .request(awc::http::Method::OPTIONS, &url)
        .insert_header(("origin", "http://localhost:3000"))
        .insert_header(("access-control-request-method", "POST"))
        .insert_header(("access-control-request-headers", "content-type,x-api-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    assert_eq!(preflight.headers().get("access-control-allow-origin").unwrap(), "http://localhost:3000");
    let _ = preflight.body().await;
    let (status, headers, _) =
        send(client().post(&url).insert_header(("origin", "http://localhost:3000")), &ask(false)).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("access-control-allow-origin").unwrap(), "http://localhost:3000");
}

#[actix_web::test]
async fn a_configured_api_key_is_required() {
    let upstream = MockCodex::start();
    let daemon = daemon_with(&upstream, |s| s.api_key = Some(Secret::new("local-key-123")));
    let url = daemon.url("/v1/messages");
    let (status, _, raw) = send(client().post(&url), &ask(false)).await;
    assert_eq!(status, 401);
    assert_eq!(error_type(&raw), "authentication_error");
    let (status, _, _) = send(client().post(&url).insert_header(("x-api-key", "wrong")), &ask(false)).await;
    assert_eq!(status, 401);
    let (status, _, _) = send(client().post(&url).insert_header(("x-api-key", "local-key-123")), &ask(false)).await;
    assert_eq!(status, 200);
    let (status, _, _) =
        send(client().post(&url).insert_header(("authorization", "Bearer local-key-123")), &ask(false)).await;
    assert_eq!(status, 200);
    let health = client().get(daemon.url("/health")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "/health stays open for `codexd status`");
}

#[actix_web::test]
async fn oversized_bodies_get_413() {
    let upstream = MockCodex::start();
    let daemon = daemon_with(&upstream, |s| s.max_body_bytes = 64 * 1024);
    let mut body = ask(false);
    body["messages"][0]["content"] = json!("x".repeat(100 * 1024));
    let (status, _, raw) = send(client().post(daemon.url("/v1/messages")), &body).await;
    assert_eq!(status, 413);
    assert_eq!(error_type(&raw), "request_too_large");
    assert!(upstream.requests().is_empty());
}

#[actix_web::test]
async fn concurrent_requests_beyond_the_cap_get_529() {
    let upstream = MockCodex::start();
    let daemon = daemon_with(&upstream, |s| s.max_concurrent_requests = 2);
    let slow =
        mock_codex::drip(&mock_codex::text_events("gpt-5.2-codex", "one two three"), 4, Duration::from_millis(200));
    upstream.push(Reply::Chunks(slow.clone()));
    upstream.push(Reply::Chunks(slow));
    let url = daemon.url("/v1/messages");
    let streaming = ask(true);
    let busy = join_all((0..2).map(|_| send(client().post(&url), &streaming)));
    let late = async {
        actix_web::rt::time::sleep(Duration::from_millis(150)).await;
        send(client().post(&url), &ask(false)).await
    };
    let (busy, (status, headers, raw)) = tokio::join!(busy, late);
    assert!(busy.iter().all(|(s, _, _)| *s == 200));
    assert_eq!(status, 529, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(error_type(&raw), "overloaded_error");
    assert!(headers.get("request-id").is_some());
    settle(&daemon).await;
    assert_eq!(send(client().post(&url), &ask(false)).await.0, 200, "places are given back");
}

/// One upstream fault: what the mock does, and what a streaming client must see.
struct Fault {
    name: &'static str,
    replies: Vec<Reply>,
    expect: Expect,
}

enum Expect {
    /// An HTTP error with this status and Anthropic error type.
    Http(u16, &'static str),
    /// A 200 stream that ends in an `error` event of this type.
    ErrorEvent(&'static str),
    /// A 200 stream that completes normally.
    Completes,
}

fn faults() -> Vec<Fault> {
    let text = mock_codex::text_events("gpt-5.2-codex", "some words that stream for a while");
    let head = mock_codex::sse(&text[..4]);
    let malformed = format!("{head}event: response.output_text.delta\ndata: {{not json\n\n");
    let unknown = {
        let mut events = text.clone();
        events.insert(3, json!({"type": "response.something_new", "payload": {"x": 1}}));
        mock_codex::sse(&events)
    };
    let http = |status: u16, body: &str| Reply::Http { status, headers: vec![], body: body.into() };
    let retried = |reply: Reply| vec![reply; codexd::server::MAX_ATTEMPTS as usize];
    vec![
        Fault {
            name: "reset mid-stream",
            replies: vec![Reply::ChunksThenReset(mock_codex::drip(&text[..5], 5, Duration::ZERO))],
            expect: Expect::ErrorEvent("api_error"),
        },
        Fault {
            name: "truncated SSE",
            replies: vec![Reply::Sse(format!("{head}event: response.output_text.delta\ndata: {{\"type\":\"resp"))],
            expect: Expect::ErrorEvent("api_error"),
        },
        Fault {
            name: "malformed JSON in an event",
            replies: vec![Reply::Sse(malformed)],
            expect: Expect::ErrorEvent("api_error"),
        },
        Fault {
            name: "stall beyond read_timeout",
            replies: vec![Reply::Chunks(mock_codex::drip(&text, 4, Duration::from_secs(5)))],
            expect: Expect::ErrorEvent("api_error"),
        },
        Fault { name: "500", replies: retried(http(500, "internal")), expect: Expect::Http(500, "api_error") },
        Fault { name: "502", replies: retried(http(502, "bad gateway")), expect: Expect::Http(502, "api_error") },
        Fault {
            name: "503",
            replies: retried(http(503, "unavailable")),
            expect: Expect::Http(529, "overloaded_error"),
        },
        Fault {
            name: "429",
            replies: vec![http(429, r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":30}}"#)],
            expect: Expect::Http(429, "rate_limit_error"),
        },
        Fault { name: "unknown event type (tolerated)", replies: vec![Reply::Sse(unknown)], expect: Expect::Completes },
        Fault {
            name: "slow drip (tolerated)",
            replies: vec![Reply::Chunks(mock_codex::drip(&text, 0, Duration::from_millis(30)))],
            expect: Expect::Completes,
        },
    ]
}

#[actix_web::test]
async fn every_upstream_fault_reaches_the_client_in_anthropic_form() {
    let upstream = MockCodex::start();
    let daemon = daemon_with(&upstream, |s| {
        s.read_timeout = Duration::from_millis(500);
        s.ping_interval = Duration::from_millis(100);
    });
    let url = daemon.url("/v1/messages");
    for fault in faults() {
        for reply in fault.replies {
            upstream.push(reply);
        }
        let (status, _, raw) = send(client().post(&url), &ask(true)).await;
        match fault.expect {
            Expect::Completes => {
                assert_eq!(status, 200, "{}", fault.name);
                let events = parse_sse(&raw);
                assert_eq!(events.last().unwrap().0, "message_stop", "{}: {events:?}", fault.name);
            }
            Expect::Http(want, kind) => {
                assert_eq!(status, want, "{}", fault.name);
                assert_eq!(error_type(&raw), kind, "{}", fault.name);
            }
            Expect::ErrorEvent(kind) => {
                assert_eq!(status, 200, "{}: {}", fault.name, String::from_utf8_lossy(&raw));
                let events = parse_sse(&raw);
                let (last, data) = events.last().unwrap();
                assert_eq!(last, "error", "{}: {events:?}", fault.name);
                assert_eq!(data["error"]["type"], kind, "{}", fault.name);
                let opened = events.iter().filter(|(e, _)| e == "content_block_start").count();
                let closed = events.iter().filter(|(e, _)| e == "content_block_stop").count();
                assert_eq!(opened, closed, "{}: blocks closed before the error", fault.name);
            }
        }
        settle(&daemon).await;
        // The daemon keeps serving.
        let (status, _, _) = send(client().post(&url), &ask(false)).await;
        assert_eq!(status, 200, "after {}", fault.name);
    }
}

#[actix_web::test]
async fn a_stalled_stream_keeps_the_client_alive_with_pings() {
    let upstream = MockCodex::start();
    let daemon = daemon_with(&upstream, |s| s.ping_interval = Duration::from_millis(100));
    let text = mock_codex::text_events("gpt-5.2-codex", "thinking hard before this");
    upstream.push(Reply::Chunks(mock_codex::drip(&text, 4, Duration::from_millis(350))));
    let (status, _, raw) = send(client().post(daemon.url("/v1/messages")), &ask(true)).await;
    assert_eq!(status, 200);
    let events = parse_sse(&raw);
    assert!(events.iter().any(|(e, _)| e == "ping"), "pings while the upstream is quiet");
    assert_eq!(events.last().unwrap().0, "message_stop");
}

#[actix_web::test]
async fn two_hundred_concurrent_streams_all_complete() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let url = daemon.url("/v1/messages");
    let http =
        awc::Client::builder().connector(awc::Connector::new().limit(0)).timeout(Duration::from_secs(60)).finish();
    let results = join_all((0..200).map(|i| {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
                          "messages": [{"role": "user", "content": format!("request {i}")}]});
        let req = http.post(&url);
        async move {
            let mut resp = req.send_json(&body).await.map_err(|e| e.to_string())?;
            let raw = resp.body().limit(1 << 20).await.map_err(|e| e.to_string())?;
            Ok::<_, String>((resp.status().as_u16(), raw, i))
        }
    }))
    .await;
    for result in results {
        let (status, raw, i) = result.expect("no transport error");
        assert_eq!(status, 200);
        let events = parse_sse(&raw);
        assert_eq!(events.first().unwrap().0, "message_start");
        assert_eq!(events.last().unwrap().0, "message_stop");
        let text: String = events.iter().filter_map(|(_, d)| d["delta"]["text"].as_str()).collect();
        assert_eq!(text, format!("Hello from the mock. You said: request {i}"), "each stream got its own answer");
    }
    assert_eq!(upstream.requests().len(), 200);
    settle(&daemon).await;
}
