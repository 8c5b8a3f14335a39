//! What preparing a request costs over a Claude Code session, and what each
//! of codexd's memos buys there.
//!
//! The session starts from a real Claude Code 2.1.330 request (a 7.7 KB
//! system prompt, 13 tools in 36 KB of schemas) and grows by one `Read` call
//! and the file it returned per turn, with the `cache_control` mark moving
//! to the newest message as Claude Code moves it. Each turn is parsed,
//! translated and serialized as the server does it. The session is run as
//! sent, then with every tool schema made new on every turn, so that the
//! memo of normalized schemas (`translate::schema`) can never hit: the
//! difference is what that memo buys.

use std::hint::black_box;
use std::time::{Duration, Instant};

use codexd::anthropic::request::parse_messages_request;
use codexd::config::Settings;
use codexd::translate::request::translate_request;
use serde_json::{json, Value};

/// A recorded Claude Code request, as Claude Code sent it.
const CLAUDE_CODE_REQUEST: &str =
    include_str!("../../tests/fixtures/claude-code/cc-2.1.330-interactive-turn1-auto-mode.json");

/// Turns in one session.
pub const TURNS: usize = 30;

/// Which part of every turn is made new, so that its memo cannot hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unseen {
    Nothing,
    Schemas,
}

/// Mean cost of preparing one turn, by what was made new.
#[derive(Debug, Clone)]
pub struct SessionCost {
    /// The last turn's body, in bytes.
    pub last_turn_bytes: usize,
    pub per_turn: Vec<(Unseen, Duration)>,
}

/// Run whole sessions for about `budget` per [`Unseen`] case.
pub fn measure(budget: Duration) -> Result<SessionCost, String> {
    let base: Value = serde_json::from_str::<Value>(CLAUDE_CODE_REQUEST)
        .map_err(|err| format!("fixture: {err}"))?
        .get("body")
        .cloned()
        .ok_or("the fixture has no body")?;
    let settings = Settings::defaults();
    let prepare = |body: &[u8]| {
        let request = parse_messages_request(body).map_err(|err| format!("a session turn does not parse: {err}"))?;
        let codex = translate_request(&request, &settings)
            .map_err(|err| format!("a session turn does not translate: {err}"))?;
        serde_json::to_vec(&codex).map(|json| json.len()).map_err(|err| err.to_string())
    };
    let mut session_id = 0;
    let mut per_turn = Vec::new();
    let mut last_turn_bytes = 0;
    for unseen in [Unseen::Nothing, Unseen::Schemas] {
        let started = Instant::now();
        let (mut spent, mut turns) = (Duration::ZERO, 0u32);
        // One session untimed first, so that every case starts warm.
        let mut timed = false;
        while !timed || started.elapsed() < budget {
            session_id += 1;
            let bodies = session(&base, session_id, unseen);
            last_turn_bytes = bodies.last().map_or(0, Vec::len);
            for body in &bodies {
                let began = Instant::now();
                black_box(prepare(body)?);
                if timed {
                    spent += began.elapsed();
                    turns += 1;
                }
            }
            timed = true;
        }
        per_turn.push((unseen, spent / turns.max(1)));
    }
    Ok(SessionCost { last_turn_bytes, per_turn })
}

/// The bodies of one session's turns, their tool schemas marked with `id`
/// (so that nothing of another session is remembered), or anew on every
/// turn when they are to be `unseen`.
fn session(base: &Value, id: usize, unseen: Unseen) -> Vec<Vec<u8>> {
    (0..TURNS)
        .map(|turn| {
            let mut body = base.clone();
            if let Some(messages) = body["messages"].as_array_mut() {
                for read in 0..turn {
                    messages.extend(read_turn(read, read + 1 == turn));
                }
            }
            let mark = if unseen == Unseen::Schemas { format!("{id}.{turn}") } else { id.to_string() };
            mark_schemas(&mut body, &format!("session {mark}"));
            body.to_string().into_bytes()
        })
        .collect()
}

/// `body` (JSON text) with `mark` in every tool schema.
pub fn with_schemas_marked(body: &str, mark: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(mut body) => {
            mark_schemas(&mut body, mark);
            body.to_string()
        }
        Err(_) => body.to_owned(),
    }
}

/// Put `mark` in every tool schema of `body`, as a `$comment` (which is
/// dropped from the top of a schema: the work stays the same).
fn mark_schemas(body: &mut Value, mark: &str) {
    for tool in body["tools"].as_array_mut().into_iter().flatten() {
        if let Some(schema) = tool.get_mut("input_schema").and_then(Value::as_object_mut) {
            schema.insert("$comment".to_owned(), json!(mark));
        }
    }
}

/// One turn of the kind Claude Code sends most: a `Read` call and the file
/// it returned, the newest carrying the `cache_control` mark.
fn read_turn(turn: usize, newest: bool) -> [Value; 2] {
    let id = format!("toolu_session{turn:02}");
    let mut result = json!({"type":"tool_result","tool_use_id":id,"content":crate::workload::source_file(turn)});
    if newest {
        result["cache_control"] = json!({"type":"ephemeral"});
    }
    [
        json!({"role":"assistant","content":[
            {"type":"text","text":format!("Let me read part {turn} of the module.")},
            {"type":"tool_use","id":id,"name":"Read","input":{"file_path":format!("/repo/src/module_{turn}.rs")}},
        ]}),
        json!({"role":"user","content":[result]}),
    ]
}
