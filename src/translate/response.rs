//! Anthropic stream events → one Anthropic [`Message`], for clients that
//! asked for a non-streaming answer. Pure: no I/O, no clock.
//!
//! The server runs the same [`super::stream::StreamTranslator`] for both
//! kinds of client and, for a non-streaming one, folds its events here.
//! The fold mirrors what the Anthropic SDKs do with a stream: text and
//! thinking deltas are appended, a signature delta sets the signature,
//! citation deltas are collected, `input_json_delta`s are concatenated and
//! parsed as JSON when their block stops, and `message_delta` overlays the
//! stop reason and usage of `message_start`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::stream::CUT_SHORT;
use crate::anthropic::error::ApiError;
use crate::anthropic::response::{ContentBlock, Delta, Message, StreamEvent};

/// Folds a stream of [`StreamEvent`]s into the [`Message`] they describe.
#[derive(Debug, Default)]
pub struct Accumulator {
    /// The message from `message_start`, growing with every event.
    message: Option<Message>,
    /// Raw `input_json_delta` text of tool blocks not yet stopped, by index.
    partial_json: BTreeMap<u32, String>,
    /// `message_stop` was seen.
    stopped: bool,
    /// An `error` event was seen.
    error: Option<ApiError>,
}

impl Accumulator {
    /// An accumulator that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fold one event in. Events after `message_stop` or `error` are ignored,
    /// as are events that do not fit (a delta for a block never started).
    pub fn push(&mut self, event: &StreamEvent) {
        if self.stopped || self.error.is_some() {
            return;
        }
        match event {
            StreamEvent::MessageStart { message } => {
                if self.message.is_none() {
                    self.message = Some(message.clone());
                }
            }
            StreamEvent::ContentBlockStart { index, content_block } => self.start_block(*index, content_block),
            StreamEvent::ContentBlockDelta { index, delta } => self.apply_delta(*index, delta),
            StreamEvent::ContentBlockStop { index } => self.stop_block(*index),
            StreamEvent::MessageDelta { delta, usage } => {
                if let Some(message) = &mut self.message {
                    message.stop_reason = delta.stop_reason;
                    message.stop_sequence = delta.stop_sequence.clone();
                    message.usage.output_tokens = usage.output_tokens;
                    message.usage.input_tokens = usage.input_tokens;
                    message.usage.cache_read_input_tokens = usage.cache_read_input_tokens;
                    message.usage.cache_creation_input_tokens = usage.cache_creation_input_tokens;
                }
            }
            StreamEvent::MessageStop => self.stopped = true,
            StreamEvent::Ping => {}
            StreamEvent::Error { error } => self.error = Some(error.clone().into()),
        }
    }

    /// The finished message; the stream's own error if it ended with one;
    /// an `api_error` if it ended without `message_stop`.
    pub fn finish(mut self) -> Result<Message, ApiError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let indexes: Vec<u32> = self.partial_json.keys().copied().collect();
        for index in indexes {
            self.stop_block(index);
        }
        match self.message {
            Some(message) if self.stopped => Ok(message),
            _ => Err(ApiError::api(CUT_SHORT)),
        }
    }

    fn block_mut(&mut self, index: u32) -> Option<&mut ContentBlock> {
        let index = usize::try_from(index).ok()?;
        self.message.as_mut()?.content.get_mut(index)
    }

    /// Blocks arrive in index order; a start out of order is dropped.
    fn start_block(&mut self, index: u32, block: &ContentBlock) {
        let Some(message) = &mut self.message else { return };
        if usize::try_from(index).is_ok_and(|index| index == message.content.len()) {
            message.content.push(block.clone());
        }
    }

    fn apply_delta(&mut self, index: u32, delta: &Delta) {
        let Some(block) = self.block_mut(index) else { return };
        match (block, delta) {
            (ContentBlock::Text { text, .. }, Delta::TextDelta { text: more }) => text.push_str(more),
            (ContentBlock::Text { citations, .. }, Delta::CitationsDelta { citation }) => {
                citations.get_or_insert_with(Vec::new).push(citation.clone());
            }
            (ContentBlock::Thinking { thinking, .. }, Delta::ThinkingDelta { thinking: more }) => {
                thinking.push_str(more)
            }
            (ContentBlock::Thinking { signature, .. }, Delta::SignatureDelta { signature: new }) => {
                signature.clone_from(new);
            }
            (
                ContentBlock::ToolUse { .. } | ContentBlock::ServerToolUse { .. },
                Delta::InputJsonDelta { partial_json },
            ) => self.partial_json.entry(index).or_default().push_str(partial_json),
            _ => {}
        }
    }

    /// A tool block's streamed input becomes its `input`. Text that is not
    /// JSON (which the translator never produces) becomes `{}`, so that the
    /// message stays valid; an empty stream keeps the input of the start.
    fn stop_block(&mut self, index: u32) {
        let Some(json) = self.partial_json.remove(&index) else { return };
        if json.trim().is_empty() {
            return;
        }
        let parsed = serde_json::from_str(&json).unwrap_or_else(|_| Value::Object(Default::default()));
        if let Some(ContentBlock::ToolUse { input, .. } | ContentBlock::ServerToolUse { input, .. }) =
            self.block_mut(index)
        {
            *input = parsed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anthropic::error::ErrorKind;
    use crate::anthropic::response::{Citation, MessageDelta, MessageDeltaUsage, StopReason, Usage};
    use crate::codex::sse::test_fixtures::all_fixtures;
    use crate::translate::stream::test_support::{translate_sse, TEST_MESSAGE_ID, TEST_MODEL};
    use serde_json::json;

    fn aggregate(events: &[StreamEvent]) -> Result<Message, ApiError> {
        let mut accumulator = Accumulator::new();
        for event in events {
            accumulator.push(event);
        }
        accumulator.finish()
    }

    fn aggregate_fixture(name: &str) -> Result<Message, ApiError> {
        let (_, text) = all_fixtures().into_iter().find(|(file, _)| file == name).expect("fixture exists");
        aggregate(&translate_sse(&text))
    }

    #[test]
    fn every_fixture_aggregates_as_snapshotted() {
        for (name, text) in all_fixtures() {
            let snapshot = match aggregate(&translate_sse(&text)) {
                Ok(message) => serde_json::to_value(message).expect("serializable"),
                Err(err) => err.body(),
            };
            insta::assert_json_snapshot!(name.trim_end_matches(".sse"), snapshot);
        }
    }

    fn usage(input: u64, cached: u64, output: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: cached,
            ..Usage::default()
        }
    }

    #[test]
    fn stop_reason_and_usage_per_fixture() {
        let table = [
            ("codex-text.sse", StopReason::EndTurn, usage(496, 1024, 12)),
            ("codex-reasoning-tool.sse", StopReason::ToolUse, usage(2084, 22016, 96)),
            ("parallel-interleaved.sse", StopReason::ToolUse, usage(904, 4096, 80)),
            ("incomplete-max-tokens.sse", StopReason::MaxTokens, usage(900, 0, 4096)),
            ("incomplete-content-filter.sse", StopReason::Refusal, usage(300, 0, 3)),
            ("reasoning-then-text.sse", StopReason::EndTurn, usage(52, 2048, 150)),
            ("web-search.sse", StopReason::EndTurn, usage(800, 0, 40)),
            ("unknown-events.sse", StopReason::EndTurn, usage(100, 0, 5)),
            ("reasoning-encrypted-only.sse", StopReason::EndTurn, usage(400, 0, 30)),
            ("done-without-deltas.sse", StopReason::ToolUse, usage(488, 512, 60)),
            ("completed-output-only.sse", StopReason::EndTurn, usage(50, 0, 3)),
            ("completed-without-item-done.sse", StopReason::ToolUse, usage(70, 0, 9)),
        ];
        for (name, stop_reason, usage) in table {
            let message = aggregate_fixture(name).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(message.stop_reason, Some(stop_reason), "{name}");
            assert_eq!(message.usage, usage, "{name}");
            assert_eq!((message.id.as_str(), message.model.as_str()), (TEST_MESSAGE_ID, TEST_MODEL), "{name}");
            assert_eq!(message.stop_sequence, None, "{name}");
        }
    }

    #[test]
    fn failed_fixtures_become_their_errors() {
        let table = [
            (
                "codex-failed.sse",
                ErrorKind::OverloadedError,
                529,
                "Our servers are currently overloaded. Please try again later.",
            ),
            (
                "error-event.sse",
                ErrorKind::RateLimitError,
                429,
                "Rate limit reached for gpt-5.2-codex. Please try again in 20s.",
            ),
            ("cut-before-completed.sse", ErrorKind::ApiError, 500, CUT_SHORT),
        ];
        for (name, kind, status, message) in table {
            let err = aggregate_fixture(name).expect_err(name);
            assert_eq!((err.kind, err.status, err.message.as_str()), (kind, status, message), "{name}");
        }
    }

    #[test]
    fn content_is_assembled_like_the_sdk_does() {
        let message = aggregate_fixture("codex-reasoning-tool.sse").expect("completes");
        assert_eq!(
            serde_json::to_value(&message.content).unwrap(),
            json!([
                {"type":"thinking","thinking":"**Listing files**\n\nI should look at the directory first.",
                 "signature":"codexd.v1.gAAAAABpEXAMPLEencryptedReasoningBlobOnlyTheBackendCanRead=="},
                {"type":"tool_use","id":"call_AbC123","name":"Bash","input":{"command":"ls -la"}},
                {"type":"tool_use","id":"call_DeF456","name":"Read","input":{"file_path":"/repo/README.md"}},
            ])
        );
        let search = aggregate_fixture("web-search.sse").expect("completes");
        assert_eq!(
            serde_json::to_value(&search.content).unwrap(),
            json!([
                {"type":"server_tool_use","id":"srvtoolu_15","name":"web_search","input":{"query":"latest rust release"}},
                {"type":"web_search_tool_result","tool_use_id":"srvtoolu_15","content":[]},
                {"type":"text","text":"Rust 1.90 was released in September 2025.","citations":[
                    {"type":"web_search_result_location","url":"https://blog.rust-lang.org/releases/","title":"Rust Blog","cited_text":"Rust 1.90 was released in September 2025.","encrypted_index":""}
                ]},
            ])
        );
    }

    fn start() -> StreamEvent {
        StreamEvent::MessageStart { message: Message::new("msg_1", "claude-x") }
    }

    fn tool_start(index: u32, input: Value) -> StreamEvent {
        StreamEvent::ContentBlockStart {
            index,
            content_block: ContentBlock::ToolUse { id: format!("call_{index}"), name: "Bash".into(), input },
        }
    }

    fn json_delta(index: u32, partial_json: &str) -> StreamEvent {
        StreamEvent::ContentBlockDelta { index, delta: Delta::InputJsonDelta { partial_json: partial_json.into() } }
    }

    fn end() -> [StreamEvent; 2] {
        [
            StreamEvent::MessageDelta {
                delta: MessageDelta { stop_reason: Some(StopReason::ToolUse), ..MessageDelta::default() },
                usage: MessageDeltaUsage { output_tokens: 7, ..Default::default() },
            },
            StreamEvent::MessageStop,
        ]
    }

    fn tool_inputs(message: &Message) -> Vec<Value> {
        message
            .content
            .iter()
            .filter_map(|block| match block {
                ContentBlock::ToolUse { input, .. } => Some(input.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn tool_input_is_parsed_at_block_stop() {
        let table = [
            (vec!["{\"a\":", "[1,2]}"], json!({}), json!({"a":[1,2]})),
            (vec!["not json"], json!({}), json!({})),
            (vec!["{\"a\":"], json!({}), json!({})),
            (vec![], json!({"kept":true}), json!({"kept":true})),
            (vec!["  "], json!({"kept":true}), json!({"kept":true})),
        ];
        for (pieces, start_input, expected) in table {
            let mut events = vec![start(), tool_start(0, start_input)];
            events.extend(pieces.iter().map(|piece| json_delta(0, piece)));
            events.push(StreamEvent::ContentBlockStop { index: 0 });
            events.extend(end());
            let message = aggregate(&events).expect("complete stream");
            assert_eq!(tool_inputs(&message), [expected], "{pieces:?}");
        }
    }

    #[test]
    fn a_tool_block_never_stopped_still_gets_its_input() {
        let mut events = vec![start(), tool_start(0, json!({})), json_delta(0, "{\"x\":1}")];
        events.extend(end());
        assert_eq!(tool_inputs(&aggregate(&events).unwrap()), [json!({"x":1})]);
    }

    #[test]
    fn streams_without_message_stop_are_errors() {
        let table: Vec<Vec<StreamEvent>> = vec![vec![], vec![start()], vec![start(), end()[0].clone()]];
        for events in table {
            assert_eq!(aggregate(&events), Err(ApiError::api(CUT_SHORT)), "{events:?}");
        }
        assert_eq!(aggregate(&[StreamEvent::MessageStop]), Err(ApiError::api(CUT_SHORT)), "no message_start");
    }

    #[test]
    fn the_error_event_wins_and_later_events_are_ignored() {
        let events = [
            start(),
            StreamEvent::error(&ApiError::new(ErrorKind::InvalidRequestError, "too long")),
            end()[0].clone(),
            StreamEvent::MessageStop,
        ];
        let err = aggregate(&events).unwrap_err();
        assert_eq!((err.kind, err.status, err.message.as_str()), (ErrorKind::InvalidRequestError, 400, "too long"));
    }

    #[test]
    fn deltas_that_do_not_fit_are_ignored() {
        let text_block = StreamEvent::ContentBlockStart { index: 0, content_block: ContentBlock::empty_text() };
        let events = [
            start(),
            StreamEvent::ContentBlockDelta { index: 0, delta: Delta::TextDelta { text: "before start".into() } },
            StreamEvent::ContentBlockStart { index: 3, content_block: ContentBlock::empty_thinking() },
            text_block,
            StreamEvent::Ping,
            StreamEvent::ContentBlockDelta { index: 0, delta: Delta::TextDelta { text: "Hi".into() } },
            StreamEvent::ContentBlockDelta { index: 0, delta: Delta::ThinkingDelta { thinking: "wrong kind".into() } },
            StreamEvent::ContentBlockDelta { index: 5, delta: Delta::TextDelta { text: "no block".into() } },
            StreamEvent::ContentBlockStop { index: 0 },
            end()[0].clone(),
            end()[1].clone(),
            StreamEvent::ContentBlockDelta { index: 0, delta: Delta::TextDelta { text: " after stop".into() } },
        ];
        let message = aggregate(&events).unwrap();
        assert_eq!(message.content, [ContentBlock::Text { text: "Hi".into(), citations: None }]);
    }

    #[test]
    fn signature_deltas_set_and_citations_collect() {
        let citation = |url: &str| Citation::WebSearchResultLocation {
            url: url.into(),
            title: None,
            cited_text: String::new(),
            encrypted_index: String::new(),
        };
        let delta = |index, delta| StreamEvent::ContentBlockDelta { index, delta };
        let mut events = vec![
            start(),
            StreamEvent::ContentBlockStart { index: 0, content_block: ContentBlock::empty_thinking() },
            delta(0, Delta::ThinkingDelta { thinking: "a".into() }),
            delta(0, Delta::ThinkingDelta { thinking: "b".into() }),
            delta(0, Delta::SignatureDelta { signature: "first".into() }),
            delta(0, Delta::SignatureDelta { signature: "sig".into() }),
            StreamEvent::ContentBlockStop { index: 0 },
            StreamEvent::ContentBlockStart { index: 1, content_block: ContentBlock::empty_text() },
            delta(1, Delta::CitationsDelta { citation: citation("https://a") }),
            delta(1, Delta::TextDelta { text: "t".into() }),
            delta(1, Delta::CitationsDelta { citation: citation("https://b") }),
            StreamEvent::ContentBlockStop { index: 1 },
        ];
        events.extend(end());
        let message = aggregate(&events).unwrap();
        assert_eq!(
            message.content,
            [
                ContentBlock::Thinking { thinking: "ab".into(), signature: "sig".into() },
                ContentBlock::Text {
                    text: "t".into(),
                    citations: Some(vec![citation("https://a"), citation("https://b")])
                },
            ]
        );
        assert_eq!(message.usage.output_tokens, 7);
    }
}
