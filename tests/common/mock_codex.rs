//! A mock ChatGPT Codex backend on 127.0.0.1, as strict as the real one of
//! late 2026 (`codex-2026.md`).
//!
//! It serves the model catalogue (`GET /codex/models?client_version=`,
//! hiding models newer than the client) and checks what codexd sends the way
//! the backend does: auth, the Codex CLI's identity (`originator`, a
//! User-Agent of the same product and the `version` header), `session-id`
//! (the old `session_id` alone is refused), the model (retired slugs are
//! refused with 400, version-gated ones answer 404 "Model not found" without
//! a `version` and 400 "requires a newer version" below it, Lite-only models
//! answer 404 on the normal lane), the lane's body shape (`instructions` or
//! the Responses Lite `additional_tools` + developer message,
//! `parallel_tool_calls:false`, `reasoning.context:"all_turns"`), efforts
//! (`none`/`minimal` and levels the model lacks are refused), `store:false`,
//! `stream:true`, refused parameters, tool schemas and function-call
//! pairing. Refusals carry the backend's status and `{"detail": …}` body.
//! Accepted requests get
//! the next scripted [`Reply`], or, when the script is empty, an automatic
//! answer: a function call to the first tool when tools are offered and the
//! last item is not a tool output, otherwise a text reply. Every request is
//! recorded for assertions ([`MockCodex::push`] tells which request got
//! which reply), and a streamed reply that the client abandons, or a
//! [`Reply::Delayed`] one it stops waiting for, is recorded as cancelled.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use futures_util::stream;
use serde_json::{json, Value};

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A 200 SSE body sent in one piece.
    Sse(String),
    /// A 200 SSE body sent as chunks, each after its delay.
    Chunks(Vec<(Duration, String)>),
    /// Like `Chunks`, then the connection is dropped without finishing the body.
    ChunksThenReset(Vec<(Duration, String)>),
    /// Any status with headers and body.
    Http { status: u16, headers: Vec<(String, String)>, body: String },
    /// The reply, after a wait before its headers; a request dropped while
    /// it waits counts as cancelled.
    Delayed(Duration, Box<Reply>),
}

/// A reply pushed with [`MockCodex::push`]: tells which request got it.
#[derive(Clone)]
pub struct Pushed {
    state: Arc<State>,
    taken_by: Arc<std::sync::OnceLock<usize>>,
}

impl Pushed {
    /// The request that received this reply, once one has.
    pub fn request(&self) -> Option<Recorded> {
        let index = *self.taken_by.get()?;
        self.state.recorded.lock().unwrap().get(index).cloned()
    }
}

/// A request the mock accepted or refused.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// `None` when accepted, else the refusal detail.
    pub refused: Option<String>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Which bearer tokens the mock accepts.
#[derive(Clone, Debug)]
pub enum TokenRule {
    Exactly(String),
    /// Any token but these (revoked ones), for tokens minted elsewhere.
    AnyBut(Vec<String>),
}

impl Default for TokenRule {
    fn default() -> Self {
        TokenRule::Exactly(MOCK_TOKEN.into())
    }
}

impl TokenRule {
    fn accepts(&self, token: &str) -> bool {
        match self {
            TokenRule::Exactly(want) => token == want,
            TokenRule::AnyBut(revoked) => !token.is_empty() && !revoked.iter().any(|r| r == token),
        }
    }
}

/// Picks the answer for an unscripted request from its body (`None`: the automatic answer).
pub type Responder = Arc<dyn Fn(&Value) -> Option<Reply> + Send + Sync>;

#[derive(Default)]
struct State {
    responder: Mutex<Option<Responder>>,
    /// `None`: the default catalogue ([`default_catalogue`]).
    catalogue: Mutex<Option<Value>>,
    /// When set, `/codex/models` answers this status instead.
    catalogue_status: Mutex<Option<u16>>,
    catalogue_requests: Mutex<Vec<Recorded>>,
    token: Mutex<TokenRule>,
    account: Mutex<String>,
    script: Mutex<VecDeque<(Reply, Arc<std::sync::OnceLock<usize>>)>>,
    recorded: Mutex<Vec<Recorded>>,
    cancelled: AtomicUsize,
    completed: AtomicUsize,
    connections: AtomicUsize,
}

/// A running mock; dropped with the test's actix system.
#[derive(Clone)]
pub struct MockCodex {
    pub base_url: String,
    state: Arc<State>,
}

pub const MOCK_TOKEN: &str = "mock-access-token";
pub const MOCK_ACCOUNT: &str = "acct-mock-1234";

impl MockCodex {
    /// Start on an ephemeral port inside the current actix system.
    pub fn start() -> Self {
        let state = Arc::new(State::default());
        *state.account.lock().unwrap() = MOCK_ACCOUNT.into();
        let data = web::Data::from(state.clone());
        let counted = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .route("/backend-api/codex/responses", web::post().to(responses))
                .route("/backend-api/codex/models", web::get().to(models))
                .default_service(web::to(|| async { HttpResponse::NotFound().json(json!({"detail":"Not Found"})) }))
        })
        .workers(2)
        .on_connect(move |conn, extensions| {
            counted.connections.fetch_add(1, Ordering::SeqCst);
            // A handle on the socket, to see the client hang up (actix does not).
            let tcp = conn.downcast_ref::<actix_web::rt::net::TcpStream>();
            if let Some(Ok(fd)) = tcp.map(|tcp| std::os::fd::AsFd::as_fd(tcp).try_clone_to_owned()) {
                extensions.insert(PeerSocket(std::net::TcpStream::from(fd)));
            }
        })
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind mock upstream");
        let addr = server.addrs()[0];
        actix_web::rt::spawn(server.run());
        MockCodex { base_url: format!("http://{addr}/backend-api"), state }
    }

    /// Serve this `{"models":[…]}` catalogue (and judge requests by it) from now on.
    pub fn set_catalogue(&self, catalogue: Value) {
        *self.state.catalogue.lock().unwrap() = Some(catalogue);
    }

    /// Answer `/codex/models` with this status (`None`: serve the catalogue).
    pub fn fail_catalogue(&self, status: Option<u16>) {
        *self.state.catalogue_status.lock().unwrap() = status;
    }

    /// The `/codex/models` requests received.
    pub fn catalogue_requests(&self) -> Vec<Recorded> {
        self.state.catalogue_requests.lock().unwrap().clone()
    }

    /// Answer unscripted requests with `responder` first (a client such as
    /// Claude Code sends requests in an order a script cannot foresee).
    pub fn set_responder(&self, responder: impl Fn(&Value) -> Option<Reply> + Send + Sync + 'static) {
        *self.state.responder.lock().unwrap() = Some(Arc::new(responder));
    }

    /// Queue answers for the next requests, in order; the handle tells
    /// which request got this one.
    pub fn push(&self, reply: Reply) -> Pushed {
        let taken_by = Arc::new(std::sync::OnceLock::new());
        self.state.script.lock().unwrap().push_back((reply, taken_by.clone()));
        Pushed { state: self.state.clone(), taken_by }
    }

    /// Accept bearer tokens by this rule from now on.
    pub fn set_token_rule(&self, rule: TokenRule) {
        *self.state.token.lock().unwrap() = rule;
    }

    /// Expect this `chatgpt-account-id` from now on.
    pub fn set_account(&self, account: &str) {
        *self.state.account.lock().unwrap() = account.into();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.recorded.lock().unwrap().clone()
    }

    pub fn last_request(&self) -> Recorded {
        self.requests().pop().expect("the mock received no request")
    }

    /// Streams the client dropped before their last chunk, and delayed
    /// replies it stopped waiting for.
    pub fn cancelled(&self) -> usize {
        self.state.cancelled.load(Ordering::SeqCst)
    }

    /// Streams sent to the end.
    pub fn completed(&self) -> usize {
        self.state.completed.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }
}

async fn responses(req: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    let headers: Vec<(String, String)> =
        req.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let verdict = check(&req, &parsed, &state);
    let index = {
        let mut recorded = state.recorded.lock().unwrap();
        recorded.push(Recorded {
            headers,
            body: parsed.clone(),
            refused: verdict.as_ref().err().map(|(_, d)| d.clone()),
        });
        recorded.len() - 1
    };
    if let Err((status, detail)) = verdict {
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .json(json!({ "detail": detail }));
    }
    let scripted = state.script.lock().unwrap().pop_front();
    let reply = match scripted {
        Some((reply, taken_by)) => {
            let _ = taken_by.set(index);
            reply
        }
        None => {
            let responder = state.responder.lock().unwrap().clone();
            responder.and_then(|r| r(&parsed)).unwrap_or_else(|| auto_reply(&parsed))
        }
    };
    let fate = Arc::new(Fate {
        state: state.clone().into_inner(),
        counted: AtomicBool::new(false),
        settled: tokio::sync::Notify::new(),
    });
    if matches!(reply, Reply::Delayed(..) | Reply::Chunks(_) | Reply::ChunksThenReset(_)) {
        // A reply still under way when the client hangs up is cancelled.
        let socket = req.conn_data::<PeerSocket>().and_then(|s| s.0.try_clone().ok());
        let fate = fate.clone();
        actix_web::rt::spawn(async move {
            let Some(socket) = socket else { return };
            // Until the reply is settled only: the socket held here would
            // keep the connection open.
            tokio::select! {
                () = hung_up(socket) => fate.count(false),
                () = fate.settled.notified() => {}
            }
        });
    }
    let mut reply = reply;
    while let Reply::Delayed(wait, then) = reply {
        let mut waiting = WaitGuard(fate.clone(), false);
        actix_web::rt::time::sleep(wait).await;
        waiting.1 = true;
        reply = *then;
    }
    respond(reply, fate)
}

/// A second handle on a connection's socket.
struct PeerSocket(std::net::TcpStream);

/// Resolves when the client closed the connection; never if it sends more.
async fn hung_up(socket: std::net::TcpStream) {
    let watch = socket.set_nonblocking(true).ok().and_then(|()| actix_web::rt::net::TcpStream::from_std(socket).ok());
    let Some(watch) = watch else { return std::future::pending().await };
    let mut byte = [0u8; 1];
    loop {
        match watch.peek(&mut byte).await {
            Ok(0) => return,
            Ok(_) => return std::future::pending().await,
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
    }
}

/// What became of one reply, counted once: completed, or cancelled (the
/// client dropped it, or hung up while it was under way).
struct Fate {
    state: Arc<State>,
    counted: AtomicBool,
    /// Told once the reply is counted.
    settled: tokio::sync::Notify,
}

impl Fate {
    fn count(&self, completed: bool) {
        if !self.counted.swap(true, Ordering::SeqCst) {
            let counter = if completed { &self.state.completed } else { &self.state.cancelled };
            counter.fetch_add(1, Ordering::SeqCst);
            self.settled.notify_one();
        }
    }
}

/// The models a ChatGPT Plus account saw in December 2026: current ones,
/// one retired with an `upgrade`, a Lite-only family, version-gated ones
/// and a hidden one.
pub fn default_catalogue() -> Value {
    let levels = |names: &[&str]| -> Value {
        names.iter().map(|n| json!({"effort": n, "description": format!("{n} effort")})).collect()
    };
    let full = levels(&["low", "medium", "high", "xhigh", "max", "ultra"]);
    json!({"models": [
        {"slug":"gpt-6-sol","display_name":"GPT-6 Sol","default_reasoning_level":"medium","supported_reasoning_levels":full,
         "visibility":"list","priority":1,"minimal_client_version":"0.155.0","use_responses_lite":true,"default_verbosity":"low",
         "upgrade":null,"context_window":400000,"tool_mode":"code_mode_only"},
        {"slug":"gpt-5.6-terra","display_name":"GPT-5.6 Terra","default_reasoning_level":"medium","supported_reasoning_levels":full,
         "visibility":"list","priority":2,"minimal_client_version":"0.144.0","use_responses_lite":true,"default_verbosity":"low",
         "upgrade":null,"context_window":272000},
        {"slug":"gpt-6-luna","display_name":"GPT-6 Luna","default_reasoning_level":"low",
         "supported_reasoning_levels":levels(&["low", "medium", "high", "xhigh", "max"]),
         "visibility":"list","priority":3,"minimal_client_version":"0.155.0","use_responses_lite":true,"default_verbosity":"low",
         "upgrade":null},
        {"slug":"gpt-6-astra","display_name":"GPT-6 Astra","default_reasoning_level":"high",
         "supported_reasoning_levels":levels(&["medium", "high", "xhigh", "max"]),
         "visibility":"list","priority":4,"minimal_client_version":"0.153.0","use_responses_lite":true,"default_verbosity":"low"},
        {"slug":"gpt-5.6-sol","display_name":"GPT-5.6 Sol","default_reasoning_level":"low","supported_reasoning_levels":full,
         "visibility":"list","priority":5,"minimal_client_version":"0.144.0","use_responses_lite":true,"default_verbosity":"low",
         "upgrade":{"model":"gpt-6-sol","migration_markdown":"GPT-5.6 Sol is retiring: try GPT-6 Sol.","retirement_at":"2026-11-30T19:00:00Z"}},
        {"slug":"gpt-reserve","display_name":"GPT Reserve","default_reasoning_level":"medium",
         "supported_reasoning_levels":levels(&["low", "medium", "high"]),
         "visibility":"hide","priority":9,"minimal_client_version":"0.150.0","use_responses_lite":false}
    ]})
}

/// Slugs the backend refuses outright for ChatGPT logins.
const RETIRED: &[&str] = &["gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex", "gpt-5.2-codex", "gpt-5.2"];

/// `0.157.1` → (0, 157, 1); anything else → `None`.
fn version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.trim().split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

fn catalogue_of(state: &State) -> Value {
    state.catalogue.lock().unwrap().clone().unwrap_or_else(default_catalogue)
}

async fn models(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let headers: Vec<(String, String)> =
        req.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
    state.catalogue_requests.lock().unwrap().push(Recorded {
        headers,
        body: json!({"query": req.query_string()}),
        refused: None,
    });
    if let Some(status) = *state.catalogue_status.lock().unwrap() {
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .json(json!({"detail": "the catalogue is unavailable"}));
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let token = header("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
    if !state.token.lock().unwrap().accepts(token) {
        return HttpResponse::Unauthorized().json(json!({"detail":"Could not validate your credentials"}));
    }
    let query = web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string()).ok();
    let Some(client) = query.and_then(|q| q.get("client_version").cloned()).and_then(|v| version(&v)) else {
        return HttpResponse::BadRequest().json(json!({"detail":"client_version is required"}));
    };
    let mut catalogue = catalogue_of(&state);
    if let Some(models) = catalogue["models"].as_array_mut() {
        models.retain(|m| m["minimal_client_version"].as_str().and_then(version).is_none_or(|min| min <= client));
    }
    HttpResponse::Ok().insert_header(("etag", "\"mock-catalogue-1\"")).json(catalogue)
}

/// The backend's checks, in the order it makes them.
fn check(req: &HttpRequest, body: &Value, state: &State) -> Result<(), (u16, String)> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let token = header("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
    if !state.token.lock().unwrap().accepts(token) {
        return Err((401, "Could not validate your credentials".into()));
    }
    if header("chatgpt-account-id") != Some(state.account.lock().unwrap().as_str()) {
        return Err((403, "chatgpt-account-id header missing or wrong".into()));
    }
    for (name, want) in [("originator", "codex_cli_rs"), ("accept", "text/event-stream")] {
        if header(name) != Some(want) {
            return Err((400, format!("header {name} must be {want}")));
        }
    }
    // The User-Agent's product must be the originator, its version the `version` header.
    let ua = header("user-agent").unwrap_or("");
    let (product, rest) = ua.split_once('/').unwrap_or((ua, ""));
    let ua_version = rest.split(' ').next().unwrap_or("");
    if product != "codex_cli_rs" {
        return Err((400, format!("unsupported client: user-agent {ua:?} does not match originator codex_cli_rs")));
    }
    if let Some(sent) = header("version") {
        if sent != ua_version {
            return Err((400, format!("version header {sent:?} does not match the user-agent's {ua_version:?}")));
        }
    }
    if header("session-id").is_none_or(str::is_empty) {
        let detail = match header("session_id") {
            Some(_) => "the session_id header is no longer accepted; send session-id",
            None => "session-id header missing",
        };
        return Err((400, detail.into()));
    }
    if !header("content-type").is_some_and(|ct| ct.starts_with("application/json")) {
        return Err((400, "content-type must be application/json".into()));
    }
    let obj = body.as_object().ok_or((400, "body is not a JSON object".to_string()))?;
    for refused in [
        "max_output_tokens",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "previous_response_id",
        "truncation",
        "stop",
        "stop_sequences",
    ] {
        if obj.contains_key(refused) {
            return Err((400, format!("Unsupported parameter: {refused}")));
        }
    }
    let lite = header("x-openai-internal-codex-responses-lite") == Some("true");
    match obj.get("instructions").and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => {}
        _ if lite => {}
        Some(_) => return Err((400, "Instructions are not valid".into())),
        None => return Err((400, "Instructions are required".into())),
    }
    if obj.get("store") != Some(&Value::Bool(false)) {
        return Err((400, "Store must be set to false".into()));
    }
    if obj.get("stream") != Some(&Value::Bool(true)) {
        return Err((400, "Stream must be set to true".into()));
    }
    let Some(slug) = obj.get("model").and_then(Value::as_str) else {
        return Err((400, "model is required".into()));
    };
    let lite = header("x-openai-internal-codex-responses-lite") == Some("true");
    check_model(slug, header("version"), lite, body, state)?;
    let input = obj.get("input").and_then(Value::as_array).ok_or((400, "input must be a list".to_string()))?;
    let input = if lite { check_lite_shape(obj, input)? } else { input.as_slice() };
    check_input(input)?;
    if let Some(tools) = obj.get("tools") {
        let tools = tools.as_array().ok_or((400, "tools must be a list".to_string()))?;
        for tool in tools {
            check_tool(tool)?;
        }
    }
    check_text_format(obj)?;
    Ok(())
}

/// `text.format`, as the Responses API checks it: `text`, `json_object`, or
/// `json_schema` with a `name` of 1–64 `[a-zA-Z0-9_-]`, an object `schema`
/// without `$schema`, and — with `strict: true` — every object schema
/// listing all its properties in `required` with `additionalProperties: false`.
fn check_text_format(obj: &serde_json::Map<String, Value>) -> Result<(), (u16, String)> {
    let Some(format) = obj.get("text").and_then(|text| text.get("format")) else { return Ok(()) };
    match format["type"].as_str() {
        Some("text" | "json_object") => return Ok(()),
        Some("json_schema") => {}
        other => return Err((400, format!("Invalid value for 'text.format.type': {other:?}"))),
    }
    let name = format["name"].as_str().unwrap_or("");
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err((400, format!("Invalid 'text.format.name': {name:?}")));
    }
    let schema = &format["schema"];
    if schema["type"] != "object" || schema.get("$schema").is_some() {
        return Err((
            400,
            format!("Invalid schema for response_format '{name}': schema must be a JSON Schema of 'type: \"object\"'"),
        ));
    }
    fn strict_ok(node: &Value) -> bool {
        let Some(map) = node.as_object() else { return true };
        if let Some(properties) = map.get("properties").and_then(Value::as_object) {
            let required: Vec<&str> =
                map.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            if !properties.keys().all(|k| required.contains(&k.as_str()))
                || map.get("additionalProperties") != Some(&Value::Bool(false))
            {
                return false;
            }
        }
        map.values().all(|value| match value {
            Value::Object(_) => strict_ok(value),
            Value::Array(items) => items.iter().all(strict_ok),
            _ => true,
        })
    }
    if format["strict"] == true && !strict_ok(schema) {
        return Err((400, format!("Invalid schema for response_format '{name}': In context=(), 'required' is required to be supplied and to be an array including every key in properties, and 'additionalProperties' must be false")));
    }
    Ok(())
}

/// The model: retired, version-gated, Lite-only, and the efforts it takes.
fn check_model(
    slug: &str,
    sent_version: Option<&str>,
    lite: bool,
    body: &Value,
    state: &State,
) -> Result<(), (u16, String)> {
    let now = chrono::Utc::now().to_rfc3339();
    let catalogue = catalogue_of(state);
    let listed = catalogue["models"].as_array().and_then(|models| models.iter().find(|m| m["slug"] == slug)).cloned();
    let retired_by_date =
        listed.as_ref().and_then(|m| m["upgrade"]["retirement_at"].as_str()).is_some_and(|at| at <= now.as_str());
    if RETIRED.contains(&slug) || retired_by_date {
        return Err((400, format!("The '{slug}' model is not supported when using Codex with a ChatGPT account.")));
    }
    let Some(model) = listed else {
        return Err((404, format!("Model not found {slug}")));
    };
    if let Some(min) = model["minimal_client_version"].as_str().and_then(version) {
        match sent_version.and_then(version) {
            None => return Err((404, format!("Model not found {slug}"))),
            Some(v) if v < min => {
                return Err((
                    400,
                    format!("The '{slug}' model requires a newer version of Codex. Please upgrade to the latest app or CLI and try again."),
                ))
            }
            Some(_) => {}
        }
    }
    if slug.ends_with("-luna") && !lite {
        return Err((404, format!("Model not found {slug}")));
    }
    if lite && model["use_responses_lite"] != true {
        return Err((400, format!("The '{slug}' model is not available on Responses Lite")));
    }
    if let Some(effort) = body["reasoning"]["effort"].as_str() {
        let levels: Vec<&str> = model["supported_reasoning_levels"]
            .as_array()
            .map(|ls| ls.iter().filter_map(|l| l["effort"].as_str()).filter(|e| *e != "ultra").collect())
            .unwrap_or_default();
        if !levels.contains(&effort) {
            return Err((
                400,
                format!("Unsupported value: '{effort}' is not supported with the '{slug}' model. Supported values are: {levels:?}."),
            ));
        }
    }
    Ok(())
}

/// The Responses Lite body: no `instructions` or `tools`; `input` starts
/// with `additional_tools` (when there are tools) and a developer message;
/// `parallel_tool_calls:false`; `reasoning.context:"all_turns"`. The rest
/// of `input` is the conversation.
fn check_lite_shape<'a>(
    obj: &serde_json::Map<String, Value>,
    input: &'a [Value],
) -> Result<&'a [Value], (u16, String)> {
    for field in ["instructions", "tools"] {
        if obj.contains_key(field) {
            return Err((400, format!("Responses Lite: unexpected field {field}")));
        }
    }
    if obj.get("parallel_tool_calls") != Some(&Value::Bool(false)) {
        return Err((400, "Responses Lite requires parallel_tool_calls to be false".into()));
    }
    if obj.get("reasoning").and_then(|r| r.get("context")) != Some(&json!("all_turns")) {
        return Err((400, "Responses Lite requires reasoning.context all_turns".into()));
    }
    let mut rest = input;
    if let Some(first) = rest.first().filter(|i| i["type"] == "additional_tools") {
        if first["role"] != "developer" {
            return Err((400, "additional_tools must have role developer".into()));
        }
        let tools = first["tools"].as_array().ok_or((400, "additional_tools.tools must be a list".to_string()))?;
        for tool in tools {
            if tool["type"] != "function" {
                return Err((400, format!("Responses Lite has no hosted tool {}", tool["type"])));
            }
            check_tool(tool)?;
        }
        rest = &rest[1..];
    }
    let Some(developer) = rest.first().filter(|i| i["type"] == "message" && i["role"] == "developer") else {
        return Err((400, "Responses Lite: the base instructions must follow as a developer message".into()));
    };
    if developer["content"][0]["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
        return Err((400, "Instructions are not valid".into()));
    }
    if rest.iter().any(|i| i["type"] == "additional_tools") {
        return Err((400, "additional_tools may only come first".into()));
    }
    Ok(rest)
}

fn check_input(input: &[Value]) -> Result<(), (u16, String)> {
    let ids = |kind: &str| -> Vec<String> {
        input.iter().filter(|i| i["type"] == kind).filter_map(|i| i["call_id"].as_str().map(str::to_owned)).collect()
    };
    let calls = ids("function_call");
    let outputs = ids("function_call_output");
    if let Some(call) = calls.iter().find(|c| !outputs.contains(c)) {
        return Err((400, format!("No tool output found for function call {call}.")));
    }
    if let Some(out) = outputs.iter().find(|o| !calls.contains(o)) {
        return Err((400, format!("No tool call found for function call output with call_id {out}.")));
    }
    for item in input {
        match item["type"].as_str() {
            Some("message") => {
                if !matches!(item["role"].as_str(), Some("user" | "assistant" | "developer" | "system")) {
                    return Err((400, "message role is invalid".into()));
                }
                if let Some(phase) = item.get("phase") {
                    if item["role"] != "assistant" || !matches!(phase.as_str(), Some("commentary" | "final_answer")) {
                        return Err((400, format!("Invalid phase {phase} on a {} message", item["role"])));
                    }
                }
                let parts = item["content"].as_array().ok_or((400, "message content must be a list".to_string()))?;
                for part in parts {
                    let ok = match part["type"].as_str() {
                        Some("input_text" | "output_text") => part["text"].is_string(),
                        Some("input_image") => {
                            part["image_url"].as_str().is_some_and(|u| u.starts_with("data:") || u.starts_with("http"))
                        }
                        _ => false,
                    };
                    if !ok {
                        return Err((400, format!("Invalid content part: {part}")));
                    }
                }
            }
            Some("function_call") => {
                if !item["arguments"].is_string() || !item["name"].is_string() {
                    return Err((400, "function_call needs name and string arguments".into()));
                }
            }
            Some("function_call_output") => {
                if !(item["output"].is_string() || item["output"].is_array()) {
                    return Err((400, "function_call_output.output must be a string or list".into()));
                }
            }
            Some("reasoning") => {
                if let Some(id) = item.get("id") {
                    return Err((
                        404,
                        format!("Item with id {id} not found. Items are not persisted when `store` is set to false."),
                    ));
                }
            }
            Some("web_search_call") => {}
            other => return Err((400, format!("Invalid input item type: {other:?}"))),
        }
    }
    Ok(())
}

fn check_tool(tool: &Value) -> Result<(), (u16, String)> {
    match tool["type"].as_str() {
        Some("function") => {
            let name = tool["name"].as_str().unwrap_or("");
            let valid_name = !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid_name {
                return Err((400, format!("Invalid tool name: {name:?}")));
            }
            let params = &tool["parameters"];
            if params["type"] != "object" || !params["properties"].is_object() {
                return Err((400, format!("Invalid schema for function '{name}': schema must be a JSON Schema of 'type: \"object\"' with 'properties'")));
            }
            for key in ["$schema", "oneOf", "anyOf", "allOf", "enum", "not"] {
                if params.get(key).is_some() {
                    return Err((
                        400,
                        format!("Invalid schema for function '{name}': '{key}' is not permitted at the top level"),
                    ));
                }
            }
            Ok(())
        }
        Some("web_search") => Ok(()),
        other => Err((400, format!("Invalid tool type: {other:?}"))),
    }
}

fn respond(reply: Reply, fate: Arc<Fate>) -> HttpResponse {
    match reply {
        Reply::Http { status, headers, body } => {
            let mut resp = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            for (k, v) in headers {
                resp.insert_header((k, v));
            }
            resp.body(body)
        }
        Reply::Sse(body) => {
            fate.count(true);
            sse_response().body(body)
        }
        Reply::Chunks(chunks) => sse_response().streaming(chunked(chunks, fate, false)),
        Reply::ChunksThenReset(chunks) => sse_response().streaming(chunked(chunks, fate, true)),
        Reply::Delayed(_, reply) => respond(*reply, fate),
    }
}

/// A body that sends each chunk after its delay, then ends (or breaks).
fn chunked(
    chunks: Vec<(Duration, String)>,
    fate: Arc<Fate>,
    reset: bool,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    let guard = StreamGuard { fate, finished: false };
    stream::unfold((VecDeque::from(chunks), guard, reset), |(mut rest, mut guard, reset)| async move {
        match rest.pop_front() {
            Some((delay, chunk)) => {
                actix_web::rt::time::sleep(delay).await;
                if rest.is_empty() && !reset {
                    guard.finished = true;
                }
                Some((Ok(Bytes::from(chunk)), (rest, guard, reset)))
            }
            None if reset => {
                guard.finished = true;
                let err = actix_web::error::ErrorInternalServerError("connection reset by the mock");
                Some((Err(err), (rest, guard, false)))
            }
            None => None,
        }
    })
}

/// Counts a stream as completed or cancelled when the server drops it.
struct StreamGuard {
    fate: Arc<Fate>,
    finished: bool,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.fate.count(self.finished);
    }
}

/// Counts a request as cancelled when the server drops it before its
/// reply's headers are due (`.1`: they are).
struct WaitGuard(Arc<Fate>, bool);

impl Drop for WaitGuard {
    fn drop(&mut self) {
        if !self.1 {
            self.0.count(false);
        }
    }
}

fn sse_response() -> actix_web::HttpResponseBuilder {
    let mut resp = HttpResponse::Ok();
    resp.content_type("text/event-stream")
        .insert_header(("x-codex-primary-used-percent", "12"))
        .insert_header(("x-codex-primary-window-minutes", "300"))
        .insert_header(("x-codex-primary-reset-after-seconds", "9000"))
        .insert_header(("x-codex-secondary-used-percent", "3"))
        .insert_header(("x-codex-secondary-window-minutes", "10080"))
        .insert_header(("x-codex-secondary-reset-after-seconds", "500000"));
    resp
}

/// The automatic answer for an unscripted request.
fn auto_reply(body: &Value) -> Reply {
    let input = body["input"].as_array().cloned().unwrap_or_default();
    let last = input.last().cloned().unwrap_or(Value::Null);
    let model = body["model"].as_str().unwrap_or("gpt-5.6-terra");
    // On the Lite lane the tools arrive as the first input item.
    let tools = body["tools"]
        .as_array()
        .or_else(|| input.first().filter(|i| i["type"] == "additional_tools").and_then(|i| i["tools"].as_array()))
        .cloned()
        .unwrap_or_default();
    let first_function = tools.iter().find(|t| t["type"] == "function");
    if last["type"] == "function_call_output" {
        let output = match &last["output"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Reply::Sse(text_stream(model, &format!("The tool said: {output}")));
    }
    if tools.iter().any(|t| t["type"] == "web_search") && first_function.is_none() {
        return Reply::Sse(include_str!("../fixtures/streams/web-search.sse").into());
    }
    if let (Some(tool), false) = (first_function, body["tool_choice"] == "none") {
        let name = tool["name"].as_str().unwrap_or("tool");
        let args = sample_arguments(&tool["parameters"]);
        return Reply::Sse(tool_call_stream(model, &[("call_mock_1", name, &args.to_string())]));
    }
    if let Some(reply) = structured_or_unsummarised_reply(body, model) {
        return reply;
    }
    let said = last["content"][0]["text"].as_str().unwrap_or("");
    let text = format!("Hello from the mock. You said: {said}");
    if body["reasoning"]["effort"].is_string() {
        return Reply::Sse(reasoning_text_stream(
            model,
            "Thinking about the greeting.",
            "gAAAAmockEncryptedReasoning==",
            &text,
        ));
    }
    Reply::Sse(text_stream(model, &text))
}

/// What the backend does with `text.format` (the answer is JSON matching
/// the schema) and with reasoning but no `reasoning.summary` (a reasoning
/// item with its encrypted content and an empty summary).
fn structured_or_unsummarised_reply(body: &Value, model: &str) -> Option<Reply> {
    if body["text"]["format"]["type"] == "json_schema" {
        let answer = sample_arguments(&body["text"]["format"]["schema"]).to_string();
        return Some(Reply::Sse(text_stream(model, &answer)));
    }
    if body["reasoning"]["effort"].is_string() && body["reasoning"]["summary"].is_null() {
        let mut events = vec![
            json!({"type":"response.output_item.added","output_index":0,"item":{"id":"rs_mock","type":"reasoning","summary":[]}}),
            json!({"type":"response.output_item.done","output_index":0,"item":{"id":"rs_mock","type":"reasoning","summary":[],"encrypted_content":"gAAAAmockEncryptedReasoning=="}}),
        ];
        let mut answer = text_events(model, "Hello from the mock.");
        // Keep the answer's own created event first.
        let created = answer.remove(0);
        events.insert(0, created);
        for event in answer.iter_mut() {
            if let Some(index) = event.get_mut("output_index") {
                *index = json!(1);
            }
        }
        events.extend(answer);
        return Some(Reply::Sse(sse(&events)));
    }
    None
}

/// Arguments that satisfy the required string/number/bool properties of a schema.
fn sample_arguments(schema: &Value) -> Value {
    let mut args = serde_json::Map::new();
    let required = schema["required"].as_array().cloned().unwrap_or_default();
    for name in required.iter().filter_map(Value::as_str) {
        let value = match schema["properties"][name]["type"].as_str() {
            Some("number" | "integer") => json!(1),
            Some("boolean") => json!(true),
            Some("array") => json!([]),
            Some("object") => json!({}),
            _ => json!("Paris"),
        };
        args.insert(name.to_owned(), value);
    }
    Value::Object(args)
}

/// Frame `(event, data)` pairs as SSE, numbering `sequence_number`.
pub fn sse(events: &[Value]) -> String {
    let mut out = String::new();
    for (seq, event) in events.iter().enumerate() {
        let mut event = event.clone();
        event["sequence_number"] = json!(seq);
        let kind = event["type"].as_str().unwrap_or("unknown").to_owned();
        out.push_str(&format!("event: {kind}\ndata: {event}\n\n"));
    }
    out
}

fn usage(input: u64, cached: u64, output: u64) -> Value {
    json!({"input_tokens": input, "input_tokens_details": {"cached_tokens": cached},
           "output_tokens": output, "output_tokens_details": {"reasoning_tokens": 0},
           "total_tokens": input + output})
}

/// The events of a streamed text answer, split into word-sized deltas.
pub fn text_events(model: &str, text: &str) -> Vec<Value> {
    let mut events = vec![
        json!({"type":"response.created","response":{"id":"resp_mock","object":"response","status":"in_progress","model":model,"output":[]}}),
        json!({"type":"response.output_item.added","output_index":0,"item":{"id":"msg_mock","type":"message","status":"in_progress","role":"assistant","content":[]}}),
        json!({"type":"response.content_part.added","item_id":"msg_mock","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}),
    ];
    for piece in text.split_inclusive(' ') {
        events.push(json!({"type":"response.output_text.delta","item_id":"msg_mock","output_index":0,"content_index":0,"delta":piece}));
    }
    let item = json!({"id":"msg_mock","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":text,"annotations":[]}]});
    events.extend([
        json!({"type":"response.output_text.done","item_id":"msg_mock","output_index":0,"content_index":0,"text":text}),
        json!({"type":"response.output_item.done","output_index":0,"item":item}),
        json!({"type":"response.completed","response":{"id":"resp_mock","object":"response","status":"completed","model":model,"output":[item],"usage":usage(120, 64, 9)}}),
    ]);
    events
}

/// Each event of `events` as its own chunk, the first `fast` at once and
/// the rest `delay` apart.
pub fn drip(events: &[Value], fast: usize, delay: Duration) -> Vec<(Duration, String)> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| (if i < fast { Duration::ZERO } else { delay }, sse(std::slice::from_ref(e))))
        .collect()
}

pub fn text_stream(model: &str, text: &str) -> String {
    sse(&text_events(model, text))
}

/// A reasoning item (summary + encrypted content), then a text answer.
pub fn reasoning_text_stream(model: &str, summary: &str, encrypted: &str, text: &str) -> String {
    let mut events = vec![
        json!({"type":"response.created","response":{"id":"resp_mock","object":"response","status":"in_progress","model":model,"output":[]}}),
        json!({"type":"response.output_item.added","output_index":0,"item":{"id":"rs_mock","type":"reasoning","summary":[]}}),
        json!({"type":"response.reasoning_summary_part.added","item_id":"rs_mock","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":""}}),
        json!({"type":"response.reasoning_summary_text.delta","item_id":"rs_mock","output_index":0,"summary_index":0,"delta":summary}),
        json!({"type":"response.reasoning_summary_text.done","item_id":"rs_mock","output_index":0,"summary_index":0,"text":summary}),
        json!({"type":"response.output_item.done","output_index":0,"item":{"id":"rs_mock","type":"reasoning","summary":[{"type":"summary_text","text":summary}],"encrypted_content":encrypted}}),
    ];
    for mut event in text_events(model, text).into_iter().skip(1) {
        if let Some(index) = event.get_mut("output_index") {
            *index = json!(1);
        }
        events.push(event);
    }
    sse(&events)
}

/// The events of parallel function calls `(call_id, name, arguments)`.
pub fn tool_call_stream(model: &str, calls: &[(&str, &str, &str)]) -> String {
    let mut events = vec![
        json!({"type":"response.created","response":{"id":"resp_tool","object":"response","status":"in_progress","model":model,"output":[]}}),
    ];
    for (index, (call_id, name, args)) in calls.iter().enumerate() {
        let id = format!("fc_{index}");
        events.push(json!({"type":"response.output_item.added","output_index":index,"item":{"id":id,"type":"function_call","status":"in_progress","call_id":call_id,"name":name,"arguments":""}}));
        let mid = args.len() / 2;
        let split = (0..=mid).rev().find(|i| args.is_char_boundary(*i)).unwrap_or(0);
        for delta in [&args[..split], &args[split..]] {
            events.push(json!({"type":"response.function_call_arguments.delta","item_id":id,"output_index":index,"delta":delta}));
        }
        events.push(
            json!({"type":"response.function_call_arguments.done","item_id":id,"output_index":index,"arguments":args}),
        );
        events.push(json!({"type":"response.output_item.done","output_index":index,"item":{"id":id,"type":"function_call","status":"completed","call_id":call_id,"name":name,"arguments":args}}));
    }
    events.push(json!({"type":"response.completed","response":{"id":"resp_tool","object":"response","status":"completed","model":model,"usage":usage(300, 0, 20)}}));
    sse(&events)
}

/// `response.failed` inside a 200, as the backend reports overloads.
pub fn failed_stream(code: &str, message: &str) -> String {
    sse(&[
        json!({"type":"response.created","response":{"id":"resp_fail","object":"response","status":"in_progress","model":"gpt-5.2-codex","output":[]}}),
        json!({"type":"response.failed","response":{"id":"resp_fail","object":"response","status":"failed","model":"gpt-5.2-codex","error":{"code":code,"message":message}}}),
    ])
}
