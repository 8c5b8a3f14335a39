//! Tool names the Codex backend would refuse, end to end: codexd sends a
//! valid short name upstream (the strict mock refuses anything else) and the
//! client gets its own long name back, streamed or not, and on the next turn.

mod common;

use common::mock_codex::MockCodex;
use common::{client, parse_sse, start_daemon};
use serde_json::{json, Value};

/// A 90-character MCP-style tool name.
fn long_name() -> String {
    let name = format!("mcp__a_very_long_server_name__{}", "and_an_even_longer_tool_name_".repeat(3));
    name[..90].to_owned()
}

fn weather_tool(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    })
}

fn ask(name: &str, stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "tools": [weather_tool(name)],
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "stream": stream,
    })
}

async fn post(daemon: &common::Daemon, body: &Value) -> (u16, Vec<u8>) {
    let mut resp = client().post(daemon.url("/v1/messages")).send_json(body).await.expect("codexd answers");
    let body = resp.body().limit(16 * 1024 * 1024).await.expect("body");
    (resp.status().as_u16(), body.to_vec())
}

fn is_backend_valid(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The tool name codexd sent upstream, after checking the mock accepted it.
fn sent_tool_name(upstream: &MockCodex) -> String {
    let sent = upstream.last_request();
    assert_eq!(sent.refused, None, "the strict mock accepted the request");
    let name = sent.body["tools"][0]["name"].as_str().expect("a tool was sent").to_owned();
    assert!(is_backend_valid(&name), "{name:?} is a valid backend name");
    name
}

#[actix_web::test]
async fn a_long_tool_name_comes_back_whole_without_streaming() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let name = long_name();
    assert_eq!(name.len(), 90);

    let (status, body) = post(&daemon, &ask(&name, false)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let message: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(message["stop_reason"], "tool_use");
    let call = &message["content"][0];
    assert_eq!(call["type"], "tool_use");
    assert_eq!(call["name"], name.as_str(), "the client sees its own name");
    assert_eq!(call["input"], json!({"city": "Paris"}));
    assert_ne!(sent_tool_name(&upstream), name);
}

#[actix_web::test]
async fn a_long_tool_name_comes_back_whole_when_streaming() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let name = long_name();

    let (status, body) = post(&daemon, &ask(&name, true)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let starts: Vec<Value> = parse_sse(&body)
        .into_iter()
        .filter(|(event, _)| event == "content_block_start")
        .map(|(_, data)| data["content_block"].clone())
        .collect();
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert_eq!(starts[0]["type"], "tool_use");
    assert_eq!(starts[0]["name"], name.as_str());
    assert_ne!(sent_tool_name(&upstream), name);
}

#[actix_web::test]
async fn names_with_foreign_characters_round_trip_and_the_next_turn_matches() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let name = "mcp__docs.server__search/pages";

    let (status, body) = post(&daemon, &ask(name, false)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let message: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(message["content"][0]["name"], name);
    let short = sent_tool_name(&upstream);

    // Next turn: the history's call uses the same short name as the tool.
    let call = message["content"][0].clone();
    let mut next = ask(name, false);
    next["tool_choice"] = json!({"type": "tool", "name": name});
    next["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": [call.clone()]}),
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "Sunny"}]}),
    ]);
    let (status, body) = post(&daemon, &next).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(sent_tool_name(&upstream), short, "stable across turns");
    let sent = upstream.last_request().body;
    let function_call = sent["input"].as_array().unwrap().iter().find(|item| item["type"] == "function_call").unwrap();
    assert_eq!(function_call["name"], short.as_str());
    assert_eq!(sent["tool_choice"], json!({"type": "function", "name": short}));
}
