//! Today's backend end to end: the live model catalogue, retired models, the
//! client-version gate, the two lanes and efforts, against the mock that
//! plays the backend of late 2026 (it refuses what the real one refuses).

mod common;

use std::time::Duration;

use common::mock_codex::{self, MockCodex, Reply, MOCK_TOKEN};
use common::{client, parse_sse, start_daemon, start_daemon_with, test_settings, wait_for_catalogue, write_tokens};
use serde_json::{json, Value};

const LITE: &str = "x-openai-internal-codex-responses-lite";

async fn post(daemon: &common::Daemon, body: &Value) -> (u16, Value) {
    let mut resp = client().post(daemon.url("/v1/messages")).send_json(body).await.unwrap();
    let status = resp.status().as_u16();
    let raw = resp.body().limit(1 << 24).await.unwrap();
    let value = if body["stream"] == true {
        Value::Array(parse_sse(&raw).into_iter().map(|(_, data)| data).collect())
    } else {
        serde_json::from_slice(&raw).unwrap_or_else(|_| json!(String::from_utf8_lossy(&raw)))
    };
    (status, value)
}

async fn health(daemon: &common::Daemon) -> Value {
    client().get(daemon.url("/health")).send().await.unwrap().json().await.unwrap()
}

fn ask(model: &str) -> Value {
    json!({"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]})
}

/// A daemon with these settings changes, logged in with the mock's token.
fn daemon_with(upstream: &MockCodex, change: impl FnOnce(&mut codexd::config::Settings)) -> common::Daemon {
    let home = tempfile::tempdir().unwrap();
    write_tokens(home.path(), MOCK_TOKEN);
    let mut settings = test_settings(upstream, home.path());
    change(&mut settings);
    start_daemon_with(settings, home)
}

#[actix_web::test]
async fn the_catalogue_is_read_with_the_client_version_and_kept_on_disk() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    let health = wait_for_catalogue(&daemon).await;
    assert_eq!(health["catalogue"]["models"], 6, "every model up to 0.157.1, the hidden one too");
    let read = upstream.catalogue_requests().pop().unwrap();
    assert_eq!(read.body["query"], format!("client_version={}", codexd::config::DEFAULT_CLIENT_VERSION));
    assert_eq!(read.header("authorization"), Some(format!("Bearer {MOCK_TOKEN}").as_str()));
    assert_eq!(read.header("originator"), Some("codex_cli_rs"));
    assert_eq!(read.header("chatgpt-account-id"), Some(mock_codex::MOCK_ACCOUNT));
    let copy: Value = serde_json::from_slice(&std::fs::read(daemon.home.path().join("models.json")).unwrap()).unwrap();
    let slugs: Vec<&str> = copy["models"].as_array().unwrap().iter().filter_map(|m| m["slug"].as_str()).collect();
    assert!(slugs.contains(&"gpt-6-sol") && slugs.contains(&"gpt-6-luna"), "{slugs:?}");
}

#[actix_web::test]
async fn the_default_tiers_follow_the_catalogue_not_a_frozen_table() {
    // A later catalogue: gpt-6-sol has retired in favour of gpt-6.1-sol.
    let upstream = MockCodex::start();
    let mut catalogue = mock_codex::default_catalogue();
    let models = catalogue["models"].as_array_mut().unwrap();
    let mut successor = models[0].clone();
    successor["slug"] = json!("gpt-6.1-sol");
    successor["display_name"] = json!("GPT-6.1 Sol");
    models[0]["upgrade"] = json!({"model": "gpt-6.1-sol", "retirement_at": "2026-12-01T00:00:00Z"});
    models.push(successor);
    upstream.set_catalogue(catalogue);
    let daemon = start_daemon(&upstream);
    wait_for_catalogue(&daemon).await;

    let (status, msg) = post(&daemon, &ask("claude-opus-5-5")).await;
    assert_eq!(status, 200, "{msg}");
    let sent = upstream.last_request();
    assert_eq!(sent.body["model"], "gpt-6.1-sol");
    assert_eq!(sent.body["reasoning"]["effort"], "high", "the map's default effort carries over");
    let health = health(&daemon).await;
    let replaced = &health["catalogue"]["replacements"][0];
    assert_eq!((replaced["from"].as_str(), replaced["to"].as_str()), (Some("gpt-6-sol"), Some("gpt-6.1-sol")));
    assert!(replaced["why"].as_str().unwrap().contains("retired on 2026-12-01"), "{replaced}");
}

#[actix_web::test]
async fn a_configured_retired_model_is_upgraded_never_sent() {
    let upstream = MockCodex::start();
    let daemon = daemon_with(&upstream, |s| {
        s.models.sonnet = "gpt-5.2-codex-high".into();
        s.models.exact.insert("claude-opus-4-8".into(), "gpt-5.6-sol".into());
    });
    wait_for_catalogue(&daemon).await;
    for _ in 0..2 {
        assert_eq!(post(&daemon, &ask("claude-sonnet-4-6")).await.0, 200);
    }
    assert_eq!(post(&daemon, &ask("claude-opus-4-8")).await.0, 200);
    let models: Vec<String> =
        upstream.requests().iter().map(|r| r.body["model"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(models, ["gpt-5.6-terra", "gpt-5.6-terra", "gpt-6-sol"]);
    assert_eq!(upstream.requests()[0].body["reasoning"]["effort"], "high", "the suffix's effort is kept");
    assert!(upstream.requests().iter().all(|r| r.refused.is_none()));
    let replacements = health(&daemon).await["catalogue"]["replacements"].clone();
    let pairs: Vec<(&str, &str)> = replacements
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["from"].as_str().unwrap(), r["to"].as_str().unwrap()))
        .collect();
    assert_eq!(pairs, [("gpt-5.2-codex", "gpt-5.6-terra"), ("gpt-5.6-sol", "gpt-6-sol")], "each once");
}

#[actix_web::test]
async fn an_unreachable_catalogue_falls_back_then_is_read_later() {
    let upstream = MockCodex::start();
    upstream.fail_catalogue(Some(503));
    let daemon = start_daemon(&upstream);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let health = health(&daemon).await;
    assert_eq!(health["catalogue"]["source"]["kind"], "built_in");
    assert!(health["catalogue"]["last_error"].as_str().unwrap().contains("overloaded"), "{health}");
    // The built-in list still serves every tier.
    for model in ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"] {
        let (status, msg) = post(&daemon, &ask(model)).await;
        assert_eq!(status, 200, "{model}: {msg}");
    }
    upstream.fail_catalogue(None);
    let health = wait_for_catalogue(&daemon).await;
    assert_eq!(health["catalogue"]["last_error"], Value::Null);
    assert!(upstream.catalogue_requests().len() >= 2, "tried again without waiting an hour");
}

#[actix_web::test]
async fn the_copy_on_disk_serves_when_the_backend_cannot_be_reached() {
    let upstream = MockCodex::start();
    upstream.fail_catalogue(Some(502));
    let daemon = daemon_with(&upstream, |s| {
        let copy = json!({"fetched_at": "2026-12-01T08:00:00Z", "client_version": "0.157.1",
                          "models": mock_codex::default_catalogue()["models"]});
        std::fs::write(s.catalogue_path(), copy.to_string()).unwrap();
        s.models.haiku = "gpt-5.4-mini".into();
    });
    let health = health(&daemon).await;
    assert_eq!(health["catalogue"]["source"], json!({"kind": "disk", "fetched_at": "2026-12-01T08:00:00Z"}));
    assert_eq!(post(&daemon, &ask("claude-haiku-4-5")).await.0, 200);
    // gpt-5.4-mini retired for gpt-5.6-luna, which the copy no longer lists either: its successor answers.
    assert_eq!(upstream.last_request().body["model"], "gpt-6-luna");
    assert_eq!(upstream.last_request().header(LITE), Some("true"));
}

#[actix_web::test]
async fn a_client_version_below_the_models_gate_is_explained() {
    let upstream = MockCodex::start();
    let daemon = daemon_with(&upstream, |s| s.client_version = "0.150.0".into());
    let health = wait_for_catalogue(&daemon).await;
    // The catalogue hides what 0.150.0 may not use…
    assert_eq!(health["catalogue"]["models"], 3, "{health}");
    // …so a mapped tier goes to a model the version may use…
    assert_eq!(post(&daemon, &ask("claude-opus-5-5")).await.0, 200);
    assert_eq!(upstream.last_request().body["model"], "gpt-5.6-terra");
    assert_eq!(upstream.last_request().header("version"), Some("0.150.0"));
    // …and a model typed by the user is refused upstream, with what to do.
    let (status, err) = post(&daemon, &ask("gpt-6-sol-high")).await;
    assert_eq!(status, 400, "{err}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("requires a newer version of Codex"), "{message}");
    assert!(message.contains("client_version") && message.contains("CODEXD_CLIENT_VERSION"), "{message}");
}

#[actix_web::test]
async fn haiku_goes_over_responses_lite_with_tools_reasoning_and_results() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    wait_for_catalogue(&daemon).await;
    let tool = json!({"name": "get_weather", "description": "Weather", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}});
    let mut messages = vec![json!({"role": "user", "content": "Weather in Paris?"})];
    let first = json!({"model": "claude-haiku-5-5", "max_tokens": 100, "system": "Be brief.", "tools": [tool.clone()],
                       "messages": messages, "stream": true});
    let (status, events) = post(&daemon, &first).await;
    assert_eq!(status, 200, "{events}");
    let sent = upstream.last_request();
    assert_eq!(sent.refused, None);
    assert_eq!(sent.header(LITE), Some("true"));
    assert_eq!(sent.body["model"], "gpt-6-luna");
    assert_eq!(sent.body["input"][0]["type"], "additional_tools");
    assert_eq!(sent.body["input"][0]["tools"][0]["name"], "get_weather");
    assert_eq!(
        sent.body["input"][1],
        json!({"type":"message","role":"developer","content":[{"type":"input_text","text":"Be brief."}]})
    );
    assert_eq!(sent.body["parallel_tool_calls"], false);
    assert_eq!(sent.body["reasoning"]["context"], "all_turns");
    assert!(sent.body.get("tools").is_none() && sent.body.get("instructions").is_none());

    // The call comes back as a tool_use; its result and the turn's
    // reasoning go back on the same lane.
    let events = events.as_array().unwrap();
    let tool_use = events.iter().find(|e| e["content_block"]["type"] == "tool_use").expect("a tool_use block");
    let id = tool_use["content_block"]["id"].as_str().unwrap();
    messages.push(json!({"role": "assistant", "content": [
        {"type": "thinking", "thinking": "check the weather", "signature": "codexd.v1.gAAAAreplayed"},
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": id, "name": "get_weather", "input": {"city": "Paris"}}]}));
    messages.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "18C"}]}));
    let second = json!({"model": "claude-haiku-5-5", "max_tokens": 100, "system": "Be brief.", "tools": [tool],
                        "messages": messages});
    let (status, msg) = post(&daemon, &second).await;
    assert_eq!(status, 200, "{msg}");
    assert!(msg["content"].as_array().unwrap().iter().any(|b| b["text"].as_str().is_some_and(|t| t.contains("18C"))));
    let sent = upstream.last_request();
    assert_eq!(sent.refused, None);
    assert_eq!(sent.header(LITE), Some("true"));
    let input = sent.body["input"].as_array().unwrap();
    let kinds: Vec<&str> = input.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["additional_tools", "message", "message", "reasoning", "message", "function_call", "function_call_output"]
    );
    assert_eq!(input[3]["encrypted_content"], "gAAAAreplayed");
    assert_eq!(input[4]["phase"], "commentary", "text before a call was commentary");
}

#[actix_web::test]
async fn sonnet_and_opus_keep_the_normal_lane_with_parallel_calls() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    wait_for_catalogue(&daemon).await;
    for model in ["claude-sonnet-5-5", "claude-opus-5-5"] {
        let body = json!({"model": model, "max_tokens": 100, "system": "Be brief.",
            "tools": [{"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
            "messages": [{"role": "user", "content": "ls"}]});
        assert_eq!(post(&daemon, &body).await.0, 200);
        let sent = upstream.last_request();
        assert_eq!(sent.header(LITE), None, "{model}");
        assert_eq!(sent.body["instructions"], "Be brief.");
        assert_eq!(sent.body["tools"][0]["name"], "Bash");
        assert_eq!(sent.body["parallel_tool_calls"], true);
        assert!(sent.body["reasoning"].get("context").is_none());
    }
}

#[actix_web::test]
async fn web_search_on_a_lite_only_model_moves_to_its_full_lane_sibling() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    wait_for_catalogue(&daemon).await;
    let body = json!({"model": "claude-haiku-5-5", "max_tokens": 100,
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
        "messages": [{"role": "user", "content": "latest rust release?"}]});
    let (status, msg) = post(&daemon, &body).await;
    assert_eq!(status, 200, "{msg}");
    let sent = upstream.last_request();
    assert_eq!(sent.refused, None);
    assert_eq!((sent.body["model"].as_str(), sent.header(LITE)), (Some("gpt-6-sol"), None));
    assert_eq!(sent.body["tools"], json!([{"type": "web_search"}]));
    let kinds: Vec<&str> = msg["content"].as_array().unwrap().iter().filter_map(|b| b["type"].as_str()).collect();
    assert!(kinds.contains(&"web_search_tool_result"), "{kinds:?}");
}

#[actix_web::test]
async fn efforts_are_sent_as_the_model_takes_them() {
    let upstream = MockCodex::start();
    let daemon = start_daemon(&upstream);
    wait_for_catalogue(&daemon).await;
    let cases = [
        // (model, output_config.effort, sent)
        ("gpt-6-sol-minimal", None, "low"),
        ("gpt-6-sol-none", None, "low"),
        ("gpt-6-sol-ultra", None, "max"),
        ("gpt-6-sol-max", None, "max"),
        ("claude-opus-5-5", Some("max"), "max"),
        ("claude-opus-5-5", Some("ultra"), "max"),
        ("claude-opus-5-5", Some("medium"), "medium"),
        ("claude-haiku-5-5", Some("minimal"), "low"),
        ("gpt-6-astra-low", None, "medium"),
    ];
    for (model, effort, sent) in cases {
        let mut body = ask(model);
        if let Some(effort) = effort {
            body["output_config"] = json!({"effort": effort});
        }
        let (status, msg) = post(&daemon, &body).await;
        assert_eq!(status, 200, "{model} {effort:?}: {msg}");
        assert_eq!(upstream.last_request().body["reasoning"]["effort"], sent, "{model} {effort:?}");
    }
}

#[actix_web::test]
async fn the_mock_refuses_what_the_backend_refuses() {
    // The checks the tests above rely on: without them a green run proves nothing.
    let upstream = MockCodex::start();
    let http = client();
    let base = format!("{}/codex/responses", upstream.base_url);
    let body = |model: &str, effort: &str| {
        json!({"model": model, "instructions": "x", "input": [], "tools": [], "tool_choice": "auto",
               "parallel_tool_calls": true, "reasoning": {"effort": effort}, "store": false, "stream": true})
    };
    let cases: Vec<(Vec<(&str, &str)>, Value, u16, &str)> = vec![
        (vec![("version", "0.157.1"), ("session-id", "s")], body("gpt-6-sol", "medium"), 200, ""),
        (vec![("session-id", "s")], body("gpt-6-sol", "medium"), 404, "Model not found"),
        (vec![("version", "0.150.0"), ("session-id", "s")], body("gpt-6-sol", "medium"), 400, "newer version"),
        (vec![("version", "0.157.1"), ("session_id", "s")], body("gpt-6-sol", "medium"), 400, "session-id"),
        (vec![("version", "0.157.1"), ("session-id", "s")], body("gpt-5.2-codex", "medium"), 400, "not supported"),
        (vec![("version", "0.157.1"), ("session-id", "s")], body("gpt-6-luna", "low"), 404, "Model not found"),
        (vec![("version", "0.157.1"), ("session-id", "s")], body("gpt-6-sol", "minimal"), 400, "Unsupported value"),
        (vec![("version", "0.157.1"), ("session-id", "s")], body("gpt-6-sol", "ultra"), 400, "Unsupported value"),
        (
            vec![("version", "0.157.1"), ("session-id", "s"), (LITE, "true")],
            body("gpt-6-luna", "low"),
            400,
            "Responses Lite",
        ),
    ];
    for (headers, body, want, detail) in cases {
        let version = headers.iter().find(|(name, _)| *name == "version").map_or("0.157.1", |(_, v)| *v);
        let ua = format!("codex_cli_rs/{version} (Linux 6; x86_64) unknown");
        let mut request = http
            .post(&base)
            .insert_header(("authorization", format!("Bearer {MOCK_TOKEN}")))
            .insert_header(("chatgpt-account-id", mock_codex::MOCK_ACCOUNT))
            .insert_header(("originator", "codex_cli_rs"))
            .insert_header(("user-agent", ua))
            .insert_header(("accept", "text/event-stream"));
        for (name, value) in &headers {
            request = request.insert_header((*name, *value));
        }
        upstream.push(Reply::Sse(mock_codex::text_stream("m", "ok")));
        let mut resp = request.send_json(&body).await.unwrap();
        let text = String::from_utf8_lossy(&resp.body().await.unwrap()).into_owned();
        assert_eq!(resp.status().as_u16(), want, "{headers:?} {body}: {text}");
        assert!(text.contains(detail), "{headers:?}: {text}");
    }
}

/// `codexd models` as a user runs it: the real binary, the stored login,
/// the mock backend; and again with the backend gone.
#[actix_web::test]
async fn codexd_models_lists_the_accounts_models_and_the_tiers() {
    let upstream = MockCodex::start();
    let home = tempfile::tempdir().unwrap();
    write_tokens(home.path(), MOCK_TOKEN);
    let run = |base_url: String, json: bool| {
        let home = home.path().to_owned();
        actix_web::rt::task::spawn_blocking(move || {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_codexd"));
            command.arg("models");
            if json {
                command.arg("--json");
            }
            command
                .env_clear()
                .env("HOME", &home)
                .env("XDG_CONFIG_HOME", &home)
                .env("CODEXD_HOME", &home)
                .env("CODEXD_LOG_FILE", home.join("codexd.log"))
                .env("CODEX_BASE_URL", base_url)
                .output()
                .unwrap()
        })
    };
    let out = run(upstream.base_url.clone(), false).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("Models (live, read "), "{text}");
    let luna = text.lines().find(|l| l.trim_start().starts_with("gpt-6-luna")).expect("gpt-6-luna listed");
    assert!(luna.contains("low* medium high xhigh max") && luna.contains("Responses Lite"), "{luna}");
    let sol = text.lines().find(|l| l.trim_start().starts_with("gpt-6-sol ")).expect("gpt-6-sol listed");
    assert!(sol.contains("medium*") && sol.trim_end().ends_with("  Responses"), "{sol}");
    assert!(!text.contains("gpt-5.6-sol "), "a retired model is not offered: {text}");
    assert!(text.contains("  haiku    gpt-6-luna, low effort, Responses Lite\n"), "{text}");
    assert!(text.contains("  opus     gpt-6-sol, high effort\n"), "{text}");
    assert!(!text.contains(MOCK_TOKEN));
    assert!(home.path().join("models.json").exists(), "the copy on disk is refreshed");

    let out = run(upstream.base_url.clone(), true).await.unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["source"]["kind"], "live");
    let luna = json["models"].as_array().unwrap().iter().find(|m| m["slug"] == "gpt-6-luna").unwrap();
    assert_eq!(luna["lane"], "lite");
    assert_eq!(luna["efforts"], json!(["low", "medium", "high", "xhigh", "max"]));
    assert_eq!(json["tiers"][1]["tier"], "sonnet");
    assert_eq!(json["tiers"][1]["model"], "gpt-5.6-terra");

    // Offline: the copy on disk, said so, exit 1.
    let out = run("http://127.0.0.1:9/backend-api".into(), false).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("Cannot read the account's model catalogue: "), "{text}");
    assert!(text.contains("Models (the copy on disk from "), "{text}");
}
