//! Claude Code itself as a test client: the real CLI from npm, run headless
//! (`claude -p … --output-format json`) against the real `codexd` binary and
//! the mock Codex backend, as a user would run it.
//!
//! Claude Code hides a 400 by retrying with fewer features, so its exit code
//! alone proves little: every scenario also checks that codexd answered no
//! request with a 4xx (from codexd's own request log) and that each turn's
//! upstream request begins with the previous turn's (the backend's prompt
//! cache only hits on a shared prefix).
//!
//! The pinned versions are installed by `./scripts/test` into
//! `.cache/claude-code/<version>` (or `CODEXD_CLAUDE_CODE_DIR`). Where npm
//! cannot be reached, `scripts/test` leaves `UNAVAILABLE` there with the
//! reason, and these tests say they were skipped; anything else missing is
//! a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::mock_codex::{self, MockCodex, Reply};
use common::{client, write_tokens};
use serde_json::{json, Value};

/// The newest native release, and the one that first sent `role:"system"` turns.
const VERSIONS: [&str; 2] = ["2.1.332", "2.1.197"];

/// The Claude Code binary of `version`, or why the tests are skipped.
fn claude(version: &str) -> Result<PathBuf, String> {
    let dir = std::env::var_os("CODEXD_CLAUDE_CODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/claude-code"));
    let bin = dir.join(version).join("node_modules/.bin/claude");
    if bin.exists() {
        return Ok(bin);
    }
    match std::fs::read_to_string(dir.join("UNAVAILABLE")) {
        Ok(reason) => Err(reason.trim().to_owned()),
        Err(_) => panic!(
            "Claude Code {version} is not installed in {}: run ./scripts/test (it installs the pinned versions)",
            dir.display()
        ),
    }
}

/// A `codexd serve` process against the mock, with its own home and log.
struct Codexd {
    child: Child,
    url: String,
    home: tempfile::TempDir,
}

impl Drop for Codexd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Codexd {
    async fn start(upstream: &MockCodex) -> Codexd {
        let home = tempfile::tempdir().unwrap();
        write_tokens(home.path(), mock_codex::MOCK_TOKEN);
        let (mut command, port) = common::codexd_serve(home.path(), upstream);
        let child = command.spawn().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let codexd = Codexd { child, url, home };
        for _ in 0..400 {
            if let Ok(mut res) = client().get(format!("{}/health", codexd.url)).send().await {
                let health: Value = res.json().await.unwrap_or_default();
                if health["catalogue"]["source"]["kind"] == "live" {
                    return codexd;
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("codexd did not start and read the model catalogue");
    }

    /// The statuses of codexd's request summary lines, in order.
    fn statuses(&self) -> Vec<u16> {
        let log = std::fs::read_to_string(self.home.path().join("codexd.log")).unwrap_or_default();
        log.lines()
            .filter(|line| line.contains(" request req_"))
            .filter_map(|line| line.split(" status=").nth(1)?.split(' ').next()?.parse().ok())
            .collect()
    }

    fn assert_no_4xx(&self) {
        let statuses = self.statuses();
        assert!(!statuses.is_empty(), "codexd logged no request");
        let log = std::fs::read_to_string(self.home.path().join("codexd.log")).unwrap_or_default();
        assert!(statuses.iter().all(|s| !(400..500).contains(s)), "codexd answered a 4xx: {statuses:?}\n{log}");
    }
}

/// A place for one user: a fresh `HOME` with a project folder.
struct User {
    home: tempfile::TempDir,
}

impl User {
    fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("proj")).unwrap();
        User { home }
    }

    /// Run `claude ARGS` headless against codexd; its JSON result. On
    /// failure the panic lists what the mock saw.
    async fn claude(&self, bin: &Path, codexd: &Codexd, upstream: &MockCodex, args: &[&str]) -> Value {
        let mut command = Command::new("timeout");
        command
            .arg("120")
            .arg(bin)
            .args(args)
            .current_dir(self.home.path().join("proj"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("TERM", "dumb")
            .env("ANTHROPIC_BASE_URL", &codexd.url)
            .env("ANTHROPIC_API_KEY", "dummy-key")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "1")
            // Anything but codexd would go to a proxy where nothing listens:
            // the tests never reach beyond loopback.
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::null());
        let out = actix_web::rt::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
            panic!(
                "claude printed no JSON result ({}):\n{stdout}\n{}\nupstream requests:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                summary(upstream)
            )
        })
    }
}

/// The tools of an upstream request, on either lane.
fn tools_of(body: &Value) -> Vec<Value> {
    let lite = body["input"][0]["type"] == "additional_tools";
    let tools = if lite { &body["input"][0]["tools"] } else { &body["tools"] };
    tools.as_array().cloned().unwrap_or_default()
}

fn has_tool(body: &Value, name: &str) -> bool {
    tools_of(body).iter().any(|t| t["name"] == name)
}

fn last_item(body: &Value) -> Value {
    body["input"].as_array().and_then(|i| i.last().cloned()).unwrap_or_default()
}

/// The text of the newest user message (the prompt of this turn).
fn last_user_text(body: &Value) -> String {
    let input = body["input"].as_array().cloned().unwrap_or_default();
    input.iter().rev().find(|i| i["role"] == "user").map(|i| i["content"].to_string()).unwrap_or_default()
}

/// One line per upstream request, for failure messages.
fn summary(upstream: &MockCodex) -> String {
    let lines: Vec<String> = upstream
        .requests()
        .iter()
        .map(|r| {
            let last = last_item(&r.body);
            format!(
                "{} lite={} tools={} items={} last={} {:.120} refused={:?}",
                r.body["model"],
                r.header("x-openai-internal-codex-responses-lite").is_some(),
                tools_of(&r.body).len(),
                r.body["input"].as_array().map_or(0, Vec::len),
                last["type"],
                last_user_text(&r.body),
                r.refused
            )
        })
        .collect();
    lines.join("\n")
}

fn text(body: &Value, text: &str) -> Reply {
    Reply::Sse(mock_codex::text_stream(body["model"].as_str().unwrap_or("m"), text))
}

fn call(body: &Value, name: &str, arguments: Value) -> Reply {
    let id = format!("call_{name}_{}", body["input"].as_array().map_or(0, Vec::len));
    Reply::Sse(mock_codex::tool_call_stream(
        body["model"].as_str().unwrap_or("m"),
        &[(&id, name, &arguments.to_string())],
    ))
}

/// The answer to a tool result: its output, quoted.
fn after_tool(body: &Value) -> Option<Reply> {
    let last = last_item(body);
    (last["type"] == "function_call_output").then(|| {
        let output = match &last["output"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text(body, &format!("TOOL_ROUND_TRIP_OK: the tool said: {output}"))
    })
}

/// Checks every conversation the mock saw: each request of a session starts
/// with the previous one's instructions, tools and input (the backend's
/// prefix cache), and nothing was refused.
fn assert_prefix_stable(upstream: &MockCodex) {
    let requests = upstream.requests();
    assert!(requests.iter().all(|r| r.refused.is_none()), "the mock refused a request: {requests:#?}");
    let mut by_session: Vec<(String, Vec<Value>)> = Vec::new();
    for r in &requests {
        let key = format!("{}|{}", r.body["prompt_cache_key"], r.body["instructions"].as_str().map_or(0, str::len));
        match by_session.iter_mut().find(|(k, _)| *k == key) {
            Some((_, bodies)) => bodies.push(r.body.clone()),
            None => by_session.push((key, vec![r.body.clone()])),
        }
    }
    for (_, bodies) in by_session {
        for pair in bodies.windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            assert_eq!(before["instructions"], after["instructions"], "instructions changed within a session");
            // Tools only grow at the end (a deferred tool loaded by ToolSearch).
            let (t1, t2) = (tools_of(before), tools_of(after));
            assert!(t2.len() >= t1.len() && t2[..t1.len()] == t1[..], "tools changed within a session");
            let (a, b) = (before["input"].as_array().unwrap(), after["input"].as_array().unwrap());
            assert!(b.len() >= a.len() && b[..a.len()] == a[..], "turn N+1 does not start with turn N's input");
        }
    }
}

/// Run `scenario` for each pinned version, or say why it was skipped.
macro_rules! for_each_version {
    (|$bin:ident, $version:ident| $body:block) => {
        for $version in VERSIONS {
            let $bin = match claude($version) {
                Ok(bin) => bin,
                Err(reason) => {
                    println!("skipped: Claude Code {} is not available: {reason}", $version);
                    continue;
                }
            };
            $body
        }
    };
}

#[actix_web::test]
async fn a_plain_prompt() {
    for_each_version!(|bin, version| {
        let upstream = MockCodex::start();
        upstream.set_responder(|body| Some(text(body, "hi from codexd")));
        let codexd = Codexd::start(&upstream).await;
        let user = User::new();
        for model in ["opus", "haiku"] {
            let result = user
                .claude(&bin, &codexd, &upstream, &["-p", "say hi", "--output-format", "json", "--model", model])
                .await;
            assert_eq!(result["result"], "hi from codexd", "{version} {model}: {result}");
            assert_eq!(result["is_error"], false, "{version}: {result}");
        }
        codexd.assert_no_4xx();
        assert_prefix_stable(&upstream);
        let lanes: Vec<bool> = upstream
            .requests()
            .iter()
            .map(|r| r.header("x-openai-internal-codex-responses-lite") == Some("true"))
            .collect();
        assert!(lanes.contains(&true) && lanes.contains(&false), "{version}: opus on Responses, haiku on Lite");
    });
}

#[actix_web::test]
async fn a_bash_round_trip_runs_the_command_and_continues_the_session() {
    for_each_version!(|bin, version| {
        let upstream = MockCodex::start();
        upstream.set_responder(|body| {
            after_tool(body).or_else(|| {
                let wants_bash = has_tool(body, "Bash") && last_user_text(body).contains("run the marker");
                Some(if wants_bash {
                    call(body, "Bash", json!({"command": "echo CODEXD_MARKER_$((6*7))", "description": "marker"}))
                } else {
                    text(body, "second turn answered")
                })
            })
        });
        let codexd = Codexd::start(&upstream).await;
        let user = User::new();
        let args = ["-p", "run the marker command", "--output-format", "json", "--allowedTools", "Bash"];
        let result = user.claude(&bin, &codexd, &upstream, &args).await;
        let answer = result["result"].as_str().unwrap_or_default();
        assert!(answer.contains("TOOL_ROUND_TRIP_OK") && answer.contains("CODEXD_MARKER_42"), "{version}: {result}");
        // The command's output reached the upstream as the call's output.
        let outputs: Vec<String> = upstream
            .requests()
            .iter()
            .flat_map(|r| r.body["input"].as_array().cloned().unwrap_or_default())
            .filter(|i| i["type"] == "function_call_output")
            .map(|i| i["output"].to_string())
            .collect();
        assert!(outputs.iter().any(|o| o.contains("CODEXD_MARKER_42")), "{version}: {outputs:?}");

        // A second turn of the same session.
        let result =
            user.claude(&bin, &codexd, &upstream, &["--continue", "-p", "and now?", "--output-format", "json"]).await;
        assert_eq!(result["result"], "second turn answered", "{version}: {result}");
        let last = upstream.last_request();
        assert!(last.body["input"].to_string().contains("CODEXD_MARKER_42"), "{version}: the history came along");
        codexd.assert_no_4xx();
        assert_prefix_stable(&upstream);
    });
}

#[actix_web::test]
async fn a_subagent_answers_through_the_agent_tool() {
    for_each_version!(|bin, version| {
        let upstream = MockCodex::start();
        upstream.set_responder(|body| {
            let input = body["input"].as_array().cloned().unwrap_or_default();
            let agent = ["Agent", "Task"].into_iter().find(|name| has_tool(body, name));
            // The subagent's own conversation (its prompt is its last user message).
            if last_user_text(body).contains("SUBAGENT_HELLO") {
                return Some(text(body, "SUBAGENT_DONE"));
            }
            after_tool(body).or_else(|| {
                let called = input
                    .iter()
                    .any(|i| i["type"] == "function_call" && Some(i["name"].as_str().unwrap_or("")) == agent);
                Some(match agent {
                    // The subagent runs in the foreground: its answer is the tool's output.
                    Some(name) if !called => call(
                        body,
                        name,
                        json!({"description": "say hello", "prompt": "Reply with SUBAGENT_HELLO and nothing else.",
                               "subagent_type": "general-purpose", "run_in_background": false}),
                    ),
                    _ => text(body, "nothing more to do"),
                })
            })
        });
        let codexd = Codexd::start(&upstream).await;
        let user = User::new();
        let result = user.claude(&bin, &codexd, &upstream, &["-p", "delegate this", "--output-format", "json"]).await;
        let answer = result["result"].as_str().unwrap_or_default();
        let seen = summary(&upstream);
        assert!(
            answer.contains("TOOL_ROUND_TRIP_OK") && answer.contains("SUBAGENT_DONE"),
            "{version}: {result}\n{seen}"
        );
        codexd.assert_no_4xx();
        assert_prefix_stable(&upstream);
    });
}

#[actix_web::test]
async fn tool_search_loads_a_deferred_tool_which_is_then_called() {
    for_each_version!(|bin, version| {
        if version == "2.1.197" {
            continue; // ToolSearch and deferred tools came later.
        }
        let upstream = MockCodex::start();
        upstream.set_responder(|body| {
            let input = body["input"].as_array().cloned().unwrap_or_default();
            let called = |name: &str| input.iter().any(|i| i["type"] == "function_call" && i["name"] == name);
            if has_tool(body, "CronList") && !called("CronList") {
                return Some(call(body, "CronList", json!({})));
            }
            after_tool(body).or_else(|| {
                Some(if has_tool(body, "ToolSearch") && last_user_text(body).contains("load cron") {
                    call(body, "ToolSearch", json!({"query": "select:CronList", "max_results": 5}))
                } else {
                    text(body, "nothing to do")
                })
            })
        });
        let codexd = Codexd::start(&upstream).await;
        let user = User::new();
        let args = ["-p", "load cron tools and list the jobs", "--output-format", "json", "--allowedTools", "CronList"];
        let result = user.claude(&bin, &codexd, &upstream, &args).await;
        let seen = summary(&upstream);
        let requests = upstream.requests();
        assert!(requests.len() >= 3, "{version}: {seen}");
        // Deferred tools are not offered before they are loaded; the placeholder never is.
        assert!(!has_tool(&requests[0].body, "CronList"), "{version}: {seen}");
        assert!(requests.iter().all(|r| !has_tool(&r.body, "DeferredToolPlaceholder")), "{version}: {seen}");
        // ToolSearch's answer reaches the model as text naming the loaded tool.
        let search_output = requests
            .iter()
            .flat_map(|r| r.body["input"].as_array().cloned().unwrap_or_default())
            .find(|i| i["type"] == "function_call_output")
            .map(|i| i["output"].to_string())
            .unwrap_or_default();
        assert!(search_output.contains("CronList"), "{version}: {search_output}");
        let answer = result["result"].as_str().unwrap_or_default();
        assert!(answer.contains("TOOL_ROUND_TRIP_OK"), "{version}: {result}\n{seen}");
        assert!(requests.iter().any(|r| r.body["input"].to_string().contains("\"name\":\"CronList\"")), "{seen}");
        codexd.assert_no_4xx();
        assert_prefix_stable(&upstream);
    });
}
