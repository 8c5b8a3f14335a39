//! Anthropic Messages request → Codex Responses request.
//!
//! [`translate_request`] is the whole job; the helpers below each own one
//! piece of it (system prompt, messages, tools, tool choice, effort). It is
//! pure: the same request and settings always give the same output.
//!
//! What is deliberately *not* forwarded: `max_tokens`, `temperature`, `top_p`,
//! `top_k`, `stop_sequences` and `metadata` (the backend rejects most of
//! them, and the Codex request type has no field for any of them).

use std::collections::HashSet;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::anthropic::request::{
    ContentBlock, DocumentBlock, DocumentSource, ImageSource, InputMessage, MessageContent, MessagesRequest,
    OutputFormat, Role, System, Thinking, ThinkingBlock, Tool as AnthropicTool, ToolChoice as AnthropicToolChoice,
    ToolChoiceKind, ToolResultBlock, WebSearchTool,
};
use crate::anthropic::ApiError;
use crate::codex::request::{
    ContentPart, Effort, FunctionOutput, InputItem, MessageRole, Phase, Reasoning, ResponsesRequest, SummaryText,
    TextControls, TextFormat, Tool, ToolChoice, WebSearchFilters,
};
use crate::config::Settings;
use crate::translate::{model, names, schema};

/// Instructions sent when the client gave no system prompt: the backend
/// refuses a missing or empty `instructions`.
pub const DEFAULT_INSTRUCTIONS: &str = "You are a helpful assistant.";

use super::SIGNATURE_PREFIX;

/// Output given to a tool call that has no result anywhere later in the history.
pub const INTERRUPTED_TOOL_OUTPUT: &str = "Tool call was interrupted before it returned a result.";

/// `include` entry that makes the backend return replayable reasoning.
pub const INCLUDE_ENCRYPTED_REASONING: &str = "reasoning.encrypted_content";

/// `reasoning.summary` we ask for, so thinking can be streamed back (not
/// with `thinking.display: "omitted"`, which wants no thinking text).
pub const REASONING_SUMMARY: &str = "auto";

/// The first line Claude Code puts in its system prompt:
/// `x-anthropic-billing-header: cc_version=…; cc_entrypoint=…;`. It differs
/// between sessions and is Anthropic billing metadata: never sent upstream.
pub const BILLING_HEADER_PREFIX: &str = "x-anthropic-billing-header:";

/// The tool Claude Code offers only to keep deferred loading on ("never
/// call this tool"); never sent upstream.
pub const DEFERRED_TOOL_PLACEHOLDER: &str = "DeferredToolPlaceholder";

/// `text.format.name` for structured output: Anthropic's format has no
/// name, the Responses API requires one.
pub const OUTPUT_FORMAT_NAME: &str = "output";

/// A request that is valid JSON but cannot be expressed for the Codex backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    #[error("{at}.source: image source type {kind:?} is not supported; send the image as a base64 or url source")]
    UnsupportedImageSource { at: String, kind: String },
    #[error(
        "{at}.source: document source type {kind:?} is not supported; send the document as a text, content, url or base64 source"
    )]
    UnsupportedDocumentSource { at: String, kind: String },
    #[error("tool_choice: type \"tool\" needs the `name` of the tool to call")]
    ToolChoiceWithoutName,
}

/// Where a block sits in the request (`messages.3.content.0`), for error
/// messages: a chain of borrowed steps, written out only when an error
/// names it, so that translating a valid request builds no path strings.
#[derive(Clone, Copy)]
enum At<'a> {
    Root(&'static str),
    Index(&'a At<'a>, usize),
    Field(&'a At<'a>, &'static str),
}

impl<'a> At<'a> {
    fn index(&'a self, index: usize) -> At<'a> {
        At::Index(self, index)
    }

    fn field(&'a self, name: &'static str) -> At<'a> {
        At::Field(self, name)
    }
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root(name) => f.write_str(name),
            At::Index(parent, index) => write!(f, "{parent}.{index}"),
            At::Field(parent, name) => write!(f, "{parent}.{name}"),
        }
    }
}

impl From<TranslateError> for ApiError {
    fn from(error: TranslateError) -> Self {
        ApiError::invalid_request(error.to_string())
    }
}

/// Translates a Messages request into the Responses request sent upstream.
///
/// - `system` → `instructions` (blocks joined with a blank line, `cache_control`
///   dropped, Claude Code's billing-header line stripped; [`DEFAULT_INSTRUCTIONS`]
///   when empty).
/// - `messages` → `input` items in order (per block type: see `translate_message`;
///   `system` turns become `developer` messages in place), then
///   [`repair_history`] so every call has exactly the output the backend wants.
/// - `tools` → function tools with [`schema::normalize`]d parameters and
///   `strict: false`; a `web_search_*` server tool → `{"type":"web_search"}`;
///   other typed tools are dropped. Deferred tools (`defer_loading: true`) are
///   sent only once a `tool_reference` in the conversation loaded them, after
///   the others, in the order they were loaded; [`DEFERRED_TOOL_PLACEHOLDER`]
///   never. So a later turn's tools begin with an earlier turn's, and the
///   backend's prompt cache keeps hitting.
/// - `output_config.format` (else `output_format`) of type `json_schema` →
///   `text.format` (see [`text_format`]).
/// - `thinking.display: "omitted"` → no `reasoning.summary`: the thinking
///   blocks then carry only their signature.
/// - Tool names the backend would refuse (longer than 64 characters, or with
///   characters outside `[a-zA-Z0-9_-]`) are shortened by
///   [`names::codex_tool_name`], the same way in tool definitions, in
///   `function_call`s of the history and in `tool_choice`;
///   [`names::tool_name_map`] undoes it on the way back.
/// - `tool_choice`: auto → `"auto"`, any → `"required"`, none → `"none"`,
///   tool → `{"type":"function","name":…}`, absent → `"auto"`;
///   `parallel_tool_calls` is `!disable_parallel_tool_use`.
/// - model and effort: see [`model::route`] and [`reasoning_effort`].
/// - always `store: false`, `stream: true`, `include:
///   ["reasoning.encrypted_content"]`, and `prompt_cache_key` =
///   [`conversation_key`]. `text.verbosity` is left to the Codex boundary
///   (`codex::catalogue`), which knows the model's default.
pub fn translate_request(request: &MessagesRequest, settings: &Settings) -> Result<ResponsesRequest, TranslateError> {
    let route = model::route(&request.model, settings);
    let effort = reasoning_effort(&route, request);
    let input = repair_history(translate_messages(&request.messages)?);
    let tools = request.tools.as_deref().unwrap_or_default();
    let omit_thinking = request.thinking.as_ref().is_some_and(Thinking::omits_text);
    Ok(ResponsesRequest {
        model: route.model,
        instructions: instructions(request.system.as_ref()),
        input,
        tools: translate_tools(tools, &loaded_tools(request)),
        tool_choice: translate_tool_choice(request.tool_choice.as_ref(), tools)?,
        parallel_tool_calls: !request.tool_choice.as_ref().and_then(|c| c.disable_parallel_tool_use).unwrap_or(false),
        reasoning: Some(Reasoning {
            effort,
            summary: (!omit_thinking).then(|| REASONING_SUMMARY.to_owned()),
            context: None,
        }),
        store: false,
        stream: true,
        include: vec![INCLUDE_ENCRYPTED_REASONING.to_owned()],
        prompt_cache_key: Some(conversation_key(request)),
        // Verbosity is the model's own default, or the setting, set at the
        // Codex boundary (`codex::catalogue`); only a format is set here.
        text: text_format(request).map(|format| TextControls { verbosity: None, format: Some(format) }),
    })
}

/// The structured output format, if the client asked for one:
/// `output_config.format`, else the older `output_format`, as
/// `{"type":"json_schema","name":"output","schema":…,"strict":…}`.
///
/// The schema is [`schema::normalize`]d like a tool's (an object at the
/// top, no `$schema`, …). `strict` is true when the schema meets the
/// backend's strict rules (see [`schema::is_strict`]), so the answer is
/// guaranteed to match it as Anthropic guarantees; otherwise the schema
/// only guides the model.
pub fn text_format(request: &MessagesRequest) -> Option<TextFormat> {
    let format =
        request.output_config.as_ref().and_then(|config| config.format.as_ref()).or(request.output_format.as_ref())?;
    let OutputFormat::JsonSchema { schema: raw } = format;
    let schema = schema::normalize(raw);
    Some(TextFormat::JsonSchema { name: OUTPUT_FORMAT_NAME.to_owned(), strict: schema::is_strict(&schema), schema })
}

/// The system prompt's text without Claude Code's billing-header line, or
/// [`DEFAULT_INSTRUCTIONS`] when there is none or it is blank.
fn instructions(system: Option<&System>) -> String {
    let Some(system) = system else {
        return DEFAULT_INSTRUCTIONS.to_owned();
    };
    let text = match system {
        System::Text(text) => without_billing_line(text).to_owned(),
        System::Blocks(blocks) => blocks
            .iter()
            .enumerate()
            .map(|(index, block)| if index == 0 { without_billing_line(&block.text) } else { block.text.as_str() })
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n"),
    };
    if text.trim().is_empty() {
        DEFAULT_INSTRUCTIONS.to_owned()
    } else {
        text
    }
}

/// `text` without a leading [`BILLING_HEADER_PREFIX`] line (and the blank
/// lines after it).
fn without_billing_line(text: &str) -> &str {
    if !text.starts_with(BILLING_HEADER_PREFIX) {
        return text;
    }
    match text.split_once('\n') {
        Some((_, rest)) => rest.trim_start_matches(['\r', '\n']),
        None => "",
    }
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

fn translate_messages(messages: &[InputMessage]) -> Result<Vec<InputItem>, TranslateError> {
    let mut items = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        items.extend(translate_message(message, At::Root("messages").index(index).field("content"))?);
    }
    Ok(items)
}

/// Translates one message into input items. `at` is its content's JSON path,
/// used in error messages.
///
/// - Text → `input_text` (user) or `output_text` (assistant) parts; runs of
///   text and image parts stay together in one `message` item.
/// - Images (user): base64 → `data:{media_type};base64,{data}`; url → the URL.
/// - Documents (user): see [`document_text`].
/// - `tool_use` → `function_call` with the input serialised as a JSON string.
/// - `tool_result` → `function_call_output` (see [`tool_output`]). In a user
///   message these come first, before the message's other content, because
///   they answer the calls the assistant made just before.
/// - `thinking` signed by codexd → a `reasoning` item in place (see
///   [`replayed_reasoning`]); other thinking is dropped.
/// - A `system` turn → one `developer` message in place: its text (a string
///   or text blocks, `cache_control` dropped; other blocks are dropped).
/// - Dropped: `redacted_thinking` (Anthropic's, unreadable upstream),
///   `server_tool_use` and `web_search_tool_result` (the hosted search is not
///   replayed yet), images and documents in assistant messages (the Responses
///   API has no assistant image part), and block types codexd does not translate.
fn translate_message(message: &InputMessage, at: At<'_>) -> Result<Vec<InputItem>, TranslateError> {
    let mut items = MessageItems::new(message.role);
    if message.role == Role::System {
        match &message.content {
            MessageContent::Text(text) => items.push_text(text),
            MessageContent::Blocks(blocks) => blocks.iter().for_each(|block| {
                if let ContentBlock::Text(block) = block {
                    items.push_text(&block.text);
                }
            }),
        }
        return Ok(items.finish());
    }
    let blocks = match &message.content {
        MessageContent::Text(text) => {
            items.push_text(text);
            return Ok(items.finish());
        }
        MessageContent::Blocks(blocks) => blocks,
    };
    for (index, block) in blocks.iter().enumerate() {
        let at = at.index(index);
        match block {
            ContentBlock::Text(block) => items.push_text(&block.text),
            ContentBlock::Image(block) if message.role == Role::User => {
                items.push_part(image_part(&block.source, at)?);
            }
            ContentBlock::Document(block) if message.role == Role::User => {
                items.push_part(ContentPart::InputText { text: document_text(block, at)? });
            }
            ContentBlock::ToolUse(block) => items.push_item(InputItem::FunctionCall {
                call_id: block.id.clone(),
                name: names::codex_tool_name(&block.name).into_owned(),
                arguments: json_text(&block.input),
            }),
            ContentBlock::ToolResult(block) => items.push_tool_output(InputItem::FunctionCallOutput {
                call_id: block.tool_use_id.clone(),
                output: tool_output(block, at)?,
            }),
            ContentBlock::Thinking(block) => {
                if let Some(item) = replayed_reasoning(block) {
                    items.push_item(item);
                }
            }
            ContentBlock::Image(_)
            | ContentBlock::Document(_)
            | ContentBlock::RedactedThinking(_)
            | ContentBlock::ServerToolUse(_)
            | ContentBlock::WebSearchToolResult(_)
            | ContentBlock::ToolReference(_)
            | ContentBlock::Unknown(_) => {}
        }
    }
    Ok(items.finish())
}

/// A JSON value as compact text (a tool call's `arguments`). Straight into a
/// byte buffer: `Value`'s `Display` goes through the formatter and checks
/// every piece it writes for UTF-8.
fn json_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// Collects the items of one message: tool outputs (user messages only) ahead
/// of the body, and consecutive text/image parts merged into one `message`.
struct MessageItems {
    role: Role,
    tool_outputs: Vec<InputItem>,
    body: Vec<InputItem>,
}

impl MessageItems {
    fn new(role: Role) -> Self {
        MessageItems { role, tool_outputs: Vec::new(), body: Vec::new() }
    }

    /// Adds text as the role's text part; empty text adds nothing.
    fn push_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let text = text.to_owned();
        self.push_part(match self.role {
            Role::User | Role::System => ContentPart::InputText { text },
            Role::Assistant => ContentPart::OutputText { text },
        });
    }

    /// Appends a part to the open message item, or opens one.
    fn push_part(&mut self, part: ContentPart) {
        if let Some(InputItem::Message { content, .. }) = self.body.last_mut() {
            content.push(part);
            return;
        }
        let role = match self.role {
            Role::User => MessageRole::User,
            Role::Assistant => MessageRole::Assistant,
            Role::System => MessageRole::Developer,
        };
        self.body.push(InputItem::Message { role, content: vec![part], phase: None });
    }

    /// Appends an item in order, closing the open message item.
    fn push_item(&mut self, item: InputItem) {
        self.body.push(item);
    }

    /// Tool outputs lead a user message; elsewhere they stay in order.
    fn push_tool_output(&mut self, item: InputItem) {
        match self.role {
            Role::User => self.tool_outputs.push(item),
            Role::Assistant | Role::System => self.body.push(item),
        }
    }

    fn finish(mut self) -> Vec<InputItem> {
        if self.role == Role::Assistant {
            mark_phases(&mut self.body);
        }
        let mut items = self.tool_outputs;
        items.extend(self.body);
        items
    }
}

/// The `phase` of an assistant turn's text, which Anthropic messages do not
/// keep: text followed by a tool call in the same message was commentary
/// (the turn went on), the rest is the final answer. That is how the
/// backend itself marks the items it produced.
fn mark_phases(body: &mut [InputItem]) {
    let mut call_follows = false;
    for item in body.iter_mut().rev() {
        match item {
            InputItem::FunctionCall { .. } => call_follows = true,
            InputItem::Message { phase, .. } => {
                *phase = Some(if call_follows { Phase::Commentary } else { Phase::FinalAnswer });
            }
            _ => {}
        }
    }
}

fn image_part(source: &ImageSource, at: At<'_>) -> Result<ContentPart, TranslateError> {
    let image_url = match source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url { url } => url.clone(),
        ImageSource::Other(raw) => {
            return Err(TranslateError::UnsupportedImageSource { at: at.to_string(), kind: source_kind(raw) });
        }
    };
    Ok(ContentPart::InputImage { image_url, detail: None })
}

/// A document as text for the model.
///
/// Text and content sources become their text, headed by the title and
/// context when present. The Codex backend takes no file inputs for ChatGPT
/// accounts, so a base64 source (a PDF) or a URL source becomes a bracketed
/// placeholder that names the document, telling the model it was omitted.
fn document_text(document: &DocumentBlock, at: At<'_>) -> Result<String, TranslateError> {
    let body = match &document.source {
        DocumentSource::Text { data, .. } => data.clone(),
        DocumentSource::Content { content } => content.text(),
        DocumentSource::Base64 { media_type, .. } => {
            let name = document.title.as_deref().unwrap_or("untitled");
            return Ok(format!(
                "[Document omitted: \"{name}\" ({media_type}). codexd cannot forward binary documents to the Codex backend.]"
            ));
        }
        DocumentSource::Url { url } => {
            let name = document.title.as_deref().unwrap_or("untitled");
            return Ok(format!(
                "[Document omitted: \"{name}\" at {url}. codexd cannot forward documents by URL to the Codex backend.]"
            ));
        }
        DocumentSource::Other(raw) => {
            return Err(TranslateError::UnsupportedDocumentSource { at: at.to_string(), kind: source_kind(raw) });
        }
    };
    let mut text = String::new();
    if let Some(title) = &document.title {
        text.push_str(&format!("Document: {title}\n"));
    }
    if let Some(context) = &document.context {
        text.push_str(&format!("Context: {context}\n"));
    }
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&body);
    Ok(text)
}

fn source_kind(raw: &serde_json::Value) -> String {
    raw.get("type").and_then(serde_json::Value::as_str).unwrap_or("(none)").to_owned()
}

/// A tool result as `function_call_output.output`.
///
/// Text-only results become one string (blocks joined with a blank line);
/// results with images become a list of `input_text`/`input_image` parts.
/// `is_error: true` prefixes the text with `"Error: "` (or is the text
/// `"Error"` when there is none), since the Responses API has no error flag.
fn tool_output(result: &ToolResultBlock, at: At<'_>) -> Result<FunctionOutput, TranslateError> {
    let mut parts = match &result.content {
        None => Vec::new(),
        Some(MessageContent::Text(text)) => vec![ContentPart::InputText { text: text.clone() }],
        Some(MessageContent::Blocks(blocks)) => tool_result_parts(blocks, at.field("content"))?,
    };
    if result.is_error == Some(true) {
        mark_error(&mut parts);
    }
    if parts.iter().any(|part| matches!(part, ContentPart::InputImage { .. })) {
        return Ok(FunctionOutput::Parts(parts));
    }
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|part| match part {
            ContentPart::InputText { text } | ContentPart::OutputText { text } => Some(text.as_str()),
            ContentPart::InputImage { .. } => None,
        })
        .collect();
    Ok(FunctionOutput::Text(texts.join("\n\n")))
}

/// Text, image and document blocks of a tool result, and `tool_reference`s
/// as a sentence naming the loaded tool (see [`tool_reference_text`]);
/// other blocks are dropped.
fn tool_result_parts(blocks: &[ContentBlock], at: At<'_>) -> Result<Vec<ContentPart>, TranslateError> {
    let mut parts = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        let at = at.index(index);
        match block {
            ContentBlock::Text(block) => parts.push(ContentPart::InputText { text: block.text.clone() }),
            ContentBlock::ToolReference(block) => {
                parts.push(ContentPart::InputText { text: tool_reference_text(&block.tool_name) });
            }
            ContentBlock::Image(block) => parts.push(image_part(&block.source, at)?),
            ContentBlock::Document(block) => parts.push(ContentPart::InputText { text: document_text(block, at)? }),
            _ => {}
        }
    }
    Ok(parts)
}

/// What a `tool_reference` tells the model: the tool, by the name it has
/// upstream, is now available.
pub fn tool_reference_text(tool_name: &str) -> String {
    format!("Tool loaded: {} is now available to call.", names::codex_tool_name(tool_name))
}

fn mark_error(parts: &mut Vec<ContentPart>) {
    match parts.first_mut() {
        Some(ContentPart::InputText { text }) if !text.is_empty() => *text = format!("Error: {text}"),
        Some(ContentPart::InputText { text }) => *text = "Error".to_owned(),
        _ => parts.insert(0, ContentPart::InputText { text: "Error".to_owned() }),
    }
}

/// A `reasoning` item for a thinking block codexd signed, else `None`.
///
/// The signature after [`SIGNATURE_PREFIX`] is the encrypted content; the
/// thinking text becomes the one summary part. The item never has an `id`.
fn replayed_reasoning(block: &ThinkingBlock) -> Option<InputItem> {
    let encrypted = block.signature.strip_prefix(SIGNATURE_PREFIX).filter(|rest| !rest.is_empty())?;
    let summary =
        if block.thinking.is_empty() { Vec::new() } else { vec![SummaryText { text: block.thinking.clone() }] };
    Some(InputItem::Reasoning { summary, encrypted_content: Some(encrypted.to_owned()) })
}

// ---------------------------------------------------------------------------
// History repair
// ---------------------------------------------------------------------------

/// Makes calls and outputs pair up, as the backend demands.
///
/// - A `function_call_output` whose `call_id` has no earlier `function_call`
///   becomes a user message: `"Result of tool call {id}: {output}"` (with any
///   image parts kept after the text).
/// - A `function_call` with no `function_call_output` later on gets one right
///   after it, with [`INTERRUPTED_TOOL_OUTPUT`].
///
/// Everything else keeps its order, so the result is deterministic.
pub fn repair_history(items: Vec<InputItem>) -> Vec<InputItem> {
    let items = demote_orphan_outputs(items);
    let unanswered = unanswered_calls(&items);
    if unanswered.is_empty() {
        return items;
    }
    let mut repaired = Vec::with_capacity(items.len() + unanswered.len());
    for (index, item) in items.into_iter().enumerate() {
        let interrupted = match &item {
            InputItem::FunctionCall { call_id, .. } if unanswered.contains(&index) => Some(call_id.clone()),
            _ => None,
        };
        repaired.push(item);
        if let Some(call_id) = interrupted {
            repaired.push(InputItem::FunctionCallOutput {
                call_id,
                output: FunctionOutput::Text(INTERRUPTED_TOOL_OUTPUT.to_owned()),
            });
        }
    }
    repaired
}

fn demote_orphan_outputs(items: Vec<InputItem>) -> Vec<InputItem> {
    let mut calls_seen: HashSet<&str> = HashSet::new();
    let mut orphans = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match item {
            InputItem::FunctionCall { call_id, .. } => {
                calls_seen.insert(call_id);
            }
            InputItem::FunctionCallOutput { call_id, output } if !calls_seen.contains(call_id.as_str()) => {
                orphans.push((index, orphan_result_message(call_id, output.clone())));
            }
            _ => {}
        }
    }
    let mut items = items;
    for (index, message) in orphans {
        items[index] = message;
    }
    items
}

/// Indices of function calls with no output after them.
fn unanswered_calls(items: &[InputItem]) -> HashSet<usize> {
    let mut outputs_after: HashSet<&str> = HashSet::new();
    let mut unanswered = HashSet::new();
    for (index, item) in items.iter().enumerate().rev() {
        match item {
            InputItem::FunctionCallOutput { call_id, .. } => {
                outputs_after.insert(call_id);
            }
            InputItem::FunctionCall { call_id, .. } if !outputs_after.contains(call_id.as_str()) => {
                unanswered.insert(index);
            }
            _ => {}
        }
    }
    unanswered
}

fn orphan_result_message(call_id: &str, output: FunctionOutput) -> InputItem {
    let intro = format!("Result of tool call {call_id}:");
    let content = match output {
        FunctionOutput::Text(text) => vec![ContentPart::InputText { text: format!("{intro} {text}") }],
        FunctionOutput::Parts(parts) => std::iter::once(ContentPart::InputText { text: intro }).chain(parts).collect(),
    };
    InputItem::Message { role: MessageRole::User, content, phase: None }
}

// ---------------------------------------------------------------------------
// Tools, tool choice, effort
// ---------------------------------------------------------------------------

/// The tools to send: the client's tools that are not deferred, in its
/// order, then the deferred ones `loaded` names, in `loaded`'s order.
fn translate_tools(tools: &[AnthropicTool], loaded: &[&str]) -> Vec<Tool> {
    let deferred = |tool: &AnthropicTool| match tool {
        AnthropicTool::Custom(tool) => tool.defer_loading == Some(true) || tool.name == DEFERRED_TOOL_PLACEHOLDER,
        AnthropicTool::WebSearch(_) | AnthropicTool::Unknown { .. } => false,
    };
    let custom_named = |name: &str| {
        tools.iter().find(|tool| {
            matches!(tool, AnthropicTool::Custom(t) if t.name == name && t.name != DEFERRED_TOOL_PLACEHOLDER)
                && deferred(tool)
        })
    };
    let up_front = tools.iter().filter(|tool| !deferred(tool));
    let loaded = loaded.iter().filter_map(|name| custom_named(name));
    up_front.chain(loaded).filter_map(translate_tool).collect()
}

/// Names of the tools the conversation loaded, each once, in the order of
/// their first `tool_reference` (inside a `tool_result`), then the tool
/// `tool_choice` names, which must be offered to be chosen.
fn loaded_tools(request: &MessagesRequest) -> Vec<&str> {
    let mut loaded: Vec<&str> = Vec::new();
    for message in &request.messages {
        let MessageContent::Blocks(blocks) = &message.content else { continue };
        for block in blocks {
            let ContentBlock::ToolResult(ToolResultBlock { content: Some(MessageContent::Blocks(inner)), .. }) = block
            else {
                continue;
            };
            for inner in inner {
                if let ContentBlock::ToolReference(reference) = inner {
                    if !loaded.contains(&reference.tool_name.as_str()) {
                        loaded.push(&reference.tool_name);
                    }
                }
            }
        }
    }
    if let Some(name) = request.tool_choice.as_ref().and_then(|choice| choice.name.as_deref()) {
        if !loaded.contains(&name) {
            loaded.push(name);
        }
    }
    loaded
}

fn translate_tool(tool: &AnthropicTool) -> Option<Tool> {
    match tool {
        AnthropicTool::Custom(tool) => Some(Tool::Function {
            name: names::codex_tool_name(&tool.name).into_owned(),
            description: tool.description.clone().unwrap_or_default(),
            strict: false,
            parameters: schema::tool_parameters(&tool.input_schema),
        }),
        AnthropicTool::WebSearch(tool) => Some(Tool::WebSearch { filters: web_search_filters(tool) }),
        AnthropicTool::Unknown { .. } => None,
    }
}

/// `allowed_domains` → `filters.allowed_domains`. `blocked_domains` and
/// `max_uses` have no Responses API equivalent and are dropped.
fn web_search_filters(tool: &WebSearchTool) -> Option<WebSearchFilters> {
    let allowed = tool.allowed_domains.clone().unwrap_or_default();
    (!allowed.is_empty()).then_some(WebSearchFilters { allowed_domains: allowed })
}

/// Claude Code's WebSearch names the hosted `web_search` tool in
/// `tool_choice`; a `{"type":"function"}` choice for it is refused upstream
/// ("Tool choice 'function' not found in 'tools' parameter"), so a forced
/// server tool becomes `required`.
fn translate_tool_choice(
    choice: Option<&AnthropicToolChoice>,
    tools: &[AnthropicTool],
) -> Result<ToolChoice, TranslateError> {
    let Some(choice) = choice else {
        return Ok(ToolChoice::Auto);
    };
    let is_server_tool =
        |name: &str| tools.iter().any(|tool| matches!(tool, AnthropicTool::WebSearch(t) if t.name == name));
    Ok(match choice.kind {
        ToolChoiceKind::Auto => ToolChoice::Auto,
        ToolChoiceKind::Any => ToolChoice::Required,
        ToolChoiceKind::None => ToolChoice::None,
        ToolChoiceKind::Tool => match choice.name.as_deref().filter(|name| !name.is_empty()) {
            Some(name) if is_server_tool(name) => ToolChoice::Required,
            Some(name) => ToolChoice::Function { name: names::codex_tool_name(name).into_owned() },
            None => return Err(TranslateError::ToolChoiceWithoutName),
        },
    })
}

/// The `reasoning.effort` to send; the first rule that gives one wins:
///
/// | source | value | effort |
/// |---|---|---|
/// | a suffix on a model name the client sent as is (passthrough) | `-low` … `-max`, `-ultra` | that effort |
/// | a suffix pinned in the model map (`"gpt-6-sol-xhigh!"`) | `-low` … `-max`, then `!` | that effort |
/// | `output_config.effort` | `low` / `medium` / `high` / `xhigh` / `max` | the same level |
/// | `output_config.effort` on the latest `system` turn that has one (per-turn control) | same | the same level |
/// | `thinking` | `enabled`, `budget_tokens` < 4000 | low |
/// | `thinking` | `enabled`, `budget_tokens` < 16000 | medium |
/// | `thinking` | `enabled`, larger budget | high |
/// | a suffix on the model map's name for a Claude model | `-low` … `-max` | that effort (the map's default) |
/// | none of these | | none: the model's default |
///
/// The effort the user chose in the client wins over the map's default; a
/// model name the user typed with a suffix is their choice too, and so is a
/// pin in the config. Claude Code sends the same effort at the top and on
/// its system turn; the top-level one is the request's current setting.
/// `output_config.effort` also takes the Codex names `none`, `minimal`,
/// and `ultra` (sent as `max`); the model's own levels are applied at the
/// Codex boundary (`codex::catalogue`), which raises `none` and `minimal`
/// to the lowest level the model takes. Unknown values are ignored.
pub fn reasoning_effort(route: &model::Route, request: &MessagesRequest) -> Option<Effort> {
    let from_output_config = || {
        let name = request.output_config.as_ref()?.effort.as_deref()?.to_ascii_lowercase();
        Effort::from_name(&name)
    };
    let from_system_turn = || {
        let name = request
            .messages
            .iter()
            .rev()
            .filter(|message| message.role == Role::System)
            .find_map(|message| message.output_config.as_ref()?.effort.as_deref())?;
        Effort::from_name(&name.to_ascii_lowercase())
    };
    let from_thinking = || match request.thinking.as_ref()? {
        Thinking::Enabled { budget_tokens, .. } if *budget_tokens < 4_000 => Some(Effort::Low),
        Thinking::Enabled { budget_tokens, .. } if *budget_tokens < 16_000 => Some(Effort::Medium),
        Thinking::Enabled { .. } => Some(Effort::High),
        Thinking::Disabled | Thinking::Adaptive { .. } | Thinking::Other => None,
    };
    let pinned = route.effort.filter(|_| route.pinned || route.effort_pinned);
    pinned.or_else(from_output_config).or_else(from_system_turn).or_else(from_thinking).or(route.effort)
}

// ---------------------------------------------------------------------------
// Conversation key
// ---------------------------------------------------------------------------

/// A stable id for the conversation a request belongs to, used as
/// `prompt_cache_key` and as the `session_id` header.
///
/// Claude Code's `metadata.user_id` carries the session
/// (`user_<hash>_account_<x>_session_<uuid>`, or a JSON object with a
/// `session_id`); that UUID is used when present. Otherwise the key is a
/// UUID-shaped digest (SHA-256) of the system prompt and the first user
/// message's text: the same for every turn of one conversation, different
/// across conversations.
pub fn conversation_key(request: &MessagesRequest) -> String {
    request
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.user_id.as_deref())
        .and_then(session_from_user_id)
        .unwrap_or_else(|| digest_key(request))
}

fn session_from_user_id(user_id: &str) -> Option<String> {
    const MARKER: &str = "session_";
    let from_marker = user_id.match_indices(MARKER).find_map(|(at, _)| {
        let start = at + MARKER.len();
        user_id.get(start..start + 36).and_then(parse_uuid)
    });
    from_marker.or_else(|| {
        let object: serde_json::Value = serde_json::from_str(user_id).ok()?;
        object.get("session_id")?.as_str().and_then(parse_uuid)
    })
}

fn parse_uuid(text: &str) -> Option<String> {
    uuid::Uuid::try_parse(text).ok().map(|id| id.hyphenated().to_string())
}

fn digest_key(request: &MessagesRequest) -> String {
    let system = request.system.as_ref().map(|system| system.text()).unwrap_or_default();
    let first_user = request
        .messages
        .iter()
        .find(|message| message.role == Role::User)
        .map(|message| message.content.text())
        .unwrap_or_default();
    let digest = Sha256::new().chain_update(system).chain_update([0u8]).chain_update(first_user).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anthropic::request::{parse_count_tokens_request, parse_messages_request};
    use crate::anthropic::ErrorKind;
    use serde_json::{json, Value};

    fn parse(body: &str) -> MessagesRequest {
        parse_count_tokens_request(body.as_bytes()).expect("fixture parses")
    }

    fn request(value: Value) -> MessagesRequest {
        parse(&value.to_string())
    }

    fn translate(value: Value) -> Result<ResponsesRequest, TranslateError> {
        translate_request(&request(value), &Settings::defaults())
    }

    /// The `input` items for these messages, as JSON.
    fn input_of(messages: Value) -> Value {
        let translated = translate(json!({"model":"claude-sonnet-4-5","messages":messages})).unwrap();
        serde_json::to_value(translated.input).unwrap()
    }

    fn snapshot_of(fixture: &str) -> Value {
        serde_json::to_value(translate_request(&parse(fixture), &Settings::defaults()).unwrap()).unwrap()
    }

    #[test]
    fn snapshot_simple_text() {
        insta::assert_json_snapshot!(snapshot_of(include_str!("../../tests/fixtures/requests/simple_text.json")));
    }

    #[test]
    fn snapshot_claude_code_large() {
        insta::assert_json_snapshot!(snapshot_of(include_str!("../../tests/fixtures/requests/claude_code_large.json")));
    }

    /// The two lanes carry the same translation: the Lite body's `input`
    /// ends with the normal body's `input`, its `additional_tools` are the
    /// normal `tools`, its developer message the `instructions`.
    #[test]
    fn both_lanes_carry_the_same_translation_of_every_fixture() {
        use crate::codex::lane::{encode, Lane};
        for fixture in [
            include_str!("../../tests/fixtures/requests/simple_text.json"),
            include_str!("../../tests/fixtures/requests/claude_code_large.json"),
            include_str!("../../tests/fixtures/requests/orphans.json"),
        ] {
            let request = translate_request(&parse(fixture), &Settings::defaults()).unwrap();
            let body = |lane| serde_json::from_slice::<Value>(&encode(&request, lane, 0).unwrap()).unwrap();
            let (normal, lite) = (body(Lane::Responses), body(Lane::Lite));
            let normal_input = normal["input"].as_array().unwrap();
            let lite_input = lite["input"].as_array().unwrap();
            let tools = normal["tools"].as_array().unwrap();
            let skip = if tools.is_empty() { 1 } else { 2 };
            if !tools.is_empty() {
                assert_eq!(lite_input[0]["tools"], normal["tools"]);
            }
            assert_eq!(lite_input[skip - 1]["content"][0]["text"], normal["instructions"]);
            assert_eq!(&lite_input[skip..], normal_input.as_slice());
            for same in ["model", "tool_choice", "store", "stream", "include", "prompt_cache_key"] {
                assert_eq!(lite[same], normal[same], "{same}");
            }
            assert_eq!(lite["reasoning"]["effort"], normal["reasoning"]["effort"]);
        }
    }

    /// Claude Code sends the same tools with every request, and their
    /// schemas are normalized once (`schema::tool_parameters`): the tools
    /// of a request whose schemas were seen before go upstream byte for
    /// byte as normalizing them anew gives.
    #[test]
    fn remembered_tool_schemas_go_upstream_as_fresh_ones() {
        for fixture in [
            include_str!("../../tests/fixtures/requests/claude_code_large.json"),
            include_str!("../../tests/fixtures/claude-code/cc-2.1.330-print-turn1.json"),
        ] {
            let whole: Value = serde_json::from_str(fixture).unwrap();
            let body = whole.get("body").cloned().unwrap_or(whole);
            let request = request(body);
            let fresh: Vec<Value> = request
                .tools
                .iter()
                .flatten()
                .filter_map(|tool| match tool {
                    AnthropicTool::Custom(tool) if tool.defer_loading != Some(true) => {
                        Some(schema::normalize(&tool.input_schema.to_value()))
                    }
                    _ => None,
                })
                .collect();
            assert!(!fresh.is_empty());
            for round in ["first", "remembered"] {
                let sent: Vec<Value> = translate_request(&request, &Settings::defaults())
                    .unwrap()
                    .tools
                    .iter()
                    .filter_map(|tool| match tool {
                        Tool::Function { parameters, .. } => Some(serde_json::from_str(parameters.get()).unwrap()),
                        Tool::WebSearch { .. } => None,
                    })
                    .collect();
                assert_eq!(sent, fresh, "{round}");
            }
        }
    }

    #[test]
    fn snapshot_orphan_repair() {
        insta::assert_json_snapshot!(snapshot_of(include_str!("../../tests/fixtures/requests/orphans.json")));
    }

    #[test]
    fn fixed_fields_and_dropped_parameters() {
        let out = serde_json::to_value(
            translate(json!({
                "model":"claude-sonnet-4-5","max_tokens":10,"temperature":0.2,"top_p":0.5,"top_k":3,
                "stop_sequences":["x"],"metadata":{"user_id":"u"},"messages":[{"role":"user","content":"hi"}]
            }))
            .unwrap(),
        )
        .unwrap();
        for dropped in
            ["max_tokens", "max_output_tokens", "temperature", "top_p", "top_k", "stop_sequences", "metadata"]
        {
            assert!(out.get(dropped).is_none(), "{dropped} must not be forwarded");
        }
        assert_eq!(out["store"], json!(false));
        assert_eq!(out["stream"], json!(true));
        assert_eq!(out["include"], json!(["reasoning.encrypted_content"]));
        assert!(out.get("text").is_none(), "verbosity is the model's, set at the Codex boundary");
        assert_eq!(out["reasoning"]["summary"], json!("auto"));
        assert_eq!(out["tool_choice"], json!("auto"));
        assert_eq!(out["parallel_tool_calls"], json!(true));
        assert_eq!(out["tools"], json!([]));
    }

    #[test]
    fn instructions_table() {
        let table = [
            (json!(null), DEFAULT_INSTRUCTIONS),
            (json!(""), DEFAULT_INSTRUCTIONS),
            (json!("  \n"), DEFAULT_INSTRUCTIONS),
            (json!([]), DEFAULT_INSTRUCTIONS),
            (json!("Be brief."), "Be brief."),
            (
                json!([{"type":"text","text":"One.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Two."}]),
                "One.\n\nTwo.",
            ),
        ];
        for (system, expected) in table {
            let out =
                translate(json!({"model":"m","system":system,"messages":[{"role":"user","content":"hi"}]})).unwrap();
            assert_eq!(out.instructions.as_str(), expected, "system {system}");
        }
    }

    #[test]
    fn message_layout_table() {
        let png = json!({"type":"base64","media_type":"image/png","data":"AAAA"});
        let table = [
            (
                "string content",
                json!([{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]),
                json!([
                    {"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]},
                    {"type":"message","role":"assistant","content":[{"type":"output_text","text":"hello"}],"phase":"final_answer"}
                ]),
            ),
            (
                "text and images share one message; empty text is skipped",
                json!([{"role":"user","content":[
                    {"type":"text","text":"look"},{"type":"text","text":""},{"type":"image","source":png},
                    {"type":"image","source":{"type":"url","url":"https://x/y.png"}}
                ]}]),
                json!([{"type":"message","role":"user","content":[
                    {"type":"input_text","text":"look"},
                    {"type":"input_image","image_url":"data:image/png;base64,AAAA"},
                    {"type":"input_image","image_url":"https://x/y.png"}
                ]}]),
            ),
            (
                "assistant blocks stay in order; a call splits the text",
                json!([{"role":"user","content":"go"},{"role":"assistant","content":[
                    {"type":"text","text":"a"},{"type":"text","text":"b"},
                    {"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}},
                    {"type":"text","text":"c"}
                ]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]),
                json!([
                    {"type":"message","role":"user","content":[{"type":"input_text","text":"go"}]},
                    {"type":"message","role":"assistant","content":[{"type":"output_text","text":"a"},{"type":"output_text","text":"b"}],"phase":"commentary"},
                    {"type":"function_call","call_id":"t1","name":"Bash","arguments":"{\"command\":\"ls\"}"},
                    {"type":"message","role":"assistant","content":[{"type":"output_text","text":"c"}],"phase":"final_answer"},
                    {"type":"function_call_output","call_id":"t1","output":"ok"}
                ]),
            ),
            (
                "tool results lead the user message",
                json!([{"role":"assistant","content":[
                    {"type":"tool_use","id":"t1","name":"A","input":{}},{"type":"tool_use","id":"t2","name":"B","input":{"x":[1,2]}}
                ]},{"role":"user","content":[
                    {"type":"text","text":"before"},
                    {"type":"tool_result","tool_use_id":"t1","content":"one"},
                    {"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"two"}]},
                    {"type":"text","text":"after"}
                ]}]),
                json!([
                    {"type":"function_call","call_id":"t1","name":"A","arguments":"{}"},
                    {"type":"function_call","call_id":"t2","name":"B","arguments":"{\"x\":[1,2]}"},
                    {"type":"function_call_output","call_id":"t1","output":"one"},
                    {"type":"function_call_output","call_id":"t2","output":"two"},
                    {"type":"message","role":"user","content":[{"type":"input_text","text":"before"},{"type":"input_text","text":"after"}]}
                ]),
            ),
            (
                "dropped blocks: foreign thinking, redacted, server tools, unknown, assistant images",
                json!([{"role":"user","content":"q"},{"role":"assistant","content":[
                    {"type":"thinking","thinking":"t","signature":"EqQBforeign"},
                    {"type":"thinking","thinking":"t","signature":SIGNATURE_PREFIX},
                    {"type":"redacted_thinking","data":"x"},
                    {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}},
                    {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]},
                    {"type":"image","source":png},
                    {"type":"container_upload","file_id":"f_1"},
                    {"type":"text","text":"answer"}
                ]}]),
                json!([
                    {"type":"message","role":"user","content":[{"type":"input_text","text":"q"}]},
                    {"type":"message","role":"assistant","content":[{"type":"output_text","text":"answer"}],"phase":"final_answer"}
                ]),
            ),
            (
                "codexd-signed thinking replays as reasoning, in place",
                json!([{"role":"user","content":"q"},{"role":"assistant","content":[
                    {"type":"text","text":"first"},
                    {"type":"thinking","thinking":"why","signature":format!("{SIGNATURE_PREFIX}gAAAenc")},
                    {"type":"thinking","thinking":"","signature":format!("{SIGNATURE_PREFIX}gAAAempty")},
                    {"type":"text","text":"then"}
                ]}]),
                json!([
                    {"type":"message","role":"user","content":[{"type":"input_text","text":"q"}]},
                    {"type":"message","role":"assistant","content":[{"type":"output_text","text":"first"}],"phase":"final_answer"},
                    {"type":"reasoning","summary":[{"type":"summary_text","text":"why"}],"encrypted_content":"gAAAenc"},
                    {"type":"reasoning","summary":[],"encrypted_content":"gAAAempty"},
                    {"type":"message","role":"assistant","content":[{"type":"output_text","text":"then"}],"phase":"final_answer"}
                ]),
            ),
            (
                "documents become text or a placeholder",
                json!([{"role":"user","content":[
                    {"type":"document","source":{"type":"text","media_type":"text/plain","data":"body"},"title":"T","context":"C"},
                    {"type":"document","source":{"type":"text","data":"plain"}},
                    {"type":"document","source":{"type":"content","content":[{"type":"text","text":"x"},{"type":"text","text":"y"}]}},
                    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"},"title":"spec.pdf"},
                    {"type":"document","source":{"type":"url","url":"https://x/a.pdf"}}
                ]}]),
                json!([{"type":"message","role":"user","content":[
                    {"type":"input_text","text":"Document: T\nContext: C\n\nbody"},
                    {"type":"input_text","text":"plain"},
                    {"type":"input_text","text":"x\n\ny"},
                    {"type":"input_text","text":"[Document omitted: \"spec.pdf\" (application/pdf). codexd cannot forward binary documents to the Codex backend.]"},
                    {"type":"input_text","text":"[Document omitted: \"untitled\" at https://x/a.pdf. codexd cannot forward documents by URL to the Codex backend.]"}
                ]}]),
            ),
        ];
        for (why, messages, expected) in table {
            assert_eq!(input_of(messages), expected, "{why}");
        }
    }

    #[test]
    fn tool_output_table() {
        let image = json!({"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}});
        let table = [
            ("string", json!({"content":"out"}), json!("out")),
            ("absent content", json!({}), json!("")),
            (
                "text blocks joined",
                json!({"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}),
                json!("a\n\nb"),
            ),
            ("error string", json!({"content":"boom","is_error":true}), json!("Error: boom")),
            ("error without content", json!({"is_error":true}), json!("Error")),
            ("error with empty text", json!({"content":"","is_error":true}), json!("Error")),
            ("not an error", json!({"content":"fine","is_error":false}), json!("fine")),
            (
                "image makes parts",
                json!({"content":[{"type":"text","text":"see"},image]}),
                json!([{"type":"input_text","text":"see"},{"type":"input_image","image_url":"data:image/jpeg;base64,/9j/"}]),
            ),
            (
                "error with only an image",
                json!({"content":[image],"is_error":true}),
                json!([{"type":"input_text","text":"Error"},{"type":"input_image","image_url":"data:image/jpeg;base64,/9j/"}]),
            ),
            (
                "unknown blocks in a result are dropped",
                json!({"content":[{"type":"search_result","x":1},{"type":"text","text":"kept"}]}),
                json!("kept"),
            ),
        ];
        for (why, fields, expected) in table {
            let mut result = json!({"type":"tool_result","tool_use_id":"t1"});
            result.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
            let input = input_of(json!([
                {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"n","input":{}}]},
                {"role":"user","content":[result]}
            ]));
            assert_eq!(input[1]["output"], expected, "{why}");
        }
    }

    #[test]
    fn history_repair_table() {
        let call = |id: &str| json!({"type":"tool_use","id":id,"name":"n","input":{}});
        let result = |id: &str| json!({"type":"tool_result","tool_use_id":id,"content":"r"});
        let fc = |id: &str| json!({"type":"function_call","call_id":id,"name":"n","arguments":"{}"});
        let out = |id: &str, text: &str| json!({"type":"function_call_output","call_id":id,"output":text});
        let table = [
            (
                "paired calls untouched",
                json!([{"role":"assistant","content":[call("a")]},{"role":"user","content":[result("a")]}]),
                json!([fc("a"), out("a", "r")]),
            ),
            (
                "call without result gets one right after it",
                json!([{"role":"assistant","content":[call("a"),call("b")]},{"role":"user","content":[result("b")]}]),
                json!([fc("a"), out("a", INTERRUPTED_TOOL_OUTPUT), fc("b"), out("b", "r")]),
            ),
            (
                "call at the very end",
                json!([{"role":"user","content":"go"},{"role":"assistant","content":[call("a")]}]),
                json!([
                    {"type":"message","role":"user","content":[{"type":"input_text","text":"go"}]},
                    fc("a"), out("a", INTERRUPTED_TOOL_OUTPUT)
                ]),
            ),
            (
                "result without call becomes user text",
                json!([{"role":"user","content":[result("ghost")]}]),
                json!([{"type":"message","role":"user","content":[{"type":"input_text","text":"Result of tool call ghost: r"}]}]),
            ),
            (
                "result before its call: demoted, and the call is interrupted",
                json!([{"role":"user","content":[result("a")]},{"role":"assistant","content":[call("a")]}]),
                json!([
                    {"type":"message","role":"user","content":[{"type":"input_text","text":"Result of tool call a: r"}]},
                    fc("a"), out("a", INTERRUPTED_TOOL_OUTPUT)
                ]),
            ),
        ];
        for (why, messages, expected) in table {
            assert_eq!(input_of(messages), expected, "{why}");
        }
    }

    #[test]
    fn orphan_result_with_image_keeps_parts() {
        let input = input_of(json!([{"role":"user","content":[{"type":"tool_result","tool_use_id":"x","content":[
            {"type":"image","source":{"type":"url","url":"https://x/i.png"}}
        ]}]}]));
        assert_eq!(
            input,
            json!([{"type":"message","role":"user","content":[
                {"type":"input_text","text":"Result of tool call x:"},
                {"type":"input_image","image_url":"https://x/i.png"}
            ]}])
        );
    }

    #[test]
    fn a_tool_schema_is_normalized_for_itself() {
        let tools = |request: &MessagesRequest| translate_request(request, &Settings::defaults()).unwrap().tools;
        let with_schema = |schema: Value| {
            request(json!({"model":"m","messages":[{"role":"user","content":"hi"}],
                "tools":[{"name":"T","input_schema":schema}]}))
        };
        let first = tools(&with_schema(json!({"$schema":"x","type":"object","properties":{"a":{"type":"string"}}})));
        let again = tools(&with_schema(json!({"$schema":"x","type":"object","properties":{"a":{"type":"string"}}})));
        assert_eq!(first, again);
        let other = with_schema(json!({"type":"object","properties":{"b":{"type":"integer"}}}));
        let Tool::Function { parameters, .. } = &tools(&other)[0] else { panic!("a function") };
        assert_eq!(parameters.to_value(), json!({"type":"object","properties":{"b":{"type":"integer"}}}));
        assert_ne!(tools(&other)[0], first[0]);
    }

    #[test]
    fn a_system_prompt_becomes_instructions() {
        let instructions = |system: Value| {
            let request = request(json!({"model":"m","system":system,"messages":[{"role":"user","content":"hi"}]}));
            translate_request(&request, &Settings::defaults()).unwrap().instructions
        };
        let blocks = json!([{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}},
                            {"type":"text","text":"Be \"brief\".\nAlways."}]);
        assert_eq!(instructions(blocks), "You are Claude Code.\n\nBe \"brief\".\nAlways.");
        assert_eq!(instructions(json!("Something else.")), "Something else.");
    }

    #[test]
    fn tools_table() {
        let out = translate(json!({"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[
            {"name":"Bash","description":"Run","input_schema":{"$schema":"x","type":"object","properties":{"c":{"type":"string"}}}},
            {"type":"custom","name":"NoDesc","input_schema":{"type":"object"}},
            {"name":"NoSchema","input_schema":null},
            {"type":"web_search_20250305","name":"web_search","max_uses":3},
            {"type":"web_search_20260101","name":"web_search","allowed_domains":["docs.rs"],"blocked_domains":["x.com"]},
            {"type":"bash_20250124","name":"bash"}
        ]}))
        .unwrap();
        assert_eq!(
            serde_json::to_value(out.tools).unwrap(),
            json!([
                {"type":"function","name":"Bash","description":"Run","strict":false,
                 "parameters":{"type":"object","properties":{"c":{"type":"string"}}}},
                {"type":"function","name":"NoDesc","description":"","strict":false,"parameters":{"type":"object","properties":{}}},
                {"type":"function","name":"NoSchema","description":"","strict":false,"parameters":{"type":"object","properties":{}}},
                {"type":"web_search"},
                {"type":"web_search","filters":{"allowed_domains":["docs.rs"]}}
            ])
        );
    }

    #[test]
    fn long_tool_names_are_shortened_everywhere() {
        let long = format!("mcp__a_rather_long_server_name__{}", "and_a_very_long_tool_name_".repeat(3));
        let dotted = "mcp__srv__tool.with.dots";
        let out = translate(json!({"model":"m",
        "tools":[{"name":long,"input_schema":{}},{"name":dotted,"input_schema":{}},{"name":"Bash","input_schema":{}}],
        "tool_choice":{"type":"tool","name":long},
        "messages":[
            {"role":"user","content":"go"},
            {"role":"assistant","content":[
                {"type":"tool_use","id":"t1","name":long,"input":{}},
                {"type":"tool_use","id":"t2","name":dotted,"input":{}},
                {"type":"tool_use","id":"t3","name":"Bash","input":{}}
            ]},
            {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"t1","content":"a"},
                {"type":"tool_result","tool_use_id":"t2","content":"b"},
                {"type":"tool_result","tool_use_id":"t3","content":"c"}
            ]}
        ]}))
        .unwrap();
        let short_long = names::codex_tool_name(&long).into_owned();
        let short_dotted = names::codex_tool_name(dotted).into_owned();
        assert!(long.len() > names::MAX_TOOL_NAME_LEN && short_long.len() <= names::MAX_TOOL_NAME_LEN);
        let tool_names: Vec<String> = out
            .tools
            .iter()
            .filter_map(|tool| match tool {
                Tool::Function { name, .. } => Some(name.clone()),
                Tool::WebSearch { .. } => None,
            })
            .collect();
        assert_eq!(tool_names, [short_long.as_str(), short_dotted.as_str(), "Bash"]);
        let called: Vec<&str> = out
            .input
            .iter()
            .filter_map(|item| match item {
                InputItem::FunctionCall { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(called, [short_long.as_str(), short_dotted.as_str(), "Bash"]);
        assert_eq!(out.tool_choice, ToolChoice::Function { name: short_long });
    }

    #[test]
    fn a_forced_web_search_is_a_required_tool_call_not_a_missing_function() {
        let out = translate(json!({"model":"m","messages":[{"role":"user","content":"news?"}],
            "tools":[{"type":"web_search_20250305","name":"web_search","max_uses":8}],
            "tool_choice":{"type":"tool","name":"web_search"}}))
        .unwrap();
        assert_eq!(out.tool_choice, ToolChoice::Required);
        assert!(matches!(out.tools[0], Tool::WebSearch { .. }));
    }

    #[test]
    fn tool_choice_table() {
        let table = [
            (json!(null), json!("auto"), true),
            (json!({"type":"auto"}), json!("auto"), true),
            (json!({"type":"any"}), json!("required"), true),
            (json!({"type":"none"}), json!("none"), true),
            (json!({"type":"tool","name":"Bash"}), json!({"type":"function","name":"Bash"}), true),
            (json!({"type":"auto","disable_parallel_tool_use":true}), json!("auto"), false),
            (json!({"type":"any","disable_parallel_tool_use":false}), json!("required"), true),
        ];
        for (choice, expected, parallel) in table {
            let out = translate(json!({"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":choice}))
                .unwrap();
            assert_eq!(serde_json::to_value(&out.tool_choice).unwrap(), expected, "{choice}");
            assert_eq!(out.parallel_tool_calls, parallel, "{choice}");
        }
    }

    #[test]
    fn effort_table() {
        use Effort::{High, Low, Max, Medium, Minimal};
        let table: [(&str, Value, Value, Option<Effort>); 18] = [
            // The map's default for sonnet is gpt-5.6-terra-medium.
            ("claude-sonnet-4-5", json!(null), json!(null), Some(Medium)),
            ("claude-sonnet-4-5", json!(null), json!({"type":"enabled","budget_tokens":1024}), Some(Low)),
            ("claude-sonnet-4-5", json!(null), json!({"type":"enabled","budget_tokens":3999}), Some(Low)),
            ("claude-sonnet-4-5", json!(null), json!({"type":"enabled","budget_tokens":4000}), Some(Medium)),
            ("claude-sonnet-4-5", json!(null), json!({"type":"enabled","budget_tokens":15999}), Some(Medium)),
            ("claude-sonnet-4-5", json!(null), json!({"type":"enabled","budget_tokens":16000}), Some(High)),
            ("claude-sonnet-4-5", json!(null), json!({"type":"disabled"}), Some(Medium)),
            ("claude-sonnet-4-5", json!(null), json!({"type":"adaptive"}), Some(Medium)),
            ("claude-sonnet-4-5", json!({"effort":"low"}), json!({"type":"enabled","budget_tokens":31999}), Some(Low)),
            ("claude-sonnet-4-5", json!({"effort":"max"}), json!(null), Some(Max)),
            ("claude-sonnet-4-5", json!({"effort":"ultra"}), json!(null), Some(Max)),
            ("m-without-suffix", json!(null), json!({"type":"adaptive"}), None),
            ("claude-sonnet-4-5", json!({"effort":"HIGH"}), json!(null), Some(High)),
            (
                "claude-sonnet-4-5",
                json!({"effort":"extreme"}),
                json!({"type":"enabled","budget_tokens":5000}),
                Some(Medium),
            ),
            // The user's choice wins over the map's default (opus maps to gpt-6-sol-high)…
            ("claude-opus-4-1", json!({"effort":"low"}), json!({"type":"enabled","budget_tokens":1024}), Some(Low)),
            ("claude-opus-4-1", json!(null), json!({"type":"enabled","budget_tokens":1024}), Some(Low)),
            ("claude-opus-4-1", json!(null), json!(null), Some(High)),
            // …and a suffix the user typed wins over everything.
            ("gpt-5.2-minimal", json!({"effort":"max"}), json!(null), Some(Minimal)),
        ];
        for (model, output_config, thinking, expected) in table {
            let out = translate(json!({"model":model,"messages":[{"role":"user","content":"hi"}],
                                       "output_config":output_config,"thinking":thinking}))
            .unwrap();
            let effort = out.reasoning.and_then(|r| r.effort);
            assert_eq!(effort, expected, "{model} {output_config} {thinking}");
        }
    }

    #[test]
    fn model_is_routed() {
        let out =
            translate(json!({"model":"claude-opus-4-1[1m]","messages":[{"role":"user","content":"hi"}]})).unwrap();
        assert_eq!(out.model, "gpt-6-sol");
        let out = translate(json!({"model":"gpt-5.2-high","messages":[{"role":"user","content":"hi"}]})).unwrap();
        assert_eq!(out.model, "gpt-5.2", "translation routes; whether the model still exists is the catalogue's call");
    }

    #[test]
    fn conversation_key_from_session() {
        let uuid = "0b7e7a3c-1f3e-4d6a-9c55-2f0e7c1d9a10";
        let table = [
            (format!("user_abc_account__session_{uuid}"), Some(uuid)),
            (format!("user_abc_account_acct-1_session_{}", uuid.to_uppercase()), Some(uuid)),
            (format!(r#"{{"device_id":"d","account_uuid":"","session_id":"{uuid}"}}"#), Some(uuid)),
            ("user_abc_account__session_not-a-uuid".to_string(), None),
            ("session_".to_string(), None),
            ("plain user id".to_string(), None),
        ];
        for (user_id, expected) in table {
            let req = request(
                json!({"model":"m","metadata":{"user_id":user_id},"messages":[{"role":"user","content":"hi"}]}),
            );
            let key = conversation_key(&req);
            match expected {
                Some(session) => assert_eq!(key, session, "{user_id}"),
                None => assert_eq!(
                    key,
                    conversation_key(&request(json!({"model":"m","messages":[{"role":"user","content":"hi"}]}))),
                    "{user_id}"
                ),
            }
        }
    }

    #[test]
    fn conversation_key_digest_is_stable_per_conversation() {
        let first = json!({"model":"m","system":"S","messages":[{"role":"user","content":"start"}]});
        let later = json!({"model":"m2","system":[{"type":"text","text":"S"}],"messages":[
            {"role":"user","content":[{"type":"text","text":"start"}]},
            {"role":"assistant","content":"reply"},
            {"role":"user","content":"more"}
        ]});
        let key = conversation_key(&request(first));
        assert_eq!(key, conversation_key(&request(later)), "same conversation, later turn");
        assert!(uuid::Uuid::try_parse(&key).is_ok(), "{key} is UUID-shaped");
        let others = [
            json!({"model":"m","system":"S","messages":[{"role":"user","content":"other start"}]}),
            json!({"model":"m","system":"T","messages":[{"role":"user","content":"start"}]}),
            json!({"model":"m","system":"Sstart","messages":[{"role":"user","content":""}]}),
        ];
        for other in others {
            assert_ne!(conversation_key(&request(other.clone())), key, "{other}");
        }
    }

    #[test]
    fn errors_table() {
        let table = [
            (
                json!({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[
                    {"type":"text","text":"x"},{"type":"image","source":{"type":"file","file_id":"f"}}]}]}),
                "messages.1.content.1.source: image source type \"file\" is not supported",
            ),
            (
                json!({"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":{}}]},
                    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[
                        {"type":"image","source":{"type":"file_ref"}}]}]}]}),
                "messages.1.content.0.content.0.source: image source type \"file_ref\" is not supported",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"file","file_id":"f"}}]}]}),
                "messages.0.content.0.source: document source type \"file\" is not supported",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":"a"}],"tool_choice":{"type":"tool"}}),
                "tool_choice: type \"tool\" needs the `name`",
            ),
        ];
        for (body, expected) in table {
            let error = translate(body.clone()).expect_err("translation should fail");
            let api: ApiError = error.into();
            assert_eq!(api.kind, ErrorKind::InvalidRequestError);
            assert_eq!(api.status, 400);
            assert!(api.message.starts_with(expected), "{body}\n gave {:?}", api.message);
        }
    }

    // -----------------------------------------------------------------------
    // Today's Claude Code (issue 14), over its real request bodies.
    // -----------------------------------------------------------------------

    const CC_TURN1: &str = include_str!("../../tests/fixtures/claude-code/cc-2.1.330-print-turn1.json");
    const CC_TURN2: &str = include_str!("../../tests/fixtures/claude-code/cc-2.1.330-print-turn2-tool_result.json");
    const CC_INTERACTIVE: &str =
        include_str!("../../tests/fixtures/claude-code/cc-2.1.330-interactive-turn1-auto-mode.json");

    /// The request body of a recorded Claude Code request.
    fn cc_body(fixture: &str) -> Value {
        let recorded: Value = serde_json::from_str(fixture).unwrap();
        recorded["body"].clone()
    }

    fn translate_value(body: &Value) -> ResponsesRequest {
        translate_request(&request(body.clone()), &Settings::defaults()).unwrap()
    }

    #[test]
    fn claude_code_bodies_parse_for_messages_and_translate() {
        for fixture in [CC_TURN1, CC_TURN2, CC_INTERACTIVE] {
            let body = cc_body(fixture).to_string();
            let parsed = parse_messages_request(body.as_bytes()).expect("a real Claude Code body is accepted");
            translate_request(&parsed, &Settings::defaults()).unwrap();
        }
    }

    #[test]
    fn system_turns_become_developer_messages_in_place() {
        let out = translate_value(&cc_body(CC_TURN2));
        let input = serde_json::to_value(&out.input).unwrap();
        let roles: Vec<&str> = input.as_array().unwrap().iter().map(|i| i["role"].as_str().unwrap_or("-")).collect();
        assert_eq!(roles, ["user", "developer", "assistant", "-", "-"]);
        let system_text = cc_body(CC_TURN2)["messages"][1]["content"].as_str().unwrap().to_owned();
        assert_eq!(
            input[1],
            json!({"type":"message","role":"developer","content":[{"type":"input_text","text":system_text}]})
        );

        // A string and a one-block array with `cache_control` are the same turn.
        let as_string = input_of(json!([{"role":"user","content":"hi"},{"role":"system","content":"env"}]));
        let as_blocks = input_of(json!([{"role":"user","content":"hi"},
            {"role":"system","content":[{"type":"text","text":"env","cache_control":{"type":"ephemeral"}}],
             "output_config":{"effort":"low"}}]));
        assert_eq!(as_string, as_blocks);
        assert_eq!(
            as_string[1],
            json!({"type":"message","role":"developer","content":[{"type":"input_text","text":"env"}]})
        );
        // Two blocks are two parts of one message; an empty turn is nothing.
        let two = input_of(json!([{"role":"system","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
            {"role":"system","content":""},{"role":"user","content":"hi"}]));
        assert_eq!(two[0]["content"], json!([{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]));
        assert_eq!(two.as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_per_turn_effort_counts_when_the_request_names_none() {
        let effort = |messages: Value, output_config: Value| {
            translate(json!({"model":"claude-sonnet-4-5","messages":messages,"output_config":output_config}))
                .unwrap()
                .reasoning
                .and_then(|r| r.effort)
        };
        let turns = json!([{"role":"user","content":"hi"},
            {"role":"system","content":"a","output_config":{"effort":"low"}},
            {"role":"system","content":"b","output_config":{"effort":"xhigh"}},
            {"role":"system","content":"c"}]);
        assert_eq!(effort(turns.clone(), json!(null)), Some(Effort::Xhigh), "the latest turn that names one");
        assert_eq!(effort(turns, json!({"effort":"high"})), Some(Effort::High), "the request's own wins");
        assert_eq!(effort(json!([{"role":"user","content":"hi"}]), json!(null)), Some(Effort::Medium), "map default");
    }

    #[test]
    fn a_pinned_map_effort_beats_the_clients() {
        let mut settings = Settings::defaults();
        settings.models.opus = "gpt-6-sol-xhigh!".into();
        let body = json!({"model":"claude-opus-5-5","messages":[{"role":"user","content":"hi"}],
                          "output_config":{"effort":"low"}});
        let out = translate_request(&request(body.clone()), &settings).unwrap();
        assert_eq!((out.model.as_str(), out.reasoning.and_then(|r| r.effort)), ("gpt-6-sol", Some(Effort::Xhigh)));
        settings.models.opus = "gpt-6-sol-xhigh".into();
        let out = translate_request(&request(body), &settings).unwrap();
        assert_eq!(out.reasoning.and_then(|r| r.effort), Some(Effort::Low), "unpinned: the client's choice");
    }

    #[test]
    fn tool_references_become_text_and_load_deferred_tools() {
        let tool = |name: &str, deferred: bool| {
            let mut tool = json!({"name":name,"description":name,"input_schema":{"type":"object","properties":{}}});
            if deferred {
                tool["defer_loading"] = json!(true);
            }
            tool
        };
        let tools = json!([
            tool("Bash", false),
            tool("WebFetch", true),
            tool("DeferredToolPlaceholder", true),
            tool("Cron", true),
            tool("Read", false)
        ]);
        let sent = |messages: Value| -> Vec<String> {
            let out = translate(json!({"model":"m","messages":messages,"tools":tools})).unwrap();
            serde_json::to_value(&out.tools)
                .unwrap()
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let search = |id: &str, names: &[&str]| {
            json!([
            {"role":"assistant","content":[{"type":"tool_use","id":id,"name":"ToolSearch","input":{"query":"select:x"}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":id,
                "content":names.iter().map(|n| json!({"type":"tool_reference","tool_name":n})).collect::<Vec<_>>()},
                {"type":"text","text":"Tool loaded."}]}])
        };
        let hi = json!({"role":"user","content":"hi"});
        assert_eq!(sent(json!([hi])), ["Bash", "Read"], "deferred tools and the placeholder wait");

        let mut turn2 = vec![hi.clone()];
        turn2.extend(search("t1", &["Cron"]).as_array().unwrap().iter().cloned());
        assert_eq!(sent(Value::Array(turn2.clone())), ["Bash", "Read", "Cron"]);
        let mut turn3 = turn2.clone();
        turn3
            .extend(search("t2", &["WebFetch", "Cron", "DeferredToolPlaceholder"]).as_array().unwrap().iter().cloned());
        assert_eq!(
            sent(Value::Array(turn3.clone())),
            ["Bash", "Read", "Cron", "WebFetch"],
            "in the order loaded, after the rest"
        );

        // The model reads which tools were loaded, next to the result's other content.
        let input = input_of(Value::Array(turn3));
        let outputs: Vec<&Value> =
            input.as_array().unwrap().iter().filter(|i| i["type"] == "function_call_output").collect();
        assert_eq!(outputs[0]["output"], "Tool loaded: Cron is now available to call.");
        assert_eq!(
            outputs[1]["output"],
            "Tool loaded: WebFetch is now available to call.\n\nTool loaded: Cron is now available to call.\n\nTool loaded: DeferredToolPlaceholder is now available to call."
        );
        let mixed = input_of(json!([
            {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"ToolSearch","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[
                {"type":"text","text":"Found one."},{"type":"tool_reference","tool_name":"mcp__srv.tool"}]}]}]));
        let upstream_name = names::codex_tool_name("mcp__srv.tool");
        assert_eq!(mixed[1]["output"], format!("Found one.\n\nTool loaded: {upstream_name} is now available to call."));
    }

    #[test]
    fn claude_code_sends_neither_the_placeholder_nor_deferred_tools() {
        let out = serde_json::to_value(translate_value(&cc_body(CC_TURN1))).unwrap();
        let names: Vec<&str> = out["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 11);
        assert!(!names.contains(&DEFERRED_TOOL_PLACEHOLDER), "{names:?}");
    }

    #[test]
    fn structured_output_becomes_text_format() {
        let title = json!({"type":"object","properties":{"title":{"type":"string"}},"required":["title"],"additionalProperties":false});
        let format_of = |extra: Value| {
            let mut body = json!({"model":"m","messages":[{"role":"user","content":"hi"}]});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            serde_json::to_value(translate(body).unwrap().text).unwrap()
        };
        assert_eq!(
            format_of(json!({"output_config":{"effort":"high","format":{"type":"json_schema","schema":title}}})),
            json!({"format":{"type":"json_schema","name":"output","schema":title,"strict":true}})
        );
        // The older field, a schema the strict rules refuse (an optional
        // property), and normalisation ($schema goes).
        let loose = json!({"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
                           "properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"]});
        assert_eq!(
            format_of(json!({"output_format":{"type":"json_schema","schema":loose}})),
            json!({"format":{"type":"json_schema","name":"output","strict":false,"schema":
                {"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"]}}})
        );
        // output_config.format wins over output_format; no format, no `text`.
        let both = format_of(json!({"output_config":{"format":{"type":"json_schema","schema":title}},
                                    "output_format":{"type":"json_schema","schema":loose}}));
        assert_eq!(both["format"]["schema"], title);
        assert_eq!(format_of(json!({})), Value::Null);
    }

    /// The Codex boundary sets the verbosity and keeps the format.
    #[test]
    fn the_codex_plan_keeps_the_format() {
        use crate::codex::catalogue::{Ask, Catalogue};
        let body = json!({"model":"gpt-6-luna","messages":[{"role":"user","content":"hi"}],
                          "output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}}});
        let mut out = translate(body).unwrap();
        let settings = Settings::defaults();
        let catalogue = Catalogue::built_in();
        let plan = catalogue.plan(&Ask::of(&out, false, &settings), chrono::Utc::now());
        plan.apply(&mut out);
        let text = out.text.unwrap();
        assert!(text.verbosity.is_some());
        assert!(matches!(text.format, Some(TextFormat::JsonSchema { .. })));
    }

    #[test]
    fn omitted_thinking_asks_for_no_summary() {
        let summary = |thinking: Value| {
            translate(json!({"model":"m","messages":[{"role":"user","content":"hi"}],"thinking":thinking}))
                .unwrap()
                .reasoning
                .and_then(|r| r.summary)
        };
        assert_eq!(summary(json!({"type":"adaptive","display":"omitted"})), None);
        assert_eq!(summary(json!({"type":"enabled","budget_tokens":2000,"display":"omitted"})), None);
        assert_eq!(summary(json!({"type":"adaptive","display":"updates"})).as_deref(), Some(REASONING_SUMMARY));
        assert_eq!(summary(json!({"type":"adaptive","display":"summarized"})).as_deref(), Some(REASONING_SUMMARY));
        assert_eq!(summary(json!(null)).as_deref(), Some(REASONING_SUMMARY));
    }

    #[test]
    fn the_billing_header_line_never_goes_upstream() {
        let out = translate_value(&cc_body(CC_TURN1));
        let instructions = serde_json::to_value(&out.instructions).unwrap();
        let instructions = instructions.as_str().unwrap();
        assert!(instructions.starts_with("You are a Claude agent, built on Anthropic's Claude Agent SDK.\n\n"));
        assert!(!instructions.contains("x-anthropic-billing-header"));
        let table = [
            (json!("x-anthropic-billing-header: cc_version=1; cc_entrypoint=cli;\nBe brief."), "Be brief."),
            (json!("x-anthropic-billing-header: cc_version=1;"), DEFAULT_INSTRUCTIONS),
            (
                json!("Be brief.\nx-anthropic-billing-header: stays when not first"),
                "Be brief.\nx-anthropic-billing-header: stays when not first",
            ),
            (
                json!([{"type":"text","text":"x-anthropic-billing-header: a;"},{"type":"text","text":"Be brief."}]),
                "Be brief.",
            ),
        ];
        for (system, expected) in table {
            let out =
                translate(json!({"model":"m","system":system,"messages":[{"role":"user","content":"hi"}]})).unwrap();
            assert_eq!(serde_json::to_value(&out.instructions).unwrap(), expected, "{system}");
        }
    }

    /// Two sessions of one Claude Code version in one folder: another
    /// billing line (its hash depends on the first prompt), another session
    /// id, another prompt. The backend must see the same instructions and
    /// tools, so its prompt cache is shared.
    #[test]
    fn two_sessions_send_the_same_instructions_and_tools() {
        let one = cc_body(CC_TURN1);
        let mut other = one.clone();
        other["system"][0]["text"] =
            json!("x-anthropic-billing-header: cc_version=2.1.330.e0f; cc_entrypoint=sdk-cli;");
        other["metadata"]["user_id"] = json!(
            "{\"device_id\":\"00\",\"account_uuid\":\"\",\"session_id\":\"0b7e7a3c-1f3e-4d6a-9c55-2f0e7c1d9a10\"}"
        );
        other["messages"][0]["content"][1]["text"] = json!("another prompt");
        let body = |value: &Value| serde_json::to_value(translate_value(value)).unwrap();
        let (a, b) = (body(&one), body(&other));
        assert_ne!(a["prompt_cache_key"], b["prompt_cache_key"]);
        assert_eq!(a["instructions"].to_string(), b["instructions"].to_string());
        assert_eq!(a["tools"].to_string(), b["tools"].to_string());
    }

    /// Turn 2 of a real session (a Bash round trip) goes upstream beginning
    /// with the bytes of turn 1: the same instructions and tools, and turn
    /// 1's input items, byte for byte, first — on both lanes.
    #[test]
    fn a_later_turn_begins_with_the_bytes_of_the_earlier_one() {
        use crate::codex::lane::{encode, Lane};
        let turns = [cc_body(CC_TURN1), cc_body(CC_TURN2)];
        for lane in [Lane::Responses, Lane::Lite] {
            let bodies: Vec<Value> = turns
                .iter()
                .map(|turn| {
                    // Unseen requests: nothing remembered from another test applies.
                    let bytes = encode(&translate_value(turn), lane, 0).unwrap();
                    serde_json::from_slice(&bytes).unwrap()
                })
                .collect();
            let items = |body: &Value| -> Vec<String> {
                body["input"].as_array().unwrap().iter().map(|item| item.to_string()).collect()
            };
            let (first, second) = (items(&bodies[0]), items(&bodies[1]));
            assert!(second.len() > first.len(), "{lane:?}");
            assert_eq!(second[..first.len()], first[..], "{lane:?}: turn 2's input begins with turn 1's");
            assert_eq!(bodies[0]["instructions"].to_string(), bodies[1]["instructions"].to_string(), "{lane:?}");
            assert_eq!(bodies[0]["tools"].to_string(), bodies[1]["tools"].to_string(), "{lane:?}");
            // And as text: turn 1's input, without its closing bracket, starts turn 2's.
            let text = |body: &Value| body["input"].to_string();
            let first_text = text(&bodies[0]);
            assert!(text(&bodies[1]).starts_with(&first_text[..first_text.len() - 1]), "{lane:?}");
        }
    }
}
