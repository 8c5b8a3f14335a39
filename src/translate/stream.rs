//! Codex stream events → Anthropic stream events: one state machine, fed
//! event by event ([`StreamTranslator`]). Pure: no I/O; the clock is read
//! only to say when a usage limit reported in the stream resets. What an
//! upstream error code means is [`crate::codex::error`]'s table, shared
//! with the HTTP errors; the translator keeps the [`Failure`] that ended the
//! stream ([`StreamTranslator::failure`]), for the server to judge, and the
//! final usage ([`StreamTranslator::usage`]), for its log line.
//!
//! Each upstream output item (keyed by `output_index`) becomes zero or more
//! Anthropic content blocks:
//!
//! | Codex item        | Anthropic block(s)                                        |
//! |-------------------|-----------------------------------------------------------|
//! | `message`         | `text` (deltas; url citations, with their `cited_text`, as `citations_delta`) |
//! | `reasoning`       | `thinking` (summary deltas, then the encrypted content as `signature_delta`) |
//! | `function_call`   | `tool_use` (`input_json_delta`s of the arguments)         |
//! | `web_search_call` | `server_tool_use` (id `srvtoolu_…`) + `web_search_tool_result` |
//!
//! Anthropic blocks may not interleave, but Codex items may (parallel tool
//! calls stream their arguments side by side). So every item queues its
//! block operations, and only one item — the *active* one — owns the open
//! block and streams straight through; the others' operations wait in their
//! queues and are flushed, in `output_index` order, once the active item is
//! done.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde_json::{json, Value};

use crate::anthropic::response::{
    Citation, ContentBlock, Delta, Message, MessageDelta, MessageDeltaUsage, StopReason, StreamEvent, Usage,
};
use crate::codex::error::{map_stream_error, BackendError, Failure, Kind};
use crate::codex::events::{self, Annotation, CodexEvent, OutputContent, OutputItem, ResponseError, ResponseObject};
use crate::codex::sse::SseError;

use super::SIGNATURE_PREFIX;

/// The error reported when the upstream stream ends without a terminal event.
pub const CUT_SHORT: &str = "upstream stream ended before the response completed";

/// Separates consecutive reasoning summary parts inside one thinking block.
const PART_SEPARATOR: &str = "\n\n";

/// Translates one Codex response stream into one Anthropic message stream.
#[derive(Debug)]
pub struct StreamTranslator {
    message_id: String,
    client_model: String,
    /// `message_start` has been emitted.
    started: bool,
    /// `message_stop` or `error` has been emitted; nothing more will be.
    finished: bool,
    /// A `content_block_start` has been emitted.
    has_content: bool,
    /// A `tool_use` block has been emitted (so the stop reason is `tool_use`).
    used_tools: bool,
    /// Index of the next Anthropic block.
    next_index: u32,
    /// Index of the open Anthropic block, if any.
    open_block: Option<u32>,
    /// Upstream items not yet fully emitted, by `output_index`.
    items: BTreeMap<u32, Item>,
    /// Every `output_index` ever mentioned (so a finished item is not reborn).
    seen: BTreeSet<u32>,
    /// The item whose operations go straight out; it owns `open_block`.
    active: Option<u32>,
    /// Upstream tool name → the client's, for names the request side
    /// shortened (see [`super::names`]).
    tool_names: HashMap<String, String>,
    /// The prompt's size as codexd counted it, for `message_start` when
    /// the upstream reports no usage that early (it never does).
    prompt_tokens: Option<u64>,
    /// What ended the stream, if it failed.
    failure: Option<Failure>,
    /// The final usage, once the answer completed.
    usage: Option<MessageDeltaUsage>,
}

impl StreamTranslator {
    /// A translator for one response; `message_id` and `client_model` are
    /// echoed in `message_start`.
    pub fn new(message_id: String, client_model: String) -> Self {
        StreamTranslator {
            message_id,
            client_model,
            started: false,
            finished: false,
            has_content: false,
            used_tools: false,
            next_index: 0,
            open_block: None,
            items: BTreeMap::new(),
            seen: BTreeSet::new(),
            active: None,
            tool_names: HashMap::new(),
            prompt_tokens: None,
            failure: None,
            usage: None,
        }
    }

    /// Announce `prompt_tokens` (the request as `crate::tokens::count_request`
    /// counts it) as `message_start.usage.input_tokens`, instead of 0,
    /// until the upstream's own count arrives in `message_delta`.
    pub fn with_prompt_tokens(mut self, prompt_tokens: u64) -> Self {
        self.prompt_tokens = Some(prompt_tokens);
        self
    }

    /// Give `tool_use` blocks back the client's tool names: `tool_names`
    /// maps each name sent upstream to the client's original, as built by
    /// [`super::names::tool_name_map`]. Names not in the map are kept.
    pub fn with_tool_names(mut self, tool_names: HashMap<String, String>) -> Self {
        self.tool_names = tool_names;
        self
    }

    /// Translate one upstream event into zero or more Anthropic events.
    pub fn on_event(&mut self, event: CodexEvent) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        match event {
            CodexEvent::Created { response } => self.start(&mut out, response.usage.as_ref()),
            CodexEvent::OutputItemAdded { output_index, item } => self.item_added(output_index, item),
            CodexEvent::OutputItemDone { output_index, item } => self.item_done(output_index, item),
            CodexEvent::ContentPartAdded { output_index, .. } => {
                self.with_item(output_index, ItemState::message, Item::open_text);
            }
            CodexEvent::OutputTextDelta { output_index, delta, .. } => {
                self.with_item(output_index, ItemState::message, |item| item.text(delta));
            }
            CodexEvent::OutputTextAnnotationAdded { output_index, annotation, .. } => {
                self.with_item(output_index, ItemState::message, |item| item.annotation(&annotation));
            }
            CodexEvent::FunctionCallArgumentsDelta { output_index, delta, .. } => {
                self.with_known_item(output_index, |item| item.arguments_delta(delta));
            }
            CodexEvent::FunctionCallArgumentsDone { output_index, arguments, .. } => {
                self.with_known_item(output_index, |item| item.arguments_done(arguments));
            }
            CodexEvent::ReasoningSummaryTextDelta { output_index, summary_index, delta, .. } => {
                let part = ReasoningPart::Summary(summary_index);
                self.with_item(output_index, ItemState::reasoning, |item| item.thinking(part, delta));
            }
            CodexEvent::ReasoningTextDelta { output_index, content_index, delta, .. } => {
                let part = ReasoningPart::Raw(content_index);
                self.with_item(output_index, ItemState::reasoning, |item| item.thinking(part, delta));
            }
            CodexEvent::Completed { response } => self.complete(&mut out, response, None),
            CodexEvent::Incomplete { response } => {
                let reason = incomplete_stop_reason(&response);
                self.complete(&mut out, response, Some(reason));
            }
            CodexEvent::Failed { response } => self.fail(&mut out, failure_of(&response)),
            ref error @ CodexEvent::Error { .. } => {
                let details = error.error_details().unwrap_or_default();
                self.fail(&mut out, failure_from(&details));
            }
            CodexEvent::InProgress { .. }
            | CodexEvent::ContentPartDone { .. }
            | CodexEvent::OutputTextDone { .. }
            | CodexEvent::ReasoningSummaryPartAdded { .. }
            | CodexEvent::ReasoningSummaryPartDone { .. }
            | CodexEvent::ReasoningSummaryTextDone { .. }
            | CodexEvent::Unknown => {}
        }
        self.pump(&mut out);
        out
    }

    /// Translate one item of [`crate::codex::sse::decode`]'s stream: an
    /// event, or a decoding error, which fails the message (see [`Self::finish`]).
    pub fn on_decoded(&mut self, item: Result<CodexEvent, SseError>) -> Vec<StreamEvent> {
        match item {
            Ok(event) => self.on_event(event),
            Err(err) => self.end(Some(Failure::from(err))),
        }
    }

    /// The upstream body ended (or failed with a transport/malformed error:
    /// pass `Some(reason)`).
    ///
    /// Closes whatever is open; if no terminal event was seen, emits an
    /// `error` event (`api_error`, [`CUT_SHORT`]). Emits nothing once the
    /// stream is already finished.
    pub fn finish(&mut self, transport_error: Option<String>) -> Vec<StreamEvent> {
        self.end(transport_error.map(|reason| Failure::new(Kind::Server, reason)))
    }

    /// [`Self::finish`] with what went wrong, if something did: the stream
    /// ends with `failure`, its message after [`CUT_SHORT`].
    pub fn end(&mut self, failure: Option<Failure>) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        let failure = match failure {
            Some(failure) => Failure { message: format!("{CUT_SHORT}: {}", failure.message), ..failure },
            None => Failure::new(Kind::Server, CUT_SHORT),
        };
        self.fail(&mut out, failure);
        out
    }

    /// What ended the stream, once it failed; `midway` when the answer had
    /// begun.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// The answer's final usage, once it completed.
    pub fn usage(&self) -> Option<&MessageDeltaUsage> {
        self.usage.as_ref()
    }

    /// True once `message_stop` or an `error` event has been emitted.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// True once any `content_block_start` has been emitted.
    pub fn has_content(&self) -> bool {
        self.has_content
    }

    /// True once the upstream has begun its answer: an output item was
    /// announced (or content arrived). The backend refuses a request
    /// (overload, rate limit, context too long) before that, so what comes
    /// from here on belongs to the answer.
    pub fn has_begun(&self) -> bool {
        !self.seen.is_empty() || self.has_content
    }

    /// Emit `message_start` unless it already went out.
    fn start(&mut self, out: &mut Vec<StreamEvent>, usage: Option<&events::Usage>) {
        if self.started {
            return;
        }
        self.started = true;
        let mut message = Message::new(self.message_id.clone(), self.client_model.clone());
        message.usage.input_tokens = self.prompt_tokens.unwrap_or(0);
        if let Some(usage) = usage {
            let known = delta_usage(Some(usage));
            message.usage = Usage {
                input_tokens: known.input_tokens,
                cache_read_input_tokens: known.cache_read_input_tokens,
                ..Usage::default()
            };
        }
        out.push(StreamEvent::MessageStart { message });
    }

    fn item_added(&mut self, output_index: u32, item: OutputItem) {
        let state = ItemState::for_item(&item);
        self.with_item(
            output_index,
            || state,
            |entry| {
                if let OutputItem::FunctionCall { call_id, name, .. } = item {
                    entry.open(tool_use_block(call_id, name));
                }
            },
        );
    }

    fn item_done(&mut self, output_index: u32, item: OutputItem) {
        let state = ItemState::for_item(&item);
        self.with_item(output_index, || state, |entry| entry.done_with(item, output_index));
    }

    /// Run `f` on the live item at `output_index`, creating it with `state`
    /// if it was never seen. Items already finished are left alone.
    fn with_item(&mut self, output_index: u32, state: impl FnOnce() -> ItemState, f: impl FnOnce(&mut Item)) {
        if self.seen.insert(output_index) {
            self.items.insert(output_index, Item::new(state()));
        }
        if let Some(item) = self.items.get_mut(&output_index) {
            f(item);
        }
    }

    /// Run `f` on the live item at `output_index` only if it exists (events
    /// that cannot create an item, e.g. arguments of an unannounced call).
    fn with_known_item(&mut self, output_index: u32, f: impl FnOnce(&mut Item)) {
        if let Some(item) = self.items.get_mut(&output_index) {
            f(item);
        }
    }

    /// `response.completed` / `response.incomplete`: close every item, then
    /// `message_delta` + `message_stop`.
    fn complete(&mut self, out: &mut Vec<StreamEvent>, response: ResponseObject, stop_reason: Option<StopReason>) {
        self.start(out, None);
        for (position, item) in response.output.into_iter().enumerate() {
            let Ok(output_index) = u32::try_from(position) else { break };
            if !self.seen.contains(&output_index) {
                self.item_done(output_index, item);
            }
        }
        for item in self.items.values_mut() {
            item.finish_implicitly();
        }
        self.pump(out);
        self.close_open_block(out);
        let stop_reason =
            stop_reason.unwrap_or(if self.used_tools { StopReason::ToolUse } else { StopReason::EndTurn });
        let usage = delta_usage(response.usage.as_ref());
        self.usage = Some(usage);
        out.push(StreamEvent::MessageDelta {
            delta: MessageDelta { stop_reason: Some(stop_reason), ..MessageDelta::default() },
            usage,
        });
        out.push(StreamEvent::MessageStop);
        self.finished = true;
    }

    /// Close the open block, drop everything queued, and end with `error`.
    fn fail(&mut self, out: &mut Vec<StreamEvent>, mut failure: Failure) {
        failure.midway |= self.has_begun();
        self.close_open_block(out);
        self.items.clear();
        self.active = None;
        out.push(StreamEvent::error(&super::failure::api_error(&failure)));
        self.failure = Some(failure);
        self.finished = true;
    }

    fn close_open_block(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(index) = self.open_block.take() {
            out.push(StreamEvent::ContentBlockStop { index });
        }
    }

    /// Move queued operations out, one item at a time: the active item
    /// first, then the lowest `output_index` with something to say.
    fn pump(&mut self, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        loop {
            let next = self.active.or_else(|| {
                self.items.iter().find(|(_, item)| item.done || !item.ops.is_empty()).map(|(&index, _)| index)
            });
            let Some(output_index) = next else { return };
            let Some(item) = self.items.get_mut(&output_index) else {
                self.active = None;
                continue;
            };
            let ops = std::mem::take(&mut item.ops);
            let done = item.done;
            self.active = Some(output_index);
            for op in ops {
                self.emit(out, op);
            }
            if done {
                self.items.remove(&output_index);
            }
            if done || self.open_block.is_none() {
                self.active = None;
                continue;
            }
            return;
        }
    }

    fn emit(&mut self, out: &mut Vec<StreamEvent>, op: Op) {
        self.start(out, None);
        match op {
            Op::Start(mut content_block) => {
                self.restore_tool_name(&mut content_block);
                self.close_open_block(out);
                let index = self.next_index;
                self.next_index += 1;
                self.open_block = Some(index);
                self.has_content = true;
                self.used_tools |= matches!(content_block, ContentBlock::ToolUse { .. });
                out.push(StreamEvent::ContentBlockStart { index, content_block });
            }
            Op::Delta(delta) => {
                if let Some(index) = self.open_block {
                    out.push(StreamEvent::ContentBlockDelta { index, delta });
                }
            }
            Op::Stop => self.close_open_block(out),
        }
    }

    /// A `tool_use` block names the tool as the client did.
    fn restore_tool_name(&self, block: &mut ContentBlock) {
        if let ContentBlock::ToolUse { name, .. } = block {
            if let Some(original) = self.tool_names.get(name.as_str()) {
                name.clone_from(original);
            }
        }
    }
}

/// What one upstream item still has to say, and what it said so far.
#[derive(Debug)]
struct Item {
    state: ItemState,
    /// Operations not yet emitted.
    ops: VecDeque<Op>,
    /// A `Start` was queued and its `Stop` not yet.
    block_open: bool,
    /// `output_item.done` (or the end of the response) was seen.
    done: bool,
}

/// One content-block operation of an item.
#[derive(Debug)]
enum Op {
    Start(ContentBlock),
    Delta(Delta),
    Stop,
}

/// Per-kind progress of an item.
#[derive(Debug)]
enum ItemState {
    Message {
        /// Text (or a citation) was streamed, so `done` must not repeat it.
        has_text: bool,
        /// The text so far, for the `cited_text` of citations.
        text: String,
    },
    Reasoning {
        /// Thinking text was streamed, so `done` must not repeat it.
        has_thinking: bool,
        /// The part the last thinking text belonged to.
        last_part: Option<ReasoningPart>,
    },
    FunctionCall {
        /// Argument text was streamed, so `done` must not repeat it.
        has_arguments: bool,
    },
    WebSearch,
    Other,
}

impl ItemState {
    /// The fresh state for an item first seen as `item`.
    fn for_item(item: &OutputItem) -> Self {
        match item {
            OutputItem::Message { .. } => ItemState::message(),
            OutputItem::Reasoning { .. } => ItemState::reasoning(),
            OutputItem::FunctionCall { .. } => ItemState::FunctionCall { has_arguments: false },
            OutputItem::WebSearchCall { .. } => ItemState::WebSearch,
            OutputItem::Unknown => ItemState::Other,
        }
    }

    fn message() -> Self {
        ItemState::Message { has_text: false, text: String::new() }
    }

    fn reasoning() -> Self {
        ItemState::Reasoning { has_thinking: false, last_part: None }
    }
}

/// Which stream a piece of reasoning text came from; a change of part
/// inserts a blank line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReasoningPart {
    Summary(u32),
    Raw(u32),
}

impl Item {
    fn new(state: ItemState) -> Self {
        Item { state, ops: VecDeque::new(), block_open: false, done: false }
    }

    fn open(&mut self, block: ContentBlock) {
        if !self.block_open && !self.done {
            self.block_open = true;
            self.ops.push_back(Op::Start(block));
        }
    }

    fn delta(&mut self, delta: Delta) {
        if self.block_open {
            self.ops.push_back(Op::Delta(delta));
        }
    }

    fn close(&mut self) {
        if self.block_open {
            self.block_open = false;
            self.ops.push_back(Op::Stop);
        }
    }

    fn open_text(&mut self) {
        if matches!(self.state, ItemState::Message { .. }) {
            self.open(ContentBlock::empty_text());
        }
    }

    fn text(&mut self, text: String) {
        let ItemState::Message { has_text, text: so_far } = &mut self.state else { return };
        *has_text = true;
        so_far.push_str(&text);
        self.open(ContentBlock::empty_text());
        if !text.is_empty() {
            self.delta(Delta::TextDelta { text });
        }
    }

    fn annotation(&mut self, annotation: &Annotation) {
        let ItemState::Message { has_text, text } = &mut self.state else { return };
        let Some(citation) = citation_of(annotation, text) else { return };
        *has_text = true;
        self.open(ContentBlock::empty_text());
        self.delta(Delta::CitationsDelta { citation });
    }

    fn thinking(&mut self, part: ReasoningPart, text: String) {
        let ItemState::Reasoning { has_thinking, last_part } = &mut self.state else { return };
        if text.is_empty() {
            return;
        }
        let text = match last_part.replace(part) {
            Some(previous) if previous != part => format!("{PART_SEPARATOR}{text}"),
            _ => text,
        };
        *has_thinking = true;
        self.open(ContentBlock::empty_thinking());
        self.delta(Delta::ThinkingDelta { thinking: text });
    }

    fn arguments_delta(&mut self, partial_json: String) {
        let ItemState::FunctionCall { has_arguments } = &mut self.state else { return };
        if partial_json.is_empty() {
            return;
        }
        *has_arguments = true;
        self.delta(Delta::InputJsonDelta { partial_json });
    }

    /// Full arguments: emitted only when no deltas carried them.
    fn arguments_done(&mut self, arguments: String) {
        if matches!(self.state, ItemState::FunctionCall { has_arguments: false }) {
            self.arguments_delta(arguments);
        }
    }

    /// `output_item.done`: emit whatever the deltas did not carry, then close.
    fn done_with(&mut self, item: OutputItem, output_index: u32) {
        if self.done {
            return;
        }
        match (&self.state, item) {
            (ItemState::Message { has_text: false, .. }, OutputItem::Message { content, .. }) => {
                self.message_content(content);
            }
            (ItemState::Reasoning { has_thinking, .. }, OutputItem::Reasoning { summary, encrypted_content, .. }) => {
                if !has_thinking {
                    let summary: Vec<String> =
                        summary.into_iter().map(|part| part.text).filter(|text| !text.is_empty()).collect();
                    let thinking = summary.join(PART_SEPARATOR);
                    self.thinking(ReasoningPart::Summary(0), thinking);
                }
                if let Some(encrypted) = encrypted_content.filter(|e| !e.is_empty()) {
                    self.open(ContentBlock::empty_thinking());
                    self.delta(Delta::SignatureDelta { signature: format!("{SIGNATURE_PREFIX}{encrypted}") });
                }
            }
            (ItemState::FunctionCall { .. }, OutputItem::FunctionCall { call_id, name, arguments, .. }) => {
                self.open(tool_use_block(call_id, name));
                self.arguments_done(arguments);
            }
            (ItemState::WebSearch, OutputItem::WebSearchCall { id, action, .. }) => {
                if let Some(query) = action.as_ref().and_then(search_query) {
                    self.web_search(server_tool_id(id.as_deref(), output_index), query);
                }
            }
            _ => {}
        }
        self.finish_implicitly();
    }

    /// The text of a message that was not streamed.
    fn message_content(&mut self, content: Vec<OutputContent>) {
        let mut annotations = Vec::new();
        let mut text = String::new();
        for part in content {
            match part {
                OutputContent::OutputText { text: piece, annotations: cited } => {
                    text.push_str(&piece);
                    annotations.extend(cited);
                }
                OutputContent::Refusal { refusal } => text.push_str(&refusal),
                OutputContent::Unknown => {}
            }
        }
        if !text.is_empty() {
            self.text(text);
        }
        for annotation in &annotations {
            self.annotation(annotation);
        }
    }

    /// A finished web search: the call, then an (empty) result.
    fn web_search(&mut self, id: String, query: String) {
        self.open(ContentBlock::ServerToolUse { id: id.clone(), name: "web_search".to_owned(), input: json!({}) });
        self.delta(Delta::InputJsonDelta { partial_json: json!({ "query": query }).to_string() });
        self.close();
        self.open(ContentBlock::WebSearchToolResult { tool_use_id: id, content: json!([]) });
        self.close();
    }

    /// Close the item without more information (its `done` was handled or
    /// will never come): a tool call that got no arguments gets `{}`.
    fn finish_implicitly(&mut self) {
        if self.done {
            return;
        }
        if matches!(self.state, ItemState::FunctionCall { has_arguments: false }) {
            self.arguments_delta("{}".to_owned());
        }
        self.close();
        self.done = true;
    }
}

/// An Anthropic-style id for a hosted tool call: `srvtoolu_` and the
/// upstream id's own part (`ws_15` → `srvtoolu_15`), or the item's index.
fn server_tool_id(upstream: Option<&str>, output_index: u32) -> String {
    match upstream.map(|id| id.strip_prefix("ws_").unwrap_or(id)).filter(|id| !id.is_empty()) {
        Some(id) => format!("srvtoolu_{id}"),
        None => format!("srvtoolu_{output_index}"),
    }
}

fn tool_use_block(call_id: String, name: String) -> ContentBlock {
    ContentBlock::ToolUse { id: call_id, name, input: json!({}) }
}

/// A url citation as Anthropic's `web_search_result_location`; `cited_text`
/// is the span of the answer's `text` it covers (character offsets).
fn citation_of(annotation: &Annotation, text: &str) -> Option<Citation> {
    match annotation {
        Annotation::UrlCitation { url, title, start_index, end_index } => Some(Citation::WebSearchResultLocation {
            url: url.clone(),
            title: title.clone(),
            cited_text: text
                .chars()
                .skip(*start_index as usize)
                .take(end_index.saturating_sub(*start_index) as usize)
                .collect(),
            encrypted_index: String::new(),
        }),
        Annotation::Unknown => None,
    }
}

/// The query of a web search action: `{"query": …}` or the first of `{"queries": […]}`.
fn search_query(action: &Value) -> Option<String> {
    action
        .get("query")
        .or_else(|| action.get("queries").and_then(|queries| queries.get(0)))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn incomplete_stop_reason(response: &ResponseObject) -> StopReason {
    let reason = response.incomplete_details.as_ref().and_then(|details| details.reason.as_deref());
    match reason {
        Some("content_filter") => StopReason::Refusal,
        _ => StopReason::MaxTokens,
    }
}

/// Final usage in Anthropic terms: cached tokens are reported apart from
/// the other input tokens.
fn delta_usage(usage: Option<&events::Usage>) -> MessageDeltaUsage {
    let Some(usage) = usage else { return MessageDeltaUsage::default() };
    let cached = usage.cached_tokens().min(usage.input_tokens);
    MessageDeltaUsage {
        output_tokens: usage.output_tokens,
        input_tokens: usage.input_tokens - cached,
        cache_read_input_tokens: cached,
        cache_creation_input_tokens: 0,
        ..MessageDeltaUsage::default()
    }
}

fn failure_of(response: &ResponseObject) -> Failure {
    match &response.error {
        Some(error) => failure_from(error),
        None => Failure::new(Kind::Server, "the Codex backend reported that the response failed, without saying why"),
    }
}

/// What an upstream error in the stream means: looked up in the table the
/// HTTP errors use too ([`map_stream_error`]).
fn failure_from(error: &ResponseError) -> Failure {
    let error = BackendError {
        code: error.code.as_deref(),
        kind: error.kind.as_deref(),
        message: &error.message,
        plan_type: error.plan_type.as_deref(),
        resets_at: error.resets_at,
        resets_in_seconds: error.resets_in_seconds.and_then(|secs| u64::try_from(secs).ok()),
    };
    map_stream_error(&error, chrono::Utc::now())
}

/// Helpers shared by the tests of `translate`: drive a translator over a
/// recorded stream, and check that an event sequence is one the Anthropic
/// SDKs accept.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::codex::sse::decode;
    use bytes::Bytes;
    use futures_util::{stream, FutureExt, StreamExt};

    pub(crate) const TEST_MESSAGE_ID: &str = "msg_codexd_test";
    pub(crate) const TEST_MODEL: &str = "claude-sonnet-4-5";

    /// Decode `chunks` as one upstream body and translate it, the way the
    /// server does: every decoded item, then `finish(None)`.
    pub(crate) fn translate_chunks(chunks: &[&[u8]]) -> Vec<StreamEvent> {
        run(StreamTranslator::new(TEST_MESSAGE_ID.to_owned(), TEST_MODEL.to_owned()), chunks)
    }

    /// [`translate_sse`] with a tool-name map (see [`StreamTranslator::with_tool_names`]).
    pub(crate) fn translate_sse_with_names(text: &str, tool_names: HashMap<String, String>) -> Vec<StreamEvent> {
        let translator =
            StreamTranslator::new(TEST_MESSAGE_ID.to_owned(), TEST_MODEL.to_owned()).with_tool_names(tool_names);
        run(translator, &[text.as_bytes()])
    }

    fn run(mut translator: StreamTranslator, chunks: &[&[u8]]) -> Vec<StreamEvent> {
        let body = stream::iter(chunks.iter().map(|chunk| Ok::<_, String>(Bytes::copy_from_slice(chunk))));
        let decoded: Vec<_> = decode(body).collect::<Vec<_>>().now_or_never().expect("in-memory stream is ready");
        let mut out = Vec::new();
        for item in decoded {
            out.extend(translator.on_decoded(item));
        }
        out.extend(translator.finish(None));
        out
    }

    /// [`translate_chunks`] for a whole body.
    pub(crate) fn translate_sse(text: &str) -> Vec<StreamEvent> {
        translate_chunks(&[text.as_bytes()])
    }

    /// Check the Anthropic stream grammar: `message_start`, then blocks with
    /// indexes 0, 1, 2, … each started, given deltas of its own kind and
    /// stopped before the next starts, then `message_delta` + `message_stop`
    /// — or an `error` as the last event. Tool inputs must assemble to JSON
    /// objects. Pings may appear anywhere.
    pub(crate) fn check_sequence(events: &[StreamEvent]) -> Result<(), String> {
        let events: Vec<&StreamEvent> = events.iter().filter(|e| !matches!(e, StreamEvent::Ping)).collect();
        let Some((last, mut body)) = events.split_last() else { return Err("no events".into()) };
        match body.split_first() {
            Some((StreamEvent::MessageStart { .. }, rest)) => body = rest,
            None if matches!(last, StreamEvent::Error { .. }) => {}
            first => return Err(format!("the first event is {first:?}, not message_start")),
        }
        match (last, body.split_last()) {
            (StreamEvent::MessageStop, Some((StreamEvent::MessageDelta { .. }, rest))) => body = rest,
            (StreamEvent::Error { .. }, _) => {}
            (last, _) => {
                return Err(format!("the stream ends with {last:?}, not message_delta + message_stop or error"))
            }
        }
        check_blocks(body)
    }

    fn check_blocks(events: &[&StreamEvent]) -> Result<(), String> {
        let mut next_index = 0;
        let mut open: Option<(u32, &ContentBlock, String)> = None;
        for event in events {
            match (*event, &mut open) {
                (StreamEvent::ContentBlockStart { index, content_block }, None) => {
                    if *index != next_index {
                        return Err(format!("block {index} starts, expected block {next_index}"));
                    }
                    next_index += 1;
                    open = Some((*index, content_block, String::new()));
                }
                (StreamEvent::ContentBlockStart { index, .. }, Some((open_index, ..))) => {
                    return Err(format!("block {index} starts while block {open_index} is open"));
                }
                (StreamEvent::ContentBlockDelta { index, delta }, Some((open_index, block, json))) => {
                    if index != open_index {
                        return Err(format!("delta for block {index} while block {open_index} is open"));
                    }
                    check_delta_fits(block, delta, json)?;
                }
                (StreamEvent::ContentBlockStop { index }, Some((open_index, block, json))) => {
                    if index != open_index {
                        return Err(format!("stop for block {index} while block {open_index} is open"));
                    }
                    check_tool_input(block, json)?;
                    open = None;
                }
                (event, _) => {
                    return Err(format!("unexpected {event:?} (open block: {:?})", open.as_ref().map(|o| o.0)))
                }
            }
        }
        match open {
            Some((index, ..)) => Err(format!("block {index} is never stopped")),
            None => Ok(()),
        }
    }

    fn check_delta_fits(block: &ContentBlock, delta: &Delta, json: &mut String) -> Result<(), String> {
        let fits = match (block, delta) {
            (ContentBlock::Text { .. }, Delta::TextDelta { .. } | Delta::CitationsDelta { .. }) => true,
            (ContentBlock::Thinking { .. }, Delta::ThinkingDelta { .. } | Delta::SignatureDelta { .. }) => true,
            (
                ContentBlock::ToolUse { .. } | ContentBlock::ServerToolUse { .. },
                Delta::InputJsonDelta { partial_json },
            ) => {
                json.push_str(partial_json);
                true
            }
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(format!("{delta:?} does not fit a {block:?} block"))
        }
    }

    fn check_tool_input(block: &ContentBlock, json: &str) -> Result<(), String> {
        let is_tool = matches!(block, ContentBlock::ToolUse { .. } | ContentBlock::ServerToolUse { .. });
        if !is_tool || json.is_empty() {
            return Ok(());
        }
        match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(_)) => Ok(()),
            _ => Err(format!("tool input {json:?} is not a JSON object")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::anthropic::error::{ApiError, ErrorKind};
    use crate::codex::sse::test_fixtures::all_fixtures;

    fn stem(name: &str) -> &str {
        name.trim_end_matches(".sse")
    }

    fn fixture(name: &str) -> String {
        all_fixtures()
            .into_iter()
            .find(|(file, _)| file == name)
            .map(|(_, text)| text)
            .unwrap_or_else(|| panic!("no fixture {name}"))
    }

    #[test]
    fn every_fixture_translates_as_snapshotted() {
        for (name, text) in all_fixtures() {
            insta::assert_json_snapshot!(stem(&name), translate_sse(&text));
        }
    }

    #[test]
    fn every_fixture_translates_to_a_valid_sequence() {
        for (name, text) in all_fixtures() {
            let events = translate_sse(&text);
            if let Err(problem) = check_sequence(&events) {
                panic!("{name}: {problem}\n{events:#?}");
            }
        }
    }

    #[test]
    fn chunking_the_body_does_not_change_the_translation() {
        for (name, text) in all_fixtures() {
            let bytes = text.as_bytes();
            let whole = translate_sse(&text);
            for cut in (0..=bytes.len()).step_by(7) {
                let (head, tail) = bytes.split_at(cut);
                assert_eq!(translate_chunks(&[head, tail]), whole, "{name} cut at byte {cut}");
            }
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(translate_chunks(&singles), whole, "{name} in 1-byte chunks");
        }
    }

    /// A compact description of what a translation produced: the blocks in
    /// order, then how it ended.
    fn outline(events: &[StreamEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|event| match event {
                StreamEvent::ContentBlockStart { content_block, .. } => Some(match content_block {
                    ContentBlock::ToolUse { id, name, .. } => format!("tool_use {id} {name}"),
                    ContentBlock::ServerToolUse { id, name, .. } => format!("server_tool_use {id} {name}"),
                    ContentBlock::WebSearchToolResult { tool_use_id, .. } => {
                        format!("web_search_tool_result {tool_use_id}")
                    }
                    other => {
                        serde_json::to_value(other).expect("serializable")["type"].as_str().unwrap_or("?").to_owned()
                    }
                }),
                StreamEvent::MessageDelta { delta, .. } => Some(format!("stop {:?}", delta.stop_reason)),
                StreamEvent::Error { error } => Some(format!("error {}", error.kind.as_str())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_fixture_yields_the_expected_blocks_and_ending() {
        let table: &[(&str, &[&str])] = &[
            ("codex-text.sse", &["text", "stop Some(EndTurn)"]),
            (
                "codex-reasoning-tool.sse",
                &["thinking", "tool_use call_AbC123 Bash", "tool_use call_DeF456 Read", "stop Some(ToolUse)"],
            ),
            ("codex-failed.sse", &["error overloaded_error"]),
            (
                "parallel-interleaved.sse",
                &["tool_use call_A Read", "tool_use call_B Grep", "tool_use call_C TodoRead", "stop Some(ToolUse)"],
            ),
            ("incomplete-max-tokens.sse", &["text", "stop Some(MaxTokens)"]),
            ("incomplete-content-filter.sse", &["text", "stop Some(Refusal)"]),
            ("error-event.sse", &["text", "error rate_limit_error"]),
            ("reasoning-then-text.sse", &["thinking", "text", "stop Some(EndTurn)"]),
            (
                "web-search.sse",
                &[
                    "server_tool_use srvtoolu_15 web_search",
                    "web_search_tool_result srvtoolu_15",
                    "text",
                    "stop Some(EndTurn)",
                ],
            ),
            ("unknown-events.sse", &["text", "stop Some(EndTurn)"]),
            ("reasoning-encrypted-only.sse", &["thinking", "text", "stop Some(EndTurn)"]),
            ("cut-before-completed.sse", &["text", "error api_error"]),
            (
                "done-without-deltas.sse",
                &["thinking", "tool_use call_19 Bash", "tool_use call_19b Glob", "stop Some(ToolUse)"],
            ),
            ("completed-output-only.sse", &["text", "stop Some(EndTurn)"]),
            (
                "completed-without-item-done.sse",
                &["text", "tool_use call_21 Bash", "tool_use call_21b Bash", "stop Some(ToolUse)"],
            ),
        ];
        for (name, expected) in table {
            assert_eq!(outline(&translate_sse(&fixture(name))), *expected, "{name}");
        }
        assert_eq!(table.len(), all_fixtures().len(), "every fixture has a row");
    }

    #[test]
    fn tool_names_are_restored_however_the_call_arrives() {
        let long_bash = format!("mcp__shell__{}", "run_a_command_".repeat(6));
        let long_glob = "mcp__files__glob.files".to_owned();
        let names: HashMap<String, String> =
            [("Bash".to_owned(), long_bash.clone()), ("Glob".to_owned(), long_glob.clone())].into();
        let tool = |id: &str, name: &str| format!("tool_use {id} {name}");
        let table = [
            // Announced by output_item.added, arguments streamed; Read is not renamed.
            (
                "codex-reasoning-tool.sse",
                ["thinking".into(), tool("call_AbC123", &long_bash), tool("call_DeF456", "Read")],
            ),
            // Only output_item.done carries the calls.
            ("done-without-deltas.sse", ["thinking".into(), tool("call_19", &long_bash), tool("call_19b", &long_glob)]),
            // Only response.completed's output carries the second call.
            (
                "completed-without-item-done.sse",
                ["text".into(), tool("call_21", &long_bash), tool("call_21b", &long_bash)],
            ),
        ];
        for (name, blocks) in table {
            let events = translate_sse_with_names(&fixture(name), names.clone());
            let mut expected = blocks.to_vec();
            expected.push("stop Some(ToolUse)".to_owned());
            assert_eq!(outline(&events), expected, "{name}");
            let plain = translate_sse(&fixture(name));
            assert_eq!(tool_inputs(&events), tool_inputs(&plain), "{name}: inputs untouched");
        }
    }

    /// The assembled `input_json_delta` text of each block, by index.
    fn tool_inputs(events: &[StreamEvent]) -> Vec<(u32, String)> {
        let mut inputs: Vec<(u32, String)> = Vec::new();
        for event in events {
            match event {
                StreamEvent::ContentBlockStart { index, content_block: ContentBlock::ToolUse { .. } } => {
                    inputs.push((*index, String::new()));
                }
                StreamEvent::ContentBlockDelta { index, delta: Delta::InputJsonDelta { partial_json } } => {
                    if let Some((_, json)) = inputs.iter_mut().find(|(i, _)| i == index) {
                        json.push_str(partial_json);
                    }
                }
                _ => {}
            }
        }
        inputs
    }

    #[test]
    fn interleaved_argument_deltas_are_buffered_per_call() {
        let events = translate_sse(&fixture("parallel-interleaved.sse"));
        assert_eq!(
            tool_inputs(&events),
            [
                (0, r#"{"file_path":"/repo/src/main.rs"}"#.to_owned()),
                (1, r#"{"pattern":"fn main","path":"/repo"}"#.to_owned()),
                (2, "{}".to_owned()),
            ]
        );
    }

    #[test]
    fn arguments_only_in_done_events_are_emitted_once() {
        let events = translate_sse(&fixture("done-without-deltas.sse"));
        assert_eq!(
            tool_inputs(&events),
            [(1, r#"{"command":"cargo test"}"#.to_owned()), (2, r#"{"pattern":"**/*.rs"}"#.to_owned())]
        );
        let reasoning = translate_sse(&fixture("codex-reasoning-tool.sse"));
        assert_eq!(tool_inputs(&reasoning)[0], (1, r#"{"command":"ls -la"}"#.to_owned()));
    }

    /// Thinking text and signature of each thinking block.
    fn thinking_blocks(events: &[StreamEvent]) -> Vec<(String, String)> {
        let mut blocks = Vec::new();
        for event in events {
            match event {
                StreamEvent::ContentBlockStart { content_block: ContentBlock::Thinking { .. }, .. } => {
                    blocks.push((String::new(), String::new()));
                }
                StreamEvent::ContentBlockDelta { delta: Delta::ThinkingDelta { thinking }, .. } => {
                    blocks.last_mut().expect("open thinking block").0.push_str(thinking);
                }
                StreamEvent::ContentBlockDelta { delta: Delta::SignatureDelta { signature }, .. } => {
                    blocks.last_mut().expect("open thinking block").1.push_str(signature);
                }
                _ => {}
            }
        }
        blocks
    }

    #[test]
    fn reasoning_becomes_thinking_with_a_replayable_signature() {
        let table: &[(&str, &[(&str, &str)])] = &[
            (
                "reasoning-then-text.sse",
                &[(
                    "**Reading the question**\n\nThe user greets in French.\n\n**Answering**\n\nReply briefly — with an emoji 🎉.",
                    "codexd.v1.gAAAAABpREASONINGtwoParts==",
                )],
            ),
            ("reasoning-encrypted-only.sse", &[("", "codexd.v1.gAAAAABpENCRYPTEDonly==")]),
            ("done-without-deltas.sse", &[("Summary that was never streamed.", "codexd.v1.gAAAAABpNOdeltas==")]),
        ];
        for (name, expected) in table {
            let blocks = thinking_blocks(&translate_sse(&fixture(name)));
            let blocks: Vec<(&str, &str)> = blocks.iter().map(|(t, s)| (t.as_str(), s.as_str())).collect();
            assert_eq!(blocks, *expected, "{name}");
        }
    }

    fn translator() -> StreamTranslator {
        StreamTranslator::new(TEST_MESSAGE_ID.to_owned(), TEST_MODEL.to_owned())
    }

    fn parse_events(lines: &[Value]) -> Vec<CodexEvent> {
        lines.iter().map(|line| serde_json::from_value(line.clone()).expect("valid event")).collect()
    }

    #[test]
    fn message_start_comes_lazily_when_created_is_missing() {
        let mut t = translator();
        let events = parse_events(&[json!({"type":"response.output_text.delta","output_index":0,"delta":"Hi"})]);
        let out: Vec<StreamEvent> = events.into_iter().flat_map(|e| t.on_event(e)).collect();
        assert_eq!(
            out,
            [
                StreamEvent::MessageStart { message: Message::new(TEST_MESSAGE_ID, TEST_MODEL) },
                StreamEvent::ContentBlockStart { index: 0, content_block: ContentBlock::empty_text() },
                StreamEvent::ContentBlockDelta { index: 0, delta: Delta::TextDelta { text: "Hi".into() } },
            ]
        );
        assert!(t.has_content());
        assert!(!t.is_finished());
    }

    #[test]
    fn the_answer_has_begun_once_the_upstream_announces_an_item() {
        let created = json!({"type":"response.created","response":{"id":"resp_1"}});
        let in_progress = json!({"type":"response.in_progress","response":{"id":"resp_1"}});
        let reasoning = json!({"type":"response.output_item.added","output_index":0,
                               "item":{"id":"rs_1","type":"reasoning","summary":[]}});
        let call = json!({"type":"response.output_item.added","output_index":0,
                          "item":{"id":"fc_1","type":"function_call","call_id":"c1","name":"Bash","arguments":""}});
        let delta = json!({"type":"response.output_text.delta","output_index":0,"delta":"Hi"});
        let failed = json!({"type":"response.failed",
                            "response":{"id":"resp_1","error":{"code":"server_is_overloaded","message":"busy"}}});
        let table = [
            (vec![], false),
            (vec![created.clone()], false),
            (vec![created.clone(), in_progress.clone()], false),
            (vec![created.clone(), failed], false),
            (vec![created.clone(), in_progress, reasoning], true),
            (vec![created.clone(), call], true),
            (vec![created, delta], true),
        ];
        for (events, begun) in table {
            let mut t = translator();
            for event in parse_events(&events) {
                t.on_event(event);
            }
            assert_eq!(t.has_begun(), begun, "after {events:?}");
        }
    }

    #[test]
    fn finish_reports_a_cut_stream_and_closes_the_open_block() {
        let table = [
            (None, CUT_SHORT.to_owned()),
            (Some("connection reset".to_owned()), format!("{CUT_SHORT}: connection reset")),
        ];
        for (reason, message) in table {
            let mut t = translator();
            t.on_event(
                serde_json::from_value(json!({"type":"response.output_text.delta","output_index":0,"delta":"Hi"}))
                    .unwrap(),
            );
            assert_eq!(
                t.finish(reason),
                [StreamEvent::ContentBlockStop { index: 0 }, StreamEvent::error(&ApiError::api(message))]
            );
            assert!(t.is_finished());
            assert_eq!(t.finish(None), [], "a second finish emits nothing");
        }
    }

    #[test]
    fn a_malformed_event_fails_the_message() {
        let mut t = translator();
        let err =
            SseError::Malformed { event: "response.output_text.delta".into(), message: "missing field `delta`".into() };
        let out = t.on_decoded(Err(err.clone()));
        assert_eq!(out, [StreamEvent::error(&ApiError::api(format!("{CUT_SHORT}: {err}")))]);
        assert!(t.is_finished());
        assert!(!t.has_content());
    }

    #[test]
    fn nothing_is_emitted_after_the_stream_finished() {
        let mut t = translator();
        for event in parse_events(&[
            json!({"type":"response.created","response":{"id":"resp_1"}}),
            json!({"type":"response.completed","response":{"id":"resp_1"}}),
        ]) {
            t.on_event(event);
        }
        assert!(t.is_finished());
        let late = parse_events(&[
            json!({"type":"response.output_text.delta","output_index":0,"delta":"late"}),
            json!({"type":"error","code":"x","message":"late"}),
            json!({"type":"response.completed","response":{"id":"resp_1"}}),
        ]);
        for event in late {
            assert_eq!(t.on_event(event), []);
        }
        assert_eq!(t.finish(Some("late".into())), []);
    }

    #[test]
    fn upstream_error_codes_map_to_anthropic_error_kinds() {
        let said = "upstream says no";
        let table = [
            (Some("server_is_overloaded"), ErrorKind::OverloadedError, said),
            (Some("slow_down"), ErrorKind::OverloadedError, said),
            (Some("rate_limit_exceeded"), ErrorKind::RateLimitError, said),
            (Some("usage_limit_reached"), ErrorKind::RateLimitError, "ChatGPT usage limit reached."),
            (Some("context_length_exceeded"), ErrorKind::InvalidRequestError, said),
            (Some("invalid_prompt"), ErrorKind::InvalidRequestError, said),
            (Some("cyber_policy"), ErrorKind::InvalidRequestError, said),
            (Some("bio_policy"), ErrorKind::InvalidRequestError, said),
            (Some("misalignment_policy_violation"), ErrorKind::InvalidRequestError, said),
            (Some("usage_not_included"), ErrorKind::PermissionError, said),
            (Some("insufficient_quota"), ErrorKind::PermissionError, said),
            (Some("server_error"), ErrorKind::ApiError, said),
            (None, ErrorKind::ApiError, said),
        ];
        for (code, kind, needle) in table {
            let error = ResponseError { code: code.map(str::to_owned), message: said.into(), ..Default::default() };
            let failed = CodexEvent::Failed {
                response: ResponseObject {
                    id: "resp_1".into(),
                    status: Some("failed".into()),
                    model: None,
                    output: vec![],
                    usage: None,
                    error: Some(error.clone()),
                    incomplete_details: None,
                },
            };
            let error_event =
                CodexEvent::Error { code: error.code, message: Some(error.message), param: None, error: None };
            for (via, event) in [("response.failed", failed), ("error", error_event)] {
                let out = translator().on_event(event);
                let [StreamEvent::Error { error }] = out.as_slice() else { panic!("{code:?} via {via}: {out:?}") };
                assert_eq!(error.kind, kind, "{code:?} via {via}");
                assert!(error.message.contains(needle), "{code:?} via {via}: {}", error.message);
            }
        }
    }

    /// The same answer as the HTTP path gives for the same code.
    #[test]
    fn stream_errors_are_the_http_errors_of_their_code() {
        use crate::codex::error::{map_upstream_error, UpstreamFailure, BACKEND_CODES};
        for code in BACKEND_CODES.iter().map(|known| known.code) {
            let error = ResponseError { code: Some((*code).to_owned()), message: "no.".into(), ..Default::default() };
            let body = json!({"error": {"code": code, "message": "no."}}).to_string();
            let http = map_upstream_error(
                &UpstreamFailure { status: 400, body: body.as_bytes(), ..Default::default() },
                chrono::Utc::now(),
            );
            let stream = failure_from(&error);
            assert_eq!(
                (stream.kind, &stream.message, stream.retry_after),
                (http.kind, &http.message, http.retry_after),
                "{code}"
            );
        }
    }

    #[test]
    fn a_usage_limit_in_the_stream_says_when_it_resets() {
        let capture = include_str!("../../tests/fixtures/codex-200-usage-limit.http");
        let (_, body) = capture.split_once("\n\n").expect("headers, then the body");
        let out = translate_sse(body);
        let [StreamEvent::MessageStart { .. }, StreamEvent::Error { error }] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(error.kind, ErrorKind::RateLimitError);
        assert!(error.message.contains("usage limit reached (plus plan); resets at "), "{}", error.message);
        assert!(error.message.contains("(in 52 min)"), "{}", error.message);

        let resets_in = ResponseError {
            kind: Some("usage_limit_reached".into()),
            resets_in_seconds: Some(600),
            ..Default::default()
        };
        assert_eq!(failure_from(&resets_in).retry_after, Some(600));
        let at = chrono::Utc::now().timestamp() + 7_200;
        let resets_at =
            ResponseError { code: Some("usage_limit_reached".into()), resets_at: Some(at), ..Default::default() };
        let err = failure_from(&resets_at);
        assert!(err.retry_after.is_some_and(|secs| (7_190..=7_200).contains(&secs)), "{err:?}");
        let err = failure_from(&ResponseError { resets_in_seconds: Some(-5), ..resets_in });
        assert_eq!((err.kind, err.retry_after), (Kind::UsageLimit, None));
    }

    #[test]
    fn errors_without_a_message_still_say_something() {
        let table = [
            (json!({"type":"error","code":"server_error"}), "the Codex backend reported an error: server_error"),
            (json!({"type":"error"}), "the Codex backend reported an error without a message"),
            (
                json!({"type":"response.failed","response":{"id":"resp_1"}}),
                "the Codex backend reported that the response failed, without saying why",
            ),
        ];
        for (event, message) in table {
            let out = translator().on_event(serde_json::from_value(event).unwrap());
            assert_eq!(out, [StreamEvent::error(&ApiError::api(message))]);
        }
    }

    #[test]
    fn usage_separates_cached_input_tokens() {
        let usage = events::Usage {
            input_tokens: 18000,
            input_tokens_details: Some(events::InputTokensDetails { cached_tokens: 16384 }),
            output_tokens: 420,
            output_tokens_details: None,
            total_tokens: 18420,
        };
        assert_eq!(
            delta_usage(Some(&usage)),
            MessageDeltaUsage {
                output_tokens: 420,
                input_tokens: 1616,
                cache_read_input_tokens: 16384,
                cache_creation_input_tokens: 0,
                ..MessageDeltaUsage::default()
            }
        );
        let odd = events::Usage {
            input_tokens: 10,
            input_tokens_details: Some(events::InputTokensDetails { cached_tokens: 50 }),
            ..usage
        };
        assert_eq!(delta_usage(Some(&odd)).input_tokens, 0, "cached above total never underflows");
        assert_eq!(delta_usage(None), MessageDeltaUsage::default());
    }

    #[test]
    fn message_start_carries_usage_known_at_creation() {
        let created = json!({"type":"response.created","response":{"id":"resp_1",
            "usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":60},"output_tokens":0}}});
        let out = translator().on_event(serde_json::from_value(created).unwrap());
        let [StreamEvent::MessageStart { message }] = &out[..] else { panic!("{out:?}") };
        assert_eq!(message.usage, Usage { input_tokens: 40, cache_read_input_tokens: 60, ..Usage::default() });
    }

    #[test]
    fn message_start_announces_the_counted_prompt_until_the_upstream_counts() {
        let created = json!({"type":"response.created","response":{"id":"resp_1"}});
        let out = translator().with_prompt_tokens(1234).on_event(serde_json::from_value(created.clone()).unwrap());
        let [StreamEvent::MessageStart { message }] = &out[..] else { panic!("{out:?}") };
        assert_eq!(message.usage.input_tokens, 1234);
        let out = translator().on_event(serde_json::from_value(created).unwrap());
        let [StreamEvent::MessageStart { message }] = &out[..] else { panic!("{out:?}") };
        assert_eq!(message.usage.input_tokens, 0, "unknown stays 0");
    }

    #[test]
    fn citations_carry_the_text_they_cite_and_searches_anthropic_ids() {
        let mut t = translator();
        let events = parse_events(&[
            json!({"type":"response.output_item.added","output_index":0,"item":{"type":"web_search_call","id":"ws_abc"}}),
            json!({"type":"response.output_item.done","output_index":0,"item":{"type":"web_search_call","id":"ws_abc","action":{"type":"search","query":"q"}}}),
            json!({"type":"response.output_item.added","output_index":1,"item":{"type":"message","content":[]}}),
            json!({"type":"response.output_text.delta","output_index":1,"content_index":0,"delta":"Rust 1.9 is out. "}),
            json!({"type":"response.output_text.delta","output_index":1,"content_index":0,"delta":"Really."}),
            json!({"type":"response.output_text.annotation.added","output_index":1,"content_index":0,"annotation_index":0,
                   "annotation":{"type":"url_citation","url":"https://e.com","title":"E","start_index":0,"end_index":15}}),
        ]);
        let out: Vec<StreamEvent> = events.into_iter().flat_map(|e| t.on_event(e)).collect();
        let ids: Vec<&str> = out
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ContentBlockStart { content_block: ContentBlock::ServerToolUse { id, .. }, .. } => {
                    Some(id.as_str())
                }
                StreamEvent::ContentBlockStart {
                    content_block: ContentBlock::WebSearchToolResult { tool_use_id, .. },
                    ..
                } => Some(tool_use_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["srvtoolu_abc", "srvtoolu_abc"]);
        let cited: Vec<&str> = out
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ContentBlockDelta {
                    delta: Delta::CitationsDelta { citation: Citation::WebSearchResultLocation { cited_text, .. } },
                    ..
                } => Some(cited_text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(cited, ["Rust 1.9 is out"]);
    }

    #[test]
    fn events_for_a_finished_item_are_ignored() {
        let mut t = translator();
        let events = parse_events(&[
            json!({"type":"response.output_item.added","output_index":0,"item":{"type":"message","content":[]}}),
            json!({"type":"response.output_text.delta","output_index":0,"delta":"Hi"}),
            json!({"type":"response.output_item.done","output_index":0,"item":{"type":"message","content":[]}}),
        ]);
        let out: Vec<StreamEvent> = events.into_iter().flat_map(|e| t.on_event(e)).collect();
        assert_eq!(out.last(), Some(&StreamEvent::ContentBlockStop { index: 0 }));
        let late = json!({"type":"response.output_text.delta","output_index":0,"delta":"late"});
        assert_eq!(t.on_event(serde_json::from_value(late).unwrap()), []);
    }

    #[test]
    fn web_search_queries_are_found_in_either_action_shape() {
        let table = [
            (json!({"type":"search","query":"rust"}), Some("rust")),
            (json!({"type":"search","queries":["first","second"]}), Some("first")),
            (json!({"type":"open_page","url":"https://e.com"}), None),
            (json!({"type":"search","query":7}), None),
        ];
        for (action, expected) in table {
            assert_eq!(search_query(&action).as_deref(), expected, "{action}");
        }
        let mut t = translator();
        let open_page = json!({"type":"response.output_item.done","output_index":0,
            "item":{"type":"web_search_call","id":"ws_1","action":{"type":"open_page","url":"https://e.com"}}});
        let out = t.on_event(serde_json::from_value(open_page).unwrap());
        assert!(!t.has_content(), "a search without a query shows no block: {out:?}");
    }

    #[test]
    fn the_sequence_checker_rejects_broken_streams() {
        let start = StreamEvent::MessageStart { message: Message::new("m", "x") };
        let block = |index| StreamEvent::ContentBlockStart { index, content_block: ContentBlock::empty_text() };
        let tool = |index| StreamEvent::ContentBlockStart {
            index,
            content_block: ContentBlock::ToolUse { id: "c".into(), name: "n".into(), input: json!({}) },
        };
        let text = |index| StreamEvent::ContentBlockDelta { index, delta: Delta::TextDelta { text: "t".into() } };
        let json_delta = |index, partial: &str| StreamEvent::ContentBlockDelta {
            index,
            delta: Delta::InputJsonDelta { partial_json: partial.into() },
        };
        let stop = |index| StreamEvent::ContentBlockStop { index };
        let end = StreamEvent::MessageDelta {
            delta: MessageDelta { stop_reason: Some(StopReason::EndTurn), ..MessageDelta::default() },
            usage: MessageDeltaUsage::default(),
        };
        let bad: Vec<(&str, Vec<StreamEvent>)> = vec![
            ("empty", vec![]),
            ("no message_start", vec![block(0), stop(0), end.clone(), StreamEvent::MessageStop]),
            ("no message_stop", vec![start.clone(), end.clone()]),
            ("no message_delta", vec![start.clone(), StreamEvent::MessageStop]),
            ("index gap", vec![start.clone(), block(1), stop(1), end.clone(), StreamEvent::MessageStop]),
            (
                "interleaved",
                vec![start.clone(), block(0), block(1), stop(1), stop(0), end.clone(), StreamEvent::MessageStop],
            ),
            (
                "delta to closed block",
                vec![start.clone(), block(0), stop(0), text(0), end.clone(), StreamEvent::MessageStop],
            ),
            ("never stopped", vec![start.clone(), block(0), end.clone(), StreamEvent::MessageStop]),
            ("wrong delta kind", vec![start.clone(), tool(0), text(0), stop(0), end.clone(), StreamEvent::MessageStop]),
            (
                "bad tool json",
                vec![start.clone(), tool(0), json_delta(0, "{\"a\":"), stop(0), end.clone(), StreamEvent::MessageStop],
            ),
            ("event after stop", vec![start.clone(), end.clone(), StreamEvent::MessageStop, block(0)]),
        ];
        for (why, events) in bad {
            assert!(check_sequence(&events).is_err(), "accepted a stream with {why}");
        }
        let good = vec![
            start,
            StreamEvent::Ping,
            tool(0),
            json_delta(0, "{\"a\":1}"),
            stop(0),
            block(1),
            text(1),
            stop(1),
            end,
            StreamEvent::MessageStop,
        ];
        assert_eq!(check_sequence(&good), Ok(()));
        assert_eq!(check_sequence(&[StreamEvent::error(&ApiError::overloaded("busy"))]), Ok(()));
    }
}
