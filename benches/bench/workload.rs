//! What the benchmark sends and what the mock upstream answers: a
//! Claude-Code-sized request and a realistic streamed reply.

use bytes::Bytes;
use codexd::anthropic::request::parse_messages_request;
use codexd::config::Settings;
use codexd::translate::request::translate_request;
use serde_json::{json, Value};

/// Text deltas in the reply (plus a short reasoning summary and a tool call).
pub const TEXT_DELTAS: usize = 300;
/// The request body grows to at least this many bytes.
pub const REQUEST_BYTES: usize = 60 * 1024;

/// A recorded Claude Code request: 19 tools, thinking, a tool-use history.
const CLAUDE_CODE_REQUEST: &str = include_str!("../../tests/fixtures/requests/claude_code_large.json");

/// The requests the benchmark sends, encoded once.
pub struct Workload {
    /// The `POST /v1/messages` body sent to codexd (streaming).
    pub anthropic_body: Bytes,
    /// What codexd sends upstream for it; sent straight to the mock to
    /// fetch the same stream without codexd.
    pub codex_body: Bytes,
    /// Tools offered by the request.
    pub tools: usize,
    /// The upstream reply, one SSE frame per event.
    pub reply: Vec<Bytes>,
}

impl Workload {
    pub fn new() -> Result<Self, String> {
        let anthropic = claude_code_request()?;
        let tools = anthropic["tools"].as_array().map_or(0, Vec::len);
        let anthropic_body = Bytes::from(anthropic.to_string());
        let request = parse_messages_request(&anthropic_body)
            .map_err(|err| format!("the bench request does not parse: {err}"))?;
        let codex = translate_request(&request, &Settings::defaults())
            .map_err(|err| format!("the bench request does not translate: {err}"))?;
        let codex_body = serde_json::to_vec(&codex).map_err(|err| err.to_string())?;
        Ok(Workload { anthropic_body, codex_body: Bytes::from(codex_body), tools, reply: reply_frames() })
    }

    /// The whole reply as one body.
    pub fn reply_body(&self) -> Vec<u8> {
        self.reply.concat()
    }
}

/// The recorded request, grown to [`REQUEST_BYTES`] with more turns of the
/// kind Claude Code sends most: a `Read` call and the file it returned.
fn claude_code_request() -> Result<Value, String> {
    let mut request: Value = serde_json::from_str(CLAUDE_CODE_REQUEST).map_err(|err| format!("fixture: {err}"))?;
    request["stream"] = json!(true);
    let mut turn = 0;
    while request.to_string().len() < REQUEST_BYTES {
        let messages = request["messages"].as_array_mut().ok_or("fixture has no messages")?;
        let id = format!("toolu_bench{turn:02}");
        messages.push(json!({"role":"assistant","content":[
            {"type":"text","text":format!("Let me read part {turn} of the module.")},
            {"type":"tool_use","id":id,"name":"Read","input":{"file_path":format!("/repo/src/module_{turn}.rs")}},
        ]}));
        messages.push(json!({"role":"user","content":[
            {"type":"tool_result","tool_use_id":id,"content":source_file(turn)},
        ]}));
        turn += 1;
    }
    if let Some(last) = request["messages"].as_array_mut().and_then(|messages| messages.last_mut()) {
        last["content"]
            .as_array_mut()
            .ok_or("last message has no blocks")?
            .push(json!({"type":"text","text":"Now fix the failing test."}));
    }
    Ok(request)
}

/// About 6 KB of numbered Rust-looking lines, as `Read` returns them.
pub fn source_file(turn: usize) -> String {
    (1..=64)
        .map(|line| {
            format!(
                "{line:>6}\tpub fn handler_{turn}_{line}(input: &str) -> Result<usize, Error> {{ Ok(input.len()) }}\n"
            )
        })
        .collect()
}

/// The reply: a reasoning summary (5 deltas), [`TEXT_DELTAS`] word-sized
/// text deltas, and a `Bash` call whose arguments stream in 12 deltas, each
/// event framed as SSE the way the backend sends them.
pub fn reply_frames() -> Vec<Bytes> {
    let mut events = vec![
        json!({"type":"response.created","response":{"id":"resp_bench","object":"response","status":"in_progress","model":"gpt-5.2-codex","output":[]}}),
        json!({"type":"response.in_progress","response":{"id":"resp_bench","object":"response","status":"in_progress","model":"gpt-5.2-codex","output":[]}}),
    ];
    events.extend(reasoning_events(0));
    events.extend(text_events(1));
    events.extend(tool_call_events(2));
    events.push(json!({"type":"response.completed","response":{"id":"resp_bench","object":"response","status":"completed",
        "model":"gpt-5.2-codex","output":[],"usage":{"input_tokens":18000,"input_tokens_details":{"cached_tokens":16384},
        "output_tokens":420,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":18420}}}));
    events
        .into_iter()
        .enumerate()
        .map(|(sequence, mut event)| {
            event["sequence_number"] = json!(sequence);
            let name = event["type"].as_str().unwrap_or("message").to_owned();
            Bytes::from(format!("event: {name}\ndata: {event}\n\n"))
        })
        .collect()
}

fn reasoning_events(index: usize) -> Vec<Value> {
    let pieces = [
        "**Planning the fix**\n\n",
        "The test fails because ",
        "the parser drops ",
        "the last line; ",
        "fix the loop bound.",
    ];
    let summary: String = pieces.concat();
    let mut events = vec![
        json!({"type":"response.output_item.added","output_index":index,"item":{"id":"rs_bench","type":"reasoning","summary":[]}}),
        json!({"type":"response.reasoning_summary_part.added","item_id":"rs_bench","output_index":index,"summary_index":0,"part":{"type":"summary_text","text":""}}),
    ];
    events.extend(pieces.iter().map(|delta| {
        json!({"type":"response.reasoning_summary_text.delta","item_id":"rs_bench","output_index":index,"summary_index":0,"delta":delta})
    }));
    events.extend([
        json!({"type":"response.reasoning_summary_text.done","item_id":"rs_bench","output_index":index,"summary_index":0,"text":summary}),
        json!({"type":"response.reasoning_summary_part.done","item_id":"rs_bench","output_index":index,"summary_index":0,"part":{"type":"summary_text","text":summary}}),
        json!({"type":"response.output_item.done","output_index":index,"item":{"id":"rs_bench","type":"reasoning",
            "summary":[{"type":"summary_text","text":summary}],"encrypted_content":"gAAAAB".to_owned() + &"x".repeat(1500)}}),
    ]);
    events
}

fn text_events(index: usize) -> Vec<Value> {
    const WORDS: [&str; 12] = [
        "The ",
        "parser ",
        "stops ",
        "one ",
        "line ",
        "early ",
        "because ",
        "`end` ",
        "is ",
        "exclusive; ",
        "I'll ",
        "fix it. ",
    ];
    let deltas: Vec<&str> = WORDS.iter().copied().cycle().take(TEXT_DELTAS).collect();
    let text: String = deltas.concat();
    let mut events = vec![
        json!({"type":"response.output_item.added","output_index":index,"item":{"id":"msg_bench","type":"message","status":"in_progress","role":"assistant","content":[]}}),
        json!({"type":"response.content_part.added","item_id":"msg_bench","output_index":index,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}),
    ];
    events.extend(deltas.iter().map(|delta| {
        json!({"type":"response.output_text.delta","item_id":"msg_bench","output_index":index,"content_index":0,"delta":delta})
    }));
    let item = json!({"id":"msg_bench","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":text,"annotations":[]}]});
    events.extend([
        json!({"type":"response.output_text.done","item_id":"msg_bench","output_index":index,"content_index":0,"text":text}),
        json!({"type":"response.content_part.done","item_id":"msg_bench","output_index":index,"content_index":0,"part":{"type":"output_text","text":text,"annotations":[]}}),
        json!({"type":"response.output_item.done","output_index":index,"item":item}),
    ]);
    events
}

fn tool_call_events(index: usize) -> Vec<Value> {
    let arguments = r#"{"command":"cargo test --package parser -- --nocapture","description":"Run the parser tests","timeout":120000}"#;
    let chars: Vec<char> = arguments.chars().collect();
    let pieces: Vec<String> = chars.chunks(chars.len().div_ceil(12)).map(|piece| piece.iter().collect()).collect();
    let item = |status: &str, arguments: &str| json!({"id":"fc_bench","type":"function_call","status":status,"call_id":"call_bench","name":"Bash","arguments":arguments});
    let mut events =
        vec![json!({"type":"response.output_item.added","output_index":index,"item":item("in_progress", "")})];
    events.extend(pieces.iter().map(|delta| {
        json!({"type":"response.function_call_arguments.delta","item_id":"fc_bench","output_index":index,"delta":delta})
    }));
    events.extend([
        json!({"type":"response.function_call_arguments.done","item_id":"fc_bench","output_index":index,"arguments":arguments}),
        json!({"type":"response.output_item.done","output_index":index,"item":item("completed", arguments)}),
    ]);
    events
}
