//! Decoding of the Codex response body: bytes → SSE frames → [`CodexEvent`]s.
//!
//! Framing (CRLF/CR/LF line ends, multi-line `data:`, comments, frames split
//! anywhere across chunks, UTF-8 split across chunks) is done by the
//! `eventsource-stream` crate. This module adds what is specific to Codex:
//! each frame's `data` is one JSON event, `[DONE]` frames are skipped, and a
//! single event may not grow beyond [`MAX_EVENT_BYTES`].
//!
//! Errors are items of the stream, not its end, except the fatal ones (see
//! [`SseError::ends_stream`]): after a fatal error the stream yields nothing
//! more. A malformed event is reported and decoding goes on; whether that is
//! fatal for the response is the consumer's call.

use std::fmt::Display;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use eventsource_stream::{Event, EventStream, EventStreamError};
use futures_util::future::ready;
use futures_util::{Stream, StreamExt};
use serde_json::Value;

use super::events::CodexEvent;

/// The largest single event accepted: 16 MiB of bytes received since the
/// previous complete event (so approximate to within one network chunk).
///
/// Note that `eventsource-stream` re-scans an incomplete line each time a
/// chunk arrives, so events near this size are slow to frame; real Codex
/// events are far smaller (the largest is `response.completed`, which repeats
/// the whole output).
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Why the upstream stream could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// The response body itself failed (connection reset, timeout, …).
    #[error("the connection to the Codex backend failed mid-stream: {0}")]
    Transport(String),
    /// The bytes are not a valid event stream (e.g. not UTF-8).
    #[error("the Codex backend sent a corrupt event stream: {0}")]
    Framing(String),
    /// One event's `data` is not a JSON object, or not a valid event of its type.
    #[error("the Codex backend sent a malformed `{event}` event: {message}")]
    Malformed {
        /// The event's `type` (or SSE event name when the JSON has none).
        event: String,
        /// What is wrong with it.
        message: String,
    },
    /// One event grew beyond the size limit.
    #[error("the Codex backend sent an event larger than {limit} bytes; giving up on the stream")]
    TooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
}

impl SseError {
    /// True for errors after which nothing more can be decoded (the stream
    /// ends after yielding them); false for a single malformed event.
    pub fn ends_stream(&self) -> bool {
        !matches!(self, SseError::Malformed { .. })
    }
}

/// Decode a Codex response body into events.
///
/// `body` is the raw byte stream (e.g. awc's response payload). It need not
/// be `Send`, and neither is the returned stream then.
pub fn decode<S, E>(body: S) -> impl Stream<Item = Result<CodexEvent, SseError>>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Display,
{
    decode_with_limit(body, MAX_EVENT_BYTES)
}

/// [`decode`] with a configurable per-event size limit (for tests).
fn decode_with_limit<S, E>(body: S, limit: usize) -> impl Stream<Item = Result<CodexEvent, SseError>>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Display,
{
    let budget = EventBudget::new(limit);
    let counted = {
        let budget = budget.clone();
        body.map(move |chunk| budget.admit(chunk))
    };
    let mut ended = false;
    EventStream::new(counted)
        .filter_map(move |frame| {
            budget.reset();
            ready(decode_frame(frame))
        })
        .take_while(move |item| {
            let keep = !ended;
            ended |= matches!(item, Err(err) if err.ends_stream());
            ready(keep)
        })
}

/// Counts the bytes received since the last complete event, shared between
/// the byte stream (which adds) and the event stream (which resets).
#[derive(Clone)]
struct EventBudget {
    pending: Arc<AtomicUsize>,
    limit: usize,
}

impl EventBudget {
    fn new(limit: usize) -> Self {
        EventBudget { pending: Arc::new(AtomicUsize::new(0)), limit }
    }

    /// Let a chunk through, or fail once the current event is too large.
    fn admit<E: Display>(&self, chunk: Result<Bytes, E>) -> Result<Bytes, SseError> {
        let chunk = chunk.map_err(|err| SseError::Transport(err.to_string()))?;
        let pending = self.pending.fetch_add(chunk.len(), Ordering::Relaxed).saturating_add(chunk.len());
        if pending > self.limit {
            return Err(SseError::TooLarge { limit: self.limit });
        }
        Ok(chunk)
    }

    /// A frame was completed: the next event starts from zero.
    fn reset(&self) {
        self.pending.store(0, Ordering::Relaxed);
    }
}

/// Turn one frame (or framing error) into an event; `None` for frames that
/// carry no event (`[DONE]`).
fn decode_frame(frame: Result<Event, EventStreamError<SseError>>) -> Option<Result<CodexEvent, SseError>> {
    match frame {
        Ok(frame) => parse_event(&frame),
        Err(EventStreamError::Transport(err)) => Some(Err(err)),
        Err(EventStreamError::Utf8(err)) => Some(Err(SseError::Framing(format!("not valid UTF-8: {err}")))),
        Err(EventStreamError::Parser(err)) => Some(Err(SseError::Framing(err.to_string()))),
    }
}

/// Parse a frame's `data` as a JSON event. The JSON `type` wins over the SSE
/// `event:` name; the name is used only when the JSON has no `type`.
fn parse_event(frame: &Event) -> Option<Result<CodexEvent, SseError>> {
    let data = frame.data.trim();
    if data == "[DONE]" {
        return None;
    }
    // The common case, straight into the typed event: a third of the cost
    // of going through a `Value` (see docs/benchmark.md).
    if let Ok(event) = serde_json::from_str::<CodexEvent>(data) {
        return Some(Ok(event));
    }
    // Otherwise find out what is wrong, or fill in a missing `type`.
    let malformed = |event: &str, message: String| SseError::Malformed { event: event.to_owned(), message };
    let mut value: Value = match serde_json::from_str(data) {
        Ok(value) => value,
        Err(err) => return Some(Err(malformed(&frame.event, format!("data is not JSON: {err}")))),
    };
    let Some(object) = value.as_object_mut() else {
        return Some(Err(malformed(&frame.event, "data is not a JSON object".to_owned())));
    };
    let event_type = match object.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => {
            object.insert("type".to_owned(), Value::String(frame.event.clone()));
            frame.event.clone()
        }
    };
    Some(serde_json::from_value(value).map_err(|err| malformed(&event_type, err.to_string())))
}

/// The recorded upstream streams under `tests/fixtures/`, shared by the
/// tests of this module and of `translate`.
#[cfg(test)]
pub(crate) mod test_fixtures {
    /// Every `.sse` fixture of the crate, by file name.
    pub(crate) fn all_fixtures() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut fixtures = Vec::new();
        for dir in [root.clone(), root.join("streams")] {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries {
                let path = entry.expect("dir entry").path();
                if path.extension().is_some_and(|ext| ext == "sse") {
                    let name = path.file_name().expect("file name").to_string_lossy().into_owned();
                    fixtures.push((name, std::fs::read_to_string(&path).expect("fixture readable")));
                }
            }
        }
        fixtures.sort();
        assert!(fixtures.len() >= 3, "fixtures not found under {}", root.display());
        fixtures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codex::sse::test_fixtures::all_fixtures;
    use futures_util::stream;
    use futures_util::FutureExt;

    /// Decode chunks synchronously (the input stream is always ready).
    fn decode_chunks(chunks: Vec<Result<Bytes, String>>) -> Vec<Result<CodexEvent, SseError>> {
        decode(stream::iter(chunks)).collect::<Vec<_>>().now_or_never().expect("an in-memory stream is always ready")
    }

    fn decode_bytes(chunks: &[&[u8]]) -> Vec<Result<CodexEvent, SseError>> {
        decode_chunks(chunks.iter().map(|c| Ok(Bytes::copy_from_slice(c))).collect())
    }

    #[test]
    fn every_fixture_decodes_without_errors() {
        for (name, text) in all_fixtures() {
            let events = decode_bytes(&[text.as_bytes()]);
            assert!(events.len() >= 2, "{name}: too few events");
            for event in &events {
                assert!(event.is_ok(), "{name}: {event:?}");
            }
        }
    }

    #[test]
    fn splitting_a_fixture_anywhere_into_two_chunks_changes_nothing() {
        for (name, text) in all_fixtures() {
            let bytes = text.as_bytes();
            let whole = decode_bytes(&[bytes]);
            for cut in 0..=bytes.len() {
                let (head, tail) = bytes.split_at(cut);
                assert_eq!(decode_bytes(&[head, tail]), whole, "{name} cut at byte {cut}");
            }
        }
    }

    #[test]
    fn one_byte_chunks_change_nothing() {
        for (name, text) in all_fixtures() {
            let bytes = text.as_bytes();
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(decode_bytes(&singles), decode_bytes(&[bytes]), "{name}");
        }
    }

    #[test]
    fn crlf_line_ends_split_anywhere_change_nothing() {
        for (name, text) in all_fixtures() {
            let crlf = text.replace('\n', "\r\n");
            let bytes = crlf.as_bytes();
            let whole = decode_bytes(&[text.as_bytes()]);
            for cut in 0..=bytes.len() {
                let (head, tail) = bytes.split_at(cut);
                assert_eq!(decode_bytes(&[head, tail]), whole, "{name} (CRLF) cut at byte {cut}");
            }
        }
    }

    #[test]
    fn done_markers_comments_and_keepalives_are_skipped() {
        let body = ": keepalive\n\nevent: keepalive\ndata: {\"type\":\"keepalive\"}\n\ndata: [DONE]\n\n";
        assert_eq!(decode_bytes(&[body.as_bytes()]), vec![Ok(CodexEvent::Unknown)]);
    }

    #[test]
    fn json_type_wins_over_the_event_name_and_fills_in_when_missing() {
        let body = concat!(
            "event: response.output_text.done\n",
            "data: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"a\"}\n\n",
            "event: response.output_text.delta\n",
            "data: {\"output_index\":0,\"delta\":\"b\"}\n\n",
        );
        let delta = |text: &str| CodexEvent::OutputTextDelta {
            item_id: String::new(),
            output_index: 0,
            content_index: 0,
            delta: text.into(),
        };
        assert_eq!(decode_bytes(&[body.as_bytes()]), vec![Ok(delta("a")), Ok(delta("b"))]);
    }

    #[test]
    fn multi_line_data_is_joined_before_parsing() {
        let body = "data: {\"type\":\"response.output_text.delta\",\ndata: \"output_index\":0,\"delta\":\"x\"}\n\n";
        let events = decode_bytes(&[body.as_bytes()]);
        assert!(matches!(&events[..], [Ok(CodexEvent::OutputTextDelta { delta, .. })] if delta == "x"), "{events:?}");
    }

    #[test]
    fn malformed_events_are_reported_and_decoding_goes_on() {
        let body = concat!(
            "event: response.created\ndata: {not json\n\n",
            "data: [1,2]\n\n",
            "data: {\"type\":\"response.output_text.delta\",\"output_index\":0}\n\n",
            "data: {\"type\":\"response.in_progress\",\"response\":{\"id\":\"resp_1\"}}\n\n",
        );
        let events = decode_bytes(&[body.as_bytes()]);
        assert_eq!(events.len(), 4, "{events:?}");
        let kinds: Vec<(&str, bool)> = events[..3]
            .iter()
            .map(|event| match event {
                Err(SseError::Malformed { event, message }) => (event.as_str(), message.is_empty()),
                other => panic!("expected malformed, got {other:?}"),
            })
            .collect();
        assert_eq!(kinds, [("response.created", false), ("message", false), ("response.output_text.delta", false)]);
        assert!(matches!(&events[3], Ok(CodexEvent::InProgress { .. })));
        let missing = events[2].as_ref().unwrap_err().to_string();
        assert!(missing.contains("missing field `delta`"), "{missing}");
    }

    #[test]
    fn a_transport_error_is_reported_once_and_ends_the_stream() {
        let chunks = vec![
            Ok(Bytes::from_static(b"data: {\"type\":\"keepalive\"}\n\ndata: {\"ty")),
            Err("connection reset by peer".to_owned()),
            Ok(Bytes::from_static(b"pe\":\"keepalive\"}\n\n")),
        ];
        assert_eq!(
            decode_chunks(chunks),
            vec![Ok(CodexEvent::Unknown), Err(SseError::Transport("connection reset by peer".into()))]
        );
    }

    #[test]
    fn invalid_utf8_is_a_framing_error() {
        let events = decode_bytes(&[b"data: {\"type\":\"keepalive\"}\n\ndata: \xff\xfe\n\n"]);
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(events[1], Err(SseError::Framing(_))), "{events:?}");
    }

    #[test]
    fn a_stream_cut_mid_event_drops_the_partial_event() {
        let events = decode_bytes(&[b"data: {\"type\":\"keepalive\"}\n\ndata: {\"type\":\"keep"]);
        assert_eq!(events, vec![Ok(CodexEvent::Unknown)]);
    }

    fn decode_limited(chunks: Vec<Vec<u8>>, limit: usize) -> Vec<Result<CodexEvent, SseError>> {
        let chunks = chunks.into_iter().map(|c| Ok::<_, String>(Bytes::from(c)));
        decode_with_limit(stream::iter(chunks), limit).collect::<Vec<_>>().now_or_never().expect("ready")
    }

    #[test]
    fn an_oversized_event_ends_the_stream_with_too_large() {
        let small = b"data: {\"type\":\"keepalive\"}\n\n".to_vec();
        let mut chunks = vec![small.clone(), b"data: \"".to_vec()];
        chunks.extend(std::iter::repeat_n(vec![b'a'; 100], 20));
        chunks.push(b"\"\n\n".to_vec());
        chunks.push(small.clone());
        assert_eq!(
            decode_limited(chunks, 1000),
            vec![Ok(CodexEvent::Unknown), Err(SseError::TooLarge { limit: 1000 })]
        );
    }

    #[test]
    fn many_small_events_never_hit_the_limit() {
        let small = b"data: {\"type\":\"keepalive\"}\n\n".to_vec();
        let chunks = vec![small; 200];
        let events = decode_limited(chunks, 100);
        assert_eq!(events.len(), 200);
        assert!(events.iter().all(|e| e == &Ok(CodexEvent::Unknown)));
    }

    #[test]
    fn only_malformed_errors_let_the_stream_go_on() {
        assert!(!SseError::Malformed { event: "x".into(), message: "y".into() }.ends_stream());
        assert!(SseError::Transport("x".into()).ends_stream());
        assert!(SseError::Framing("x".into()).ends_stream());
        assert!(SseError::TooLarge { limit: 1 }.ends_stream());
    }
}
