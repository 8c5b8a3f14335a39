//! Reasoning continuity across tool calls with `store:false`, prompt-cache
//! keys, and web search — through the real server against the mock.

mod common;

use common::mock_codex::{self, MockCodex, Reply};
use common::{client, parse_sse, start_daemon};
use serde_json::{json, Value};

const FIXTURE_TOOLS: &str = include_str!("fixtures/codex-reasoning-tool.sse");
const ENCRYPTED_1: &str = "gAAAAABpEXAMPLEencryptedReasoningBlobOnlyTheBackendCanRead==";

async fn create(daemon: &common::Daemon, body: &Value) -> Value {
    let mut resp = client().post(daemon.url("/v1/messages")).send_json(body).await.unwrap();
    let raw = resp.body().limit(1 << 24).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{}", String::from_utf8_lossy(&raw));
    serde_json::from_slice(&raw).unwrap()
}

fn tools() -> Value {
    json!([
        {"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}},
        {"name": "Read", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}
    ])
}

fn reasoning_items(request: &Value) -> Vec<Value> {
    request["input"].as_array().unwrap().iter().filter(|i| i["type"] == "reasoning").cloned().collect()
}

#[actix_web::test]
async fn reasoning_travels_through_a_three_turn_tool_session() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let session = "user_h_account__session_0a1b2c3d-0000-4000-8000-00000000abcd";
    let mut messages = vec![json!({"role": "user", "content": "Look around the repo"})];
    let request = |messages: &Vec<Value>| {
        json!({"model": "claude-sonnet-4-5", "max_tokens": 4096, "tools": tools(),
               "thinking": {"type": "enabled", "budget_tokens": 8000},
               "metadata": {"user_id": session}, "messages": messages})
    };

    // Turn 1: reasoning + two parallel tool calls.
    upstream.push(Reply::Sse(FIXTURE_TOOLS.into()));
    let first = create(&daemon, &request(&messages)).await;
    let content = first["content"].as_array().unwrap();
    assert_eq!(content[0]["type"], "thinking");
    assert_eq!(content[0]["thinking"], "**Listing files**\n\nI should look at the directory first.");
    assert_eq!(content[0]["signature"], format!("codexd.v1.{ENCRYPTED_1}"));
    assert_eq!(first["stop_reason"], "tool_use");

    // Turn 2: the client sends it all back, plus a foreign thinking block.
    let mut assistant = content.clone();
    assistant.insert(0, json!({"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"}));
    assistant.insert(0, json!({"type": "thinking", "thinking": "from a real Claude", "signature": "ErUBCkYIBxgCIkB"}));
    messages.push(json!({"role": "assistant", "content": assistant}));
    messages.push(json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_AbC123", "content": "README.md\nsrc"},
        {"type": "tool_result", "tool_use_id": "call_DeF456", "content": "# codexd"}
    ]}));
    upstream.push(Reply::Sse(mock_codex::reasoning_text_stream(
        "gpt-5.2-codex",
        "Summarising.",
        "gAAAAsecondTurnBlob==",
        "The repo is codexd.",
    )));
    let second = create(&daemon, &request(&messages)).await;
    let sent = upstream.last_request();
    assert_eq!(sent.refused, None, "the strict mock accepted the replayed reasoning");
    let replayed = reasoning_items(&sent.body);
    assert_eq!(replayed.len(), 1, "ours replayed, the foreign ones dropped: {replayed:?}");
    assert_eq!(replayed[0]["encrypted_content"], ENCRYPTED_1);
    assert!(replayed[0].get("id").is_none(), "no rs_ id with store:false");
    let input = sent.body["input"].as_array().unwrap();
    let position = |kind: &str| input.iter().position(|i| i["type"] == kind).unwrap();
    assert!(position("reasoning") < position("function_call"), "reasoning precedes the calls it led to");
    assert!(!sent.body.to_string().contains("from a real Claude"));

    // Turn 3: both reasoning items go back, in order.
    messages.push(json!({"role": "assistant", "content": second["content"]}));
    messages.push(json!({"role": "user", "content": "thanks"}));
    create(&daemon, &request(&messages)).await;
    let third = upstream.last_request();
    let replayed = reasoning_items(&third.body);
    let blobs: Vec<&str> = replayed.iter().map(|r| r["encrypted_content"].as_str().unwrap()).collect();
    assert_eq!(blobs, [ENCRYPTED_1, "gAAAAsecondTurnBlob=="]);

    // One conversation, one cache key, on every turn.
    let keys: Vec<Value> = upstream.requests().iter().map(|r| r.body["prompt_cache_key"].clone()).collect();
    assert_eq!(keys, vec![json!("0a1b2c3d-0000-4000-8000-00000000abcd"); 3]);
    assert!(upstream.requests().iter().all(|r| r.header("session-id") == Some("0a1b2c3d-0000-4000-8000-00000000abcd")));
}

#[actix_web::test]
async fn cache_keys_are_stable_within_and_distinct_across_conversations() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let conversation = |first: &str, turns: usize| {
        let mut messages = vec![json!({"role": "user", "content": first})];
        for i in 1..turns {
            messages.push(json!({"role": "assistant", "content": format!("answer {i}")}));
            messages.push(json!({"role": "user", "content": format!("follow-up {i}")}));
        }
        json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "system": "You are Claude Code.", "messages": messages})
    };
    for body in [conversation("fix the bug", 1), conversation("fix the bug", 2), conversation("write docs", 1)] {
        create(&daemon, &body).await;
    }
    let keys: Vec<String> =
        upstream.requests().iter().map(|r| r.body["prompt_cache_key"].as_str().unwrap().to_owned()).collect();
    assert_eq!(keys[0], keys[1], "same conversation, later turn");
    assert_ne!(keys[0], keys[2], "another conversation");

    let mut other = conversation("fix the bug", 1);
    other["metadata"] = json!({"user_id": "user_x_account__session_11111111-2222-4333-8444-555555555555"});
    create(&daemon, &other).await;
    assert_eq!(upstream.last_request().body["prompt_cache_key"], "11111111-2222-4333-8444-555555555555");
}

#[actix_web::test]
async fn web_search_becomes_server_tool_blocks() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 1000, "stream": true,
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}],
        "messages": [{"role": "user", "content": "latest rust release?"}]});
    let mut resp = client().post(daemon.url("/v1/messages")).send_json(&body).await.unwrap();
    let raw = resp.body().limit(1 << 24).await.unwrap();
    let events = parse_sse(&raw);

    let sent = upstream.last_request();
    assert_eq!(sent.body["tools"], json!([{"type": "web_search"}]));
    let starts: Vec<&Value> =
        events.iter().filter(|(e, _)| e == "content_block_start").map(|(_, d)| &d["content_block"]).collect();
    let kinds: Vec<&str> = starts.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["server_tool_use", "web_search_tool_result", "text"]);
    assert_eq!(starts[0]["name"], "web_search");
    assert_eq!(starts[1]["tool_use_id"], starts[0]["id"]);
    let query: String = events.iter().filter_map(|(_, d)| d["delta"]["partial_json"].as_str()).collect();
    assert_eq!(serde_json::from_str::<Value>(&query).unwrap(), json!({"query": "latest rust release"}));
    assert!(events.iter().any(|(_, d)| d["delta"]["type"] == "citations_delta"), "annotations become citations");
}
