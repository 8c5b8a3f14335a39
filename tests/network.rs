//! Real networks (issue 15.2, 15.3): an upstream answer framed by the end of
//! its connection (no `Content-Length`, not chunked) is read whole, and the
//! upstream calls go through a proxy, by HTTP CONNECT for https. Both tests
//! run their own loopback servers, which record what reached them.

mod common;

use std::sync::{Arc, Mutex};

use common::mock_codex::{self, MockCodex};
use common::{client, test_settings, write_tokens};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn ask(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream,
           "messages": [{"role": "user", "content": "hi"}]})
}

/// Read one request's head (and its body, by `Content-Length`); its first line.
async fn read_request(socket: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if socket.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    socket.read_exact(&mut body).await.ok()?;
    head.lines().next().map(str::to_owned)
}

/// An upstream that frames every answer by closing the connection: status
/// line, headers without `Content-Length` or `Transfer-Encoding`, body,
/// close. `responses` is the status and body of `/codex/responses`.
async fn close_delimited_upstream(responses: (u16, String)) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backend-api", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    actix_web::rt::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let recorded = recorded.clone();
            let responses = responses.clone();
            actix_web::rt::spawn(async move {
                let Some(line) = read_request(&mut socket).await else { return };
                recorded.lock().unwrap().push(line.clone());
                let (status, kind, body) = if line.contains("/codex/models") {
                    (200, "application/json", mock_codex::default_catalogue().to_string())
                } else if responses.0 == 200 {
                    (200, "text/event-stream", responses.1)
                } else {
                    (responses.0, "application/json", responses.1)
                };
                let answer = format!("HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\nconnection: close\r\n\r\n{body}");
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, seen)
}

fn daemon_at(base_url: &str, proxy: Option<String>, upstream_for_settings: &MockCodex) -> common::Daemon {
    let home = tempfile::tempdir().unwrap();
    write_tokens(home.path(), mock_codex::MOCK_TOKEN);
    let mut settings = test_settings(upstream_for_settings, home.path());
    settings.codex_base_url = base_url.to_owned();
    settings.proxy = proxy;
    common::start_daemon_with(settings, home)
}

#[actix_web::test]
async fn a_close_delimited_answer_is_read_whole() {
    let unused = MockCodex::start();
    let sse = mock_codex::text_stream("gpt-5.6-terra", "Framed by the end of the connection.");
    let (url, seen) = close_delimited_upstream((200, sse)).await;
    let daemon = daemon_at(&url, None, &unused);
    common::wait_for_catalogue(&daemon).await;
    for stream in [false, true] {
        let mut resp = client().post(daemon.url("/v1/messages")).send_json(&ask(stream)).await.unwrap();
        let body = resp.body().limit(1 << 20).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert_eq!(resp.status().as_u16(), 200, "stream={stream}: {text}");
        let whole = if stream {
            let events = common::parse_sse(&body);
            assert_eq!(events.last().map(|(name, _)| name.as_str()), Some("message_stop"), "{text}");
            events.iter().filter_map(|(_, data)| data["delta"]["text"].as_str()).collect::<String>()
        } else {
            text.into_owned()
        };
        assert!(whole.contains("Framed by the end of the connection."), "stream={stream}: {whole}");
    }
    let responses = seen.lock().unwrap().iter().filter(|l| l.contains("/codex/responses")).count();
    assert_eq!(responses, 2, "one try each");

    // An error body framed the same way keeps the backend's words.
    let (url, _) = close_delimited_upstream((400, r#"{"detail":"The backend's own words."}"#.into())).await;
    let daemon = daemon_at(&url, None, &unused);
    common::wait_for_catalogue(&daemon).await;
    let mut resp = client().post(daemon.url("/v1/messages")).send_json(&ask(false)).await.unwrap();
    let body = resp.body().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(String::from_utf8_lossy(&body).contains("The backend's own words."), "{body:?}");
}

/// A forward proxy on loopback: CONNECT tunnels, absolute-form requests
/// are passed on; the first line of every connection is recorded.
async fn recording_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    actix_web::rt::spawn(async move {
        loop {
            let Ok((mut client_side, _)) = listener.accept().await else { return };
            let recorded = recorded.clone();
            actix_web::rt::spawn(async move {
                // The head, byte by byte, to pass it on unchanged.
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client_side.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let line = text.lines().next().unwrap_or_default().to_owned();
                recorded.lock().unwrap().push(line.clone());
                let mut parts = line.split(' ');
                let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
                let authority = if method == "CONNECT" {
                    target.to_owned()
                } else {
                    target.trim_start_matches("http://").split('/').next().unwrap_or_default().to_owned()
                };
                let Ok(mut server_side) = TcpStream::connect(&authority).await else { return };
                if method == "CONNECT" {
                    let _ = client_side.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                } else if server_side.write_all(&head).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client_side, &mut server_side).await;
            });
        }
    });
    (url, seen)
}

#[actix_web::test]
async fn the_upstream_calls_go_through_the_configured_proxy() {
    let upstream = MockCodex::start();
    let (proxy, seen) = recording_proxy().await;
    let daemon = daemon_at(&upstream.base_url, Some(proxy.clone()), &upstream);
    common::wait_for_catalogue(&daemon).await;
    let mut resp = client().post(daemon.url("/v1/messages")).send_json(&ask(false)).await.unwrap();
    let body = resp.body().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{body:?}");
    let mock = upstream.base_url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let lines = seen.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l.contains(&mock) && l.contains("/codex/models")),
        "the catalogue read went through the proxy: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains(&mock) && l.contains("/codex/responses")) || lines.len() == 1,
        "the request went through the proxy: {lines:?}"
    );

    // An https upstream is reached by CONNECT (here the tunnel leads to a
    // plain-HTTP server, so TLS then fails: an Anthropic 502, no panic).
    let (proxy, seen) = recording_proxy().await;
    let https = format!("https://{mock}/backend-api");
    let daemon = daemon_at(&https, Some(proxy), &upstream);
    let resp = client().post(daemon.url("/v1/messages")).send_json(&ask(false)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 502);
    let lines = seen.lock().unwrap().clone();
    assert!(lines.iter().any(|l| l.starts_with(&format!("CONNECT {mock} "))), "{lines:?}");
}
