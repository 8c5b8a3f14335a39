//! The Anthropic stream grammar, as a checker: what an official SDK needs
//! from a sequence of [`StreamEvent`]s to assemble a message without error.
//!
//! Shared by the fuzz targets (`fuzz/`) and the property tests
//! (`tests/proptest_stream.rs`, which include this file by path), so both
//! hold the translator to the same rules. It depends only on `codexd` and
//! `serde_json`.

use codexd::anthropic::error::ErrorKind;
use codexd::anthropic::response::{ContentBlock, Delta, StopReason, StreamEvent};
use serde_json::Value;

/// How a well-formed stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `message_delta` with this stop reason, then `message_stop`.
    Stop(StopReason),
    /// An `error` event of this kind.
    Error(ErrorKind),
}

/// What a well-formed stream contained.
#[derive(Debug, Clone, PartialEq)]
pub struct Outline {
    /// The `type` of each content block, in index order.
    pub blocks: Vec<&'static str>,
    /// How it ended.
    pub ending: Ending,
}

/// Check the structure of a stream:
///
/// - `message_start` first — unless the stream is a lone `error`;
/// - content blocks numbered 0, 1, 2, … each started, given only deltas of
///   its own kind, and stopped before the next one starts;
/// - then `message_delta` (with a stop reason) and `message_stop`, or an
///   `error` as the very last event;
/// - `stop_reason` is `tool_use` exactly when a `tool_use` block was sent
///   (except `max_tokens` and `refusal`, which win);
/// - `ping` may appear anywhere.
///
/// Tool inputs are not parsed here: see [`check_tool_inputs`].
pub fn check_sequence(events: &[StreamEvent]) -> Result<Outline, String> {
    let events: Vec<&StreamEvent> = events.iter().filter(|e| !matches!(e, StreamEvent::Ping)).collect();
    let Some((last, mut body)) = events.split_last() else { return Err("the stream is empty".into()) };
    match body.split_first() {
        Some((StreamEvent::MessageStart { message }, rest)) => {
            if !message.content.is_empty() || message.stop_reason.is_some() {
                return Err(format!("message_start carries a non-empty message: {message:?}"));
            }
            body = rest;
        }
        None if matches!(last, StreamEvent::Error { .. }) => {}
        first => return Err(format!("the first event is {first:?}, not message_start")),
    }
    let ending = match (last, body.split_last()) {
        (StreamEvent::MessageStop, Some((StreamEvent::MessageDelta { delta, .. }, rest))) => {
            body = rest;
            let reason = delta.stop_reason.ok_or("message_delta has no stop_reason")?;
            Ending::Stop(reason)
        }
        (StreamEvent::Error { error }, _) => Ending::Error(error.kind),
        (last, _) => return Err(format!("the stream ends with {last:?}, not message_delta + message_stop or error")),
    };
    let blocks = check_blocks(body)?;
    if let Ending::Stop(reason) = ending {
        check_stop_reason(reason, &blocks)?;
    }
    Ok(Outline { blocks, ending })
}

/// Check that every `tool_use` / `server_tool_use` block's streamed input
/// assembles to a JSON object (or is empty, keeping the start's `{}`).
///
/// Holds for upstream streams whose own arguments are complete JSON; an
/// upstream that sends broken arguments gets them forwarded as they are.
pub fn check_tool_inputs(events: &[StreamEvent]) -> Result<(), String> {
    let mut inputs: Vec<(u32, String)> = Vec::new();
    for event in events {
        match event {
            StreamEvent::ContentBlockStart {
                index,
                content_block: ContentBlock::ToolUse { .. } | ContentBlock::ServerToolUse { .. },
            } => inputs.push((*index, String::new())),
            StreamEvent::ContentBlockDelta { index, delta: Delta::InputJsonDelta { partial_json } } => {
                if let Some((_, json)) = inputs.iter_mut().find(|(i, _)| i == index) {
                    json.push_str(partial_json);
                }
            }
            _ => {}
        }
    }
    for (index, json) in inputs {
        if json.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&json) {
            Ok(Value::Object(_)) => {}
            _ => return Err(format!("the input of tool block {index} is not a JSON object: {json:?}")),
        }
    }
    Ok(())
}

/// The blocks between `message_start` and the ending; returns their types.
fn check_blocks(events: &[&StreamEvent]) -> Result<Vec<&'static str>, String> {
    let mut blocks = Vec::new();
    let mut open: Option<(u32, &ContentBlock)> = None;
    for event in events {
        match (*event, open) {
            (StreamEvent::ContentBlockStart { index, content_block }, None) => {
                if usize::try_from(*index).ok() != Some(blocks.len()) {
                    return Err(format!("block {index} starts, expected block {}", blocks.len()));
                }
                check_start(content_block)?;
                blocks.push(block_type(content_block));
                open = Some((*index, content_block));
            }
            (StreamEvent::ContentBlockStart { index, .. }, Some((open_index, _))) => {
                return Err(format!("block {index} starts while block {open_index} is open"));
            }
            (StreamEvent::ContentBlockDelta { index, delta }, Some((open_index, block))) => {
                if *index != open_index {
                    return Err(format!("delta for block {index} while block {open_index} is open"));
                }
                if !delta_fits(block, delta) {
                    return Err(format!("{delta:?} does not fit a {block:?} block"));
                }
            }
            (StreamEvent::ContentBlockStop { index }, Some((open_index, _))) => {
                if *index != open_index {
                    return Err(format!("stop for block {index} while block {open_index} is open"));
                }
                open = None;
            }
            (event, open) => {
                return Err(format!("unexpected {event:?} (open block: {:?})", open.map(|(index, _)| index)));
            }
        }
    }
    match open {
        Some((index, _)) => Err(format!("block {index} is never stopped")),
        None => Ok(blocks),
    }
}

/// A block opens empty: deltas carry its content.
fn check_start(block: &ContentBlock) -> Result<(), String> {
    let empty = match block {
        ContentBlock::Text { text, citations } => text.is_empty() && citations.is_none(),
        ContentBlock::Thinking { thinking, signature } => thinking.is_empty() && signature.is_empty(),
        ContentBlock::ToolUse { input, .. } | ContentBlock::ServerToolUse { input, .. } => {
            input.as_object().is_some_and(|object| object.is_empty())
        }
        ContentBlock::RedactedThinking { .. } | ContentBlock::WebSearchToolResult { .. } => true,
    };
    if empty {
        Ok(())
    } else {
        Err(format!("content_block_start carries content: {block:?}"))
    }
}

fn delta_fits(block: &ContentBlock, delta: &Delta) -> bool {
    matches!(
        (block, delta),
        (ContentBlock::Text { .. }, Delta::TextDelta { .. } | Delta::CitationsDelta { .. })
            | (ContentBlock::Thinking { .. }, Delta::ThinkingDelta { .. } | Delta::SignatureDelta { .. })
            | (ContentBlock::ToolUse { .. } | ContentBlock::ServerToolUse { .. }, Delta::InputJsonDelta { .. })
    )
}

fn check_stop_reason(reason: StopReason, blocks: &[&str]) -> Result<(), String> {
    let used_tools = blocks.contains(&"tool_use");
    match reason {
        StopReason::MaxTokens | StopReason::Refusal => Ok(()),
        StopReason::ToolUse if used_tools => Ok(()),
        StopReason::ToolUse => Err("stop_reason is tool_use but no tool_use block was sent".into()),
        _ if used_tools => Err(format!("a tool_use block was sent but stop_reason is {reason:?}")),
        _ => Ok(()),
    }
}

/// The wire `type` of a block.
fn block_type(block: &ContentBlock) -> &'static str {
    match block {
        ContentBlock::Text { .. } => "text",
        ContentBlock::Thinking { .. } => "thinking",
        ContentBlock::RedactedThinking { .. } => "redacted_thinking",
        ContentBlock::ToolUse { .. } => "tool_use",
        ContentBlock::ServerToolUse { .. } => "server_tool_use",
        ContentBlock::WebSearchToolResult { .. } => "web_search_tool_result",
    }
}
