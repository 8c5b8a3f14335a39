//! Driving one upstream answer to the client: the decoded Codex events go
//! through the [`StreamTranslator`], and come out either as Anthropic SSE
//! (streaming clients) or folded into one message (non-streaming clients).
//!
//! A streaming answer is *committed* — status 200 and headers sent — only
//! once the upstream has begun its answer (announced an output item), or
//! after [`COMMIT_AFTER`]. The backend reports an overload, a rate limit or
//! a context too long inside a 200 stream, before any output item: such a
//! failure is retried or becomes a proper HTTP error with the right status.
//! After the commit, a failure is an Anthropic `error` event that ends the
//! stream.
//! Bytes go out through a small bounded channel as events come in (events
//! that arrive together as one chunk), so a slow client slows the upstream
//! read (back-pressure), and a client that goes away ends the pump at its
//! next write or wait, which drops — and so cancels — the upstream request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::context::Context;
use super::Permit;
use crate::anthropic::response::StreamEvent;
use crate::anthropic::sse;
use crate::codex::client::{body_of, UpstreamResponse};
use crate::codex::error::{Failure, Kind};
use crate::codex::events::CodexEvent;
use crate::codex::sse::{decode, SseError};
use crate::config::Settings;
use crate::translate::response::Accumulator;
use crate::translate::stream::StreamTranslator;

/// Commit a stream whose answer has not begun after this long, so pings can flow.
pub const COMMIT_AFTER: Duration = Duration::from_secs(5);
/// Chunks buffered between the pump and the client.
const CHANNEL_DEPTH: usize = 32;
/// Queued bytes that are sent without waiting for the upstream to pause.
const FLUSH_AT: usize = 16 * 1024;
/// How long a completed answer's connection may take to finish its body
/// before it is closed instead of kept for the next request.
const RELEASE_WAIT: Duration = Duration::from_secs(1);

/// How long a stream waits for what.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Send a `ping` when the client has heard nothing for this long.
    pub ping_every: Duration,
    /// Give up on an upstream that sends nothing for this long.
    pub idle_timeout: Duration,
}

impl From<&Settings> for Timing {
    fn from(settings: &Settings) -> Self {
        Timing { ping_every: settings.ping_interval, idle_timeout: settings.read_timeout }
    }
}

/// What an answer needs of its request: the context (for the model name
/// and the summary line), the timing, and the request's place among the
/// concurrent ones, held until the answer is done.
#[derive(Clone)]
pub struct Exchange {
    pub context: Arc<Context>,
    pub timing: Timing,
    /// Held, never read: dropping the last clone frees the place.
    pub _permit: Arc<Permit>,
    /// Upstream tool name → the client's, for tools whose names were
    /// shortened (see `translate::names::tool_name_map`).
    pub tool_names: HashMap<String, String>,
}

impl Exchange {
    fn message_id(&self) -> String {
        format!("msg_{}", uuid::Uuid::new_v4().simple())
    }

    /// A translator for this exchange's answer.
    fn translator(&self) -> StreamTranslator {
        StreamTranslator::new(self.message_id(), self.context.client_model()).with_tool_names(self.tool_names.clone())
    }
}

/// How a committed stream ended.
enum Outcome {
    Completed,
    Failed(Failure),
    ClientGone,
}

/// Upstream events, with silence and transport trouble turned into the
/// reason the stream ended.
struct Upstream<S> {
    events: S,
    idle_timeout: Duration,
    /// When the upstream counts as silent; moved on by every event, not by
    /// our own pings.
    deadline: tokio::time::Instant,
}

// Lives for one event on the stack; boxing the event would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Next {
    Event(CodexEvent),
    /// The body ended: `None` normally, `Some(failure)` on trouble.
    End(Option<Failure>),
}

impl<S: Stream<Item = Result<CodexEvent, SseError>> + Unpin> Upstream<S> {
    fn new(events: S, idle_timeout: Duration) -> Self {
        Upstream { events, idle_timeout, deadline: tokio::time::Instant::now() + idle_timeout }
    }

    /// Read what is left of a completed answer — normally just the end of
    /// the chunked body — so that the client puts the connection back in its pool
    /// and the next request skips the TCP and TLS handshakes. An upstream
    /// that keeps sending is cut off after [`RELEASE_WAIT`] (dropping the
    /// body closes its connection).
    async fn release(mut self) {
        let _ = tokio::time::timeout(RELEASE_WAIT, async { while self.events.next().await.is_some() {} }).await;
    }

    /// Cancel-safe: an interrupted call loses nothing and keeps the deadline.
    async fn next(&mut self) -> Next {
        let next = tokio::time::timeout_at(self.deadline, self.events.next()).await;
        self.deadline = tokio::time::Instant::now() + self.idle_timeout;
        match next {
            Err(_) => Next::End(Some(Failure::new(
                Kind::TimedOut,
                format!("the Codex backend sent nothing for {} s (read_timeout)", self.idle_timeout.as_secs_f64()),
            ))),
            Ok(None) => Next::End(None),
            Ok(Some(Ok(event))) => Next::Event(event),
            Ok(Some(Err(err))) => Next::End(Some(Failure::from(err))),
        }
    }
}

/// Collect the whole answer into one Anthropic message. A failure is
/// `midway` when the answer had begun: it is not tried again.
pub async fn respond_whole(upstream: UpstreamResponse, exchange: Exchange) -> Result<HttpResponse, Failure> {
    let mut translator = exchange.translator();
    let mut upstream = Upstream::new(Box::pin(decode(body_of(upstream))), exchange.timing.idle_timeout);
    let mut accumulator = Accumulator::new();
    while !translator.is_finished() {
        let events = match upstream.next().await {
            Next::Event(event) => translator.on_event(event),
            Next::End(failure) => translator.end(failure),
        };
        for event in &events {
            accumulator.push(event);
        }
    }
    match accumulator.finish() {
        Ok(message) => {
            // Only a completed answer leaves a connection worth keeping.
            actix_web::rt::spawn(upstream.release());
            let usage = &message.usage;
            exchange.context.answered(usage.input_tokens + usage.cache_read_input_tokens, usage.output_tokens);
            Ok(HttpResponse::Ok().json(message))
        }
        Err(err) => Err(translator.failure().cloned().unwrap_or_else(|| Failure::new(Kind::Server, err.message))),
    }
}

/// Stream the answer as Anthropic SSE; a failure before the commit is
/// handed back, for the handler to retry or answer.
pub async fn respond_streaming(upstream: UpstreamResponse, exchange: Exchange) -> Result<HttpResponse, Failure> {
    let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
    let (commit_tx, commit_rx) = oneshot::channel();
    actix_web::rt::spawn(pump(upstream, exchange, tx, commit_tx));
    match commit_rx.await {
        Ok(Ok(())) => {
            let body = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|bytes| (Ok::<_, actix_web::Error>(bytes), rx))
            });
            Ok(HttpResponse::Ok()
                .content_type("text/event-stream; charset=utf-8")
                .insert_header(("cache-control", "no-cache"))
                .insert_header(("x-accel-buffering", "no"))
                .streaming(body))
        }
        Ok(Err(failure)) => Err(failure),
        Err(_) => Err(Failure::new(Kind::Server, "the stream ended before it started")),
    }
}

/// Where translated events go: held back until the stream is committed,
/// then encoded into a buffer that goes to the client whenever the upstream
/// has nothing more ready (or the buffer reaches [`FLUSH_AT`]): a burst of
/// events becomes one chunk instead of one channel message and one chunk
/// each.
struct Sink {
    tx: mpsc::Sender<Bytes>,
    commit: Option<oneshot::Sender<Result<(), Failure>>>,
    held: Vec<StreamEvent>,
    /// Encoded events not sent yet.
    pending: BytesMut,
}

impl Sink {
    fn committed(&self) -> bool {
        self.commit.is_none()
    }

    /// Send the headers and whatever was held back. `false`: the client is gone.
    async fn commit(&mut self) -> bool {
        if let Some(commit) = self.commit.take() {
            if commit.send(Ok(())).is_err() {
                return false;
            }
            for event in std::mem::take(&mut self.held) {
                sse::encode_into(&mut self.pending, &event);
            }
            if !self.flush().await {
                return false;
            }
            give_the_client_the_cpu();
            return true;
        }
        self.flush().await
    }

    /// Queue one event; sent at the next [`Sink::flush`]. `false`: the client is gone.
    async fn send(&mut self, event: &StreamEvent) -> bool {
        sse::encode_into(&mut self.pending, event);
        self.pending.len() < FLUSH_AT || self.flush().await
    }

    /// Send what is queued, and let the response writer (a task on this
    /// same thread) put it on the wire before the pump goes on. `false`: the
    /// client is gone.
    async fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let chunk = self.pending.split().freeze();
        if self.tx.send(chunk).await.is_err() {
            return false;
        }
        tokio::task::yield_now().await;
        true
    }

    /// Deliver events, committing once the answer has `begun`; `false`: the
    /// client is gone.
    async fn deliver(&mut self, events: Vec<StreamEvent>, begun: bool) -> bool {
        if self.committed() {
            for event in &events {
                if !self.send(event).await {
                    return false;
                }
            }
            return true;
        }
        self.held.extend(events);
        if begun {
            return self.commit().await;
        }
        true
    }
}

/// Once, after a stream's first bytes are written: the kernel tends to wake
/// the client that reads them on this same CPU, behind codexd, which would
/// otherwise go straight on translating the rest of a fast upstream burst —
/// and the client would see its first bytes up to 2 ms late (traced in the
/// benchmark; without this the time codexd adds to the first byte is about
/// +2.4 ms instead of +1.0 ms at p50). `sched_yield` does not block: it
/// returns at once when no other thread is ready to run on this CPU, and
/// otherwise lets that thread (the client) run first. It is called once per
/// stream, not per event.
fn give_the_client_the_cpu() {
    std::thread::yield_now();
}

async fn pump(
    upstream: UpstreamResponse,
    exchange: Exchange,
    tx: mpsc::Sender<Bytes>,
    commit: oneshot::Sender<Result<(), Failure>>,
) {
    let mut translator = exchange.translator();
    let mut upstream = Upstream::new(Box::pin(decode(body_of(upstream))), exchange.timing.idle_timeout);
    let mut sink = Sink { tx: tx.clone(), commit: Some(commit), held: Vec::new(), pending: BytesMut::new() };
    let commit_deadline = tokio::time::sleep(COMMIT_AFTER);
    tokio::pin!(commit_deadline);
    let ping_every = exchange.timing.ping_every;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);

    let outcome = loop {
        // Events that have already arrived are taken at once; only when the
        // upstream pauses does what they became go to the client.
        let mut ready = upstream.next().now_or_never();
        if ready.is_none() && sink.committed() {
            // The upstream body is fed by the HTTP client's connection
            // task: let it (and the I/O driver) run once before deciding
            // that the upstream paused, so a burst goes out in few writes.
            tokio::task::yield_now().await;
            ready = upstream.next().now_or_never();
        }
        let next = match ready {
            Some(next) => next,
            None => {
                if !sink.flush().await {
                    break Outcome::ClientGone;
                }
                tokio::select! {
                    next = upstream.next() => next,
                    _ = &mut commit_deadline, if !sink.committed() => {
                        if !sink.commit().await { break Outcome::ClientGone; }
                        continue;
                    }
                    _ = ping.tick(), if sink.committed() => {
                        if !(sink.send(&StreamEvent::Ping).await && sink.flush().await) { break Outcome::ClientGone; }
                        continue;
                    }
                    _ = tx.closed() => break Outcome::ClientGone,
                }
            }
        };
        let events = match next {
            Next::Event(event) => translator.on_event(event),
            Next::End(failure) => translator.end(failure),
        };
        if let Some(failure) = translator.failure().filter(|_| !sink.committed()) {
            // Not committed: a real HTTP error, answered (or retried) and
            // logged by the handler.
            if let Some(commit) = sink.commit.take() {
                let _ = commit.send(Err(failure.clone()));
            }
            return;
        }
        let begun = translator.has_begun() || translator.is_finished();
        if !events.is_empty() {
            ping.reset();
        }
        if !sink.deliver(events, begun).await {
            break Outcome::ClientGone;
        }
        if translator.is_finished() {
            break match translator.failure() {
                Some(failure) => Outcome::Failed(failure.clone()),
                None => Outcome::Completed,
            };
        }
    };
    // End the client's body first: what follows is housekeeping.
    let committed = sink.committed();
    if committed && !matches!(outcome, Outcome::ClientGone) {
        sink.flush().await;
    }
    drop((sink, tx));
    // Before the commit, the handler still owns the answer and its outcome.
    if committed {
        let context = &exchange.context;
        match &outcome {
            Outcome::Completed => {
                let usage = translator.usage().copied().unwrap_or_default();
                context.answered(usage.input_tokens + usage.cache_read_input_tokens, usage.output_tokens);
            }
            Outcome::Failed(failure) => context.failed(200, &failure.message),
            Outcome::ClientGone => context.left(),
        }
    }
    // The last holder of the context writes the summary line.
    drop(exchange);
    if matches!(outcome, Outcome::Completed) {
        upstream.release().await;
    }
}
