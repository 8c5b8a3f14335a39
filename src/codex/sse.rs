//! Decoding of the Codex response body: bytes → SSE frames → [`CodexEvent`]s.
//!
//! Framing (CRLF/CR/LF line ends, multi-line `data:`, comments, frames split
//! anywhere across chunks, UTF-8 split across chunks) is done here by
//! [`Framer`], in time linear in the body: each byte is scanned for a line
//! end once, however many chunks a long event arrives in (a general SSE
//! parser that re-scans the incomplete line at every chunk spent 10 s of CPU
//! on one 15 MiB event). On top of the framing, what is specific to Codex:
//! each frame's `data` is one JSON event, `[DONE]` frames are skipped, and a
//! single event may not grow beyond [`MAX_EVENT_BYTES`].
//!
//! Errors are items of the stream, not its end, except the fatal ones (see
//! [`SseError::ends_stream`]): after a fatal error the stream yields nothing
//! more. A malformed event is reported and decoding goes on; whether that is
//! fatal for the response is the consumer's call.

use std::collections::VecDeque;
use std::fmt::Display;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;

use super::events::CodexEvent;

/// The largest single event accepted: 16 MiB of bytes received since the
/// previous complete event. Real Codex events are far smaller (the largest
/// is `response.completed`, which repeats the whole output).
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
/// `body` is the raw byte stream (e.g. the response's body). It need not
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
    let state = (Box::pin(body), Framer::new(limit), VecDeque::new(), false);
    futures_util::stream::unfold(state, |(mut body, mut framer, mut ready, mut ended)| async move {
        loop {
            if let Some(item) = ready.pop_front() {
                return Some((item, (body, framer, ready, ended)));
            }
            if ended {
                return None;
            }
            match body.next().await {
                Some(Ok(chunk)) => ended = framer.push(&chunk, &mut ready),
                Some(Err(err)) => {
                    ready.push_back(Err(SseError::Transport(err.to_string())));
                    ended = true;
                }
                // A partial event at the end is dropped.
                None => ended = true,
            }
        }
    })
}

/// Bytes → SSE frames → events. Keeps the incomplete line and remembers how
/// far it has been scanned, so a long line costs one pass however it is cut.
/// The frame's name and data are built in buffers kept from frame to frame:
/// a stream of hundreds of small events allocates nothing per event here.
struct Framer {
    /// Received bytes not yet consumed: the incomplete line at the end.
    buffer: Vec<u8>,
    /// How much of `buffer` holds no line end.
    scanned: usize,
    /// The last line ended with CR: an LF first thing is part of that end.
    after_cr: bool,
    /// The frame being built: its `event:` name (empty for none) and
    /// `data:` lines, each followed by an LF.
    event: String,
    data: String,
    /// Bytes of the frame being built, its complete lines.
    frame_bytes: usize,
    limit: usize,
}

impl Framer {
    fn new(limit: usize) -> Self {
        Framer {
            buffer: Vec::new(),
            scanned: 0,
            after_cr: false,
            event: String::new(),
            data: String::new(),
            frame_bytes: 0,
            limit,
        }
    }

    /// Take in a chunk, adding what it completes to `ready`; `true` when a
    /// fatal error ends the stream.
    fn push(&mut self, chunk: &[u8], ready: &mut VecDeque<Result<CodexEvent, SseError>>) -> bool {
        self.buffer.extend_from_slice(chunk);
        let mut start = 0;
        let mut at = self.scanned;
        while let Some(offset) = memchr::memchr2(b'\n', b'\r', &self.buffer[at..]) {
            let end = at + offset;
            let ending = self.buffer[end];
            if ending == b'\n' && end == start && self.after_cr {
                // The LF of a CRLF whose CR ended the previous line.
                self.after_cr = false;
                start = end + 1;
                at = start;
                continue;
            }
            self.after_cr = ending == b'\r';
            let line = match std::str::from_utf8(&self.buffer[start..end]) {
                Ok(line) => line,
                Err(err) => {
                    ready.push_back(Err(SseError::Framing(format!("not valid UTF-8: {err}"))));
                    return true;
                }
            };
            self.frame_bytes += end + 1 - start;
            if line_into(line, &mut self.event, &mut self.data) {
                if !self.data.is_empty() {
                    self.data.pop(); // the last line's LF
                    let name = if self.event.is_empty() { "message" } else { &self.event };
                    if let Some(event) = parse_event(name, &self.data) {
                        ready.push_back(event);
                    }
                }
                self.event.clear();
                self.data.clear();
                self.frame_bytes = 0;
            }
            start = end + 1;
            at = start;
        }
        if start > 0 {
            self.buffer.drain(..start);
        }
        self.scanned = self.buffer.len();
        if self.frame_bytes + self.buffer.len() > self.limit {
            ready.push_back(Err(SseError::TooLarge { limit: self.limit }));
            return true;
        }
        false
    }
}

/// One line into the frame being built; `true` when the line ends the
/// frame (a blank line).
fn line_into(line: &str, event: &mut String, data: &mut String) -> bool {
    if line.is_empty() {
        return true;
    }
    let (field, value) = match line.split_once(':') {
        Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
        None => (line, ""),
    };
    match field {
        "data" => {
            data.push_str(value);
            data.push('\n');
        }
        "event" => {
            event.clear();
            event.push_str(value);
        }
        // Comments (an empty field), `id`, `retry` and unknown fields.
        _ => {}
    }
    false
}

/// Parse a frame's `data` as a JSON event. The JSON `type` wins over the SSE
/// `event:` name; the name is used only when the JSON has no `type`. `None`
/// for frames that carry no event (`[DONE]`).
fn parse_event(name: &str, data: &str) -> Option<Result<CodexEvent, SseError>> {
    let data = data.trim();
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
        Err(err) => return Some(Err(malformed(name, format!("data is not JSON: {err}")))),
    };
    let Some(object) = value.as_object_mut() else {
        return Some(Err(malformed(name, "data is not a JSON object".to_owned())));
    };
    let event_type = match object.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => {
            object.insert("type".to_owned(), Value::String(name.to_owned()));
            name.to_owned()
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

    /// A 15 MiB event in 16 KiB chunks is framed in one pass, not one per
    /// chunk (which took 10 s of CPU): well under a second even unoptimised.
    #[test]
    fn a_huge_event_in_many_chunks_costs_linear_time() {
        let text = "x".repeat(15 * 1024 * 1024);
        let body =
            format!("data: {{\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"{text}\"}}\n\n");
        let chunks: Vec<&[u8]> = body.as_bytes().chunks(16 * 1024).collect();
        let started = std::time::Instant::now();
        let events = decode_bytes(&chunks);
        let took = started.elapsed();
        assert!(matches!(&events[..], [Ok(CodexEvent::OutputTextDelta { delta, .. })] if delta.len() == text.len()));
        assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
    }

    #[test]
    fn cr_only_line_ends_and_a_cr_split_from_its_lf_change_nothing() {
        let body = "data: {\"type\":\"keepalive\"}\n\ndata: {\"type\":\"keepalive\"}\n\n";
        let whole = decode_bytes(&[body.as_bytes()]);
        assert_eq!(whole.len(), 2);
        let cr = body.replace('\n', "\r");
        assert_eq!(decode_bytes(&[cr.as_bytes()]), whole);
        let crlf = body.replace('\n', "\r\n");
        let singles: Vec<&[u8]> = crlf.as_bytes().chunks(1).collect();
        assert_eq!(decode_bytes(&singles), whole);
    }

    #[test]
    fn only_malformed_errors_let_the_stream_go_on() {
        assert!(!SseError::Malformed { event: "x".into(), message: "y".into() }.ends_stream());
        assert!(SseError::Transport("x".into()).ends_stream());
        assert!(SseError::Framing("x".into()).ends_stream());
        assert!(SseError::TooLarge { limit: 1 }.ends_stream());
    }
}
