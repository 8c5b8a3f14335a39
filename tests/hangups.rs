//! A client that hangs up, at any stage, drops its upstream request at once
//! and frees its place among the concurrent requests (issue 15.5). The
//! mock upstream counts the requests dropped on it.

mod common;

use std::time::{Duration, Instant};

use common::mock_codex::{self, MockCodex, Reply};
use common::{client, start_daemon};
use serde_json::{json, Value};

fn ask(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream,
           "messages": [{"role": "user", "content": "hi"}]})
}

async fn in_flight(daemon: &common::Daemon) -> u64 {
    let mut resp = client().get(daemon.url("/health")).send().await.unwrap();
    let health: Value = resp.json().await.unwrap();
    health["in_flight"].as_u64().unwrap()
}

/// Send the request and hang up after `after`, before any answer.
async fn hang_up_after(daemon: &common::Daemon, stream: bool, after: Duration) {
    let quick = awc::Client::builder().timeout(after).finish();
    let result = quick.post(daemon.url("/v1/messages")).send_json(&ask(stream)).await;
    assert!(result.is_err(), "the client gave up before any answer: {:?}", result.map(|r| r.status()));
}

/// How long after the hang-up the mock saw the upstream request dropped
/// and the daemon had nothing in flight (bounded at 3 s).
async fn noticed(daemon: &common::Daemon, upstream: &MockCodex, hung_up: Instant) -> Duration {
    while upstream.cancelled() == 0 || in_flight(daemon).await != 0 {
        assert!(
            hung_up.elapsed() < Duration::from_secs(3),
            "the hang-up went unnoticed: {} cancelled upstream, {} in flight",
            upstream.cancelled(),
            in_flight(daemon).await
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    hung_up.elapsed()
}

/// Before the upstream's headers, streaming or not.
#[actix_web::test]
async fn a_hang_up_before_the_upstream_answers_cancels_it() {
    for stream in [true, false] {
        let upstream = MockCodex::start();
        let daemon = start_daemon(&upstream);
        common::wait_for_catalogue(&daemon).await;
        upstream
            .push(Reply::Delayed(Duration::from_secs(20), Box::new(Reply::Sse(mock_codex::text_stream("m", "late")))));
        hang_up_after(&daemon, stream, Duration::from_millis(300)).await;
        let took = noticed(&daemon, &upstream, Instant::now()).await;
        assert!(took < Duration::from_millis(500), "stream={stream}: noticed after {took:?}");
        assert_eq!(upstream.requests().len(), 1, "stream={stream}: and not tried again");
    }
}

/// While the upstream answers but before the stream commits (its answer
/// has not begun), and while a non-streaming answer is being generated.
#[actix_web::test]
async fn a_hang_up_while_the_answer_is_generated_cancels_it() {
    for stream in [true, false] {
        let upstream = MockCodex::start();
        let daemon = start_daemon(&upstream);
        common::wait_for_catalogue(&daemon).await;
        let events = mock_codex::text_events("gpt-5.6-terra", &vec!["word"; 100].join(" "));
        let chunks = if stream {
            // Only `response.created` for a while: not committed yet.
            vec![
                (Duration::ZERO, mock_codex::sse(&events[..1])),
                (Duration::from_secs(4), mock_codex::sse(&events[1..])),
            ]
        } else {
            // The answer drips for 10 s.
            mock_codex::drip(&events, 4, Duration::from_millis(100))
        };
        upstream.push(Reply::Chunks(chunks));
        hang_up_after(&daemon, stream, Duration::from_millis(300)).await;
        let took = noticed(&daemon, &upstream, Instant::now()).await;
        assert!(took < Duration::from_millis(500), "stream={stream}: noticed after {took:?}");
        assert_eq!(upstream.completed(), 0, "stream={stream}");
    }
}
