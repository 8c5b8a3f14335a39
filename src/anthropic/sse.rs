//! SSE encoding of Anthropic [`StreamEvent`]s: `event: <type>\ndata: <json>\n\n`.
//!
//! The JSON is compact, so it never contains a raw newline and always fits
//! on one `data:` line; the event name always equals the JSON `type`.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::ApiError;
use super::response::StreamEvent;

/// Sent instead of an event that cannot be serialized (which the types make
/// impossible in practice; this only avoids a panic path).
const UNENCODABLE: &str =
    r#"{"type":"error","error":{"type":"api_error","message":"codexd failed to encode a stream event"}}"#;

/// One SSE frame for `event`.
pub fn encode(event: &StreamEvent) -> Bytes {
    let mut frame = BytesMut::new();
    encode_into(&mut frame, event);
    frame.freeze()
}

/// Append the SSE frame for `event` to `out`, serializing straight into it.
pub fn encode_into(out: &mut BytesMut, event: &StreamEvent) {
    let start = out.len();
    out.put_slice(b"event: ");
    out.put_slice(event.name().as_bytes());
    out.put_slice(b"\ndata: ");
    if serde_json::to_writer(out.writer(), event).is_err() {
        out.truncate(start);
        out.put_slice(b"event: error\ndata: ");
        out.put_slice(UNENCODABLE.as_bytes());
    }
    out.put_slice(b"\n\n");
}

/// The `error` frame that ends a stream which failed with `err`.
pub fn encode_error(err: &ApiError) -> Bytes {
    encode(&StreamEvent::error(err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anthropic::response::{ContentBlock, Delta, Message};

    #[test]
    fn events_encode_to_exact_frames() {
        let table = [
            (
                StreamEvent::ContentBlockStart { index: 0, content_block: ContentBlock::empty_text() },
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            ),
            (
                StreamEvent::ContentBlockDelta { index: 2, delta: Delta::TextDelta { text: "line 1\nline 2".into() } },
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"text_delta\",\"text\":\"line 1\\nline 2\"}}\n\n",
            ),
            (StreamEvent::ContentBlockStop { index: 1 }, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"),
            (StreamEvent::MessageStop, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
            (StreamEvent::Ping, "event: ping\ndata: {\"type\":\"ping\"}\n\n"),
            (
                StreamEvent::MessageStart { message: Message::new("msg_1", "claude-x") },
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"stop_details\":null,\"container\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"cache_creation\":null,\"server_tool_use\":null,\"service_tier\":null,\"inference_geo\":null,\"output_tokens_details\":null,\"speed\":null}}}\n\n",
            ),
        ];
        for (event, expected) in table {
            assert_eq!(encode(&event), Bytes::from(expected));
        }
    }

    #[test]
    fn errors_encode_as_error_frames() {
        assert_eq!(
            encode_error(&ApiError::overloaded("Our servers are busy")),
            Bytes::from_static(
                b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Our servers are busy\"}}\n\n"
            )
        );
    }

    #[test]
    fn the_fallback_frame_is_a_valid_error_event() {
        let event: StreamEvent = serde_json::from_str(UNENCODABLE).unwrap();
        assert_eq!(event.name(), "error");
    }
}
