//! Shared bodies of the fuzz targets: each `check_*` function takes one
//! fuzzer input, runs it through codexd and panics — with a message saying
//! which rule broke — when codexd panics or breaks a rule. A clean error is
//! never a failure: only panics and broken invariants are.
//!
//! - [`check_request`]: bytes as a `POST /v1/messages` body → parse →
//!   `translate_request`; the Codex request must be one the backend accepts.
//! - [`check_sse`]: bytes as an upstream SSE body, split into chunks →
//!   `codex::sse::decode` → `StreamTranslator`; the output must be a valid
//!   Anthropic stream whatever the bytes, and independent of the chunking.
//! - [`check_script`]: a structured sequence of Codex events (see
//!   [`script`]), framed as SSE and checked like [`check_sse`]; it reaches
//!   the translator's deeper states far faster than raw bytes do.
//! - [`check_conversation`]: a structured Messages request (see
//!   [`conversation`]), checked like [`check_request`].

pub mod conversation;
pub mod grammar;
pub mod script;

/// Pseudo-random bytes, as the fuzzer would start with (for the generators' tests).
#[cfg(test)]
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

use bytes::Bytes;
use codexd::anthropic::error::ErrorKind;
use codexd::anthropic::request::parse_messages_request;
use codexd::anthropic::response::StreamEvent;
use codexd::anthropic::sse;
use codexd::codex::sse::decode;
use codexd::config::Settings;
use codexd::translate::request::translate_request;
use codexd::translate::response::Accumulator;
use codexd::translate::stream::StreamTranslator;
use futures_util::{stream, FutureExt, StreamExt};
use serde_json::Value;

use grammar::{check_sequence, Ending, Outline};

/// Message id and model echoed by every translation here.
pub const MESSAGE_ID: &str = "msg_fuzz";
/// The client model name echoed in `message_start`.
pub const CLIENT_MODEL: &str = "claude-sonnet-4-5";

// ---------------------------------------------------------------------------
// Request translation
// ---------------------------------------------------------------------------

/// Parse `data` as a Messages request and translate it. Parse and translate
/// errors must be 400 `invalid_request_error`s with a message; a success must
/// be deterministic and satisfy [`check_codex_body`].
pub fn check_request(data: &[u8]) {
    let request = match parse_messages_request(data) {
        Ok(request) => request,
        Err(err) => {
            assert_eq!((err.status, err.kind), (400, ErrorKind::InvalidRequestError), "parse error: {err:?}");
            assert!(!err.message.is_empty(), "parse error without a message");
            return;
        }
    };
    let settings = Settings::defaults();
    let first = translate_request(&request, &settings);
    assert_eq!(first, translate_request(&request, &settings), "translation is not deterministic");
    match first {
        Ok(codex) => {
            let body = serde_json::to_value(&codex)
                .unwrap_or_else(|err| panic!("the Codex request does not serialize: {err}"));
            if let Err(problem) = check_codex_body(&body) {
                panic!("the backend would refuse the translation: {problem}\n{body:#}");
            }
        }
        Err(err) => {
            let api: codexd::anthropic::ApiError = err.into();
            assert_eq!((api.status, api.kind), (400, ErrorKind::InvalidRequestError), "translate error: {api:?}");
        }
    }
}

/// Encode `conversation` as a request body and check it like [`check_request`].
pub fn check_conversation(conversation: &conversation::Conversation) {
    let body = conversation.to_json();
    check_request(&body);
}

/// The backend's rules for a request body (codex.md §2): `store:false`,
/// `stream:true`, non-blank `instructions`, a model, and function calls and
/// outputs that pair up in order; tool parameters with an object at the top
/// and none of the rejected keywords; replayed reasoning without an `id`.
pub fn check_codex_body(body: &Value) -> Result<(), String> {
    if body["store"] != Value::Bool(false) || body["stream"] != Value::Bool(true) {
        return Err("store must be false and stream true".into());
    }
    if !body["instructions"].as_str().is_some_and(|text| !text.trim().is_empty()) {
        return Err("instructions are missing or blank".into());
    }
    if !body["model"].as_str().is_some_and(|model| !model.is_empty()) {
        return Err("model is missing or empty".into());
    }
    let input = body["input"].as_array().ok_or("input is not a list")?;
    check_pairing(input)?;
    if input.iter().any(|item| item["type"] == "reasoning" && item.get("id").is_some()) {
        return Err("a replayed reasoning item carries an id".into());
    }
    for tool in body["tools"].as_array().ok_or("tools is not a list")? {
        check_tool(tool)?;
    }
    Ok(())
}

/// Every `function_call` has a `function_call_output` with its `call_id`
/// later on, and every output a call before it.
fn check_pairing(input: &[Value]) -> Result<(), String> {
    let call_id = |item: &Value| item["call_id"].as_str().map(str::to_owned);
    for (index, item) in input.iter().enumerate() {
        let (kind, id) = (item["type"].as_str(), call_id(item));
        let paired = match kind {
            Some("function_call") => {
                input[index + 1..].iter().any(|later| later["type"] == "function_call_output" && call_id(later) == id)
            }
            Some("function_call_output") => {
                input[..index].iter().any(|earlier| earlier["type"] == "function_call" && call_id(earlier) == id)
            }
            _ => true,
        };
        if !paired {
            return Err(format!("input item {index} ({kind:?} {id:?}) has no partner"));
        }
    }
    Ok(())
}

fn check_tool(tool: &Value) -> Result<(), String> {
    if tool["type"] != "function" {
        return Ok(());
    }
    let parameters = &tool["parameters"];
    if parameters["type"] != "object" || !parameters["properties"].is_object() {
        return Err(format!("tool parameters lack type object with properties: {parameters}"));
    }
    for key in ["$schema", "oneOf", "anyOf", "allOf", "enum", "not"] {
        if parameters.get(key).is_some() {
            return Err(format!("tool parameters carry top-level {key}"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Stream translation
// ---------------------------------------------------------------------------

/// One upstream body, as the network may deliver it.
#[derive(Debug, Clone)]
pub struct Body<'a> {
    /// The body's bytes, split into chunks.
    pub chunks: Vec<&'a [u8]>,
    /// The body ends with a transport error rather than a clean close.
    pub transport_error: bool,
}

/// Decode and translate a body the way the server does: every decoded item
/// goes through `on_decoded`, then `finish(None)`.
pub fn translate_body(body: &Body<'_>) -> Vec<StreamEvent> {
    let mut chunks: Vec<Result<Bytes, String>> =
        body.chunks.iter().map(|chunk| Ok(Bytes::copy_from_slice(chunk))).collect();
    if body.transport_error {
        chunks.push(Err("connection reset by peer".to_owned()));
    }
    let decoded = decode(stream::iter(chunks)).collect::<Vec<_>>().now_or_never();
    let decoded = decoded.unwrap_or_else(|| panic!("decoding an in-memory body never waits"));
    let mut translator = StreamTranslator::new(MESSAGE_ID.to_owned(), CLIENT_MODEL.to_owned());
    let mut out = Vec::new();
    for item in decoded {
        out.extend(translator.on_decoded(item));
    }
    out.extend(translator.finish(None));
    assert!(translator.is_finished(), "the translator is not finished after finish()");
    out
}

/// Split `bytes` into chunks whose sizes a small PRNG seeded with `seed`
/// picks: all 1–4 bytes, 1–64 bytes or 1–4096 bytes, by the seed's low bits.
pub fn chunk_by_seed(bytes: &[u8], seed: u64) -> Vec<&[u8]> {
    let max = [4, 64, 4096, 16][(seed & 3) as usize];
    let mut state = seed | 1;
    let mut rest = bytes;
    let mut chunks = Vec::new();
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let size = (state % max) as usize + 1;
        let (head, tail) = rest.split_at(size.min(rest.len()));
        chunks.push(head);
        rest = tail;
    }
    chunks
}

/// Fuzzer input for [`check_sse`]: the first 8 bytes seed the chunking
/// (bit 2 of the first byte: end with a transport error), the rest is the body.
pub fn check_sse(data: &[u8]) {
    let (seed, body) = data.split_at(data.len().min(8));
    let mut seed_bytes = [0u8; 8];
    seed_bytes[..seed.len()].copy_from_slice(seed);
    let seed = u64::from_le_bytes(seed_bytes);
    check_body(body, seed, seed & 4 != 0);
}

/// Translate `body` chunked by `seed` and check everything: the grammar,
/// chunking independence (for UTF-8 bodies), SSE encoding, and agreement
/// with the non-streaming fold.
pub fn check_body(body: &[u8], seed: u64, transport_error: bool) -> Outline {
    let chunked = Body { chunks: chunk_by_seed(body, seed), transport_error };
    let events = translate_body(&chunked);
    let outline = match check_sequence(&events) {
        Ok(outline) => outline,
        Err(problem) => panic!("invalid Anthropic stream: {problem}\n{events:#?}"),
    };
    // Invalid UTF-8 fails decoding at the chunk that holds it, so events
    // before it in the same chunk are lost: only UTF-8 bodies must translate
    // the same however they are cut.
    if std::str::from_utf8(body).is_ok() {
        let whole = translate_body(&Body { chunks: vec![body], transport_error });
        assert_eq!(events, whole, "chunking changed the translation");
    }
    for event in &events {
        check_encoding(event);
    }
    check_fold(&events, &outline);
    outline
}

/// One SSE frame: `event: <name>`, `data: <json>` whose `type` is the name.
fn check_encoding(event: &StreamEvent) {
    let frame = sse::encode(event);
    let text = std::str::from_utf8(&frame).unwrap_or_else(|err| panic!("frame is not UTF-8: {err}"));
    let expected_head = format!("event: {}\ndata: ", event.name());
    let json = text
        .strip_prefix(&expected_head)
        .and_then(|rest| rest.strip_suffix("\n\n"))
        .unwrap_or_else(|| panic!("malformed frame {text:?}"));
    assert!(!json.contains('\n'), "data spans lines: {text:?}");
    let data: Value = serde_json::from_str(json).unwrap_or_else(|err| panic!("frame data is not JSON ({err}): {json}"));
    assert_eq!(data["type"], event.name(), "frame type differs from its event name");
}

/// The non-streaming answer, folded from the same events, agrees with how
/// the stream ended.
fn check_fold(events: &[StreamEvent], outline: &Outline) {
    let mut accumulator = Accumulator::new();
    for event in events {
        accumulator.push(event);
    }
    match (accumulator.finish(), outline.ending) {
        (Ok(message), Ending::Stop(reason)) => {
            assert_eq!(message.stop_reason, Some(reason), "folded stop reason");
            assert_eq!(message.content.len(), outline.blocks.len(), "folded block count");
        }
        (Err(err), Ending::Error(kind)) => assert_eq!(err.kind, kind, "folded error kind"),
        (folded, ending) => panic!("the stream ended with {ending:?} but folds to {folded:?}"),
    }
}

/// Frame `script` as SSE and check it like [`check_sse`].
pub fn check_script(script: &script::Script) {
    let body = script.to_sse();
    check_body(body.as_bytes(), script.chunk_seed, script.transport_error);
}
