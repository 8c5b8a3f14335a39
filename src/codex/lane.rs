//! The request shape per lane: the normal Responses lane, or "Responses
//! Lite", which the backend uses for the gpt-5.6 and gpt-6 families and is
//! the only lane that serves the Luna models.
//!
//! Translation builds one lane-agnostic [`ResponsesRequest`]; this module
//! writes it in the lane's shape. On the Lite lane (the Codex CLI's
//! `build_responses_request`, `codex-2026.md` §1b and §5 B.6):
//! - no `instructions` and no `tools` fields;
//! - `input[0]` is `{"type":"additional_tools","role":"developer","tools":[…]}`
//!   (when there are tools), `input[1]` a developer message holding the
//!   instructions, then the conversation;
//! - `parallel_tool_calls: false` (the backend refuses `true`) and
//!   `reasoning.context: "all_turns"`;
//! - the header [`identity::LITE_HEADER`](super::identity::LITE_HEADER): `true`.
//!
//! Hosted tools (web search) have no place in `additional_tools`: a request
//! that needs one is moved to a full-lane model by `codex::catalogue`
//! before it gets here.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::request::{Reasoning, ResponsesRequest, Tool};

/// Which shape a request is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// The Responses API as the backend has always taken it.
    #[default]
    Responses,
    /// "Responses Lite": tools and instructions inside `input`.
    Lite,
}

impl Lane {
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Responses => "responses",
            Lane::Lite => "lite",
        }
    }

    /// Extra headers this lane needs.
    pub fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lane::Responses => &[],
            Lane::Lite => &[(super::identity::LITE_HEADER, "true")],
        }
    }
}

/// The body of `request` in `lane`'s shape, as JSON bytes. `capacity` is a
/// hint for the buffer (about the client's body length).
pub fn encode(request: &ResponsesRequest, lane: Lane, capacity: usize) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(capacity);
    match lane {
        Lane::Responses => serde_json::to_writer(&mut body, request)?,
        Lane::Lite => serde_json::to_writer(&mut body, &LiteBody(request))?,
    }
    Ok(body)
}

/// `request` in the Lite shape. Field order follows the normal body, so
/// requests of one conversation keep a common prefix for the prompt cache.
struct LiteBody<'a>(&'a ResponsesRequest);

impl Serialize for LiteBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("model", &r.model)?;
        map.serialize_entry("input", &LiteInput(r))?;
        map.serialize_entry("tool_choice", &r.tool_choice)?;
        map.serialize_entry("parallel_tool_calls", &false)?;
        let reasoning = r.reasoning.clone().unwrap_or(Reasoning { effort: None, summary: None, context: None });
        map.serialize_entry("reasoning", &Reasoning { context: Some(ALL_TURNS.to_owned()), ..reasoning })?;
        map.serialize_entry("store", &r.store)?;
        map.serialize_entry("stream", &r.stream)?;
        map.serialize_entry("include", &r.include)?;
        if let Some(key) = &r.prompt_cache_key {
            map.serialize_entry("prompt_cache_key", key)?;
        }
        if let Some(text) = &r.text {
            map.serialize_entry("text", text)?;
        }
        map.end()
    }
}

/// `reasoning.context` on the Lite lane.
pub const ALL_TURNS: &str = "all_turns";

/// The Lite `input`: the tools, the instructions, then the conversation.
struct LiteInput<'a>(&'a ResponsesRequest);

impl Serialize for LiteInput<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut seq = serializer.serialize_seq(None)?;
        if !r.tools.is_empty() {
            seq.serialize_element(&AdditionalTools(&r.tools))?;
        }
        seq.serialize_element(&DeveloperText(r.instructions.as_str()))?;
        for item in &r.input {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

/// `{"type":"additional_tools","role":"developer","tools":[…]}`.
struct AdditionalTools<'a>(&'a [Tool]);

impl Serialize for AdditionalTools<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("type", "additional_tools")?;
        map.serialize_entry("role", "developer")?;
        map.serialize_entry("tools", self.0)?;
        map.end()
    }
}

/// `{"type":"message","role":"developer","content":[{"type":"input_text","text":…}]}`.
struct DeveloperText<'a>(&'a str);

impl Serialize for DeveloperText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Part<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            text: &'a str,
        }
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("type", "message")?;
        map.serialize_entry("role", "developer")?;
        map.serialize_entry("content", &[Part { kind: "input_text", text: self.0 }])?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codex::request::{
        ContentPart, Effort, InputItem, MessageRole, TextControls, Tool, ToolChoice, Verbosity,
    };
    use serde_json::{json, Value};

    fn request(tools: Vec<Tool>) -> ResponsesRequest {
        ResponsesRequest {
            model: "gpt-6-luna".into(),
            instructions: "Be brief.".to_owned(),
            input: vec![InputItem::Message {
                role: MessageRole::User,
                content: vec![ContentPart::InputText { text: "hi".into() }],
                phase: None,
            }],
            tools,
            tool_choice: ToolChoice::Auto,
            parallel_tool_calls: true,
            reasoning: Some(Reasoning { effort: Some(Effort::Low), summary: Some("auto".into()), context: None }),
            store: false,
            stream: true,
            include: vec!["reasoning.encrypted_content".into()],
            prompt_cache_key: Some("sess".into()),
            text: Some(TextControls { verbosity: Some(Verbosity::Low), format: None }),
        }
    }

    fn bash() -> Tool {
        Tool::Function {
            name: "Bash".into(),
            description: "Run".into(),
            strict: false,
            parameters: crate::json::RawJson::from(json!({"type":"object","properties":{}})),
        }
    }

    fn encoded(request: &ResponsesRequest, lane: Lane) -> Value {
        serde_json::from_slice(&encode(request, lane, 0).unwrap()).unwrap()
    }

    #[test]
    fn the_normal_lane_is_the_request_as_it_is() {
        let r = request(vec![bash()]);
        assert_eq!(encoded(&r, Lane::Responses), serde_json::to_value(&r).unwrap());
        assert!(Lane::Responses.headers().is_empty());
    }

    #[test]
    fn the_lite_lane_moves_tools_and_instructions_into_input() {
        let body = encoded(&request(vec![bash()]), Lane::Lite);
        assert_eq!(
            body,
            json!({
                "model": "gpt-6-luna",
                "input": [
                    {"type":"additional_tools","role":"developer","tools":[
                        {"type":"function","name":"Bash","description":"Run","strict":false,
                         "parameters":{"type":"object","properties":{}}}
                    ]},
                    {"type":"message","role":"developer","content":[{"type":"input_text","text":"Be brief."}]},
                    {"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}
                ],
                "tool_choice": "auto",
                "parallel_tool_calls": false,
                "reasoning": {"effort":"low","summary":"auto","context":"all_turns"},
                "store": false,
                "stream": true,
                "include": ["reasoning.encrypted_content"],
                "prompt_cache_key": "sess",
                "text": {"verbosity":"low"}
            })
        );
        assert_eq!(Lane::Lite.headers(), &[("x-openai-internal-codex-responses-lite", "true")]);
    }

    #[test]
    fn without_tools_the_lite_input_starts_with_the_instructions() {
        let body = encoded(&request(vec![]), Lane::Lite);
        assert_eq!(body["input"][0]["role"], "developer");
        assert_eq!(body["input"][0]["type"], "message");
        assert!(body.get("tools").is_none() && body.get("instructions").is_none());
    }
}
