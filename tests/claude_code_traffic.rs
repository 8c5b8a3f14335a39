//! Today's Claude Code traffic (issue 14) end to end, over its real request
//! bodies (`fixtures/claude-code/`): real HTTP into codexd, real HTTP out to
//! the strict mock Codex upstream. No 4xx may come back for anything
//! Claude Code sends.

mod common;

use common::mock_codex::{MockCodex, Reply};
use common::{client, parse_sse, start_daemon};
use serde_json::{json, Value};

const TURN1: &str = include_str!("fixtures/claude-code/cc-2.1.330-print-turn1.json");
const TURN2: &str = include_str!("fixtures/claude-code/cc-2.1.330-print-turn2-tool_result.json");
const INTERACTIVE: &str = include_str!("fixtures/claude-code/cc-2.1.330-interactive-turn1-auto-mode.json");

/// The request body of a recorded Claude Code request.
fn body_of(fixture: &str) -> Value {
    serde_json::from_str::<Value>(fixture).unwrap()["body"].clone()
}

async fn post(daemon: &common::Daemon, path: &str, body: &Value) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
    let mut resp = client()
        .post(daemon.url(path))
        .insert_header(("anthropic-version", "2023-06-01"))
        .insert_header(("x-api-key", "dummy"))
        .send_json(body)
        .await
        .expect("codexd answers");
    let raw = resp.body().limit(16 * 1024 * 1024).await.expect("body");
    (resp.status().as_u16(), resp.headers().clone(), raw.to_vec())
}

#[actix_web::test]
async fn a_claude_code_session_is_answered_and_its_second_turn_extends_the_first() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    for fixture in [TURN1, TURN2, INTERACTIVE] {
        let (status, _, raw) = post(&daemon, "/v1/messages?beta=true", &body_of(fixture)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&raw));
        let events = parse_sse(&raw);
        assert_eq!(events.last().map(|e| e.0.as_str()), Some("message_stop"));
    }
    let sent: Vec<Value> = upstream.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(sent.len(), 3);
    for body in &sent {
        let text = body.to_string();
        assert!(!text.contains("x-anthropic-billing-header"), "no billing line upstream");
        assert!(!text.contains(r#""name":"DeferredToolPlaceholder""#), "the placeholder tool is never sent");
        assert!(!text.contains("dangerous_tool_use"), "safeguards are dropped");
    }
    // The system turn is a developer message in its place.
    assert_eq!(sent[0]["input"][1]["role"], "developer");
    // Turn 2 begins with the bytes of turn 1: instructions, tools, input.
    let (one, two) = (&sent[0], &sent[1]);
    assert_eq!(one["instructions"].to_string(), two["instructions"].to_string());
    assert_eq!(one["tools"].to_string(), two["tools"].to_string());
    let items = |body: &Value| body["input"].as_array().unwrap().iter().map(Value::to_string).collect::<Vec<_>>();
    let (first, second) = (items(one), items(two));
    assert_eq!(second[..first.len()], first[..]);
}

#[actix_web::test]
async fn count_tokens_takes_system_turns_and_no_max_tokens() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let mut body = body_of(TURN2);
    body.as_object_mut().unwrap().retain(|key, _| ["model", "messages", "tools"].contains(&key.as_str()));
    let (status, _, raw) = post(&daemon, "/v1/messages/count_tokens?beta=true", &body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&raw));
    let count: Value = serde_json::from_slice(&raw).unwrap();
    assert!(count["input_tokens"].as_u64().unwrap() > 2000, "{count}");
    // The same body is refused on /v1/messages, naming the field, as Anthropic does.
    let (status, _, raw) = post(&daemon, "/v1/messages", &body).await;
    assert_eq!(status, 400);
    let error: Value = serde_json::from_slice(&raw).unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("max_tokens"), "{error}");
    assert!(upstream.requests().is_empty());
}

/// Claude Code's title generation: structured output, answered with JSON.
#[actix_web::test]
async fn structured_output_comes_back_as_json_text() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let schema = json!({"type":"object","properties":{"title":{"type":"string"}},"required":["title"],"additionalProperties":false});
    let body = json!({
        "model": "claude-haiku-5-5", "max_tokens": 32000, "stream": false, "tools": [],
        "system": [{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.330.55b; cc_entrypoint=cli;"},
                   {"type":"text","text":"Return JSON with a single \"title\" field"}],
        "messages": [{"role":"user","content":[{"type":"text","text":"<session>\nrun the marker command\n</session>"}]}],
        "output_config": {"effort": "high", "format": {"type": "json_schema", "schema": schema}}
    });
    let (status, _, raw) = post(&daemon, "/v1/messages?beta=true", &body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&raw));
    let message: Value = serde_json::from_slice(&raw).unwrap();
    let answer: Value = serde_json::from_str(message["content"][0]["text"].as_str().unwrap()).unwrap();
    assert!(answer["title"].is_string(), "{answer}");
    let sent = upstream.last_request().body;
    assert_eq!(sent["text"]["format"], json!({"type":"json_schema","name":"output","schema":schema,"strict":true}));
    assert!(sent["text"]["verbosity"].is_string(), "the catalogue's verbosity is still set");
}

#[actix_web::test]
async fn omitted_thinking_keeps_the_signature_and_drops_the_text() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let body = json!({"model":"claude-sonnet-4-5","max_tokens":100,"stream":false,
                      "thinking":{"type":"adaptive","display":"omitted"},"output_config":{"effort":"high"},
                      "messages":[{"role":"user","content":"hi"}]});
    let (status, _, raw) = post(&daemon, "/v1/messages", &body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&raw));
    let message: Value = serde_json::from_slice(&raw).unwrap();
    let thinking = &message["content"][0];
    assert_eq!(thinking["type"], "thinking", "{message}");
    assert_eq!(thinking["thinking"], "");
    assert!(thinking["signature"].as_str().unwrap().starts_with("codexd.v1."), "{thinking}");
    assert!(upstream.last_request().body["reasoning"].get("summary").is_none());
}

#[actix_web::test]
async fn the_root_answers_head_and_get() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    for request in [client().head(daemon.url("/")), client().get(daemon.url("/"))] {
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }
}

#[actix_web::test]
async fn errors_retrying_cannot_fix_say_so() {
    // No login: only `codexd login` helps.
    let upstream = MockCodex::start();
    let home = tempfile::tempdir().unwrap();
    let daemon = common::start_daemon_with(common::test_settings(&upstream, home.path()), home);
    let hi = json!({"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]});
    let (status, headers, _) = post(&daemon, "/v1/messages", &hi).await;
    assert_eq!(status, 401);
    assert_eq!(headers.get("x-should-retry").map(|v| v.to_str().unwrap()), Some("false"));

    // A usage limit that resets in 52 minutes.
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let usage_limit = include_str!("fixtures/codex-429-usage-limit.http");
    let (head, limit_body) = usage_limit.split_once("\n\n").unwrap();
    let limit_headers: Vec<(String, String)> =
        head.lines().skip(1).filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    upstream.push(Reply::Http { status: 429, headers: limit_headers, body: limit_body.into() });
    let (status, headers, _) = post(&daemon, "/v1/messages", &hi).await;
    assert_eq!(status, 429);
    assert_eq!(headers.get("x-should-retry").map(|v| v.to_str().unwrap()), Some("false"));

    // A transient failure does not say so.
    let (status, headers, _) = post(&daemon, "/v1/messages", &json!({"model":"m","messages":[]})).await;
    assert_eq!(status, 400);
    assert!(headers.get("x-should-retry").is_none());
}
