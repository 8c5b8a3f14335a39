//! The streaming events of the Codex Responses API (`POST /codex/responses`),
//! mirrored with serde.
//!
//! Only the events and fields codexd uses are typed; everything else is
//! tolerated: unknown fields are ignored, unknown event types become
//! [`CodexEvent::Unknown`], unknown output items [`OutputItem::Unknown`].
//! A known event that lacks a field we rely on (e.g. a text delta without
//! `delta`) fails to parse, which the SSE decoder reports as malformed.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// One event of the upstream stream, tagged by its JSON `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum CodexEvent {
    /// The response object was created; carries its id and model.
    #[serde(rename = "response.created")]
    Created { response: ResponseObject },
    /// The response is being generated.
    #[serde(rename = "response.in_progress")]
    InProgress { response: ResponseObject },
    /// A new output item (message, reasoning, function call, …) begins.
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded { output_index: u32, item: OutputItem },
    /// An output item is finished; carries its complete content.
    #[serde(rename = "response.output_item.done")]
    OutputItemDone { output_index: u32, item: OutputItem },
    /// A content part of a message item begins.
    #[serde(rename = "response.content_part.added")]
    ContentPartAdded {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        #[serde(default)]
        content_index: u32,
        part: OutputContent,
    },
    /// A content part of a message item is finished.
    #[serde(rename = "response.content_part.done")]
    ContentPartDone {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        #[serde(default)]
        content_index: u32,
        part: OutputContent,
    },
    /// A piece of answer text.
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        #[serde(default)]
        content_index: u32,
        delta: String,
    },
    /// The full text of a finished content part.
    #[serde(rename = "response.output_text.done")]
    OutputTextDone {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        #[serde(default)]
        content_index: u32,
        text: String,
    },
    /// A citation (from web search) attached to the answer text.
    #[serde(rename = "response.output_text.annotation.added")]
    OutputTextAnnotationAdded {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        #[serde(default)]
        content_index: u32,
        annotation: Annotation,
    },
    /// A piece of a function call's JSON arguments.
    #[serde(rename = "response.function_call_arguments.delta")]
    FunctionCallArgumentsDelta {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        delta: String,
    },
    /// A function call's complete JSON arguments.
    #[serde(rename = "response.function_call_arguments.done")]
    FunctionCallArgumentsDone {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        arguments: String,
    },
    /// A new part of a reasoning summary begins.
    #[serde(rename = "response.reasoning_summary_part.added")]
    ReasoningSummaryPartAdded {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        #[serde(default)]
        summary_index: u32,
    },
    /// A part of a reasoning summary is finished.
    #[serde(rename = "response.reasoning_summary_part.done")]
    ReasoningSummaryPartDone {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        #[serde(default)]
        summary_index: u32,
    },
    /// A piece of reasoning summary text.
    #[serde(rename = "response.reasoning_summary_text.delta")]
    ReasoningSummaryTextDelta {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        #[serde(default)]
        summary_index: u32,
        delta: String,
    },
    /// The full text of a finished reasoning summary part.
    #[serde(rename = "response.reasoning_summary_text.done")]
    ReasoningSummaryTextDone {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        #[serde(default)]
        summary_index: u32,
        text: String,
    },
    /// A piece of raw (not summarised) reasoning text; rare.
    #[serde(rename = "response.reasoning_text.delta")]
    ReasoningTextDelta {
        #[serde(default)]
        item_id: String,
        output_index: u32,
        #[serde(default)]
        content_index: u32,
        delta: String,
    },
    /// The response finished normally; carries the usage.
    #[serde(rename = "response.completed")]
    Completed { response: ResponseObject },
    /// The response stopped early (`incomplete_details.reason`).
    #[serde(rename = "response.incomplete")]
    Incomplete { response: ResponseObject },
    /// The response failed (`response.error`), inside an HTTP 200 stream.
    #[serde(rename = "response.failed")]
    Failed { response: ResponseObject },
    /// A stream-level error: `{type:"error", code, message, param}`.
    ///
    /// Some backends nest the details as `{type:"error", error:{code, message}}`;
    /// both shapes parse, see [`CodexEvent::error_details`].
    #[serde(rename = "error")]
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        param: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ResponseError>,
    },
    /// Any event type codexd does not use (`response.queued`,
    /// `response.web_search_call.searching`, `keepalive`, …).
    #[serde(other)]
    Unknown,
}

impl CodexEvent {
    /// For an [`CodexEvent::Error`] event: its code and message, whichever
    /// shape (flat or nested) it came in. `None` for every other event.
    pub fn error_details(&self) -> Option<ResponseError> {
        let CodexEvent::Error { code, message, error, .. } = self else {
            return None;
        };
        let nested = error.clone().unwrap_or_default();
        Some(ResponseError {
            code: code.clone().or(nested.code),
            message: message.clone().unwrap_or(nested.message),
            ..nested
        })
    }
}

/// The response object carried by `response.created/in_progress/completed/…`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseObject {
    /// `resp_…` (unused by codexd, so tolerated when missing).
    #[serde(default)]
    pub id: String,
    /// `in_progress`, `completed`, `incomplete`, `failed`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The upstream model that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The finished output items (often empty in streamed events).
    #[serde(default)]
    pub output: Vec<OutputItem>,
    /// Token usage; present on terminal events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Why the response failed (`response.failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ResponseError>,
    /// Why the response stopped early (`response.incomplete`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_details: Option<IncompleteDetails>,
}

/// An upstream error: `{code, message}`, and for usage limits `type`,
/// `plan_type` and when the limit resets. All default to empty so that an
/// odd error object still reports *something*; the usage-limit fields are
/// dropped, not an error, when they come in an odd type. What the codes
/// mean: [`crate::codex::error::BACKEND_CODES`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseError {
    /// e.g. `server_is_overloaded`, `rate_limit_exceeded`, `context_length_exceeded`.
    #[serde(default)]
    pub code: Option<String>,
    /// Human-readable text from the backend.
    #[serde(default)]
    pub message: String,
    /// `type`: e.g. `usage_limit_reached`, which the backend sends as a type.
    #[serde(rename = "type", default, deserialize_with = "lenient_text", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The ChatGPT plan, with usage limits.
    #[serde(default, deserialize_with = "lenient_text", skip_serializing_if = "Option::is_none")]
    pub plan_type: Option<String>,
    /// When a usage limit resets, in unix seconds.
    #[serde(default, deserialize_with = "lenient_seconds", skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<i64>,
    /// When a usage limit resets, in seconds from now.
    #[serde(default, deserialize_with = "lenient_seconds", skip_serializing_if = "Option::is_none")]
    pub resets_in_seconds: Option<i64>,
}

/// A string, or `None` for anything else.
fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(text)) => Some(text),
        _ => None,
    })
}

/// Seconds however the backend writes them ([`crate::codex::error::seconds`]), or `None`.
fn lenient_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<Value>::deserialize(deserializer)?.as_ref().and_then(crate::codex::error::seconds))
}

/// Why a response is incomplete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncompleteDetails {
    /// `max_output_tokens` or `content_filter`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One output item of a response, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    /// An assistant message (`msg_…`).
    Message {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default = "assistant_role")]
        role: String,
        #[serde(default)]
        content: Vec<OutputContent>,
    },
    /// Reasoning (`rs_…`): a readable summary and the opaque encrypted content.
    Reasoning {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default)]
        summary: Vec<SummaryText>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
    /// A call of one of the client's tools (`fc_…`).
    FunctionCall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The id the tool result must quote back (`call_…`).
        call_id: String,
        name: String,
        /// JSON text; empty while the call is still streaming.
        #[serde(default)]
        arguments: String,
    },
    /// A hosted web search (`ws_…`).
    WebSearchCall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        /// e.g. `{"type":"search","query":"…"}`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<Value>,
    },
    /// Any item type codexd does not translate.
    #[serde(other)]
    Unknown,
}

fn assistant_role() -> String {
    "assistant".to_owned()
}

/// A content part of a message item, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputContent {
    /// Answer text with its citations.
    OutputText {
        #[serde(default)]
        text: String,
        #[serde(default)]
        annotations: Vec<Annotation>,
    },
    /// The model declined to answer.
    Refusal {
        #[serde(default)]
        refusal: String,
    },
    /// Any other part type.
    #[serde(other)]
    Unknown,
}

/// A citation attached to answer text, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Annotation {
    /// A web page cited by a web search answer.
    UrlCitation {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default)]
        start_index: u32,
        #[serde(default)]
        end_index: u32,
    },
    /// Any other annotation type (file citations, …).
    #[serde(other)]
    Unknown,
}

/// One part of a reasoning summary: `{"type":"summary_text","text":…}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "summary_text")]
pub struct SummaryText {
    #[serde(default)]
    pub text: String,
}

/// Token usage of a response. Every field defaults, so a partial object parses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// All input tokens, cached ones included.
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens_details: Option<InputTokensDetails>,
    /// All output tokens, reasoning included.
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<OutputTokensDetails>,
    #[serde(default)]
    pub total_tokens: u64,
}

impl Usage {
    /// Input tokens served from the prompt cache (0 when not reported).
    pub fn cached_tokens(&self) -> u64 {
        self.input_tokens_details.as_ref().map_or(0, |d| d.cached_tokens)
    }
}

/// Breakdown of [`Usage::input_tokens`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    #[serde(default)]
    pub cached_tokens: u64,
}

/// Breakdown of [`Usage::output_tokens`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    #[serde(default)]
    pub reasoning_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> CodexEvent {
        serde_json::from_value(value).expect("event parses")
    }

    #[test]
    fn unknown_event_types_parse_as_unknown() {
        for kind in ["response.queued", "response.web_search_call.searching", "keepalive", ""] {
            let event = parse(json!({"type": kind, "sequence_number": 3, "whatever": {"x": 1}}));
            assert_eq!(event, CodexEvent::Unknown, "{kind}");
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let event = parse(json!({
            "type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_1",
            "output_index": 0, "content_index": 0, "delta": "Hi", "logprobs": [], "obfuscation": "x"
        }));
        assert_eq!(
            event,
            CodexEvent::OutputTextDelta {
                item_id: "msg_1".into(),
                output_index: 0,
                content_index: 0,
                delta: "Hi".into()
            }
        );
    }

    #[test]
    fn a_missing_required_field_is_an_error() {
        let missing_delta = json!({"type": "response.output_text.delta", "output_index": 0});
        let err = serde_json::from_value::<CodexEvent>(missing_delta).unwrap_err();
        assert!(err.to_string().contains("delta"), "{err}");

        let missing_call_id = json!({"type": "response.output_item.added", "output_index": 0,
            "item": {"type": "function_call", "name": "Bash"}});
        assert!(serde_json::from_value::<CodexEvent>(missing_call_id).is_err());
    }

    #[test]
    fn output_items_of_every_kind_parse() {
        let table = [
            (
                json!({"type":"message","id":"msg_1","status":"completed","role":"assistant",
                       "content":[{"type":"output_text","text":"Hi","annotations":[]},{"type":"refusal","refusal":"No"},{"type":"new_kind"}]}),
                OutputItem::Message {
                    id: Some("msg_1".into()),
                    role: "assistant".into(),
                    content: vec![
                        OutputContent::OutputText { text: "Hi".into(), annotations: vec![] },
                        OutputContent::Refusal { refusal: "No".into() },
                        OutputContent::Unknown,
                    ],
                },
            ),
            (
                json!({"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"S"}],"encrypted_content":"gAAA"}),
                OutputItem::Reasoning {
                    id: Some("rs_1".into()),
                    summary: vec![SummaryText { text: "S".into() }],
                    encrypted_content: Some("gAAA".into()),
                },
            ),
            (
                json!({"type":"function_call","id":"fc_1","call_id":"call_1","name":"Bash","arguments":"{}","status":"completed"}),
                OutputItem::FunctionCall {
                    id: Some("fc_1".into()),
                    call_id: "call_1".into(),
                    name: "Bash".into(),
                    arguments: "{}".into(),
                },
            ),
            (
                json!({"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"rust"}}),
                OutputItem::WebSearchCall {
                    id: Some("ws_1".into()),
                    status: Some("completed".into()),
                    action: Some(json!({"type":"search","query":"rust"})),
                },
            ),
            (json!({"type":"image_generation_call","id":"ig_1","result":"…"}), OutputItem::Unknown),
        ];
        for (value, expected) in table {
            let item: OutputItem = serde_json::from_value(value.clone()).expect("item parses");
            assert_eq!(item, expected, "{value}");
        }
    }

    #[test]
    fn partial_usage_parses_with_defaults() {
        let usage: Usage = serde_json::from_value(json!({"output_tokens": 7})).unwrap();
        assert_eq!(usage.output_tokens, 7);
        assert_eq!(usage.input_tokens, 0);
        assert_eq!(usage.cached_tokens(), 0);

        let usage: Usage = serde_json::from_value(json!({
            "input_tokens": 18000, "input_tokens_details": {"cached_tokens": 16384},
            "output_tokens": 420, "output_tokens_details": {"reasoning_tokens": 256}, "total_tokens": 18420
        }))
        .unwrap();
        assert_eq!(usage.cached_tokens(), 16384);
        assert_eq!(usage.output_tokens_details, Some(OutputTokensDetails { reasoning_tokens: 256 }));
    }

    #[test]
    fn error_events_parse_in_flat_and_nested_shapes() {
        let flat = parse(json!({"type":"error","code":"rate_limit_exceeded","message":"Slow down","param":null}));
        let nested =
            parse(json!({"type":"error","error":{"type":"x","code":"rate_limit_exceeded","message":"Slow down"}}));
        for event in [flat, nested] {
            let details = event.error_details().unwrap();
            assert_eq!((details.code.as_deref(), details.message.as_str()), (Some("rate_limit_exceeded"), "Slow down"));
        }
        assert_eq!(CodexEvent::Unknown.error_details(), None);
    }

    #[test]
    fn usage_limit_fields_parse_and_odd_ones_are_dropped() {
        let limit = json!({"type":"usage_limit_reached","message":"The usage limit has been reached",
                           "plan_type":"plus","resets_at":1764003120,"resets_in_seconds":3120});
        let odd = json!({"type":7,"code":"usage_limit_reached","plan_type":{"name":"plus"},
                         "resets_at":"soon","resets_in_seconds":[1]});
        let failed = |error: &Value| parse(json!({"type":"response.failed","response":{"id":"r","error":error}}));
        let CodexEvent::Failed { response } = failed(&limit) else { panic!("not failed") };
        let error = response.error.unwrap();
        assert_eq!(error.kind.as_deref(), Some("usage_limit_reached"));
        assert_eq!(error.plan_type.as_deref(), Some("plus"));
        assert_eq!((error.resets_at, error.resets_in_seconds), (Some(1_764_003_120), Some(3_120)));

        let CodexEvent::Failed { response } = failed(&odd) else { panic!("not failed") };
        let error = response.error.unwrap();
        assert_eq!(error.code.as_deref(), Some("usage_limit_reached"));
        assert_eq!((error.kind, error.plan_type, error.resets_at, error.resets_in_seconds), (None, None, None, None));

        let nested = parse(json!({"type":"error","error":limit}));
        let details = nested.error_details().unwrap();
        assert_eq!((details.kind.as_deref(), details.resets_in_seconds), (Some("usage_limit_reached"), Some(3_120)));
    }

    #[test]
    fn terminal_events_carry_error_and_incomplete_details() {
        let failed = parse(json!({"type":"response.failed","response":{"id":"resp_1","status":"failed",
            "error":{"code":"server_is_overloaded","message":"busy"}}}));
        let CodexEvent::Failed { response } = failed else { panic!("not failed: {failed:?}") };
        assert_eq!(response.error.and_then(|e| e.code).as_deref(), Some("server_is_overloaded"));
        assert!(response.output.is_empty());

        let incomplete = parse(json!({"type":"response.incomplete","response":{"id":"resp_1",
            "incomplete_details":{"reason":"max_output_tokens"}}}));
        let CodexEvent::Incomplete { response } = incomplete else { panic!("not incomplete") };
        assert_eq!(response.incomplete_details.and_then(|d| d.reason).as_deref(), Some("max_output_tokens"));
    }

    #[test]
    fn events_round_trip_through_serde() {
        let event = parse(json!({"type":"response.output_item.done","output_index":1,
            "item":{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"S"}],"encrypted_content":"e"}}));
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["item"]["summary"][0], json!({"type":"summary_text","text":"S"}));
        assert_eq!(parse(value), event);
    }
}
