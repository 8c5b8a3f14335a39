//! `POST /v1/messages/count_tokens` end to end, through the real server.
//! Counting never reaches the upstream, so the mock only proves that.

mod common;

use common::mock_codex::MockCodex;
use common::{client, start_daemon, start_daemon_with, test_settings};
use serde_json::{json, Value};

const CJK: &str = "今天天气很好，我们去公园散步吧。"; // 12 o200k tokens, 48 UTF-8 bytes

async fn post(daemon: &common::Daemon, path: &str, body: &[u8]) -> (u16, Value) {
    let mut resp = client()
        .post(daemon.url(path))
        .insert_header(("content-type", "application/json"))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_body(body.to_vec())
        .await
        .expect("codexd answers");
    let body = resp.body().limit(16 * 1024 * 1024).await.expect("body");
    let json =
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (resp.status().as_u16(), json)
}

async fn count(daemon: &common::Daemon, body: &Value) -> u64 {
    let (status, answer) = post(daemon, "/v1/messages/count_tokens", body.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer.as_object().map(|o| o.len()), Some(1), "only input_tokens: {answer}");
    answer["input_tokens"].as_u64().expect("input_tokens is a number")
}

/// What a growth step adds, and how it adds it to a body (given an image).
type Step = (&'static str, fn(&mut Value, &Value));

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

fn base() -> Value {
    json!({"model": "claude-sonnet-4-5", "messages": [user("hello world")]})
}

#[actix_web::test]
async fn counts_grow_as_content_is_added() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);

    let mut body = base();
    let mut previous = count(&daemon, &body).await;
    assert!(previous > 0);
    let image = gif_image();
    let steps: [Step; 5] = [
        ("a system prompt", |b, _| b["system"] = json!("You are Claude Code, a careful engineer.")),
        ("an assistant reply", |b, _| {
            b["messages"].as_array_mut().unwrap().push(json!({"role": "assistant", "content": "Hi! What next?"}))
        }),
        ("a tool", |b, _| {
            b["tools"] = json!([{"name": "Bash", "description": "Run a shell command",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}])
        }),
        ("an image", |b, image| {
            b["messages"].as_array_mut().unwrap().push(json!({"role": "user", "content": [image.clone()]}))
        }),
        ("a long user turn", |b, _| {
            b["messages"].as_array_mut().unwrap().push(user(&"lorem ipsum dolor sit amet ".repeat(50)))
        }),
    ];
    for (what, add) in steps {
        add(&mut body, &image);
        let now = count(&daemon, &body).await;
        assert!(now > previous, "adding {what}: {now} should exceed {previous}");
        previous = now;
    }
    assert!(upstream.requests().is_empty(), "counting never calls upstream");
}

#[actix_web::test]
async fn cjk_text_is_counted_in_tokens_not_bytes() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);

    let latin = count(&daemon, &base()).await; // "hello world" is 2 tokens
    let cjk = count(&daemon, &json!({"model": "claude-sonnet-4-5", "messages": [user(CJK)]})).await;
    assert_eq!(cjk - latin, 12 - 2, "the CJK sentence is 12 tokens, 10 more than hello world");
}

/// A 300×200 GIF: one 512×512 tile, 85 + 170 = 255 tokens.
fn gif_image() -> Value {
    let data = base64_of(include_bytes!("fixtures/images/blank-300x200.gif"));
    json!({"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": data}})
}

#[actix_web::test]
async fn images_cost_their_tiles_or_a_flat_rate() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);

    let plain = count(&daemon, &base()).await;
    let url_image = json!({"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}});
    for (image, cost) in [(gif_image(), 255), (url_image, 765)] {
        let mut body = base();
        body["messages"].as_array_mut().unwrap().push(json!({"role": "user", "content": [image]}));
        // The image's own message adds 3 tokens of overhead.
        assert_eq!(count(&daemon, &body).await - plain, 3 + cost);
    }
}

#[actix_web::test]
async fn max_tokens_and_stream_are_optional_and_ignored() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);

    let plain = count(&daemon, &base()).await;
    let mut full = base();
    full["max_tokens"] = json!(32000);
    full["stream"] = json!(true);
    full["temperature"] = json!(1);
    assert_eq!(count(&daemon, &full).await, plain);
}

#[actix_web::test]
async fn long_tool_names_are_counted_as_sent() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);

    let with_tool = |name: &str| {
        let mut body = base();
        body["tools"] = json!([{"name": name, "input_schema": {"type": "object"}}]);
        body
    };
    // Every name of 64 characters and more is sent as 64 characters (55 + `_` + 8 hex).
    let at_limit = count(&daemon, &with_tool(&"x".repeat(64))).await;
    let over = count(&daemon, &with_tool(&"x".repeat(500))).await;
    assert!(over < at_limit + 10, "a 500-character name is not counted whole: {over} vs {at_limit}");
}

#[actix_web::test]
async fn no_login_is_needed() {
    let upstream = MockCodex::start();
    let home = tempfile::tempdir().unwrap();
    let daemon = start_daemon_with(test_settings(&upstream, home.path()), home);
    assert!(count(&daemon, &base()).await > 0);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[actix_web::test]
async fn bad_bodies_get_the_same_400s_as_messages() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);

    let bodies: [&[u8]; 6] = [
        b"{not json",
        b"[]",
        br#"{"messages": [{"role": "user", "content": "hi"}]}"#,
        br#"{"model": "m", "messages": []}"#,
        br#"{"model": "m", "messages": [{"role": "robot", "content": "hi"}]}"#,
        // (`max_tokens`, optional here, is required there: given, so the errors compare.)
        br#"{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "tool_choice": {"type": "tool"}}"#,
    ];
    for body in bodies {
        let shown = String::from_utf8_lossy(body);
        let (status, counted) = post(&daemon, "/v1/messages/count_tokens", body).await;
        assert_eq!(status, 400, "{shown}: {counted}");
        assert_eq!(counted["type"], "error", "{shown}");
        assert_eq!(counted["error"]["type"], "invalid_request_error", "{shown}");
        let (_, created) = post(&daemon, "/v1/messages", body).await;
        assert_eq!(counted, created, "{shown}: same error as /v1/messages");
    }
    assert!(upstream.requests().is_empty());
}
