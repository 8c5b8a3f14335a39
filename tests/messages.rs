//! `POST /v1/messages` end to end: real HTTP into codexd, real HTTP out to
//! the strict mock Codex upstream.

mod common;

use std::time::Duration;

use codexd::server::MAX_ATTEMPTS;
use common::mock_codex::{self, MockCodex, Reply};
use common::{client, parse_sse, start_daemon, wait_for_catalogue};
use serde_json::{json, Value};

const FIXTURE_TEXT: &str = include_str!("fixtures/codex-text.sse");
const FIXTURE_TOOLS: &str = include_str!("fixtures/codex-reasoning-tool.sse");
const FIXTURE_FAILED: &str = include_str!("fixtures/codex-failed.sse");

fn hello(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 32000,
        "temperature": 1,
        "metadata": {"user_id": "user_abc_account__session_6f1c2f9e-3d1a-4a57-9d7e-0c1f5e2b8a11"},
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Say hello"}],
        "stream": stream,
    })
}

async fn post(daemon: &common::Daemon, body: &Value) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
    let mut resp = client()
        .post(daemon.url("/v1/messages?beta=true"))
        .insert_header(("anthropic-version", "2023-06-01"))
        .insert_header(("anthropic-beta", "claude-code-20250219,some-future-beta-2030-01-01"))
        .insert_header(("x-api-key", "anything"))
        .send_json(body)
        .await
        .expect("codexd answers");
    let body = resp.body().limit(16 * 1024 * 1024).await.expect("body");
    (resp.status().as_u16(), resp.headers().clone(), body.to_vec())
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

#[actix_web::test]
async fn non_streaming_text_is_one_anthropic_message() {
    let upstream = MockCodex::start();
    upstream.push(Reply::Sse(FIXTURE_TEXT.into()));
    let daemon = start_daemon(&upstream);

    let (status, headers, body) = post(&daemon, &hello(false)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(headers.get("request-id").is_some());
    let msg = json_of(&body);
    assert_eq!(msg["type"], "message");
    assert_eq!(msg["role"], "assistant");
    assert_eq!(msg["model"], "claude-sonnet-4-5-20250929", "echoes the client's model");
    assert!(msg["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(msg["content"], json!([{"type": "text", "text": "Hello, world."}]));
    assert_eq!(msg["stop_reason"], "end_turn");
    assert_eq!(msg["stop_sequence"], Value::Null);
    assert_eq!(msg["usage"]["input_tokens"], 1520 - 1024);
    assert_eq!(msg["usage"]["cache_read_input_tokens"], 1024);
    assert_eq!(msg["usage"]["output_tokens"], 12);

    // What went upstream.
    let sent = upstream.last_request();
    assert_eq!(sent.refused, None);
    assert_eq!(sent.header("authorization"), Some("Bearer mock-access-token"));
    assert_eq!(sent.header("chatgpt-account-id"), Some(mock_codex::MOCK_ACCOUNT));
    // The Codex CLI's identity, as the backend gates models on it.
    assert_eq!(sent.header("openai-beta"), None, "the Codex CLI stopped sending it in 2025");
    assert_eq!(sent.header("originator"), Some("codex_cli_rs"));
    assert_eq!(sent.header("version"), Some(codexd::config::DEFAULT_CLIENT_VERSION));
    let ua = sent.header("user-agent").unwrap();
    assert!(ua.starts_with(&format!("codex_cli_rs/{} (", codexd::config::DEFAULT_CLIENT_VERSION)), "{ua}");
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
    let session = "6f1c2f9e-3d1a-4a57-9d7e-0c1f5e2b8a11";
    assert_eq!(sent.header("session-id"), Some(session));
    assert_eq!(sent.header("thread-id"), Some(session));
    assert_eq!(sent.header("x-client-request-id"), Some(session));
    assert_eq!(sent.header("session_id"), None, "the underscore spelling is gone upstream");
    assert_eq!(sent.header("x-openai-internal-codex-responses-lite"), None, "sonnet goes over the normal lane");
    assert_eq!(sent.body["prompt_cache_key"], session);
    assert_eq!(sent.body["model"], "gpt-5.6-terra");
    assert_eq!(sent.body["reasoning"]["effort"], "medium");
    assert_eq!(sent.body["text"], json!({"verbosity": "low"}), "the model's default verbosity");
    assert_eq!(sent.body["instructions"], "You are Claude Code.");
    assert_eq!(sent.body["store"], false);
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["include"], json!(["reasoning.encrypted_content"]));
    for dropped in ["max_tokens", "max_output_tokens", "temperature", "metadata"] {
        assert!(sent.body.get(dropped).is_none(), "{dropped} must not be forwarded");
    }
}

#[actix_web::test]
async fn completed_answers_leave_the_upstream_connection_for_the_next_request() {
    // A connection closed after every answer would cost a TCP and TLS
    // handshake per request against the real backend.
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    // The catalogue is read on a connection of its own.
    wait_for_catalogue(&daemon).await;
    let before = upstream.connections();
    let client = client(); // one keep-alive connection: one codexd worker, one upstream pool
    for stream in [true, false, true, false, true, true] {
        let mut resp = client
            .post(daemon.url("/v1/messages"))
            .insert_header(("anthropic-version", "2023-06-01"))
            .send_json(&hello(stream))
            .await
            .expect("codexd answers");
        let body = resp.body().limit(1024 * 1024).await.expect("body");
        assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(&body));
        // The connection goes back to the pool just after the answer ends.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(upstream.requests().len(), 6);
    assert_eq!(upstream.connections() - before, 1, "every request after the first should reuse the connection");
}

#[actix_web::test]
async fn streaming_text_is_a_valid_anthropic_event_sequence() {
    let upstream = MockCodex::start();
    upstream.push(Reply::Sse(FIXTURE_TEXT.into()));
    let daemon = start_daemon(&upstream);

    let (status, headers, body) = post(&daemon, &hello(true)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/event-stream"));
    let events = parse_sse(&body);
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).filter(|e| *e != "ping").collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &events[0].1["message"];
    assert_eq!(start["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(start["content"], json!([]));
    let text: String = events
        .iter()
        .filter(|(e, _)| e == "content_block_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "Hello, world.");
    let delta = &events.iter().find(|(e, _)| e == "message_delta").unwrap().1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 12);
}

#[actix_web::test]
async fn parallel_tool_calls_become_tool_use_blocks() {
    let upstream = MockCodex::start();
    upstream.push(Reply::Sse(FIXTURE_TOOLS.into()));
    let daemon = start_daemon(&upstream);
    let mut body = hello(false);
    body["tools"] = json!([
        {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
        {"name": "Read", "description": "Read a file", "input_schema": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"file_path": {"type": "string"}}}},
        {"name": "NoArgs", "description": "No properties at all", "input_schema": {"type": "object"}},
    ]);

    let (status, _, raw) = post(&daemon, &body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&raw));
    let msg = json_of(&raw);
    assert_eq!(msg["stop_reason"], "tool_use");
    let uses: Vec<&Value> = msg["content"].as_array().unwrap().iter().filter(|b| b["type"] == "tool_use").collect();
    assert_eq!(uses.len(), 2);
    assert_eq!(uses[0]["id"], "call_AbC123");
    assert_eq!(uses[0]["name"], "Bash");
    assert_eq!(uses[0]["input"], json!({"command": "ls -la"}));
    assert_eq!(uses[1]["name"], "Read");
    assert_eq!(uses[1]["input"], json!({"file_path": "/repo/README.md"}));

    let sent = upstream.last_request();
    assert_eq!(sent.refused, None, "the strict mock accepted the normalised tools");
    assert_eq!(sent.body["tools"][2]["parameters"]["properties"], json!({}));
    assert!(sent.body["tools"][1]["parameters"].get("$schema").is_none());
}

#[actix_web::test]
async fn tool_results_go_back_as_function_call_outputs() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "tools": [{"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
        "messages": [
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Listing."},
                {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "ls"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "a.txt\nb.txt"}]}
            ]}
        ]
    });
    let (status, _, raw) = post(&daemon, &body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&raw));
    let msg = json_of(&raw);
    assert!(msg["content"][0]["text"].as_str().unwrap().contains("a.txt"), "{msg}");

    let input = upstream.last_request().body["input"].clone();
    let call = input.as_array().unwrap().iter().find(|i| i["type"] == "function_call").unwrap();
    assert_eq!(call["call_id"], "toolu_01");
    assert_eq!(call["name"], "Bash");
    let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"command": "ls"}));
    let output = input.as_array().unwrap().iter().find(|i| i["type"] == "function_call_output").unwrap();
    assert_eq!(output["call_id"], "toolu_01");
}

#[actix_web::test]
async fn bad_requests_get_anthropic_400s_naming_the_problem() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let cases: Vec<(&str, String, &str)> = vec![
        ("not JSON", "{not json".into(), "JSON"),
        ("no messages", json!({"model": "claude-sonnet-4-5", "max_tokens": 5}).to_string(), "messages"),
        ("no model", json!({"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}).to_string(), "model"),
        ("messages not a list", json!({"model": "m", "messages": "hi"}).to_string(), "messages"),
        ("bad role", json!({"model": "m", "messages": [{"role": "robot", "content": "hi"}]}).to_string(), "role"),
    ];
    for (name, body, needle) in cases {
        let mut resp = client()
            .post(daemon.url("/v1/messages"))
            .insert_header(("content-type", "application/json"))
            .send_body(body)
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{name}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["type"], "error", "{name}");
        assert_eq!(err["error"]["type"], "invalid_request_error", "{name}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{name}: {message:?} should mention {needle:?}");
    }
    assert!(upstream.requests().is_empty(), "nothing reached the upstream");
}

#[actix_web::test]
async fn upstream_http_errors_map_to_anthropic_errors() {
    let usage_limit = include_str!("fixtures/codex-429-usage-limit.http");
    let (head, limit_body) = usage_limit.split_once("\n\n").unwrap();
    let limit_headers: Vec<(String, String)> =
        head.lines().skip(1).filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let cases = vec![
        (
            Reply::Http { status: 429, headers: limit_headers, body: limit_body.into() },
            429,
            "rate_limit_error",
            Some("3120"),
        ),
        (
            Reply::Http { status: 400, headers: vec![], body: r#"{"detail":"Unsupported parameter: foo"}"#.into() },
            400,
            "invalid_request_error",
            None,
        ),
        (
            Reply::Http {
                status: 404,
                headers: vec![],
                body: r#"{"detail":"The 'gpt-x' model is not supported"}"#.into(),
            },
            404,
            "not_found_error",
            None,
        ),
        (
            Reply::Http { status: 403, headers: vec![], body: r#"{"detail":"nope"}"#.into() },
            403,
            "permission_error",
            None,
        ),
        (Reply::Http { status: 500, headers: vec![], body: "boom".into() }, 500, "api_error", None),
        (Reply::Http { status: 503, headers: vec![], body: "busy".into() }, 529, "overloaded_error", None),
    ];
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    for (reply, status, kind, retry_after) in cases {
        for stream in [false, true] {
            // Transient failures are retried: script one failure per try.
            let tries = if status >= 500 { MAX_ATTEMPTS } else { 1 };
            for _ in 0..tries {
                upstream.push(reply.clone());
            }
            let (got, headers, raw) = post(&daemon, &hello(stream)).await;
            assert_eq!(got, status, "{kind} stream={stream}: {}", String::from_utf8_lossy(&raw));
            let err = json_of(&raw);
            assert_eq!(err["type"], "error");
            assert_eq!(err["error"]["type"], kind);
            assert_eq!(headers.get("retry-after").map(|v| v.to_str().unwrap()), retry_after);
        }
    }
    // The daemon keeps serving.
    let (status, _, _) = post(&daemon, &hello(false)).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn an_overload_before_any_content_is_an_http_529() {
    let upstream = MockCodex::start();
    for _ in 0..2 * MAX_ATTEMPTS {
        upstream.push(Reply::Sse(FIXTURE_FAILED.into()));
    }
    let daemon = start_daemon(&upstream);
    for stream in [false, true] {
        let (status, _, raw) = post(&daemon, &hello(stream)).await;
        assert_eq!(status, 529, "stream={stream}: {}", String::from_utf8_lossy(&raw));
        let err = json_of(&raw);
        assert_eq!(err["error"]["type"], "overloaded_error");
        assert!(err["error"]["message"].as_str().unwrap().contains("overloaded"));
    }
}

#[actix_web::test]
async fn a_failure_after_content_began_is_an_error_event() {
    let upstream = MockCodex::start();
    let mut events = mock_codex::text_events("gpt-5.2-codex", "partial answer here");
    events.truncate(4); // created, item added, part added, first delta
    events.push(json!({"type":"response.failed","response":{"id":"resp_mock","status":"failed","error":{"code":"server_error","message":"upstream fell over"}}}));
    upstream.push(Reply::Sse(mock_codex::sse(&events)));
    let daemon = start_daemon(&upstream);

    let (status, _, raw) = post(&daemon, &hello(true)).await;
    assert_eq!(status, 200);
    let events = parse_sse(&raw);
    let (last_name, last) = events.last().unwrap();
    assert_eq!(last_name, "error");
    assert_eq!(last["error"]["type"], "api_error");
    assert!(last["error"]["message"].as_str().unwrap().contains("upstream fell over"));
    assert!(events.iter().any(|(e, _)| e == "content_block_delta"));
    // Every opened block was closed before the error.
    let opened = events.iter().filter(|(e, _)| e == "content_block_start").count();
    let closed = events.iter().filter(|(e, _)| e == "content_block_stop").count();
    assert_eq!(opened, closed);
}

#[actix_web::test]
async fn a_stream_cut_before_completion_is_reported_not_truncated() {
    let upstream = MockCodex::start();
    let mut events = mock_codex::text_events("gpt-5.2-codex", "this will be cut off");
    events.truncate(5);
    for _ in 0..1 + MAX_ATTEMPTS {
        upstream.push(Reply::Sse(mock_codex::sse(&events)));
    }
    let daemon = start_daemon(&upstream);

    let (_, _, raw) = post(&daemon, &hello(true)).await;
    let events = parse_sse(&raw);
    assert_eq!(events.last().unwrap().0, "error", "{events:?}");

    let (status, _, raw) = post(&daemon, &hello(false)).await;
    assert_eq!(status, 500, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(json_of(&raw)["error"]["type"], "api_error");
}

#[actix_web::test]
async fn not_logged_in_says_to_run_codexd_login() {
    let upstream = MockCodex::start();
    let home = tempfile::tempdir().unwrap();
    let settings = common::test_settings(&upstream, home.path());
    let daemon = common::start_daemon_with(settings, home);
    let (status, _, raw) = post(&daemon, &hello(false)).await;
    assert_eq!(status, 401);
    let err = json_of(&raw);
    assert_eq!(err["error"]["type"], "authentication_error");
    assert!(err["error"]["message"].as_str().unwrap().contains("codexd login"), "{err}");
    assert!(upstream.requests().is_empty());

    let mut health = client().get(daemon.url("/health")).send().await.unwrap();
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["logged_in"], false);
}

#[actix_web::test]
async fn health_reports_version_uptime_and_login_without_secrets() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let mut resp = client().get(daemon.url("/health")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let raw = resp.body().await.unwrap();
    let health = json_of(&raw);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert!(health["uptime_s"].is_u64());
    assert_eq!(health["logged_in"], true);
    assert!(!String::from_utf8_lossy(&raw).contains(mock_codex::MOCK_TOKEN));
}

#[actix_web::test]
async fn unknown_routes_are_anthropic_404s() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let mut resp = client().get(daemon.url("/v1/nothing")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "not_found_error");
}

#[actix_web::test]
async fn each_event_reaches_the_client_when_the_upstream_sends_it() {
    // codexd gathers events that arrive together into one chunk; one that
    // arrives alone must still go out at once, not wait for the next.
    let upstream = MockCodex::start();
    let events = mock_codex::text_events("gpt-5.2-codex", "one two three four five");
    // Up to the first delta at once, then one event every 250 ms (about 2 s).
    let first_delta = events.iter().position(|e| e["type"] == "response.output_text.delta").unwrap();
    upstream.push(Reply::Chunks(mock_codex::drip(&events, first_delta + 1, Duration::from_millis(250))));
    let daemon = start_daemon(&upstream);

    let started = std::time::Instant::now();
    let mut resp = client().post(daemon.url("/v1/messages")).send_json(&hello(true)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut seen = String::new();
    let mut arrivals = Vec::new(); // when each text delta reached the client
    while let Some(chunk) = futures_util::StreamExt::next(&mut resp).await {
        seen.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while arrivals.len() < seen.matches("\"text_delta\"").count() {
            arrivals.push(started.elapsed());
        }
    }
    assert_eq!(arrivals.len(), 5, "{seen}");
    assert!(arrivals[0] < Duration::from_millis(800), "first word after {:?}", arrivals[0]);
    for pair in arrivals.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(150), "words arrived together: {arrivals:?}");
    }
}

#[actix_web::test]
async fn the_answer_starts_when_the_upstream_begins_it_not_when_its_reasoning_ends() {
    // The backend announces a reasoning item at once and may think for
    // seconds before the summary's first words. It refuses a request
    // (overload, rate limit) before announcing anything, so the client can
    // have its head and `message_start` as soon as the item is announced.
    let upstream = MockCodex::start();
    let stream = mock_codex::reasoning_text_stream("gpt-5.2-codex", "Thinking it over.", "gAAAAB-enc", "Done.");
    let third_event = stream.match_indices("event: ").nth(2).unwrap().0;
    let (announced, rest) = stream.split_at(third_event);
    upstream.push(Reply::Chunks(vec![
        (Duration::ZERO, announced.to_owned()),
        (Duration::from_millis(1500), rest.to_owned()),
    ]));
    let daemon = start_daemon(&upstream);

    let mut resp = client().post(daemon.url("/v1/messages")).send_json(&hello(true)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let first = futures_util::StreamExt::next(&mut resp).await.unwrap().unwrap();
    let first = parse_sse(&first);
    let names: Vec<&str> = first.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["message_start"], "the first chunk came before the reasoning's words");

    let rest = resp.body().limit(1 << 20).await.unwrap();
    let events = parse_sse(&rest);
    let thinking = events.iter().filter_map(|(_, d)| d["delta"]["thinking"].as_str()).collect::<String>();
    assert_eq!(thinking, "Thinking it over.");
    assert_eq!(events.last().map(|(name, _)| name.as_str()), Some("message_stop"));
}

#[actix_web::test]
async fn a_client_that_disconnects_cancels_the_upstream_request() {
    let upstream = MockCodex::start();
    // Words every 100 ms for about 4 s: the answer is still streaming when the client hangs up.
    let words = vec!["word"; 40].join(" ");
    let events = mock_codex::text_events("gpt-5.2-codex", &words);
    upstream.push(Reply::Chunks(mock_codex::drip(&events, 4, Duration::from_millis(100))));
    let daemon = start_daemon(&upstream);

    let resp = client().post(daemon.url("/v1/messages")).send_json(&hello(true)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    drop(resp); // hang up after the headers
    let hung_up = std::time::Instant::now();
    let deadline = hung_up + Duration::from_secs(1);
    while upstream.cancelled() == 0 && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(upstream.cancelled(), 1, "the mock saw the upstream request cancelled within 1 s");
    assert_eq!(upstream.completed(), 0);
}
