//! Fetching a stream over loopback HTTP and timing it: time to the first
//! body byte and to the last, sequentially (latency) or with many streams at
//! once (throughput).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

/// Where a stream is fetched from.
#[derive(Clone)]
pub struct Target {
    pub name: &'static str,
    pub url: String,
    pub body: Bytes,
    pub headers: Vec<(&'static str, &'static str)>,
    /// The body every fetch must answer with, byte for byte, once the
    /// per-response message id is blanked out (see [`normalize`]).
    pub expected: Bytes,
}

/// One timed fetch.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Request sent → first body byte received.
    pub first_byte: Duration,
    /// Request sent → body complete.
    pub last_byte: Duration,
}

/// An HTTP client that keeps connections alive and waits long enough.
pub fn client() -> awc::Client {
    let connector = awc::Connector::new().limit(256);
    awc::Client::builder().connector(connector).timeout(Duration::from_secs(60)).finish()
}

/// Fetch `target` once and check the answer.
pub async fn fetch(client: &awc::Client, target: &Target) -> Result<Timing, String> {
    let started = Instant::now();
    let mut request = client.post(&target.url).insert_header(("content-type", "application/json"));
    for header in &target.headers {
        request = request.insert_header(*header);
    }
    let mut response = request.send_body(target.body.clone()).await.map_err(|err| format!("{}: {err}", target.name))?;
    let mut body = BytesMut::new();
    let mut first_byte = None;
    while let Some(chunk) = response.next().await {
        let chunk = chunk.map_err(|err| format!("{}: body: {err}", target.name))?;
        first_byte.get_or_insert_with(|| started.elapsed());
        body.extend_from_slice(&chunk);
    }
    let last_byte = started.elapsed();
    if !response.status().is_success() {
        return Err(format!("{} answered {}: {}", target.name, response.status(), String::from_utf8_lossy(&body)));
    }
    if normalize(&body) != target.expected {
        return Err(format!("{} answered an unexpected body:\n{}", target.name, String::from_utf8_lossy(&body)));
    }
    Ok(Timing { first_byte: first_byte.unwrap_or(last_byte), last_byte })
}

/// The body with every `msg_…` id (random per response) replaced by `msg_X`.
pub fn normalize(body: &[u8]) -> Bytes {
    let text = String::from_utf8_lossy(body);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("\"id\":\"msg_") {
        let start = at + "\"id\":\"msg_".len();
        out.push_str(&rest[..start]);
        let end = rest[start..].find('"').map_or(rest.len(), |len| start + len);
        out.push('X');
        rest = &rest[end..];
    }
    out.push_str(rest);
    Bytes::from(out)
}

/// Pause between sequential fetches in the main latency run, so that one
/// fetch's aftermath (codexd logging and tidying up after its stream) does
/// not slow the next, and each request arrives at an idle system, as in
/// interactive use.
pub const SETTLE: Duration = Duration::from_millis(3);

/// Fetch each target in turn, `rounds` times (after `warmup` untimed
/// rounds), so that both see the same conditions; wait `pause` before each
/// fetch (none: back to back).
pub async fn alternate(
    client: &awc::Client,
    targets: &[&Target],
    warmup: usize,
    rounds: usize,
    pause: Option<Duration>,
) -> Result<Vec<Vec<Timing>>, String> {
    let mut timings = vec![Vec::with_capacity(rounds); targets.len()];
    for round in 0..warmup + rounds {
        for (target, timings) in targets.iter().zip(&mut timings) {
            if let Some(pause) = pause {
                actix_web::rt::time::sleep(pause).await;
            }
            let timing = fetch(client, target).await?;
            if round >= warmup {
                timings.push(timing);
            }
        }
    }
    Ok(timings)
}

/// What a throughput run achieved.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    pub streams: usize,
    pub elapsed: Duration,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        self.streams as f64 / self.elapsed.as_secs_f64()
    }
}

/// Run `concurrency` loops at once, each fetching `target` until `total`
/// streams are done or `limit` has passed.
pub async fn throughput(
    client: &awc::Client,
    target: &Target,
    concurrency: usize,
    total: usize,
    limit: Duration,
) -> Result<Throughput, String> {
    let remaining = Rc::new(RefCell::new(total));
    let started = Instant::now();
    let loops = (0..concurrency).map(|_| {
        let remaining = remaining.clone();
        async move {
            let mut done = 0;
            loop {
                {
                    let mut left = remaining.borrow_mut();
                    if *left == 0 || started.elapsed() > limit {
                        return Ok::<usize, String>(done);
                    }
                    *left -= 1;
                }
                fetch(client, target).await?;
                done += 1;
            }
        }
    });
    let results = futures_util::future::join_all(loops).await;
    let elapsed = started.elapsed();
    let mut streams = 0;
    for result in results {
        streams += result?;
    }
    Ok(Throughput { streams, elapsed })
}

/// Percentiles of a set of durations.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
}

/// Nearest-rank p50 and p99.
pub fn percentiles(mut samples: Vec<Duration>) -> Percentiles {
    samples.sort_unstable();
    let rank = |p: f64| {
        let index = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len().max(1)) - 1;
        samples.get(index).copied().unwrap_or_default()
    };
    Percentiles { p50: rank(0.50), p99: rank(0.99) }
}
