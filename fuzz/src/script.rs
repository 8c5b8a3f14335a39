//! A structured fuzz input: a sequence of Codex stream events drawn from a
//! small vocabulary (four output slots, every event and item kind codexd
//! handles, JSON fragments for arguments), so that the fuzzer spends its
//! time on the translator's states rather than on finding valid JSON.

use arbitrary::Arbitrary;
use serde_json::{json, Value};

/// A whole upstream answer: events, how it is cut into chunks, how it ends.
#[derive(Arbitrary, Debug, Clone)]
pub struct Script {
    pub steps: Vec<Step>,
    pub chunk_seed: u64,
    /// End with a transport error instead of a clean close.
    pub transport_error: bool,
}

/// One upstream event.
#[derive(Arbitrary, Debug, Clone)]
pub enum Step {
    Created {
        usage: Option<(u16, u16, u16)>,
    },
    InProgress,
    ItemAdded {
        slot: Slot,
        kind: Kind,
    },
    ItemDone {
        slot: Slot,
        kind: Kind,
        piece: Piece,
        encrypted: bool,
    },
    PartAdded {
        slot: Slot,
    },
    PartDone {
        slot: Slot,
        piece: Piece,
    },
    TextDelta {
        slot: Slot,
        piece: Piece,
    },
    TextDone {
        slot: Slot,
        piece: Piece,
    },
    Annotation {
        slot: Slot,
        known: bool,
    },
    ArgumentsDelta {
        slot: Slot,
        piece: Piece,
    },
    ArgumentsDone {
        slot: Slot,
        piece: Piece,
    },
    SummaryPartAdded {
        slot: Slot,
        part: u8,
    },
    SummaryDelta {
        slot: Slot,
        part: u8,
        piece: Piece,
    },
    SummaryDone {
        slot: Slot,
        part: u8,
        piece: Piece,
    },
    ReasoningDelta {
        slot: Slot,
        part: u8,
        piece: Piece,
    },
    Completed {
        output: Vec<(Kind, Piece)>,
        usage: Option<(u16, u16, u16)>,
    },
    Incomplete {
        content_filter: bool,
        usage: Option<(u16, u16, u16)>,
    },
    Failed {
        code: Code,
    },
    Error {
        code: Code,
        nested: bool,
    },
    Unknown,
    /// A frame whose data is arbitrary text.
    Garbage(String),
}

/// An `output_index`: usually one of four, sometimes any.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Slot {
    Small(u8),
    Any(u32),
}

impl Slot {
    fn index(self) -> u32 {
        match self {
            Slot::Small(n) => u32::from(n % 4),
            Slot::Any(n) => n,
        }
    }
}

/// The kind of an output item.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Kind {
    Message,
    Refusal,
    Reasoning,
    FunctionCall,
    WebSearch,
    Unknown,
}

/// A piece of text: empty, a JSON fragment, a whole JSON object, or anything.
#[derive(Arbitrary, Debug, Clone)]
pub enum Piece {
    Empty,
    Fragment(u8),
    Object,
    Text(String),
}

const FRAGMENTS: [&str; 12] =
    ["{", "}", "\"command\"", ":", "\"ls -la\"", ",", "[", "]", "1", "null", " ", "\"\\u00e9\\n\""];

impl Piece {
    fn text(&self) -> String {
        match self {
            Piece::Empty => String::new(),
            Piece::Fragment(n) => FRAGMENTS[usize::from(*n) % FRAGMENTS.len()].to_owned(),
            Piece::Object => r#"{"command":"cargo test","timeout":600}"#.to_owned(),
            Piece::Text(text) => text.clone(),
        }
    }
}

/// An upstream error code (or none).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Code {
    None,
    Overloaded,
    RateLimit,
    ContextLength,
    Other,
}

impl Code {
    fn value(self) -> Value {
        match self {
            Code::None => Value::Null,
            Code::Overloaded => json!("server_is_overloaded"),
            Code::RateLimit => json!("rate_limit_exceeded"),
            Code::ContextLength => json!("context_length_exceeded"),
            Code::Other => json!("something_new"),
        }
    }
}

impl Script {
    /// The upstream body: one SSE frame per step, `sequence_number`ed.
    pub fn to_sse(&self) -> String {
        let mut out = String::new();
        for (sequence, step) in self.steps.iter().enumerate() {
            let data = match step.to_json() {
                Ok(mut event) => {
                    event["sequence_number"] = json!(sequence);
                    event.to_string()
                }
                Err(garbage) => garbage.replace(['\r', '\n'], " "),
            };
            let name = serde_json::from_str::<Value>(&data)
                .ok()
                .and_then(|event| event["type"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "message".to_owned());
            out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
        }
        out
    }
}

fn usage(usage: Option<(u16, u16, u16)>) -> Value {
    match usage {
        Some((input, cached, output)) => {
            json!({"input_tokens": input, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output, "total_tokens": u32::from(input) + u32::from(output)})
        }
        None => Value::Null,
    }
}

fn item(kind: Kind, slot: u32, piece: &Piece, encrypted: bool) -> Value {
    let text = piece.text();
    match kind {
        Kind::Message => json!({"type":"message","id":format!("msg_{slot}"),"role":"assistant",
            "content":[{"type":"output_text","text":text,"annotations":[]}]}),
        Kind::Refusal => {
            json!({"type":"message","id":format!("msg_{slot}"),"content":[{"type":"refusal","refusal":text}]})
        }
        Kind::Reasoning => {
            let mut item =
                json!({"type":"reasoning","id":format!("rs_{slot}"),"summary":[{"type":"summary_text","text":text}]});
            if encrypted {
                item["encrypted_content"] = json!(format!("gAAAA{slot}=="));
            }
            item
        }
        Kind::FunctionCall => json!({"type":"function_call","id":format!("fc_{slot}"),"call_id":format!("call_{slot}"),
            "name":"Bash","arguments":text}),
        Kind::WebSearch => json!({"type":"web_search_call","id":format!("ws_{slot}"),"status":"completed",
            "action":{"type":"search","query":text}}),
        Kind::Unknown => json!({"type":"image_generation_call","id":format!("ig_{slot}")}),
    }
}

fn response(status: &str, output: Vec<Value>, usage_value: Value) -> Value {
    let mut response =
        json!({"id":"resp_fuzz","object":"response","status":status,"model":"gpt-5.2-codex","output":output});
    if !usage_value.is_null() {
        response["usage"] = usage_value;
    }
    response
}

impl Step {
    /// The event as JSON, or the raw data of a garbage frame.
    fn to_json(&self) -> Result<Value, String> {
        let part = |piece: &Piece| json!({"type":"output_text","text":piece.text(),"annotations":[]});
        Ok(match self {
            Step::Created { usage: u } => {
                json!({"type":"response.created","response":response("in_progress", vec![], usage(*u))})
            }
            Step::InProgress => {
                json!({"type":"response.in_progress","response":response("in_progress", vec![], Value::Null)})
            }
            Step::ItemAdded { slot, kind } => {
                let mut added = item(*kind, slot.index(), &Piece::Empty, false);
                if let Some(summary) = added.get_mut("summary") {
                    *summary = json!([]);
                }
                json!({"type":"response.output_item.added","output_index":slot.index(),"item":added})
            }
            Step::ItemDone { slot, kind, piece, encrypted } => {
                json!({"type":"response.output_item.done","output_index":slot.index(),"item":item(*kind, slot.index(), piece, *encrypted)})
            }
            Step::PartAdded { slot } => json!({"type":"response.content_part.added","output_index":slot.index(),
                "content_index":0,"part":part(&Piece::Empty)}),
            Step::PartDone { slot, piece } => json!({"type":"response.content_part.done","output_index":slot.index(),
                "content_index":0,"part":part(piece)}),
            Step::TextDelta { slot, piece } => json!({"type":"response.output_text.delta","output_index":slot.index(),
                "content_index":0,"delta":piece.text()}),
            Step::TextDone { slot, piece } => json!({"type":"response.output_text.done","output_index":slot.index(),
                "content_index":0,"text":piece.text()}),
            Step::Annotation { slot, known } => {
                let annotation = if *known {
                    json!({"type":"url_citation","url":"https://example.com","title":"Example","start_index":0,"end_index":4})
                } else {
                    json!({"type":"file_citation","file_id":"file_1"})
                };
                json!({"type":"response.output_text.annotation.added","output_index":slot.index(),"content_index":0,
                    "annotation_index":0,"annotation":annotation})
            }
            Step::ArgumentsDelta { slot, piece } => json!({"type":"response.function_call_arguments.delta",
                "item_id":format!("fc_{}", slot.index()),"output_index":slot.index(),"delta":piece.text()}),
            Step::ArgumentsDone { slot, piece } => json!({"type":"response.function_call_arguments.done",
                "item_id":format!("fc_{}", slot.index()),"output_index":slot.index(),"arguments":piece.text()}),
            Step::SummaryPartAdded { slot, part } => json!({"type":"response.reasoning_summary_part.added",
                "output_index":slot.index(),"summary_index":part % 3,"part":{"type":"summary_text","text":""}}),
            Step::SummaryDelta { slot, part, piece } => json!({"type":"response.reasoning_summary_text.delta",
                "output_index":slot.index(),"summary_index":part % 3,"delta":piece.text()}),
            Step::SummaryDone { slot, part, piece } => json!({"type":"response.reasoning_summary_text.done",
                "output_index":slot.index(),"summary_index":part % 3,"text":piece.text()}),
            Step::ReasoningDelta { slot, part, piece } => json!({"type":"response.reasoning_text.delta",
                "output_index":slot.index(),"content_index":part % 3,"delta":piece.text()}),
            Step::Completed { output, usage: u } => {
                let output = output
                    .iter()
                    .enumerate()
                    .map(|(i, (kind, piece))| item(*kind, u32::try_from(i).unwrap_or(u32::MAX), piece, true))
                    .collect();
                json!({"type":"response.completed","response":response("completed", output, usage(*u))})
            }
            Step::Incomplete { content_filter, usage: u } => {
                let reason = if *content_filter { "content_filter" } else { "max_output_tokens" };
                let mut response = response("incomplete", vec![], usage(*u));
                response["incomplete_details"] = json!({"reason": reason});
                json!({"type":"response.incomplete","response":response})
            }
            Step::Failed { code } => {
                let mut response = response("failed", vec![], Value::Null);
                response["error"] = json!({"code":code.value(),"message":"upstream failed"});
                json!({"type":"response.failed","response":response})
            }
            Step::Error { code, nested: false } => {
                json!({"type":"error","code":code.value(),"message":"stream error","param":null})
            }
            Step::Error { code, nested: true } => {
                json!({"type":"error","error":{"code":code.value(),"message":"nested error"}})
            }
            Step::Unknown => json!({"type":"response.web_search_call.searching","output_index":0,"item_id":"ws_0"}),
            Step::Garbage(text) => return Err(text.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::Ending;
    use crate::noise;
    use arbitrary::Unstructured;

    /// Generated scripts reach both endings and every kind of block.
    #[test]
    fn generated_scripts_reach_every_ending_and_block_kind() {
        let (mut stops, mut errors) = (0, 0);
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..500 {
            let bytes = noise(seed, 2048);
            let Ok(script) = Script::arbitrary(&mut Unstructured::new(&bytes)) else { continue };
            let outline = crate::check_body(script.to_sse().as_bytes(), script.chunk_seed, script.transport_error);
            match outline.ending {
                Ending::Stop(_) => stops += 1,
                Ending::Error(_) => errors += 1,
            }
            kinds.extend(outline.blocks);
        }
        assert!(stops >= 20 && errors >= 20, "{stops} stops, {errors} errors");
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            ["server_tool_use", "text", "thinking", "tool_use", "web_search_tool_result"]
        );
    }
}
