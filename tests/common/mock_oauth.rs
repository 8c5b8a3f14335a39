//! A mock of the OpenAI OAuth issuer (codex.md §5) on 127.0.0.1, for driving
//! codexd's login, refresh and status end to end.
//!
//! It is strict where codexd could get things wrong: the authorize endpoint
//! checks every parameter the real issuer expects (the Codex CLI's scopes
//! included), the code exchange checks the PKCE verifier against the S256
//! challenge, the client id, the redirect_uri and the grant type, a refresh
//! is accepted only in the Codex CLI's format (a JSON body with client_id,
//! grant_type and refresh_token, no scope; a form or extra fields are refused
//! with OpenAI's `{"error":{"code":"invalid_request",…}}`), and refresh tokens
//! rotate (a reused one is refused like the real `refresh_token_reused`). Tokens are JWT-shaped
//! (header.payload.signature, base64url) with `exp`, `email` and the
//! `https://api.openai.com/auth` claims, and every secret it mints is
//! remembered so tests can assert none is ever printed.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The Codex CLI's public client id, which codexd must send.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// The scopes codexd must ask for at login (the Codex CLI's, connectors included).
pub const LOGIN_SCOPES: [&str; 6] =
    ["openid", "profile", "email", "offline_access", "api.connectors.read", "api.connectors.invoke"];

/// How the token endpoint answers a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshBehavior {
    /// New access, id and refresh tokens; the old refresh token is spent.
    Rotate,
    /// 400 `{"error":"invalid_grant",…}`.
    InvalidGrant,
    /// 401 `{"error":{"code":CODE,"message":…}}`, e.g. `refresh_token_expired`.
    ErrorCode(&'static str),
    /// 500 with a JSON error: a transient failure.
    ServerError,
    /// This status with this body, verbatim (JSON when it parses as JSON).
    Answer(u16, &'static str),
    /// Accept the connection and the request, then never answer (a hanging
    /// issuer); the call is still counted.
    Hang,
}

/// Who signs in.
#[derive(Debug, Clone)]
pub struct Person {
    pub email: String,
    pub account_id: String,
    pub plan: String,
}

impl Default for Person {
    fn default() -> Self {
        Person { email: "alice@example.com".into(), account_id: "acc-7f3a9c2e5b1d4f60".into(), plan: "plus".into() }
    }
}

/// A token set minted by the mock.
#[derive(Debug, Clone)]
pub struct Minted {
    pub access_token: String,
    pub refresh_token: String,
    pub id_token: String,
    /// `exp` of the access token (Unix seconds).
    pub expires_at: i64,
    pub person: Person,
}

impl Minted {
    /// The content of a codexd `tokens.json` holding these tokens.
    pub fn tokens_json(&self) -> Value {
        json!({
            "version": 1,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "id_token": self.id_token,
            "account_id": self.person.account_id,
            "email": self.person.email,
            "plan": self.person.plan,
            "expires_at": chrono::DateTime::from_timestamp(self.expires_at, 0).unwrap().to_rfc3339(),
            "last_refresh": self.issued_at(),
        })
    }

    /// When these tokens were (said to be) obtained: an hour ago, as if
    /// signed in earlier (codexd spaces proactive refreshes a minute apart).
    fn issued_at(&self) -> String {
        (chrono::Utc::now() - chrono::TimeDelta::hours(1)).to_rfc3339()
    }

    /// The content of a Codex CLI `auth.json` holding these tokens.
    pub fn codex_auth_json(&self) -> Value {
        json!({
            "OPENAI_API_KEY": null,
            "tokens": {
                "id_token": self.id_token,
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "account_id": self.person.account_id,
            },
            "last_refresh": self.issued_at(),
        })
    }
}

struct PendingCode {
    challenge: String,
    redirect_uri: String,
}

struct State {
    issuer: String,
    person: Person,
    access_lifetime: i64,
    codes: HashMap<String, PendingCode>,
    live_refresh_tokens: HashSet<String>,
    spent_refresh_tokens: HashSet<String>,
    refresh_behavior: RefreshBehavior,
    refresh_delay: Duration,
    refresh_calls: usize,
    code_exchanges: usize,
    device_pending_polls: usize,
    device_polls: usize,
    device_sessions: HashMap<String, String>,
    deny_authorize: bool,
    issued: Vec<String>,
    token_requests: Vec<BTreeMap<String, String>>,
    problems: Vec<String>,
}

impl State {
    fn mint(&mut self) -> Minted {
        let now = chrono::Utc::now().timestamp();
        let expires_at = now + self.access_lifetime;
        let p = self.person.clone();
        let auth_claim =
            json!({"chatgpt_account_id": p.account_id, "chatgpt_plan_type": p.plan, "chatgpt_user_id": "user-mock"});
        let access_token = jwt(json!({
            "iss": self.issuer, "aud": ["https://api.openai.com/v1"], "iat": now, "exp": expires_at,
            "jti": uuid::Uuid::new_v4().to_string(),
            "https://api.openai.com/auth": auth_claim,
            "https://api.openai.com/profile": {"email": p.email},
        }));
        let id_token = jwt(json!({
            "iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 3600,
            "jti": uuid::Uuid::new_v4().to_string(),
            "email": p.email, "email_verified": true,
            "https://api.openai.com/auth": auth_claim,
        }));
        let refresh_token = format!("rt_{}", uuid::Uuid::new_v4().simple());
        self.live_refresh_tokens.insert(refresh_token.clone());
        self.issued.extend([access_token.clone(), refresh_token.clone(), id_token.clone()]);
        Minted { access_token, refresh_token, id_token, expires_at, person: p }
    }

    fn token_answer(&mut self) -> Value {
        let m = self.mint();
        json!({
            "access_token": m.access_token, "token_type": "Bearer", "expires_in": self.access_lifetime,
            "refresh_token": m.refresh_token, "id_token": m.id_token, "scope": LOGIN_SCOPES.join(" "),
        })
    }
}

/// The running mock; stops when dropped.
pub struct MockOAuth {
    /// The issuer base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    pub port: u16,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl MockOAuth {
    /// Start on an ephemeral loopback port.
    pub fn start() -> MockOAuth {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let port = listener.local_addr().unwrap().port();
                let state = Arc::new(Mutex::new(State {
                    issuer: format!("http://127.0.0.1:{port}"),
                    person: Person::default(),
                    access_lifetime: 3600,
                    codes: HashMap::new(),
                    live_refresh_tokens: HashSet::new(),
                    spent_refresh_tokens: HashSet::new(),
                    refresh_behavior: RefreshBehavior::Rotate,
                    refresh_delay: Duration::ZERO,
                    refresh_calls: 0,
                    code_exchanges: 0,
                    device_pending_polls: 1,
                    device_polls: 0,
                    device_sessions: HashMap::new(),
                    deny_authorize: false,
                    issued: Vec::new(),
                    token_requests: Vec::new(),
                    problems: Vec::new(),
                }));
                let shared = web::Data::from(state.clone());
                let server = HttpServer::new(move || App::new().app_data(shared.clone()).configure(routes))
                    .listen(listener)
                    .unwrap()
                    .workers(2)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .run();
                tx.send((port, state, server.handle())).unwrap();
                server.await.unwrap();
            });
        });
        let (port, state, handle) = rx.recv().expect("the mock OAuth server did not start");
        MockOAuth { url: format!("http://127.0.0.1:{port}"), port, state, handle, thread: Some(thread) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Mint a valid token set whose access token lives `lifetime`.
    pub fn mint(&self, lifetime: Duration) -> Minted {
        self.with(|s| {
            let saved = s.access_lifetime;
            s.access_lifetime = lifetime.as_secs() as i64;
            let minted = s.mint();
            s.access_lifetime = saved;
            minted
        })
    }

    /// Lifetime of access tokens issued by the token endpoint (default 1 h).
    pub fn set_access_lifetime(&self, lifetime: Duration) {
        self.with(|s| s.access_lifetime = lifetime.as_secs() as i64);
    }

    pub fn set_refresh_behavior(&self, behavior: RefreshBehavior) {
        self.with(|s| s.refresh_behavior = behavior);
    }

    /// Make each refresh answer take this long, so concurrent callers overlap.
    pub fn set_refresh_delay(&self, delay: Duration) {
        self.with(|s| s.refresh_delay = delay);
    }

    /// Number of device-token polls answered "pending" before success (default 1).
    pub fn set_device_pending_polls(&self, polls: usize) {
        self.with(|s| s.device_pending_polls = polls);
    }

    /// The authorize endpoint redirects with `error=access_denied`.
    pub fn deny_authorize(&self) {
        self.with(|s| s.deny_authorize = true);
    }

    /// Refresh requests received (successful or not).
    pub fn refresh_calls(&self) -> usize {
        self.with(|s| s.refresh_calls)
    }

    /// Successful authorization-code exchanges.
    pub fn code_exchanges(&self) -> usize {
        self.with(|s| s.code_exchanges)
    }

    pub fn device_polls(&self) -> usize {
        self.with(|s| s.device_polls)
    }

    /// Every token the mock ever minted.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.with(|s| s.issued.clone())
    }

    /// Fields (form or JSON) of every token-endpoint request, oldest first.
    pub fn token_requests(&self) -> Vec<BTreeMap<String, String>> {
        self.with(|s| s.token_requests.clone())
    }

    /// Requests the mock refused and why (empty when codexd behaved).
    pub fn problems(&self) -> Vec<String> {
        self.with(|s| s.problems.clone())
    }

    /// True if `text` contains any token the mock minted.
    pub fn leaks_a_secret(&self, text: &str) -> Option<String> {
        self.issued_secrets().into_iter().find(|secret| text.contains(secret.as_str()))
    }

    /// A `codexd` command wired to this mock, with everything else on
    /// loopback and in `home` (CODEXD_HOME, HOME, XDG_CONFIG_HOME, CODEX_HOME).
    pub fn codexd(&self, home: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_codexd"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("CODEXD_HOME", home.join("codexd"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("CODEX_HOME", home.join("codex"))
            .env("CODEXD_AUTH_ISSUER", &self.url)
            .env("CODEXD_LOGIN_CALLBACK_PORT", free_port().to_string())
            .env("PORT", free_port().to_string())
            .env("CODEXD_LOG_FILE", home.join("codexd.log"))
            // No browser may ever be launched by a test.
            .env("BROWSER", "true");
        cmd
    }
}

/// What a finished `codexd` run printed and how it exited.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panic if any token the mock minted (or any of `more`) appears in the output.
    pub fn assert_no_secrets(&self, mock: &MockOAuth, more: &[&str]) {
        let both = format!("{}\n{}", self.stdout, self.stderr);
        if let Some(secret) = mock.leaks_a_secret(&both) {
            panic!("a token was printed: {secret}\n{both}");
        }
        for secret in more {
            assert!(!both.contains(secret), "{secret} was printed:\n{both}");
        }
    }
}

impl MockOAuth {
    /// Run `codexd ARGS` against this mock with `home` as its world.
    pub fn run(&self, home: &Path, args: &[&str]) -> Ran {
        run(self.codexd(home).args(args))
    }
}

/// Run a command to the end and capture its output.
pub fn run(cmd: &mut Command) -> Ran {
    let out = cmd.output().expect("codexd could not be started");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Drop for MockOAuth {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A JWT-shaped token: base64url(header).base64url(payload).signature.
pub fn jwt(payload: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT","kid":"mock"}"#);
    let body = URL_SAFE_NO_PAD.encode(payload.to_string());
    format!("{header}.{body}.bW9jay1zaWduYXR1cmU")
}

/// base64url(sha256(verifier)), the S256 PKCE challenge.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/authorize", web::get().to(authorize))
        .route("/oauth/token", web::post().to(token))
        .route("/api/accounts/deviceauth/usercode", web::post().to(device_usercode))
        .route("/api/accounts/deviceauth/token", web::post().to(device_token))
        .route(
            "/health",
            web::get().to(|| async { HttpResponse::Ok().json(json!({"status": "ok", "version": "mock"})) }),
        );
}

type Shared = web::Data<Mutex<State>>;

fn refuse(state: &mut State, status: actix_web::http::StatusCode, body: Value, problem: String) -> HttpResponse {
    state.problems.push(problem);
    HttpResponse::build(status).json(body)
}

async fn authorize(state: Shared, query: web::Query<BTreeMap<String, String>>) -> HttpResponse {
    let q = query.into_inner();
    let mut s = state.lock().unwrap();
    let expect = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("code_challenge_method", "S256"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("originator", "codex_cli_rs"),
    ];
    let mut wrong: Vec<String> = expect
        .iter()
        .filter(|(k, v)| q.get(*k).map(String::as_str) != Some(*v))
        .map(|(k, v)| format!("{k} should be {v:?}, got {:?}", q.get(*k)))
        .collect();
    let asked: HashSet<&str> = q.get("scope").map(|s| s.split(' ').collect()).unwrap_or_default();
    let missing: Vec<&str> = LOGIN_SCOPES.iter().copied().filter(|s| !asked.contains(s)).collect();
    if !missing.is_empty() {
        wrong.push(format!("scope {:?} lacks {missing:?}", q.get("scope")));
    }
    for required in ["state", "code_challenge", "redirect_uri"] {
        if q.get(required).is_none_or(|v| v.is_empty()) {
            wrong.push(format!("{required} is missing"));
        }
    }
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    if !(redirect_uri.starts_with("http://localhost:") && redirect_uri.ends_with("/auth/callback")) {
        wrong.push(format!("redirect_uri {redirect_uri:?} is not http://localhost:PORT/auth/callback"));
    }
    if !wrong.is_empty() {
        let text = wrong.join("; ");
        s.problems.push(format!("authorize: {text}"));
        return HttpResponse::BadRequest().body(text);
    }
    let state_param = q["state"].clone();
    let location = if s.deny_authorize {
        format!(
            "{redirect_uri}?error=access_denied&error_description=The+user+cancelled+the+sign-in&state={}",
            enc(&state_param)
        )
    } else {
        let code = format!("ac_{}", uuid::Uuid::new_v4().simple());
        s.codes.insert(
            code.clone(),
            PendingCode { challenge: q["code_challenge"].clone(), redirect_uri: redirect_uri.clone() },
        );
        format!("{redirect_uri}?code={code}&scope={}&state={}", enc(&LOGIN_SCOPES.join(" ")), enc(&state_param))
    };
    HttpResponse::Found().insert_header(("location", location)).finish()
}

fn enc(value: &str) -> String {
    oauth2::url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The request's content type, `""` when it has none.
fn content_type(req: &HttpRequest) -> &str {
    req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// The request's fields, from a form or a JSON body.
fn fields(req: &HttpRequest, body: &[u8]) -> BTreeMap<String, String> {
    if content_type(req).starts_with("application/json") {
        let map: BTreeMap<String, Value> = serde_json::from_slice(body).unwrap_or_default();
        map.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).collect()
    } else {
        oauth2::url::form_urlencoded::parse(body).into_owned().collect()
    }
}

async fn token(state: Shared, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let f = fields(&req, &body);
    let grant = f.get("grant_type").cloned().unwrap_or_default();
    state.lock().unwrap().token_requests.push(f.clone());
    match grant.as_str() {
        "authorization_code" => exchange(&mut state.lock().unwrap(), &f),
        "refresh_token" => refresh(&state, content_type(&req), &f).await,
        other => {
            let mut s = state.lock().unwrap();
            let body = json!({"error": "unsupported_grant_type"});
            refuse(&mut s, actix_web::http::StatusCode::BAD_REQUEST, body, format!("token: grant_type {other:?}"))
        }
    }
}

fn exchange(s: &mut State, f: &BTreeMap<String, String>) -> HttpResponse {
    let bad = |s: &mut State, why: String| {
        let body = json!({"error": "invalid_grant", "error_description": why});
        refuse(s, actix_web::http::StatusCode::BAD_REQUEST, body, format!("exchange: {why}"))
    };
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return bad(s, format!("client_id {:?}", f.get("client_id")));
    }
    let Some(pending) = f.get("code").and_then(|c| s.codes.remove(c)) else {
        return bad(s, "unknown or already used code".into());
    };
    if f.get("redirect_uri") != Some(&pending.redirect_uri) {
        return bad(s, format!("redirect_uri {:?} != {:?}", f.get("redirect_uri"), pending.redirect_uri));
    }
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    if s256(&verifier) != pending.challenge {
        return bad(s, "code_verifier does not match the S256 code_challenge".into());
    }
    s.code_exchanges += 1;
    HttpResponse::Ok().json(s.token_answer())
}

/// The fields of the Codex CLI's refresh body, the only ones accepted.
const REFRESH_FIELDS: [&str; 3] = ["client_id", "grant_type", "refresh_token"];

async fn refresh(state: &Shared, content_type: &str, f: &BTreeMap<String, String>) -> HttpResponse {
    let (delay, hang) = {
        let mut s = state.lock().unwrap();
        s.refresh_calls += 1;
        (s.refresh_delay, s.refresh_behavior == RefreshBehavior::Hang)
    };
    if hang {
        std::future::pending::<()>().await;
    }
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    let mut s = state.lock().unwrap();
    let status = actix_web::http::StatusCode::from_u16;
    // The Codex CLI refreshes with a JSON body and no scope; anything else
    // is refused in OpenAI's error shape (a transient failure for codexd).
    let invalid = |message: String| json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": "invalid_request"}});
    if !content_type.starts_with("application/json") {
        let why = format!("refresh: the body must be JSON, got content-type {content_type:?}");
        return refuse(&mut s, status(400).unwrap(), invalid(why.clone()), why);
    }
    let extra: Vec<&String> = f.keys().filter(|k| !REFRESH_FIELDS.contains(&k.as_str())).collect();
    if !extra.is_empty() {
        let why = format!("refresh: unexpected fields {extra:?} (the Codex CLI sends no scope)");
        return refuse(&mut s, status(400).unwrap(), invalid(why.clone()), why);
    }
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        let body = json!({"error": "invalid_client"});
        return refuse(&mut s, status(401).unwrap(), body, format!("refresh: client_id {:?}", f.get("client_id")));
    }
    match s.refresh_behavior.clone() {
        RefreshBehavior::InvalidGrant => {
            return HttpResponse::BadRequest()
                .json(json!({"error": "invalid_grant", "error_description": "Invalid refresh token"}))
        }
        RefreshBehavior::ErrorCode(code) => return HttpResponse::Unauthorized().json(
            json!({"error": {"code": code, "message": format!("mock says {code}"), "type": "invalid_request_error"}}),
        ),
        RefreshBehavior::ServerError => {
            return HttpResponse::InternalServerError()
                .json(json!({"error": {"message": "mock hiccup", "type": "server_error"}}))
        }
        RefreshBehavior::Answer(code, body) => {
            let kind = if serde_json::from_str::<Value>(body).is_ok() { "application/json" } else { "text/plain" };
            return HttpResponse::build(status(code).unwrap()).content_type(kind).body(body);
        }
        RefreshBehavior::Rotate | RefreshBehavior::Hang => {}
    }
    let presented = f.get("refresh_token").cloned().unwrap_or_default();
    if s.live_refresh_tokens.remove(&presented) {
        s.spent_refresh_tokens.insert(presented);
        return HttpResponse::Ok().json(s.token_answer());
    }
    let code =
        if s.spent_refresh_tokens.contains(&presented) { "refresh_token_reused" } else { "refresh_token_invalidated" };
    let body = json!({"error": {"code": code, "message": "Your refresh token cannot be used."}});
    refuse(&mut s, status(401).unwrap(), body, format!("refresh: {code}"))
}

async fn device_usercode(state: Shared, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let f = fields(&req, &body);
    let mut s = state.lock().unwrap();
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        let body = json!({"error": "invalid_client"});
        return refuse(
            &mut s,
            actix_web::http::StatusCode::BAD_REQUEST,
            body,
            format!("usercode: client_id {:?}", f.get("client_id")),
        );
    }
    let device_auth_id = format!("deviceauth_{}", uuid::Uuid::new_v4().simple());
    let user_code = "WXYZ-2468".to_string();
    s.device_sessions.insert(device_auth_id.clone(), user_code.clone());
    HttpResponse::Ok().json(json!({"device_auth_id": device_auth_id, "user_code": user_code, "interval": "1"}))
}

async fn device_token(state: Shared, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let f = fields(&req, &body);
    let mut s = state.lock().unwrap();
    let id = f.get("device_auth_id").cloned().unwrap_or_default();
    if s.device_sessions.get(&id) != f.get("user_code") {
        let body = json!({"error": "unknown device session"});
        return refuse(
            &mut s,
            actix_web::http::StatusCode::BAD_REQUEST,
            body,
            format!("device token: bad session {f:?}"),
        );
    }
    s.device_polls += 1;
    if s.device_polls <= s.device_pending_polls {
        return HttpResponse::Forbidden()
            .json(json!({"error": {"code": "deviceauth_authorization_pending", "message": "pending"}}));
    }
    let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let challenge = s256(&verifier);
    let code = format!("ac_{}", uuid::Uuid::new_v4().simple());
    let redirect_uri = format!("{}/deviceauth/callback", s.issuer);
    s.codes.insert(code.clone(), PendingCode { challenge: challenge.clone(), redirect_uri });
    HttpResponse::Ok().json(json!({"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier}))
}
