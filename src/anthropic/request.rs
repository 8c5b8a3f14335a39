//! What clients send to `POST /v1/messages`: the request body as serde types,
//! and [`parse_messages_request`], which turns raw bytes into one or a 400.
//!
//! Tolerance rules: unknown fields, at the top level and inside blocks, are
//! ignored; source kinds and block types Anthropic defines that codexd does
//! not translate ([`KNOWN_UNTRANSLATED_BLOCKS`]) are kept as raw JSON (the
//! `Unknown` / `Other` variants), and typed tools it does not translate by
//! their type alone, rather than failing the request. What Anthropic itself
//! refuses is refused with a 400 naming the field: a block type Anthropic
//! does not define, a client tool without `input_schema`, and (on
//! `/v1/messages`, not on `count_tokens`) a missing `max_tokens`. A missing
//! or mistyped field of a *known* shape is an error whose message names its
//! JSON path, e.g. ``messages[0].content[1].source: missing field `data` ``.

use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::anthropic::ApiError;
use crate::json::RawJson;

/// The body of `POST /v1/messages` (and of `count_tokens`, minus `max_tokens`).
///
/// Read it with [`parse_messages_request`], or at least from JSON text
/// (`serde_json::from_slice`/`from_str`): tool schemas are kept as their
/// text ([`RawJson`]), which a `Value` cannot supply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    pub messages: Vec<InputMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
    /// The older place of structured output (`structured-outputs` beta);
    /// `output_config.format` wins when both are present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<OutputFormat>,
    /// Accepted, never forwarded (the Codex backend rejects it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Accepted, never forwarded (the Codex backend rejects it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Accepted, never forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    /// Accepted, never forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    // Other top-level fields (`context_management`, …) are ignored. Not
    // collected with `#[serde(flatten)]`: that buffers the whole body before
    // parsing it, and made parsing twice as slow.
}

/// `system`: a string or a list of text blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum System {
    Text(String),
    Blocks(Vec<SystemBlock>),
}

/// One block of a `system` array. `cache_control` and other fields are dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemBlock {
    pub text: String,
}

impl System {
    /// The whole system prompt; blocks are joined with a blank line.
    pub fn text(&self) -> String {
        match self {
            System::Text(text) => text.clone(),
            System::Blocks(blocks) => blocks.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n\n"),
        }
    }
}

/// One entry of `messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputMessage {
    pub role: Role,
    pub content: MessageContent,
    /// Claude Code's per-turn control (`per-turn-control-2026-07-01`): an
    /// `output_config` on a `system` turn, e.g. `{"effort":"medium"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    /// A mid-conversation system turn (Claude Code 2.1.197+: environment,
    /// deferred tools, skills, date), in its place in the conversation.
    System,
}

/// A message's `content`: a string or a list of blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

impl MessageContent {
    /// The text of the content: the string itself, or the text blocks joined
    /// with a blank line (other blocks are skipped).
    pub fn text(&self) -> String {
        match self {
            MessageContent::Text(text) => text.clone(),
            MessageContent::Blocks(blocks) => blocks
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::Text(t) => Some(t.text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n\n"),
        }
    }
}

/// One content block, by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text(TextBlock),
    Image(ImageBlock),
    Document(DocumentBlock),
    ToolUse(ToolUseBlock),
    ToolResult(ToolResultBlock),
    Thinking(ThinkingBlock),
    RedactedThinking(RedactedThinkingBlock),
    /// A hosted tool call (web search), kept as raw JSON.
    ServerToolUse(Map<String, Value>),
    /// Web search results, kept as raw JSON.
    WebSearchToolResult(Map<String, Value>),
    /// `{"type":"tool_reference","tool_name":…}` inside a `tool_result`:
    /// ToolSearch loaded that (deferred) tool.
    ToolReference(ToolReferenceBlock),
    /// A block type Anthropic defines but codexd does not translate (see
    /// [`KNOWN_UNTRANSLATED_BLOCKS`]), kept as raw JSON.
    #[serde(untagged)]
    Unknown(Value),
}

/// Block types Anthropic defines (the newest SDK's block params, beta ones
/// included) that codexd accepts and does not translate. Any other `type`
/// is refused, as Anthropic refuses it.
pub const KNOWN_UNTRANSLATED_BLOCKS: &[&str] = &[
    "search_result",
    "web_fetch_tool_result",
    "advisor_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "tool_search_tool_result",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
    "compaction",
    "tool_addition",
    "tool_removal",
    "mcp_tool_listing",
    "fallback",
    "browser_state",
];

/// `{"type":"tool_reference","tool_name":…}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolReferenceBlock {
    pub tool_name: String,
}

/// `{"type":"text","text":…}`; `cache_control` and `citations` are dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    pub text: String,
}

/// `{"type":"image","source":…}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    pub source: ImageSource,
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    /// Another source type (`file`, …), kept as raw JSON.
    #[serde(untagged)]
    Other(Value),
}

/// `{"type":"document","source":…,"title"?,"context"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentBlock {
    pub source: DocumentSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// Where a document's content is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DocumentSource {
    /// Base64 bytes, in practice a PDF.
    Base64 {
        media_type: String,
        data: String,
    },
    /// Plain text.
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
        data: String,
    },
    Url {
        url: String,
    },
    /// Inline content blocks (or a string).
    Content {
        content: MessageContent,
    },
    /// Another source type (`file`, …), kept as raw JSON.
    #[serde(untagged)]
    Other(Value),
}

/// `{"type":"tool_use","id":…,"name":…,"input":{…}}` from the assistant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUseBlock {
    pub id: String,
    pub name: String,
    pub input: Value,
}

/// `{"type":"tool_result","tool_use_id":…,"content"?,"is_error"?}` from the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultBlock {
    pub tool_use_id: String,
    /// A string or blocks (text, image, …); absent means an empty result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
}

/// `{"type":"thinking","thinking":…,"signature":…}` from the assistant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingBlock {
    pub thinking: String,
    /// Opaque; codexd's own signatures carry the encrypted reasoning.
    #[serde(default)]
    pub signature: String,
}

/// `{"type":"redacted_thinking","data":…}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedThinkingBlock {
    pub data: String,
}

/// One entry of `tools`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Tool {
    /// A client-side tool (no `type`, or `"type":"custom"`).
    Custom(CustomTool),
    /// The hosted web search tool (`"type":"web_search_…"`).
    WebSearch(WebSearchTool),
    /// Any other typed tool (bash, text editor, …): not translated, so
    /// only its type is kept.
    Unknown {
        #[serde(rename = "type")]
        kind: String,
    },
}

/// `{"name":…,"description"?,"input_schema":{…}}`. Read by [`Tool`]'s
/// deserializer, which reads every tool shape in one pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomTool {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON schema of the input, as the client wrote it; required, as
    /// Anthropic requires it. Kept as text: codexd only normalizes it, once
    /// per text (`translate::schema::tool_parameters`).
    pub input_schema: RawJson,
    /// Tool search (`advanced-tool-use`): not offered to the model until a
    /// `tool_reference` in the conversation has loaded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defer_loading: Option<bool>,
}

/// `{"type":"web_search_20250305","name":"web_search","max_uses"?,…}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebSearchTool {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_domains: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_domains: Option<Vec<String>>,
}

/// `tool_choice`: `{"type":"auto"|"any"|"none"|"tool","name"?,"disable_parallel_tool_use"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolChoice {
    #[serde(rename = "type")]
    pub kind: ToolChoiceKind,
    /// Required when `kind` is [`ToolChoiceKind::Tool`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

/// `tool_choice.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceKind {
    /// The model decides.
    Auto,
    /// The model must call some tool.
    Any,
    /// The model must not call tools.
    None,
    /// The model must call the tool named in `name`.
    Tool,
}

/// `thinking`: extended thinking settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Thinking {
    Enabled {
        budget_tokens: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display: Option<String>,
    },
    Disabled,
    Adaptive {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display: Option<String>,
    },
    /// A thinking type codexd does not know; treated like no setting.
    #[serde(other)]
    Other,
}

impl Thinking {
    /// `display: "omitted"`: thinking blocks carry their signature but no
    /// text. (`"summarized"`, Claude Code's `"updates"` and no value show it.)
    pub fn omits_text(&self) -> bool {
        match self {
            Thinking::Enabled { display, .. } | Thinking::Adaptive { display } => display.as_deref() == Some("omitted"),
            Thinking::Disabled | Thinking::Other => false,
        }
    }
}

/// `output_config`: newer clients put the effort and the structured
/// output format here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputConfig {
    /// `low`, `medium`, `high`, `xhigh` or `max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat>,
}

/// `output_config.format` / `output_format`: `{"type":"json_schema","schema":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputFormat {
    JsonSchema { schema: Value },
}

/// `metadata`; Claude Code sends `user_<hash>_account_<x>_session_<uuid>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// Parse and check a `POST /v1/messages` body.
///
/// Errors are 400 `invalid_request_error`s: "request body is not valid JSON: …"
/// for bad syntax, "`path`: …" for a missing or mistyped field (`max_tokens`
/// included, as Anthropic requires it), and a plain sentence for an empty
/// `model` or `messages`.
pub fn parse_messages_request(body: &[u8]) -> Result<MessagesRequest, ApiError> {
    let request = parse_body(body)?;
    if request.max_tokens.is_none() {
        return Err(ApiError::invalid_request("max_tokens: Field required"));
    }
    Ok(request)
}

/// Parse and check a `POST /v1/messages/count_tokens` body: the same as
/// [`parse_messages_request`], except that `max_tokens` may be absent.
pub fn parse_count_tokens_request(body: &[u8]) -> Result<MessagesRequest, ApiError> {
    parse_body(body)
}

fn parse_body(body: &[u8]) -> Result<MessagesRequest, ApiError> {
    // Parse without tracking paths, and only for a refused body parse it
    // again to name the path: the tracking costs on every field.
    let request = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(_) => parse_tracking_paths(body)?,
    };
    validate(&request)?;
    Ok(request)
}

fn parse_tracking_paths(body: &[u8]) -> Result<MessagesRequest, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let request: MessagesRequest = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| field_error(&e))?;
    deserializer.end().map_err(|e| ApiError::invalid_request(format!("request body is not valid JSON: {e}")))?;
    Ok(request)
}

fn field_error(error: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = error.inner();
    if !inner.is_data() {
        return ApiError::invalid_request(format!("request body is not valid JSON: {inner}"));
    }
    let path = error.path().to_string();
    if path == "." {
        ApiError::invalid_request(format!("request body: {inner}"))
    } else {
        ApiError::invalid_request(format!("{path}: {inner}"))
    }
}

fn validate(request: &MessagesRequest) -> Result<(), ApiError> {
    if request.model.trim().is_empty() {
        return Err(ApiError::invalid_request("model: must name a model, e.g. \"claude-sonnet-4-5\""));
    }
    if request.messages.is_empty() {
        return Err(ApiError::invalid_request("messages: at least one message is required"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Deserialization: string-or-list fields, and tagged enums that keep unknown
// tags as raw JSON while still reporting precise paths for known ones.
// ---------------------------------------------------------------------------

/// A field that is either a string or a list of `T`.
enum StringOrSeq<T> {
    String(String),
    Seq(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for StringOrSeq<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringOrSeqVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for StringOrSeqVisitor<T> {
            type Value = StringOrSeq<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of blocks")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOrSeq::String(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StringOrSeq::String(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(StringOrSeq::Seq)
            }
        }

        deserializer.deserialize_any(StringOrSeqVisitor(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for System {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match StringOrSeq::deserialize(deserializer)? {
            StringOrSeq::String(text) => System::Text(text),
            StringOrSeq::Seq(blocks) => System::Blocks(blocks),
        })
    }
}

impl<'de> Deserialize<'de> for MessageContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match StringOrSeq::deserialize(deserializer)? {
            StringOrSeq::String(text) => MessageContent::Text(text),
            StringOrSeq::Seq(blocks) => MessageContent::Blocks(blocks),
        })
    }
}

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TypeFirst::<Self>(PhantomData))
    }
}

impl Tagged for ContentBlock {
    const WHAT: &'static str = "a content block";

    fn from_fields<'de, D: Deserializer<'de>>(kind: String, fields: D) -> Result<Self, D::Error> {
        Ok(match kind.as_str() {
            "text" => ContentBlock::Text(TextBlock::deserialize(fields)?),
            "image" => ContentBlock::Image(ImageBlock::deserialize(fields)?),
            "document" => ContentBlock::Document(DocumentBlock::deserialize(fields)?),
            "tool_use" => ContentBlock::ToolUse(ToolUseBlock::deserialize(fields)?),
            "tool_result" => ContentBlock::ToolResult(ToolResultBlock::deserialize(fields)?),
            "thinking" => ContentBlock::Thinking(ThinkingBlock::deserialize(fields)?),
            "redacted_thinking" => ContentBlock::RedactedThinking(RedactedThinkingBlock::deserialize(fields)?),
            "server_tool_use" => ContentBlock::ServerToolUse(Map::deserialize(fields)?),
            "web_search_tool_result" => ContentBlock::WebSearchToolResult(Map::deserialize(fields)?),
            "tool_reference" => ContentBlock::ToolReference(ToolReferenceBlock::deserialize(fields)?),
            known if KNOWN_UNTRANSLATED_BLOCKS.contains(&known) => {
                ContentBlock::Unknown(with_type(kind, Map::deserialize(fields)?))
            }
            _ => return Err(de::Error::custom(format!("type: unknown content block type {kind:?}"))),
        })
    }
}

/// The fields of a `base64` image or document source.
#[derive(Deserialize)]
struct Base64Fields {
    media_type: String,
    data: String,
}

/// The fields of a `url` image or document source.
#[derive(Deserialize)]
struct UrlFields {
    url: String,
}

impl<'de> Deserialize<'de> for ImageSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TypeFirst::<Self>(PhantomData))
    }
}

impl Tagged for ImageSource {
    const WHAT: &'static str = "an image source";

    fn from_fields<'de, D: Deserializer<'de>>(kind: String, fields: D) -> Result<Self, D::Error> {
        Ok(match kind.as_str() {
            "base64" => {
                let Base64Fields { media_type, data } = Base64Fields::deserialize(fields)?;
                ImageSource::Base64 { media_type, data }
            }
            "url" => ImageSource::Url { url: UrlFields::deserialize(fields)?.url },
            _ => ImageSource::Other(with_type(kind, Map::deserialize(fields)?)),
        })
    }
}

impl<'de> Deserialize<'de> for DocumentSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TypeFirst::<Self>(PhantomData))
    }
}

impl Tagged for DocumentSource {
    const WHAT: &'static str = "a document source";

    fn from_fields<'de, D: Deserializer<'de>>(kind: String, fields: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct TextFields {
            media_type: Option<String>,
            data: String,
        }
        #[derive(Deserialize)]
        struct ContentFields {
            content: MessageContent,
        }
        Ok(match kind.as_str() {
            "base64" => {
                let Base64Fields { media_type, data } = Base64Fields::deserialize(fields)?;
                DocumentSource::Base64 { media_type, data }
            }
            "text" => {
                let TextFields { media_type, data } = TextFields::deserialize(fields)?;
                DocumentSource::Text { media_type, data }
            }
            "url" => DocumentSource::Url { url: UrlFields::deserialize(fields)?.url },
            "content" => DocumentSource::Content { content: ContentFields::deserialize(fields)?.content },
            _ => DocumentSource::Other(with_type(kind, Map::deserialize(fields)?)),
        })
    }
}

/// A JSON object whose `type` says which shape the rest has.
trait Tagged: Sized {
    /// What the object is, for "expected …" in errors.
    const WHAT: &'static str;

    /// Build the value of this `kind` from the object's other fields.
    fn from_fields<'de, D: Deserializer<'de>>(kind: String, fields: D) -> Result<Self, D::Error>;
}

/// Reads a [`Tagged`] object in one pass when `type` is its first field, as
/// Claude Code and the SDKs write it: the other fields then go straight into
/// the shape the type names. Otherwise the object is read whole first.
/// (Serde's own internally tagged enums always buffer the whole object.)
struct TypeFirst<T>(PhantomData<T>);

impl<'de, T: Tagged> Visitor<'de> for TypeFirst<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(T::WHAT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let first: Option<String> = map.next_key()?;
        if first.as_deref() == Some("type") {
            let kind = type_name(map.next_value()?)?;
            return T::from_fields(kind, de::value::MapAccessDeserializer::new(map));
        }
        let mut object = Map::new();
        if let Some(key) = first {
            object.insert(key, map.next_value()?);
        }
        while let Some((key, value)) = map.next_entry()? {
            object.insert(key, value);
        }
        let kind = type_name(object.remove("type").ok_or_else(|| de::Error::missing_field("type"))?)?;
        T::from_fields(kind, object).map_err(de::Error::custom)
    }
}

fn type_name<E: de::Error>(kind: Value) -> Result<String, E> {
    match kind {
        Value::String(kind) => Ok(kind),
        other => Err(E::custom(format!("type: expected a string, got {}", unexpected(&other)))),
    }
}

/// `fields` with `type` put back in front, for objects kept as raw JSON.
fn with_type(kind: String, fields: Map<String, Value>) -> Value {
    let mut object = Map::with_capacity(fields.len() + 1);
    object.insert("type".to_owned(), Value::String(kind));
    object.extend(fields);
    Value::Object(object)
}

impl<'de> Deserialize<'de> for Tool {
    /// In one pass over every field any tool shape has: Claude Code's
    /// tools have no `type` to read first (see [`TypeFirst`]), and the
    /// schema, most of a tool's bytes, is only scanned ([`RawJson`]).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(expecting = "a tool object")]
        struct Fields {
            #[serde(rename = "type", default)]
            kind: Option<String>,
            name: Option<String>,
            description: Option<String>,
            /// `null` is a schema too (of a tool that takes nothing).
            #[serde(default, deserialize_with = "present")]
            input_schema: Option<RawJson>,
            defer_loading: Option<bool>,
            max_uses: Option<u64>,
            allowed_domains: Option<Vec<String>>,
            blocked_domains: Option<Vec<String>>,
        }
        fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<RawJson>, D::Error> {
            RawJson::deserialize(deserializer).map(Some)
        }
        let fields = Fields::deserialize(deserializer)?;
        let name = fields.name.ok_or_else(|| de::Error::missing_field("name"));
        // `"type":"custom"` is what no `type` means.
        Ok(match fields.kind.filter(|kind| kind != "custom") {
            None => Tool::Custom(CustomTool {
                name: name?,
                description: fields.description,
                input_schema: fields.input_schema.ok_or_else(|| de::Error::missing_field("input_schema"))?,
                defer_loading: fields.defer_loading,
            }),
            Some(kind) if kind.starts_with("web_search_") => Tool::WebSearch(WebSearchTool {
                kind,
                name: name?,
                max_uses: fields.max_uses,
                allowed_domains: fields.allowed_domains,
                blocked_domains: fields.blocked_domains,
            }),
            Some(kind) => Tool::Unknown { kind },
        })
    }
}

fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anthropic::ErrorKind;
    use serde_json::json;

    /// Parsed as `count_tokens` parses: `max_tokens` may be left out.
    fn parse(value: Value) -> Result<MessagesRequest, ApiError> {
        parse_count_tokens_request(value.to_string().as_bytes())
    }

    #[test]
    fn messages_need_max_tokens_and_count_tokens_does_not() {
        let body = json!({"model":"m","messages":[{"role":"user","content":"x"}]}).to_string();
        let error = parse_messages_request(body.as_bytes()).unwrap_err();
        assert_eq!((error.status, error.message.as_str()), (400, "max_tokens: Field required"));
        assert!(parse_count_tokens_request(body.as_bytes()).is_ok());
        let with = json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}).to_string();
        assert_eq!(parse_messages_request(with.as_bytes()).unwrap().max_tokens, Some(5));
    }

    #[test]
    fn parses_claude_code_2_1_330_fields() {
        let request = parse(json!({
            "model": "claude-opus-5-5",
            "max_tokens": 128000,
            "messages": [
                {"role":"user","content":"hi"},
                {"role":"system","content":"env","output_config":{"effort":"medium"}},
                {"role":"system","content":[{"type":"text","text":"more","cache_control":{"type":"ephemeral"}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[
                    {"type":"tool_reference","tool_name":"WebFetch"}]}, {"type":"text","text":"Tool loaded."}]}
            ],
            "tools": [{"name":"DeferredToolPlaceholder","description":"never","input_schema":{"type":"object","properties":{}},"defer_loading":true}],
            "thinking": {"type":"adaptive","display":"omitted"},
            "output_config": {"effort":"high","format":{"type":"json_schema","schema":{"type":"object"}}},
            "output_format": {"type":"json_schema","schema":{"type":"object","properties":{}}},
            "context_management": {"edits":[]},
            "safeguards": [{"type":"dangerous_tool_use"}]
        }))
        .unwrap();
        assert_eq!(request.messages[1].role, Role::System);
        assert_eq!(request.messages[1].output_config.as_ref().and_then(|c| c.effort.as_deref()), Some("medium"));
        assert_eq!(request.messages[2].content.text(), "more");
        let MessageContent::Blocks(blocks) = &request.messages[3].content else { panic!("blocks expected") };
        let ContentBlock::ToolResult(ToolResultBlock { content: Some(MessageContent::Blocks(inner)), .. }) = &blocks[0]
        else {
            panic!("a tool result expected")
        };
        assert_eq!(inner[0], ContentBlock::ToolReference(ToolReferenceBlock { tool_name: "WebFetch".into() }));
        assert!(matches!(&request.tools.as_deref().unwrap()[0], Tool::Custom(t) if t.defer_loading == Some(true)));
        assert!(request.thinking.as_ref().unwrap().omits_text());
        assert_eq!(
            request.output_config.as_ref().and_then(|c| c.format.clone()),
            Some(OutputFormat::JsonSchema { schema: json!({"type":"object"}) })
        );
        assert!(request.output_format.is_some());
    }

    fn error_message(value: Value) -> String {
        let error = parse(value).expect_err("request should be refused");
        assert_eq!(error.kind, ErrorKind::InvalidRequestError);
        assert_eq!(error.status, 400);
        error.message
    }

    #[test]
    fn parses_a_claude_code_style_request() {
        let request = parse(json!({
            "model": "claude-sonnet-4-5-20250929",
            "max_tokens": 32000,
            "system": [{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],
            "messages": [
                {"role":"user","content":"hi"},
                {"role":"assistant","content":[
                    {"type":"thinking","thinking":"hmm","signature":"sig"},
                    {"type":"text","text":"Let me look."},
                    {"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}
                ]},
                {"role":"user","content":[
                    {"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"a"}],"is_error":false},
                    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}
                ]}
            ],
            "tools": [
                {"name":"Bash","description":"Run","input_schema":{"type":"object"}},
                {"type":"custom","name":"Read","input_schema":{"type":"object"}},
                {"type":"web_search_20250305","name":"web_search","max_uses":5},
                {"type":"bash_20250124","name":"bash"}
            ],
            "tool_choice": {"type":"auto","disable_parallel_tool_use":true},
            "thinking": {"type":"enabled","budget_tokens":31999},
            "metadata": {"user_id":"user_abc_account__session_0b7e7a3c-1f3e-4d6a-9c55-2f0e7c1d9a10"},
            "temperature": 1,
            "stream": true,
            "context_management": {"edits": []}
        }))
        .unwrap();
        assert_eq!(request.system.as_ref().map(|system| system.text()).as_deref(), Some("You are Claude Code."));
        assert_eq!(request.messages.len(), 3);
        let tools = request.tools.as_deref().unwrap();
        assert!(matches!(&tools[0], Tool::Custom(t) if t.name == "Bash"));
        assert!(matches!(&tools[1], Tool::Custom(t) if t.name == "Read"));
        assert!(matches!(&tools[2], Tool::WebSearch(t) if t.max_uses == Some(5)));
        assert!(matches!(&tools[3], Tool::Unknown { kind } if kind == "bash_20250124"));
        assert_eq!(request.thinking, Some(Thinking::Enabled { budget_tokens: 31999, display: None }));
        assert_eq!(request.tool_choice.as_ref().map(|c| c.kind), Some(ToolChoiceKind::Auto));
        let MessageContent::Blocks(blocks) = &request.messages[1].content else { panic!("blocks expected") };
        assert!(matches!(&blocks[0], ContentBlock::Thinking(t) if t.signature == "sig"));
        assert!(matches!(&blocks[2], ContentBlock::ToolUse(t) if t.input == json!({"command":"ls"})));
    }

    #[test]
    fn keeps_unknown_blocks_and_sources_as_raw_json() {
        let request = parse(json!({
            "model": "m",
            "messages": [{"role":"user","content":[
                {"type":"search_result","source":"x","title":"t","content":[]},
                {"type":"image","source":{"type":"file","file_id":"f_1"}},
                {"type":"document","source":{"type":"file","file_id":"f_2"},"title":"T"},
                {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}}
            ]}]
        }))
        .unwrap();
        let MessageContent::Blocks(blocks) = &request.messages[0].content else { panic!("blocks expected") };
        assert_eq!(
            blocks[0],
            ContentBlock::Unknown(json!({"type":"search_result","source":"x","title":"t","content":[]}))
        );
        assert!(
            matches!(&blocks[1], ContentBlock::Image(ImageBlock { source: ImageSource::Other(v) }) if v["file_id"] == "f_1")
        );
        assert!(matches!(&blocks[2], ContentBlock::Document(DocumentBlock { source: DocumentSource::Other(_), .. })));
        assert!(
            matches!(&blocks[3], ContentBlock::ServerToolUse(m) if m["id"] == "srvtoolu_1" && !m.contains_key("type"))
        );
    }

    #[test]
    fn where_type_stands_in_a_block_changes_nothing() {
        // Blocks with `type` first are read in one pass, others whole first:
        // both must give the same result.
        let blocks = [
            json!({"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}),
            json!({"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}),
            json!({"type":"image","source":{"type":"url","url":"https://x/y.png"}}),
            json!({"type":"document","source":{"type":"text","data":"plain"},"title":"T"}),
            json!({"type":"document","source":{"type":"content","content":[{"type":"text","text":"x"}]}}),
            json!({"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}),
            json!({"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"ok"}],"is_error":false}),
            json!({"type":"thinking","thinking":"hmm","signature":"sig"}),
            json!({"type":"redacted_thinking","data":"xyz"}),
            json!({"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]}),
            json!({"type":"search_result","source":"x","title":"t"}),
        ];
        for block in blocks {
            let type_first =
                parse(json!({"model":"m","messages":[{"role":"user","content":[block.clone()]}]})).unwrap();
            // The same fields with `type` moved to the end, at every level.
            let type_last: Value = serde_json::from_str(&type_last(&block)).unwrap();
            let moved = parse(json!({"model":"m","messages":[{"role":"user","content":[type_last]}]})).unwrap();
            assert_eq!(moved, type_first, "{block}");
        }
    }

    /// `value` as JSON text with every object's `type` written last.
    fn type_last(value: &Value) -> String {
        match value {
            Value::Object(map) => {
                let mut fields: Vec<_> = map.iter().filter(|(k, _)| *k != "type").collect();
                fields.extend(map.get_key_value("type"));
                let body: Vec<String> =
                    fields.iter().map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), type_last(v))).collect();
                format!("{{{}}}", body.join(","))
            }
            Value::Array(items) => format!("[{}]", items.iter().map(type_last).collect::<Vec<_>>().join(",")),
            other => other.to_string(),
        }
    }

    #[test]
    fn thinking_variants() {
        let table = [
            (json!({"type":"enabled","budget_tokens":1024}), Thinking::Enabled { budget_tokens: 1024, display: None }),
            (
                json!({"type":"enabled","budget_tokens":1024,"display":"omitted"}),
                Thinking::Enabled { budget_tokens: 1024, display: Some("omitted".into()) },
            ),
            (json!({"type":"adaptive","display":"updates"}), Thinking::Adaptive { display: Some("updates".into()) }),
            (json!({"type":"disabled"}), Thinking::Disabled),
            (json!({"type":"adaptive"}), Thinking::Adaptive { display: None }),
            (json!({"type":"something_new","level":3}), Thinking::Other),
        ];
        for (wire, expected) in table {
            let request =
                parse(json!({"model":"m","messages":[{"role":"user","content":"x"}],"thinking":wire})).unwrap();
            assert_eq!(request.thinking, Some(expected));
        }
    }

    #[test]
    fn serializes_blocks_back_with_their_type() {
        let request = parse(json!({"model":"m","messages":[{"role":"assistant","content":[
            {"type":"text","text":"a"},
            {"type":"tool_use","id":"t","name":"n","input":{}},
            {"type":"container_upload","file_id":"f"}
        ]}]}))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&request.messages[0].content).unwrap(),
            json!([{"type":"text","text":"a"},{"type":"tool_use","id":"t","name":"n","input":{}},{"type":"container_upload","file_id":"f"}])
        );
    }

    #[test]
    fn a_tool_schema_is_kept_as_the_client_wrote_it() {
        let body = r#"{"model":"m","messages":[{"role":"user","content":"x"}],
            "tools":[{"name":"Bash","description":"Run","input_schema":{"type": "object",  "properties":{"command":{"type":"string"}}}},
                     {"name":"Empty","input_schema":null}]}"#;
        let request = parse_count_tokens_request(body.as_bytes()).unwrap();
        let schemas: Vec<&str> = request
            .tools
            .iter()
            .flatten()
            .map(|tool| match tool {
                Tool::Custom(tool) => tool.input_schema.get(),
                other => panic!("a custom tool expected, got {other:?}"),
            })
            .collect();
        assert_eq!(schemas, [r#"{"type": "object",  "properties":{"command":{"type":"string"}}}"#, "null"]);
        // A tool that is not one is refused with its path.
        let with_tools = |tools: Value| json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":tools});
        let message = error_message(with_tools(json!([{"name":"Bash","input_schema":{}}, {"description":"no name"}])));
        assert!(message.contains("tools[1]: missing field `name`"), "{message}");
    }

    #[test]
    fn a_bad_message_is_refused_with_its_path() {
        let hello = json!({"role":"user","content":[{"type":"text","text":"hello"}]});
        let message =
            error_message(json!({"model":"m","messages":[hello, {"role":"user","content":[{"type":"image"}]}]}));
        assert!(message.starts_with("messages[1].content[0]: missing field `source`"), "{message}");
    }

    #[test]
    fn errors_name_the_field() {
        let table: [(&[u8], &str); 2] =
            [(b"{not json", "request body is not valid JSON: "), (b"", "request body is not valid JSON: ")];
        for (body, prefix) in table {
            let error = parse_messages_request(body).unwrap_err();
            assert!(error.message.starts_with(prefix), "{body:?} gave {:?}", error.message);
        }
        let table = [
            (json!({"messages":[{"role":"user","content":"x"}]}), "missing field `model`"),
            (json!({"model":"m","messages":"hi"}), "messages: invalid type: string \"hi\", expected a sequence"),
            (json!({"model":"m","messages":[{"role":"user","content":3}]}), "messages[0].content: invalid type"),
            (
                json!({"model":"m","messages":[{"role":"developer","content":"x"}]}),
                "messages[0].role: unknown variant `developer`",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"mystery"}]}]}),
                "messages[0].content[1]: type: unknown content block type \"mystery\"",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"tool_ref"}]}]}]}),
                "messages[0].content[0].content[0]: type: unknown content block type \"tool_ref\"",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"name":"Bash"}]}),
                "tools[0]: missing field `input_schema`",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":"x"}],"output_config":{"format":{"type":"xml"}}}),
                "output_config.format.type: unknown variant `xml`",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"tool_use","name":"n","input":{}}]}]}),
                "messages[0].content[1]: missing field `id`",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"x"}}]}]}),
                "messages[0].content[0].source: missing field `media_type`",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":[{"text":"a"}]}]}),
                "messages[0].content[0]: missing field `type`",
            ),
            (
                json!({"model":"m","messages":[{"role":"user","content":["a"]}]}),
                "messages[0].content[0]: invalid type: string \"a\", expected a content block",
            ),
            (json!({"model":"m","messages":[],"tools":[{"description":"no name"}]}), "tools[0]: missing field `name`"),
            (
                json!({"model":"m","messages":[],"thinking":{"type":"enabled"}}),
                "thinking: missing field `budget_tokens`",
            ),
            (
                json!({"model":"m","messages":[],"tool_choice":{"type":"sometimes"}}),
                "tool_choice.type: unknown variant `sometimes`",
            ),
            (json!({"model":"","messages":[{"role":"user","content":"x"}]}), "model: must name a model"),
            (json!({"model":"m","messages":[]}), "messages: at least one message is required"),
        ];
        for (body, expected) in table {
            let message = error_message(body.clone());
            assert!(message.contains(expected), "{body}\n gave {message:?}\n wanted {expected:?}");
        }
    }
}
