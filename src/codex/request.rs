//! The Responses API request body codexd posts to `{base}/codex/responses`.
//!
//! Field names and shapes follow the Codex backend exactly (see the protocol
//! notes, "Request body"). The same types deserialize, so a mock upstream in
//! the tests can read back what we sent. Parameters the backend rejects
//! (`max_output_tokens`, `temperature`, `top_p`, `metadata`, …) have no field
//! here at all, so they can never be sent by mistake.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::json::RawJson;

/// The body of `POST {base}/codex/responses`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponsesRequest {
    /// Upstream model slug, e.g. `gpt-5.2-codex` (no effort suffix).
    pub model: String,
    /// The system prompt; the backend refuses a missing or empty one.
    pub instructions: String,
    /// The conversation, oldest item first.
    pub input: Vec<InputItem>,
    #[serde(default)]
    pub tools: Vec<Tool>,
    #[serde(default)]
    pub tool_choice: ToolChoice,
    pub parallel_tool_calls: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// Must be `false`: the backend answers "Store must be set to false" otherwise.
    pub store: bool,
    /// Must be `true`: the backend only streams.
    pub stream: bool,
    /// `["reasoning.encrypted_content"]`, so reasoning can be replayed next turn.
    #[serde(default)]
    pub include: Vec<String>,
    /// A stable id per conversation; the same value goes in the `session_id` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextControls>,
}

/// One item of `input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputItem {
    /// A user, assistant or developer message.
    Message {
        role: MessageRole,
        content: Vec<ContentPart>,
        /// On assistant messages: whether the text was a preamble to tool
        /// calls or the turn's final answer. The backend asks for it to be
        /// replayed ("dropping it can degrade performance").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<Phase>,
    },
    /// A tool call the model made in an earlier turn.
    FunctionCall {
        call_id: String,
        name: String,
        /// The call's arguments as a JSON **string**.
        arguments: String,
    },
    /// The result of the function call with the same `call_id`.
    FunctionCallOutput { call_id: String, output: FunctionOutput },
    /// Replayed reasoning. Deliberately has no `id`: with `store: false` the
    /// backend rejects `rs_…` ids it cannot look up.
    Reasoning {
        summary: Vec<SummaryText>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
    /// A hosted web search call, replayed as the backend returned it.
    WebSearchCall {
        #[serde(flatten)]
        fields: Map<String, Value>,
    },
}

/// Who a [`InputItem::Message`] is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
    Developer,
}

/// `phase` of an assistant message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Text written before tool calls, while the turn goes on.
    Commentary,
    /// The text that ends the turn.
    FinalAnswer,
}

/// One part of a message's content, or of a function output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Text from the user (or a tool).
    InputText { text: String },
    /// An image as a `data:` URL or an `https:` URL.
    InputImage {
        image_url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// Text the assistant wrote in an earlier turn.
    OutputText { text: String },
}

/// `function_call_output.output`: plain text, or a list of text/image parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FunctionOutput {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// `{"type":"summary_text","text":…}` inside a reasoning item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "summary_text")]
pub struct SummaryText {
    pub text: String,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Tool {
    /// A client-side tool: the model emits a `function_call`, the client runs it.
    Function {
        name: String,
        description: String,
        /// Always `false`: strict mode would demand schemas Claude tools do not meet.
        strict: bool,
        /// A JSON schema with `type: object` at the top, as its text
        /// (see `translate::schema::tool_parameters`).
        #[serde(deserialize_with = "RawJson::from_any")]
        parameters: RawJson,
    },
    /// The hosted web search tool.
    WebSearch {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filters: Option<WebSearchFilters>,
    },
}

/// Limits on the hosted web search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebSearchFilters {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_domains: Vec<String>,
}

/// `tool_choice`: `"auto"`, `"none"`, `"required"` or `{"type":"function","name":…}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ToolChoiceRepr", from = "ToolChoiceRepr")]
pub enum ToolChoice {
    #[default]
    Auto,
    None,
    Required,
    /// Force a call to the function with this name.
    Function {
        name: String,
    },
}

/// The wire shape of [`ToolChoice`]: a bare mode string or a named function.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ToolChoiceRepr {
    Mode(ToolChoiceMode),
    Named {
        #[serde(rename = "type")]
        kind: FunctionTag,
        name: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ToolChoiceMode {
    Auto,
    None,
    Required,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FunctionTag {
    Function,
}

impl From<ToolChoice> for ToolChoiceRepr {
    fn from(choice: ToolChoice) -> Self {
        match choice {
            ToolChoice::Auto => ToolChoiceRepr::Mode(ToolChoiceMode::Auto),
            ToolChoice::None => ToolChoiceRepr::Mode(ToolChoiceMode::None),
            ToolChoice::Required => ToolChoiceRepr::Mode(ToolChoiceMode::Required),
            ToolChoice::Function { name } => ToolChoiceRepr::Named { kind: FunctionTag::Function, name },
        }
    }
}

impl From<ToolChoiceRepr> for ToolChoice {
    fn from(repr: ToolChoiceRepr) -> Self {
        match repr {
            ToolChoiceRepr::Mode(ToolChoiceMode::Auto) => ToolChoice::Auto,
            ToolChoiceRepr::Mode(ToolChoiceMode::None) => ToolChoice::None,
            ToolChoiceRepr::Mode(ToolChoiceMode::Required) => ToolChoice::Required,
            ToolChoiceRepr::Named { name, .. } => ToolChoice::Function { name },
        }
    }
}

/// `reasoning`: how hard the model thinks and whether it summarises its thoughts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reasoning {
    /// `None` leaves the choice to the backend (its default is `medium`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<Effort>,
    /// `auto`, `concise` or `detailed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// `all_turns` on the Responses Lite lane (see `codex::lane`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// `reasoning.effort`, lowest first. Which levels a model takes is in the
/// live catalogue (`codex::catalogue`); current models take `low` to `max`
/// and refuse `none` and `minimal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    Xhigh,
    Max,
}

impl Effort {
    /// Every effort, lowest first.
    pub const ALL: [Effort; 7] =
        [Effort::None, Effort::Minimal, Effort::Low, Effort::Medium, Effort::High, Effort::Xhigh, Effort::Max];

    /// The wire name, e.g. `xhigh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effort::None => "none",
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
            Effort::Xhigh => "xhigh",
            Effort::Max => "max",
        }
    }

    /// The effort a name stands for: a wire name, or `ultra` (the Codex
    /// CLI's multi-agent level, which goes on the wire as `max`).
    pub fn from_name(name: &str) -> Option<Effort> {
        if name == "ultra" {
            return Some(Effort::Max);
        }
        Effort::ALL.into_iter().find(|effort| effort.as_str() == name)
    }
}

/// `text`: output controls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextControls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<Verbosity>,
    /// Structured output; absent means free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
}

/// `text.format`: `{"type":"json_schema","name":…,"schema":{…},"strict":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TextFormat {
    JsonSchema {
        /// `[a-zA-Z0-9_-]{1,64}`.
        name: String,
        schema: Value,
        strict: bool,
    },
}

/// `text.verbosity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    Low,
    Medium,
    High,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> ResponsesRequest {
        ResponsesRequest {
            model: "gpt-5.2-codex".into(),
            instructions: "Be brief.".to_owned(),
            input: vec![
                InputItem::Message {
                    role: MessageRole::User,
                    content: vec![
                        ContentPart::InputText { text: "hi".into() },
                        ContentPart::InputImage { image_url: "data:image/png;base64,AAAA".into(), detail: None },
                    ],
                    phase: None,
                },
                InputItem::Reasoning {
                    summary: vec![SummaryText { text: "thinking".into() }],
                    encrypted_content: Some("gAAAA".into()),
                },
                InputItem::FunctionCall {
                    call_id: "call_1".into(),
                    name: "Bash".into(),
                    arguments: r#"{"command":"ls"}"#.into(),
                },
                InputItem::FunctionCallOutput { call_id: "call_1".into(), output: FunctionOutput::Text("a\nb".into()) },
                InputItem::Message {
                    role: MessageRole::Assistant,
                    content: vec![ContentPart::OutputText { text: "done".into() }],
                    phase: Some(Phase::FinalAnswer),
                },
            ],
            tools: vec![
                Tool::Function {
                    name: "Bash".into(),
                    description: "Run a command".into(),
                    strict: false,
                    parameters: RawJson::from(json!({"type":"object","properties":{}})),
                },
                Tool::WebSearch { filters: None },
            ],
            tool_choice: ToolChoice::Auto,
            parallel_tool_calls: true,
            reasoning: Some(Reasoning { effort: Some(Effort::Medium), summary: Some("auto".into()), context: None }),
            store: false,
            stream: true,
            include: vec!["reasoning.encrypted_content".into()],
            prompt_cache_key: Some("key".into()),
            text: Some(TextControls { verbosity: Some(Verbosity::Medium), format: None }),
        }
    }

    #[test]
    fn serializes_to_the_codex_wire_shape() {
        let expected = json!({
            "model": "gpt-5.2-codex",
            "instructions": "Be brief.",
            "input": [
                {"type":"message","role":"user","content":[
                    {"type":"input_text","text":"hi"},
                    {"type":"input_image","image_url":"data:image/png;base64,AAAA"}
                ]},
                {"type":"reasoning","summary":[{"type":"summary_text","text":"thinking"}],"encrypted_content":"gAAAA"},
                {"type":"function_call","call_id":"call_1","name":"Bash","arguments":"{\"command\":\"ls\"}"},
                {"type":"function_call_output","call_id":"call_1","output":"a\nb"},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":"done"}],"phase":"final_answer"}
            ],
            "tools": [
                {"type":"function","name":"Bash","description":"Run a command","strict":false,
                 "parameters":{"type":"object","properties":{}}},
                {"type":"web_search"}
            ],
            "tool_choice": "auto",
            "parallel_tool_calls": true,
            "reasoning": {"effort":"medium","summary":"auto"},
            "store": false,
            "stream": true,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "key",
            "text": {"verbosity":"medium"}
        });
        assert_eq!(serde_json::to_value(sample()).unwrap(), expected);
    }

    #[test]
    fn round_trips_through_json() {
        let request = sample();
        let text = serde_json::to_string(&request).unwrap();
        let back: ResponsesRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn tool_choice_wire_forms() {
        let table = [
            (ToolChoice::Auto, json!("auto")),
            (ToolChoice::None, json!("none")),
            (ToolChoice::Required, json!("required")),
            (ToolChoice::Function { name: "Bash".into() }, json!({"type":"function","name":"Bash"})),
        ];
        for (choice, wire) in table {
            assert_eq!(serde_json::to_value(&choice).unwrap(), wire);
            assert_eq!(serde_json::from_value::<ToolChoice>(wire).unwrap(), choice);
        }
        assert!(serde_json::from_value::<ToolChoice>(json!("sometimes")).is_err());
        assert!(serde_json::from_value::<ToolChoice>(json!({"type":"tool","name":"x"})).is_err());
    }

    #[test]
    fn function_output_accepts_parts() {
        let wire = json!({"type":"function_call_output","call_id":"c","output":[
            {"type":"input_text","text":"see"},{"type":"input_image","image_url":"https://x/y.png","detail":"auto"}
        ]});
        let item: InputItem = serde_json::from_value(wire.clone()).unwrap();
        let InputItem::FunctionCallOutput { output: FunctionOutput::Parts(parts), .. } = &item else {
            panic!("expected parts, got {item:?}");
        };
        assert_eq!(parts.len(), 2);
        assert_eq!(serde_json::to_value(&item).unwrap(), wire);
    }

    #[test]
    fn web_search_call_keeps_its_fields() {
        let wire = json!({"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"rust"}});
        let item: InputItem = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&item).unwrap(), wire);
    }

    #[test]
    fn effort_names() {
        for effort in Effort::ALL {
            assert_eq!(serde_json::to_value(effort).unwrap(), json!(effort.as_str()));
            assert_eq!(Effort::from_name(effort.as_str()), Some(effort));
        }
        assert_eq!(Effort::from_name("ultra"), Some(Effort::Max), "ultra goes on the wire as max");
        assert_eq!(Effort::from_name("extreme"), None);
        assert!(Effort::Minimal < Effort::Low && Effort::Xhigh < Effort::Max, "ordered lowest first");
    }
}
