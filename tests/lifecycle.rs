//! The daemon's life: settings reload (config-file change, SIGHUP) without
//! dropping a stream in flight, and a graceful stop on SIGTERM — the last
//! two through the real binary.

mod common;

use std::io::Write;
use std::process::{Child, Command};
use std::time::Duration;

use codexd::config::Overrides;
use codexd::server::Reloader;
use common::mock_codex::{self, MockCodex, Reply};
use common::{client, parse_sse, test_settings, write_tokens};
use serde_json::{json, Value};

fn ask(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream,
           "messages": [{"role": "user", "content": "hi"}]})
}

fn write_config(path: &std::path::Path, sonnet: &str) {
    let mut file = std::fs::File::create(path).unwrap();
    writeln!(file, "[models]\nsonnet = \"{sonnet}\"").unwrap();
}

/// Start a streaming request and collect its body in the background.
fn stream_in_background(url: &str) -> actix_web::rt::task::JoinHandle<bytes::Bytes> {
    let url = url.to_owned();
    actix_web::rt::spawn(async move {
        let mut resp = client().post(&url).send_json(&ask(true)).await.unwrap();
        resp.body().limit(1 << 20).await.unwrap()
    })
}

fn slow_reply() -> Reply {
    let events = mock_codex::text_events("gpt-5.2-codex", "a slow answer that is still streaming");
    Reply::Chunks(mock_codex::drip(&events, 4, Duration::from_millis(150)))
}

#[actix_web::test]
async fn a_config_file_change_reroutes_new_requests_and_spares_the_stream_in_flight() {
    let upstream = MockCodex::start();
    let home = tempfile::tempdir().unwrap();
    write_tokens(home.path(), mock_codex::MOCK_TOKEN);
    let config = home.path().join("config.toml");
    write_config(&config, "gpt-6-astra");
    let overrides = Overrides { config: Some(config.clone()), ..Overrides::default() };
    let mut settings = test_settings(&upstream, home.path());
    settings.models.sonnet = "gpt-6-astra".into();
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    let bound = codexd::server::bind(settings, Some(1)).unwrap();
    let url = format!("http://{}/v1/messages", bound.addrs[0]);
    let mut reloader = Reloader::new(overrides, None);
    reloader.poll_every = Duration::from_millis(50);
    bound.reload_on(reloader);
    actix_web::rt::spawn(bound.server);

    upstream.push(slow_reply());
    let in_flight = stream_in_background(&url);
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(upstream.last_request().body["model"], "gpt-6-astra");
    write_config(&config, "gpt-5.6-terra\"\nhaiku = \"gpt-6-luna");
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;

    let mut resp = client().post(&url).send_json(&ask(false)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let _ = resp.body().await;
    assert_eq!(upstream.last_request().body["model"], "gpt-5.6-terra", "new requests use the new route");

    let streamed = in_flight.await.unwrap();
    let events = parse_sse(&streamed);
    assert_eq!(events.last().unwrap().0, "message_stop", "the stream in flight completed");

    // An invalid file is refused and the settings in force are kept.
    std::fs::write(&config, "port = \"not a port\"").unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let mut resp = client().post(&url).send_json(&ask(false)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let _ = resp.body().await;
    assert_eq!(upstream.last_request().body["model"], "gpt-5.6-terra");
}

/// The real binary, serving on a free port against the mock.
struct Daemon {
    child: Child,
    url: String,
    _home: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn spawn_binary(upstream: &MockCodex) -> Daemon {
    let home = tempfile::tempdir().unwrap();
    write_tokens(home.path(), mock_codex::MOCK_TOKEN);
    let config = home.path().join("config.toml");
    write_config(&config, "gpt-6-astra");
    let (mut command, port) = common::codexd_serve(home.path(), upstream);
    let mut child = command.arg("--config").arg(&config).spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if client().get(format!("{url}/health")).send().await.is_ok() {
            return Daemon { child, url, _home: home, config };
        }
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("codexd did not start");
}

fn signal(daemon: &Daemon, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &daemon.child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[actix_web::test]
async fn sighup_reloads_routing_while_a_stream_completes() {
    let upstream = MockCodex::start();
    let daemon = spawn_binary(&upstream).await;
    let url = format!("{}/v1/messages", daemon.url);
    upstream.push(slow_reply());
    let in_flight = stream_in_background(&url);
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(upstream.last_request().body["model"], "gpt-6-astra");

    write_config(&daemon.config, "gpt-5.6-terra");
    signal(&daemon, "HUP");
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let mut resp = client().post(&url).send_json(&ask(false)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let _ = resp.body().await;
    assert_eq!(upstream.last_request().body["model"], "gpt-5.6-terra");
    assert_eq!(parse_sse(&in_flight.await.unwrap()).last().unwrap().0, "message_stop");
}

#[cfg(unix)]
#[actix_web::test]
async fn sigterm_lets_the_stream_in_flight_finish_then_exits_0() {
    let upstream = MockCodex::start();
    let mut daemon = spawn_binary(&upstream).await;
    let url = format!("{}/v1/messages", daemon.url);
    upstream.push(slow_reply());
    let in_flight = stream_in_background(&url);
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    signal(&daemon, "TERM");
    let events = parse_sse(&in_flight.await.unwrap());
    assert_eq!(events.last().unwrap().0, "message_stop", "the stream finished during shutdown");

    let mut status = None;
    for _ in 0..200 {
        if let Some(s) = daemon.child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
    let status = status.expect("codexd exited");
    assert!(status.success(), "exit status {status:?}");
    assert!(client().get(format!("{}/health", daemon.url)).send().await.is_err(), "no longer listening");

    // One summary line for the request, no secrets.
    let log = std::fs::read_to_string(daemon._home.path().join("codexd.log")).unwrap();
    let summaries: Vec<&str> = log.lines().filter(|l| l.contains(" request req_")).collect();
    assert_eq!(summaries.len(), 1, "{log}");
    assert!(summaries[0].contains("claude-sonnet-4-5 -> gpt-6-astra ("), "{}", summaries[0]);
    assert!(summaries[0].contains(") stream status=200"), "{}", summaries[0]);
    assert!(summaries[0].contains("input_tokens=120 output_tokens=9"), "{}", summaries[0]);
    assert!(!log.contains(mock_codex::MOCK_TOKEN), "no token in the log");
}

/// A client's model name with a newline cannot add a line to the log: every
/// request leaves one summary line, and nothing the client wrote starts a line.
#[cfg(unix)]
#[actix_web::test]
async fn a_model_name_with_a_newline_leaves_one_log_line_per_request() {
    let upstream = MockCodex::start();
    let daemon = spawn_binary(&upstream).await;
    let url = format!("{}/v1/messages", daemon.url);
    let forged = "claude-x\ntouch /tmp/PWNED #\r\n2026-01-01T00:00:00Z  INFO request req_forged";
    for model in [forged, "claude-sonnet-4-5\u{2028}x", "claude-sonnet-4-5\ttab"] {
        upstream.push(Reply::Sse(mock_codex::text_stream("gpt-6-astra", "hi")));
        let body = json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        let mut resp = client().post(&url).send_json(&body).await.unwrap();
        let _ = resp.body().await;
    }
    let log_path = daemon._home.path().join("codexd.log");
    let mut log = String::new();
    for _ in 0..100 {
        log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.lines().filter(|l| l.contains(" request req_")).count() >= 3 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let summaries = log.lines().filter(|l| l.contains(" request req_")).count();
    assert_eq!(summaries, 3, "one summary line per request:\n{log}");
    assert!(!log.contains("req_forged\n") && !log.lines().any(|l| l.starts_with("touch")), "{log}");
    assert!(!log.contains(['\r', '\t', '\u{2028}']), "{log}");
    assert!(log.lines().all(|l| l.starts_with("20")), "every line is an event of its own:\n{log}");
}
