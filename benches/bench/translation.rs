//! The per-event cost of codexd's stream pipeline, in process: upstream SSE
//! bytes → `codex::sse::decode` → `StreamTranslator` → `anthropic::sse::encode`.
//! Each stage is timed cumulatively over many runs of the workload's reply
//! (fed in one chunk per event, as the network delivers it); a stage's cost
//! is the difference to the stage before. The request side is timed the
//! same way: parse the Messages body, translate it, serialize the result,
//! for a body seen before, a next turn and a first request.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use codexd::anthropic::request::parse_messages_request;
use codexd::anthropic::response::StreamEvent;
use codexd::anthropic::sse;
use codexd::codex::events::CodexEvent;
use codexd::codex::sse::{decode, SseError};
use codexd::config::Settings;
use codexd::translate::request::translate_request;
use codexd::translate::stream::StreamTranslator;
use futures_util::{stream, FutureExt, StreamExt};

/// Nanoseconds per upstream event for each stage.
#[derive(Debug, Clone, Copy)]
pub struct Costs {
    pub decode_ns: f64,
    /// Of `decode_ns`: parsing each event's JSON straight into its type,
    /// without the SSE framing (a lower bound for decoding).
    pub json_ns: f64,
    pub translate_ns: f64,
    pub encode_ns: f64,
    /// Upstream events in one reply.
    pub events: usize,
}

impl Costs {
    pub fn total_ns(&self) -> f64 {
        self.decode_ns + self.translate_ns + self.encode_ns
    }
}

/// Time every stage for about `budget` each.
pub fn measure(frames: &[Bytes], budget: Duration) -> Costs {
    let events = decoded(frames).len();
    let decode_only = time_per_run(budget, || decoded(frames).len());
    let data: Vec<&str> = frames.iter().filter_map(|frame| frame_data(frame)).collect();
    let json_only =
        time_per_run(budget, || data.iter().filter(|data| serde_json::from_str::<CodexEvent>(data).is_ok()).count());
    let translate = time_per_run(budget, || translated(frames).len());
    let encode = time_per_run(budget, || translated(frames).iter().map(|event| sse::encode(event).len()).sum());
    let per_event = |run: Duration| run.as_nanos() as f64 / events as f64;
    Costs {
        decode_ns: per_event(decode_only),
        json_ns: per_event(json_only),
        translate_ns: (per_event(translate) - per_event(decode_only)).max(0.0),
        encode_ns: (per_event(encode) - per_event(translate)).max(0.0),
        events,
    }
}

/// What preparing one request costs, in process.
#[derive(Debug, Clone, Copy)]
pub struct RequestCost {
    /// The same body again and again (as the latency runs send it): its
    /// tool schemas are remembered normalized.
    pub repeated: Duration,
    /// Bodies whose last two messages are new, as in a session's next turn
    /// (the model's last answer and the user's reply to it).
    pub next_turn: Duration,
    /// Bodies none of whose tool schemas were seen before, as for the first
    /// request of a session.
    pub first: Duration,
}

/// Distinct variants of the body for the runs that need new content: more
/// than codexd's memos can hold at once, so that each comes back forgotten.
const VARIANTS: usize = 256;

/// Mean time to parse, translate and serialize one request `body`.
pub fn request_cost(body: &[u8], budget: Duration) -> RequestCost {
    let settings = Settings::defaults();
    let prepare = |body: &[u8]| {
        let Ok(request) = parse_messages_request(body) else { return 0 };
        let Ok(codex) = translate_request(&request, &settings) else { return 0 };
        serde_json::to_vec(&codex).map_or(0, |json| json.len())
    };
    let repeated = time_per_run(budget, || prepare(body));
    let time_variants = |newest: Option<usize>| {
        let variants: Vec<Vec<u8>> = (0..VARIANTS).map(|variant| new_content(body, variant, newest)).collect();
        assert_eq!(prepare(&variants[0]), prepare(body), "a variant must go upstream as the body does");
        let mut next = variants.iter().cycle();
        time_per_run(budget, || next.next().map_or(0, |body| prepare(body)))
    };
    RequestCost { next_turn: time_variants(Some(2)), first: time_variants(None), repeated }
}

/// `body` with a field codexd ignores added to its `newest` messages (all
/// messages and tools for `None`), so that their texts were not seen before
/// while the work stays the same.
fn new_content(body: &[u8], variant: usize, newest: Option<usize>) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let mark = |key: &str| format!("{{\"bench_variant\":{variant},\"{key}\":");
    let Some(newest) = newest else {
        let text = crate::session::with_schemas_marked(&text, &format!("bench {variant}"));
        return text.replace("{\"role\":", &mark("role")).replace("{\"name\":", &mark("name")).into_bytes();
    };
    let cut = text.rmatch_indices("{\"role\":").nth(newest - 1).map_or(0, |(at, _)| at);
    let (seen, new) = text.split_at(cut);
    format!("{seen}{}", new.replace("{\"role\":", &mark("role"))).into_bytes()
}

/// The reply translated the way the server does it, with a fixed message id.
pub fn translated(frames: &[Bytes]) -> Vec<StreamEvent> {
    let mut translator = StreamTranslator::new("msg_X".to_owned(), crate::CLIENT_MODEL.to_owned());
    let mut out: Vec<StreamEvent> = decoded(frames).into_iter().flat_map(|item| translator.on_decoded(item)).collect();
    out.extend(translator.finish(None));
    out
}

/// The `data:` line of one frame as the workload builds them.
fn frame_data(frame: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(frame).ok()?;
    text.lines().find_map(|line| line.strip_prefix("data: "))
}

fn decoded(frames: &[Bytes]) -> Vec<Result<CodexEvent, SseError>> {
    let body = stream::iter(frames.iter().cloned().map(Ok::<_, String>));
    decode(body).collect::<Vec<_>>().now_or_never().unwrap_or_default()
}

/// Mean time of one run of `work`, repeated until `budget` is spent (after
/// a warm-up of a tenth of it).
fn time_per_run(budget: Duration, mut work: impl FnMut() -> usize) -> Duration {
    let warmup = Instant::now();
    while warmup.elapsed() < budget / 10 {
        black_box(work());
    }
    let started = Instant::now();
    let mut runs: u32 = 0;
    while started.elapsed() < budget {
        black_box(work());
        runs += 1;
    }
    started.elapsed() / runs.max(1)
}
