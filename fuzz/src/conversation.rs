//! A structured fuzz input for request translation: a Messages request built
//! from the shapes Claude Code sends (every block type, tool calls and
//! results over a small id space so that orphans, duplicates and interrupted
//! calls are common, odd tool schemas, every tool choice and thinking
//! setting), so that the fuzzer explores `translate_request` rather than
//! JSON syntax.

use arbitrary::Arbitrary;
use serde_json::{json, Map, Value};

/// A whole request.
#[derive(Arbitrary, Debug, Clone)]
pub struct Conversation {
    model: Model,
    system: Option<System>,
    messages: Vec<Turn>,
    tools: Vec<ToolSpec>,
    tool_choice: Option<Choice>,
    thinking: Option<ThinkingSpec>,
    effort: Option<Effort>,
    user_id: Option<UserId>,
    stream: bool,
}

#[derive(Arbitrary, Debug, Clone)]
enum Model {
    Sonnet,
    OpusWithContextSuffix,
    Haiku,
    CodexWithEffort,
    Other(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum System {
    Text(String),
    Blocks(Vec<String>),
}

#[derive(Arbitrary, Debug, Clone)]
struct Turn {
    assistant: bool,
    content: Content,
}

#[derive(Arbitrary, Debug, Clone)]
enum Content {
    Text(String),
    Blocks(Vec<Block>),
}

/// A tool call id from a space of six, so that calls and results collide.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct CallId(u8);

impl CallId {
    fn text(self) -> String {
        format!("toolu_{}", self.0 % 6)
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum Block {
    Text(String),
    ImageBase64,
    ImageUrl(String),
    ImageFile,
    DocumentText(String),
    DocumentPdf,
    DocumentContent(Vec<String>),
    DocumentUrl,
    DocumentFile,
    ToolUse { id: CallId, tool: u8, input: Input },
    ToolResult { id: CallId, content: ResultContent, is_error: Option<bool> },
    Thinking { text: String, signed_by_codexd: bool, encrypted: String },
    RedactedThinking,
    ServerToolUse,
    WebSearchResult,
    Unknown(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum Input {
    Empty,
    Command(String),
    Nested(u8),
    NotAnObject(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum ResultContent {
    Absent,
    Text(String),
    Blocks(Vec<ResultBlock>),
}

#[derive(Arbitrary, Debug, Clone)]
enum ResultBlock {
    Text(String),
    Image,
    Unknown,
}

#[derive(Arbitrary, Debug, Clone)]
enum ToolSpec {
    Custom {
        name: ToolName,
        description: Option<String>,
        schema: Schema,
    },
    WebSearch {
        allowed_domains: Vec<String>,
    },
    /// A typed Anthropic tool codexd does not forward (e.g. `bash_20250124`).
    Typed(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum ToolName {
    Known(u8),
    Any(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum Schema {
    Missing,
    NotAnObject(String),
    Object {
        dollar_schema: bool,
        properties: Option<Vec<(u8, PropertyKind)>>,
        required: Vec<u8>,
        combinator: Option<(u8, Vec<u8>)>,
        top_enum: bool,
        pattern: Option<String>,
    },
}

#[derive(Arbitrary, Debug, Clone)]
enum PropertyKind {
    String,
    Integer,
    Array,
    Object(Vec<u8>),
    Pattern(String),
    Ref,
}

#[derive(Arbitrary, Debug, Clone)]
enum Choice {
    Auto,
    Any,
    None,
    Tool(Option<ToolName>),
    Odd(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum ThinkingSpec {
    Enabled(u32),
    Disabled,
    Adaptive,
    Other(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum Effort {
    Low,
    Medium,
    High,
    Max,
    Other(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum UserId {
    ClaudeCode(u128),
    JsonSession(u128),
    Any(String),
}

const TOOL_NAMES: [&str; 6] = ["Bash", "Read", "Edit", "Grep", "mcp__github__create_issue", "TodoWrite"];
const PROPERTY_NAMES: [&str; 5] = ["command", "file_path", "pattern", "todos", "timeout"];

fn tool_name(name: &ToolName) -> String {
    match name {
        ToolName::Known(n) => TOOL_NAMES[usize::from(*n) % TOOL_NAMES.len()].to_owned(),
        ToolName::Any(name) => name.clone(),
    }
}

fn property_name(n: u8) -> &'static str {
    PROPERTY_NAMES[usize::from(n) % PROPERTY_NAMES.len()]
}

fn uuid(bits: u128) -> String {
    let hex = format!("{bits:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

impl Conversation {
    /// The request body.
    pub fn to_json(&self) -> Vec<u8> {
        let mut request = Map::new();
        request.insert("model".into(), self.model.value());
        request.insert("max_tokens".into(), json!(32000));
        request.insert("messages".into(), Value::Array(self.messages.iter().map(Turn::value).collect()));
        if let Some(system) = &self.system {
            request.insert("system".into(), system.value());
        }
        if !self.tools.is_empty() {
            request.insert("tools".into(), Value::Array(self.tools.iter().map(ToolSpec::value).collect()));
        }
        if let Some(choice) = &self.tool_choice {
            request.insert("tool_choice".into(), choice.value());
        }
        if let Some(thinking) = &self.thinking {
            request.insert("thinking".into(), thinking.value());
        }
        if let Some(effort) = &self.effort {
            request.insert("output_config".into(), json!({"effort": effort.value()}));
        }
        if let Some(user_id) = &self.user_id {
            request.insert("metadata".into(), json!({"user_id": user_id.value()}));
        }
        request.insert("temperature".into(), json!(1));
        request.insert("stream".into(), json!(self.stream));
        Value::Object(request).to_string().into_bytes()
    }
}

impl Model {
    fn value(&self) -> Value {
        match self {
            Model::Sonnet => json!("claude-sonnet-4-5-20250929"),
            Model::OpusWithContextSuffix => json!("claude-opus-4-1[1m]"),
            Model::Haiku => json!("claude-haiku-4-5"),
            Model::CodexWithEffort => json!("gpt-5.2-codex-high"),
            Model::Other(name) => json!(name),
        }
    }
}

impl System {
    fn value(&self) -> Value {
        match self {
            System::Text(text) => json!(text),
            System::Blocks(texts) => texts
                .iter()
                .map(|text| json!({"type":"text","text":text,"cache_control":{"type":"ephemeral"}}))
                .collect(),
        }
    }
}

impl Turn {
    fn value(&self) -> Value {
        let role = if self.assistant { "assistant" } else { "user" };
        let content = match &self.content {
            Content::Text(text) => json!(text),
            Content::Blocks(blocks) => blocks.iter().map(Block::value).collect(),
        };
        json!({"role": role, "content": content})
    }
}

impl Block {
    fn value(&self) -> Value {
        match self {
            Block::Text(text) => json!({"type":"text","text":text}),
            Block::ImageBase64 => {
                json!({"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}})
            }
            Block::ImageUrl(url) => json!({"type":"image","source":{"type":"url","url":url}}),
            Block::ImageFile => json!({"type":"image","source":{"type":"file","file_id":"file_1"}}),
            Block::DocumentText(text) => {
                json!({"type":"document","source":{"type":"text","media_type":"text/plain","data":text},"title":"notes.md"})
            }
            Block::DocumentPdf => {
                json!({"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQ="}})
            }
            Block::DocumentContent(texts) => {
                let blocks: Vec<Value> = texts.iter().map(|text| json!({"type":"text","text":text})).collect();
                json!({"type":"document","source":{"type":"content","content":blocks}})
            }
            Block::DocumentUrl => json!({"type":"document","source":{"type":"url","url":"https://example.com/a.pdf"}}),
            Block::DocumentFile => json!({"type":"document","source":{"type":"file","file_id":"file_2"}}),
            Block::ToolUse { id, tool, input } => json!({"type":"tool_use","id":id.text(),
                "name":TOOL_NAMES[usize::from(*tool) % TOOL_NAMES.len()],"input":input.value()}),
            Block::ToolResult { id, content, is_error } => {
                let mut block = json!({"type":"tool_result","tool_use_id":id.text()});
                if let Some(content) = content.value() {
                    block["content"] = content;
                }
                if let Some(is_error) = is_error {
                    block["is_error"] = json!(is_error);
                }
                block
            }
            Block::Thinking { text, signed_by_codexd, encrypted } => {
                let signature = if *signed_by_codexd { format!("codexd.v1.{encrypted}") } else { encrypted.clone() };
                json!({"type":"thinking","thinking":text,"signature":signature})
            }
            Block::RedactedThinking => json!({"type":"redacted_thinking","data":"EmwKAhgB"}),
            Block::ServerToolUse => {
                json!({"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"rust"}})
            }
            Block::WebSearchResult => json!({"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]}),
            Block::Unknown(kind) => json!({"type":kind,"anything":true}),
        }
    }
}

impl Input {
    fn value(&self) -> Value {
        match self {
            Input::Empty => json!({}),
            Input::Command(command) => json!({"command": command}),
            Input::Nested(depth) => (0..depth % 40).fold(json!({"leaf": 1}), |inner, _| json!({"nested": inner})),
            Input::NotAnObject(text) => json!(text),
        }
    }
}

impl ResultContent {
    fn value(&self) -> Option<Value> {
        match self {
            ResultContent::Absent => None,
            ResultContent::Text(text) => Some(json!(text)),
            ResultContent::Blocks(blocks) => Some(
                blocks
                    .iter()
                    .map(|block| match block {
                        ResultBlock::Text(text) => json!({"type":"text","text":text}),
                        ResultBlock::Image => json!({"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}}),
                        ResultBlock::Unknown => json!({"type":"search_result","source":"x","title":"t","content":[]}),
                    })
                    .collect(),
            ),
        }
    }
}

impl ToolSpec {
    fn value(&self) -> Value {
        match self {
            ToolSpec::Custom { name, description, schema } => {
                let mut tool = json!({"name": tool_name(name), "input_schema": schema.value()});
                if let Some(description) = description {
                    tool["description"] = json!(description);
                }
                tool
            }
            ToolSpec::WebSearch { allowed_domains } => json!({"type":"web_search_20250305","name":"web_search",
                "max_uses":5,"allowed_domains":allowed_domains}),
            ToolSpec::Typed(kind) => json!({"type": kind, "name": "bash"}),
        }
    }
}

impl Schema {
    fn value(&self) -> Value {
        let Schema::Object { dollar_schema, properties, required, combinator, top_enum, pattern } = self else {
            return match self {
                Schema::NotAnObject(text) => json!(text),
                _ => Value::Null,
            };
        };
        let mut schema = json!({"type":"object"});
        if *dollar_schema {
            schema["$schema"] = json!("http://json-schema.org/draft-07/schema#");
        }
        if let Some(properties) = properties {
            let properties: Map<String, Value> =
                properties.iter().map(|(name, kind)| (property_name(*name).to_owned(), kind.value())).collect();
            schema["properties"] = Value::Object(properties);
        }
        schema["required"] = required.iter().map(|name| json!(property_name(*name))).collect();
        if let Some((which, names)) = combinator {
            let key = ["anyOf", "oneOf", "allOf"][usize::from(*which) % 3];
            let branches: Vec<Value> = names
                .iter()
                .map(|name| json!({"properties":{property_name(*name):{"type":"string"}},"required":[property_name(*name)]}))
                .collect();
            schema[key] = Value::Array(branches);
        }
        if *top_enum {
            schema["enum"] = json!([{"a":1}]);
        }
        if let Some(pattern) = pattern {
            schema["pattern"] = json!(pattern);
        }
        schema
    }
}

impl PropertyKind {
    fn value(&self) -> Value {
        match self {
            PropertyKind::String => json!({"type":"string","format":"uri"}),
            PropertyKind::Integer => json!({"type":"integer","minimum":0}),
            PropertyKind::Array => json!({"type":"array","items":{"type":"object","required":["content","content"]}}),
            PropertyKind::Object(required) => {
                json!({"type":"object","required":required.iter().map(|n| property_name(*n)).collect::<Vec<_>>(),
                "additionalProperties":{"$schema":"x"}})
            }
            PropertyKind::Pattern(pattern) => json!({"type":"string","pattern":pattern}),
            PropertyKind::Ref => json!({"$ref":"#/$defs/thing"}),
        }
    }
}

impl Choice {
    fn value(&self) -> Value {
        match self {
            Choice::Auto => json!({"type":"auto"}),
            Choice::Any => json!({"type":"any","disable_parallel_tool_use":true}),
            Choice::None => json!({"type":"none"}),
            Choice::Tool(Some(name)) => json!({"type":"tool","name":tool_name(name)}),
            Choice::Tool(None) => json!({"type":"tool"}),
            Choice::Odd(kind) => json!({"type":kind}),
        }
    }
}

impl ThinkingSpec {
    fn value(&self) -> Value {
        match self {
            ThinkingSpec::Enabled(budget) => json!({"type":"enabled","budget_tokens":budget}),
            ThinkingSpec::Disabled => json!({"type":"disabled"}),
            ThinkingSpec::Adaptive => json!({"type":"adaptive"}),
            ThinkingSpec::Other(kind) => json!({"type":kind}),
        }
    }
}

impl Effort {
    fn value(&self) -> Value {
        match self {
            Effort::Low => json!("low"),
            Effort::Medium => json!("medium"),
            Effort::High => json!("high"),
            Effort::Max => json!("max"),
            Effort::Other(name) => json!(name),
        }
    }
}

impl UserId {
    fn value(&self) -> String {
        match self {
            UserId::ClaudeCode(bits) => format!("user_abc123_account__session_{}", uuid(*bits)),
            UserId::JsonSession(bits) => json!({"device_id":"d","session_id":uuid(*bits)}).to_string(),
            UserId::Any(text) => text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise;
    use arbitrary::Unstructured;
    use codexd::anthropic::request::parse_messages_request;
    use codexd::config::Settings;
    use codexd::translate::request::translate_request;

    /// The generator is only useful if most of what it builds gets past
    /// parsing into translation, with tools and tool calls in it.
    #[test]
    fn generated_requests_mostly_parse_and_translate() {
        let (mut parsed, mut translated, mut with_calls) = (0, 0, 0);
        for seed in 0..500 {
            let bytes = noise(seed, 4096);
            let Ok(conversation) = Conversation::arbitrary(&mut Unstructured::new(&bytes)) else { continue };
            let body = conversation.to_json();
            let Ok(request) = parse_messages_request(&body) else { continue };
            parsed += 1;
            if let Ok(codex) = translate_request(&request, &Settings::defaults()) {
                translated += 1;
                let json = serde_json::to_value(&codex).expect("serializes");
                with_calls += usize::from(
                    json["input"].as_array().is_some_and(|input| input.iter().any(|i| i["type"] == "function_call")),
                );
            }
            crate::check_request(&body);
        }
        assert!(parsed >= 150, "only {parsed} of 500 generated requests parse");
        assert!(translated >= 100, "only {translated} of 500 generated requests translate");
        assert!(with_calls >= 5, "only {with_calls} translated requests carry tool calls");
        eprintln!("{parsed} parsed, {translated} translated, {with_calls} with tool calls");
    }
}
