//! What codexd answers with: the Anthropic [`Message`] (non-streaming) and
//! the [`StreamEvent`]s of a streamed answer, mirrored with serde.
//!
//! Field order and presence follow the Anthropic API byte for byte where
//! clients care: `stop_sequence` and every usage counter are always present,
//! a text block starts as `{"type":"text","text":""}`, a tool block as
//! `{"type":"tool_use","id":…,"name":…,"input":{}}`. The fields the newest
//! SDK types declare that codexd cannot fill (`stop_details`, `container`,
//! `usage.service_tier`, …) are present as `null` ([`Null`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, ErrorKind};

/// A field the newest SDK types declare that codexd has nothing to put in:
/// always written as `null`, and read from anything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Null;

impl Serialize for Null {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_none()
    }
}

impl<'de> Deserialize<'de> for Null {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Null)
    }
}

/// A complete assistant message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `msg_…`.
    pub id: String,
    /// Always `"message"`.
    #[serde(rename = "type", default)]
    pub kind: MessageKind,
    /// Always `"assistant"`.
    #[serde(default)]
    pub role: Role,
    /// The model name the client asked for.
    pub model: String,
    /// The blocks of the answer, in order.
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    /// Why generation stopped; `null` until it has.
    pub stop_reason: Option<StopReason>,
    /// The stop sequence that ended generation; codexd never sets one.
    pub stop_sequence: Option<String>,
    /// Details of a refusal; unknown upstream.
    #[serde(default)]
    pub stop_details: Null,
    /// The code-execution container; codexd runs none.
    #[serde(default)]
    pub container: Null,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
}

impl Message {
    /// An empty message, as announced by `message_start`.
    pub fn new(id: impl Into<String>, model: impl Into<String>) -> Self {
        Message {
            id: id.into(),
            kind: MessageKind::Message,
            role: Role::Assistant,
            model: model.into(),
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            stop_details: Null,
            container: Null,
            usage: Usage::default(),
        }
    }
}

/// The constant `type` of a [`Message`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    #[default]
    Message,
}

/// The role of a [`Message`]; answers are always the assistant's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Assistant,
}

/// One block of a [`Message`], tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Answer text, with its citations when there are any.
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        citations: Option<Vec<Citation>>,
    },
    /// Readable reasoning; `signature` lets the client replay it.
    Thinking { thinking: String, signature: String },
    /// Reasoning the client may only replay, not read.
    RedactedThinking { data: String },
    /// A call of one of the client's tools.
    ToolUse { id: String, name: String, input: Value },
    /// A call of a server-side tool (web search).
    ServerToolUse { id: String, name: String, input: Value },
    /// The result of a web search.
    WebSearchToolResult { tool_use_id: String, content: Value },
}

impl ContentBlock {
    /// An empty text block, as opened by `content_block_start`.
    pub fn empty_text() -> Self {
        ContentBlock::Text { text: String::new(), citations: None }
    }

    /// An empty thinking block, as opened by `content_block_start`.
    pub fn empty_thinking() -> Self {
        ContentBlock::Thinking { thinking: String::new(), signature: String::new() }
    }
}

/// A citation of a text block, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Citation {
    /// A web page found by web search.
    WebSearchResultLocation {
        url: String,
        title: Option<String>,
        #[serde(default)]
        cited_text: String,
        #[serde(default)]
        encrypted_index: String,
    },
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
    ToolUse,
    PauseTurn,
    Refusal,
}

/// Token counts of a [`Message`]; every counter is always serialized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens not read from the cache.
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    /// The rest is unknown upstream: `null`.
    #[serde(default)]
    pub cache_creation: Null,
    #[serde(default)]
    pub server_tool_use: Null,
    #[serde(default)]
    pub service_tier: Null,
    #[serde(default)]
    pub inference_geo: Null,
    #[serde(default)]
    pub output_tokens_details: Null,
    #[serde(default)]
    pub speed: Null,
}

/// One event of a streamed answer, tagged by `type` (which is also the SSE
/// event name, see [`StreamEvent::name`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// First event: the empty message.
    MessageStart { message: Message },
    /// A block begins at `index` (0, 1, 2, … in order).
    ContentBlockStart { index: u32, content_block: ContentBlock },
    /// More content for the open block.
    ContentBlockDelta { index: u32, delta: Delta },
    /// The block at `index` is complete.
    ContentBlockStop { index: u32 },
    /// The stop reason and final usage.
    MessageDelta { delta: MessageDelta, usage: MessageDeltaUsage },
    /// Last event of a successful stream.
    MessageStop,
    /// Keep-alive; carries nothing.
    Ping,
    /// Last event of a failed stream.
    Error { error: ErrorBody },
}

impl StreamEvent {
    /// The SSE event name, equal to the JSON `type`.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
            StreamEvent::Ping => "ping",
            StreamEvent::Error { .. } => "error",
        }
    }

    /// The `error` event reporting `err`.
    pub fn error(err: &ApiError) -> Self {
        StreamEvent::Error { error: ErrorBody { kind: err.kind, message: err.message.clone() } }
    }
}

/// The `delta` of a `content_block_delta`, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Delta {
    /// More text for a text block.
    TextDelta { text: String },
    /// More of a tool block's JSON input, as raw text.
    InputJsonDelta { partial_json: String },
    /// More reasoning for a thinking block.
    ThinkingDelta { thinking: String },
    /// The signature of a thinking block.
    SignatureDelta { signature: String },
    /// One more citation for a text block.
    CitationsDelta { citation: Citation },
}

/// The `delta` of a `message_delta`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDelta {
    pub stop_reason: Option<StopReason>,
    pub stop_sequence: Option<String>,
    #[serde(default)]
    pub stop_details: Null,
    #[serde(default)]
    pub container: Null,
}

/// The `usage` of a `message_delta`: final counts that overlay those of
/// `message_start`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeltaUsage {
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    /// Unknown upstream: `null`.
    #[serde(default)]
    pub server_tool_use: Null,
    #[serde(default)]
    pub output_tokens_details: Null,
}

/// The `error` of an `error` event: `{"type":…,"message":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type")]
    pub kind: ErrorKind,
    pub message: String,
}

impl From<ErrorBody> for ApiError {
    fn from(body: ErrorBody) -> Self {
        ApiError::new(body.kind, body.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compact(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn block_starts_have_the_exact_anthropic_shapes() {
        let table = [
            (ContentBlock::empty_text(), r#"{"type":"text","text":""}"#),
            (ContentBlock::empty_thinking(), r#"{"type":"thinking","thinking":"","signature":""}"#),
            (
                ContentBlock::ToolUse { id: "call_1".into(), name: "Bash".into(), input: json!({}) },
                r#"{"type":"tool_use","id":"call_1","name":"Bash","input":{}}"#,
            ),
            (
                ContentBlock::ServerToolUse { id: "ws_1".into(), name: "web_search".into(), input: json!({}) },
                r#"{"type":"server_tool_use","id":"ws_1","name":"web_search","input":{}}"#,
            ),
            (
                ContentBlock::WebSearchToolResult { tool_use_id: "ws_1".into(), content: json!([]) },
                r#"{"type":"web_search_tool_result","tool_use_id":"ws_1","content":[]}"#,
            ),
            (ContentBlock::RedactedThinking { data: "x".into() }, r#"{"type":"redacted_thinking","data":"x"}"#),
        ];
        for (block, expected) in table {
            assert_eq!(compact(&block), expected);
            assert_eq!(serde_json::from_str::<ContentBlock>(expected).unwrap(), block);
        }
    }

    #[test]
    fn a_new_message_serializes_like_message_start_wants() {
        assert_eq!(
            serde_json::to_value(Message::new("msg_1", "claude-sonnet-4-5")).unwrap(),
            json!({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
                   "content":[],"stop_reason":null,"stop_sequence":null,"stop_details":null,"container":null,
                   "usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,
                            "cache_creation":null,"server_tool_use":null,"service_tier":null,"inference_geo":null,
                            "output_tokens_details":null,"speed":null}})
        );
    }

    #[test]
    fn deltas_have_the_exact_anthropic_shapes() {
        let citation = Citation::WebSearchResultLocation {
            url: "https://e.com".into(),
            title: None,
            cited_text: String::new(),
            encrypted_index: String::new(),
        };
        let table = [
            (Delta::TextDelta { text: "Hi".into() }, r#"{"type":"text_delta","text":"Hi"}"#),
            (
                Delta::InputJsonDelta { partial_json: "{\"a\"".into() },
                r#"{"type":"input_json_delta","partial_json":"{\"a\""}"#,
            ),
            (Delta::ThinkingDelta { thinking: "t".into() }, r#"{"type":"thinking_delta","thinking":"t"}"#),
            (Delta::SignatureDelta { signature: "s".into() }, r#"{"type":"signature_delta","signature":"s"}"#),
            (
                Delta::CitationsDelta { citation },
                r#"{"type":"citations_delta","citation":{"type":"web_search_result_location","url":"https://e.com","title":null,"cited_text":"","encrypted_index":""}}"#,
            ),
        ];
        for (delta, expected) in table {
            assert_eq!(compact(&delta), expected);
            assert_eq!(serde_json::from_str::<Delta>(expected).unwrap(), delta);
        }
    }

    #[test]
    fn every_event_type_equals_its_name_and_round_trips() {
        let events = [
            StreamEvent::MessageStart { message: Message::new("msg_1", "m") },
            StreamEvent::ContentBlockStart { index: 0, content_block: ContentBlock::empty_text() },
            StreamEvent::ContentBlockDelta { index: 0, delta: Delta::TextDelta { text: "x".into() } },
            StreamEvent::ContentBlockStop { index: 0 },
            StreamEvent::MessageDelta {
                delta: MessageDelta { stop_reason: Some(StopReason::EndTurn), ..MessageDelta::default() },
                usage: MessageDeltaUsage::default(),
            },
            StreamEvent::MessageStop,
            StreamEvent::Ping,
            StreamEvent::error(&ApiError::overloaded("busy")),
        ];
        for event in events {
            let value = serde_json::to_value(&event).unwrap();
            assert_eq!(value["type"], event.name());
            assert_eq!(serde_json::from_value::<StreamEvent>(value).unwrap(), event);
        }
    }

    #[test]
    fn message_delta_and_error_have_the_exact_shapes() {
        let delta = StreamEvent::MessageDelta {
            delta: MessageDelta { stop_reason: Some(StopReason::ToolUse), ..MessageDelta::default() },
            usage: MessageDeltaUsage {
                output_tokens: 5,
                input_tokens: 3,
                cache_read_input_tokens: 2,
                cache_creation_input_tokens: 0,
                ..MessageDeltaUsage::default()
            },
        };
        assert_eq!(
            compact(&delta),
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null,"stop_details":null,"container":null},"usage":{"output_tokens":5,"input_tokens":3,"cache_read_input_tokens":2,"cache_creation_input_tokens":0,"server_tool_use":null,"output_tokens_details":null}}"#
        );
        let error = StreamEvent::error(&ApiError::new(ErrorKind::RateLimitError, "slow down"));
        assert_eq!(compact(&error), r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#);
        assert_eq!(compact(&StreamEvent::MessageStop), r#"{"type":"message_stop"}"#);
    }

    #[test]
    fn stop_reasons_use_snake_case() {
        let table = [
            (StopReason::EndTurn, "end_turn"),
            (StopReason::MaxTokens, "max_tokens"),
            (StopReason::StopSequence, "stop_sequence"),
            (StopReason::ToolUse, "tool_use"),
            (StopReason::PauseTurn, "pause_turn"),
            (StopReason::Refusal, "refusal"),
        ];
        for (reason, name) in table {
            assert_eq!(serde_json::to_value(reason).unwrap(), name);
        }
    }

    #[test]
    fn an_error_body_becomes_an_api_error_with_the_right_status() {
        let err: ApiError = ErrorBody { kind: ErrorKind::OverloadedError, message: "busy".into() }.into();
        assert_eq!(err, ApiError::overloaded("busy"));
        assert_eq!(err.status, 529);
    }
}
