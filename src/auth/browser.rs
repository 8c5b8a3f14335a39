//! `codexd login`: the PKCE browser flow. A short-lived callback server on
//! 127.0.0.1:1455 (or 1457 when 1455 is busy) waits for the issuer's
//! redirect, checks `state`, exchanges the code, stores the login and tells
//! the browser tab, in plain words, how it went.
//!
//! The issuer only accepts `http://localhost:1455/auth/callback` and
//! `http://localhost:1457/auth/callback` for the Codex client, so the ports
//! are fixed; like the Codex CLI, codexd takes 1457 only when 1455 is busy,
//! and the redirect_uri names the port actually listened on.
//! `CODEXD_LOGIN_CALLBACK_PORT` and `CODEXD_LOGIN_CALLBACK_FALLBACK_PORT`
//! move them — testing knobs so parallel tests do not collide, useless
//! against the real issuer.

use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::time::Duration;

use actix_web::http::KeepAlive;
use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::login::{save_login, LoginContext, LoginError, SavedLogin};
use super::oauth::Authorization;
use super::tokens::StoredTokens;

/// The callback port the issuer expects.
pub const CALLBACK_PORT: u16 = 1455;
/// The other callback port the issuer accepts, used when 1455 is busy.
pub const FALLBACK_CALLBACK_PORT: u16 = 1457;
/// Testing knob: another first callback port (the real issuer refuses it).
pub const CALLBACK_PORT_ENV: &str = "CODEXD_LOGIN_CALLBACK_PORT";
/// Testing knob: another fallback port (the real issuer refuses it).
pub const FALLBACK_PORT_ENV: &str = "CODEXD_LOGIN_CALLBACK_FALLBACK_PORT";
/// How long `codexd login` waits for the browser.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Where the callback server may listen: `primary`, else `fallback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackPorts {
    pub primary: u16,
    pub fallback: Option<u16>,
}

impl CallbackPorts {
    /// The two ports the issuer accepts.
    pub const ISSUER: CallbackPorts = CallbackPorts { primary: CALLBACK_PORT, fallback: Some(FALLBACK_CALLBACK_PORT) };
}

/// The callback ports: 1455 then 1457, unless the testing knobs say otherwise.
pub fn callback_ports() -> Result<CallbackPorts, LoginError> {
    ports_from(std::env::var(CALLBACK_PORT_ENV).ok(), std::env::var(FALLBACK_PORT_ENV).ok())
}

/// The ports named by the two knobs' values. A knob-set first port has no
/// fallback unless the fallback knob names one, so tests never touch 1457.
fn ports_from(primary: Option<String>, fallback: Option<String>) -> Result<CallbackPorts, LoginError> {
    let ports = match (knob(CALLBACK_PORT_ENV, primary)?, knob(FALLBACK_PORT_ENV, fallback)?) {
        (None, None) => CallbackPorts::ISSUER,
        (Some(primary), fallback) => CallbackPorts { primary, fallback },
        (None, Some(fallback)) => CallbackPorts { primary: CALLBACK_PORT, fallback: Some(fallback) },
    };
    Ok(CallbackPorts { fallback: ports.fallback.filter(|f| *f != ports.primary), ..ports })
}

fn knob(name: &str, value: Option<String>) -> Result<Option<u16>, LoginError> {
    match value {
        Some(v) if !v.trim().is_empty() => v.trim().parse().map(Some).map_err(|_| {
            LoginError::Config(format!("{name}={v:?} is not a port number (it is a testing knob; unset it)"))
        }),
        _ => Ok(None),
    }
}

/// What `codexd login` shows once the callback server listens.
#[derive(Debug)]
pub struct Waiting<'a> {
    /// The authorize URL to open; its redirect_uri names `port`.
    pub url: &'a str,
    /// The port the sign-in comes back to.
    pub port: u16,
    /// The first port, when it was busy and `port` is the fallback.
    pub busy: Option<u16>,
}

/// Run the browser login: listen on the first free port of `ports`, hand the
/// authorize URL and that port to `show` (which prints and/or opens the URL),
/// wait up to `timeout` for the callback, store the login.
pub async fn sign_in(
    ctx: &LoginContext,
    ports: CallbackPorts,
    timeout: Duration,
    show: impl FnOnce(&Waiting<'_>),
) -> Result<SavedLogin, LoginError> {
    let (listeners, busy) = bind_first(ports)?;
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
        .ok_or(LoginError::Listen { port: ports.primary, message: "no listening address".into() })?;
    let authorization =
        ctx.oauth.authorize(&format!("http://localhost:{port}/auth/callback")).map_err(LoginError::Config)?;

    let (tx, mut rx) = mpsc::channel(8);
    let server = callback_server(listeners, tx).map_err(|e| LoginError::Listen { port, message: e.to_string() })?;
    let handle = server.handle();
    actix_web::rt::spawn(server);

    show(&Waiting { url: &authorization.url, port, busy });
    let outcome = actix_web::rt::time::timeout(timeout, complete(ctx, authorization, &mut rx)).await;
    // Graceful: the tab gets its page before the server goes away.
    handle.stop(true).await;
    outcome.unwrap_or(Err(LoginError::TimedOut { waited: timeout }))
}

/// Listen on `ports.primary`, or on the fallback when the primary is busy.
/// Also says which port was busy when the fallback is used.
fn bind_first(ports: CallbackPorts) -> Result<(Vec<TcpListener>, Option<u16>), LoginError> {
    let busy = match bind(ports.primary) {
        Ok(listeners) => return Ok((listeners, None)),
        Err(LoginError::PortBusy { .. }) => ports.primary,
        Err(e) => return Err(e),
    };
    let Some(fallback) = ports.fallback else {
        return Err(LoginError::PortBusy { ports: vec![busy] });
    };
    match bind(fallback) {
        Ok(listeners) => Ok((listeners, Some(busy))),
        Err(LoginError::PortBusy { .. }) => Err(LoginError::PortBusy { ports: vec![busy, fallback] }),
        Err(e) => Err(e),
    }
}

/// Bind 127.0.0.1 (required) and [::1] (when available: `localhost` may resolve to it).
fn bind(port: u16) -> Result<Vec<TcpListener>, LoginError> {
    let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => LoginError::PortBusy { ports: vec![port] },
        _ => LoginError::Listen { port, message: e.to_string() },
    })?;
    let actual = v4.local_addr().map(|a| a.port()).unwrap_or(port);
    let mut listeners = vec![v4];
    if let Ok(v6) = TcpListener::bind((Ipv6Addr::LOCALHOST, actual)) {
        listeners.push(v6);
    }
    Ok(listeners)
}

/// One redirect to the callback, with the way to answer the browser.
struct Callback {
    query: CallbackQuery,
    reply: oneshot::Sender<Page>,
}

#[derive(Debug, Default, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn callback_server(listeners: Vec<TcpListener>, tx: mpsc::Sender<Callback>) -> std::io::Result<actix_web::dev::Server> {
    let tx = web::Data::new(tx);
    let mut server =
        HttpServer::new(move || App::new().app_data(tx.clone()).route("/auth/callback", web::get().to(callback)))
            .workers(1)
            .disable_signals()
            .keep_alive(KeepAlive::Disabled)
            .shutdown_timeout(2);
    for listener in listeners {
        server = server.listen(listener)?;
    }
    Ok(server.run())
}

async fn callback(tx: web::Data<mpsc::Sender<Callback>>, query: web::Query<CallbackQuery>) -> HttpResponse {
    let (reply, answer) = oneshot::channel();
    let page = match tx.send(Callback { query: query.into_inner(), reply }).await {
        Ok(()) => answer
            .await
            .unwrap_or_else(|_| Page::failure("codexd stopped waiting for this sign-in. Run `codexd login` again.")),
        Err(_) => Page::failure("This sign-in is already over. Run `codexd login` again if you need to."),
    };
    page.into_response()
}

/// Answer callbacks until one completes the login (or ends it for good).
/// A callback whose `state` does not match is refused and waiting goes on:
/// it belongs to another attempt, or to someone else.
async fn complete(
    ctx: &LoginContext,
    authorization: Authorization,
    rx: &mut mpsc::Receiver<Callback>,
) -> Result<SavedLogin, LoginError> {
    let Authorization { state, verifier, redirect_uri, .. } = authorization;
    loop {
        let Some(Callback { query, reply }) = rx.recv().await else {
            return Err(LoginError::Denied("the callback server stopped".into()));
        };
        if query.state.as_deref() != Some(state.secret().as_str()) {
            let _ = reply.send(Page::failure(
                "This sign-in link does not belong to the codexd login that is waiting (the state does not match), \
                 so it was ignored. Use the link printed by `codexd login`.",
            ));
            continue;
        }
        if let Some(error) = query.error {
            let why = query.error_description.map(|d| format!("{d} ({error})")).unwrap_or(error);
            let _ = reply.send(Page::failure(&format!(
                "The sign-in was not completed: {why}. Run `codexd login` to try again."
            )));
            return Err(LoginError::Denied(why));
        }
        let Some(code) = query.code.filter(|c| !c.is_empty()) else {
            let _ = reply
                .send(Page::failure("The sign-in server sent no authorization code. Run `codexd login` to try again."));
            return Err(LoginError::Denied("the callback carried no authorization code".into()));
        };
        let outcome = finish(ctx, &code, verifier, &redirect_uri).await;
        let _ = reply.send(match &outcome {
            Ok(saved) => Page::success(&saved.tokens),
            Err(e) => Page::failure(&format!("Signing in failed: {e}")),
        });
        return outcome;
    }
}

async fn finish(
    ctx: &LoginContext,
    code: &str,
    verifier: oauth2::PkceCodeVerifier,
    redirect_uri: &str,
) -> Result<SavedLogin, LoginError> {
    let issued = ctx.oauth.exchange_code(&ctx.http, code, verifier, redirect_uri).await?;
    let tokens = StoredTokens::from_login(issued, chrono::Utc::now())?;
    save_login(&ctx.store, tokens).await
}

/// The page the browser tab shows after the redirect.
struct Page {
    ok: bool,
    message: String,
}

impl Page {
    fn success(tokens: &StoredTokens) -> Page {
        let who = tokens.email.as_deref().map(|e| format!(" as {e}")).unwrap_or_default();
        Page {
            ok: true,
            message: format!("Signed in to ChatGPT{who}. You can close this tab and go back to the terminal."),
        }
    }

    fn failure(message: &str) -> Page {
        Page { ok: false, message: message.to_string() }
    }

    fn into_response(self) -> HttpResponse {
        let title = if self.ok { "codexd: signed in" } else { "codexd: sign-in failed" };
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>{title}</h1><p>{}</p></body></html>",
            escape_html(&self.message)
        );
        let mut response = if self.ok { HttpResponse::Ok() } else { HttpResponse::BadRequest() };
        response.content_type("text/html; charset=utf-8").insert_header(("cache-control", "no-store")).body(body)
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn context(dir: &tempfile::TempDir) -> LoginContext {
        let mut settings = Settings::defaults();
        settings.home = dir.path().to_path_buf();
        // Never contacted in these tests.
        settings.auth_issuer = "http://127.0.0.1:9".into();
        LoginContext::new(&settings).unwrap()
    }

    /// A port nobody listens on (it was free a moment ago).
    fn free_port() -> u16 {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
    }

    #[actix_web::test]
    async fn gives_up_after_the_timeout_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let mut shown = String::new();
        let any_port = CallbackPorts { primary: 0, fallback: None };
        let err = sign_in(&context(&dir), any_port, Duration::from_millis(200), |w| shown = w.url.to_string())
            .await
            .unwrap_err();
        assert!(matches!(err, LoginError::TimedOut { .. }), "{err}");
        assert!(err.to_string().contains("run `codexd login` again"), "{err}");
        assert!(shown.contains("/oauth/authorize?"), "{shown}");
        assert!(shown.contains("redirect_uri=http%3A%2F%2Flocalhost%3A"), "{shown}");
    }

    #[actix_web::test]
    async fn a_busy_first_port_falls_back_and_the_url_names_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let primary = taken.local_addr().unwrap().port();
        let fallback = free_port();
        let mut seen = None;
        let ports = CallbackPorts { primary, fallback: Some(fallback) };
        let err = sign_in(&context(&dir), ports, Duration::from_millis(200), |w| {
            let listening = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, w.port)).is_ok();
            seen = Some((w.url.to_string(), w.port, w.busy, listening));
        })
        .await
        .unwrap_err();
        assert!(matches!(err, LoginError::TimedOut { .. }), "{err}");
        let (url, port, busy, listening) = seen.unwrap();
        assert_eq!((port, busy, listening), (fallback, Some(primary), true));
        let url = oauth2::url::Url::parse(&url).unwrap();
        let redirect = url.query_pairs().find(|(k, _)| k == "redirect_uri").map(|(_, v)| v.into_owned());
        assert_eq!(redirect, Some(format!("http://localhost:{fallback}/auth/callback")));
    }

    #[test]
    fn a_free_first_port_is_used_and_nothing_is_called_busy() {
        let (primary, fallback) = (free_port(), free_port());
        let (listeners, busy) = bind_first(CallbackPorts { primary, fallback: Some(fallback) }).unwrap();
        assert_eq!(listeners[0].local_addr().unwrap().port(), primary);
        assert_eq!(busy, None);
    }

    #[test]
    fn a_busy_port_is_named_in_the_error() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = bind_first(CallbackPorts { primary: port, fallback: None }).unwrap_err();
        assert!(matches!(&err, LoginError::PortBusy { ports } if *ports == [port]), "{err}");
        let message = err.to_string();
        assert!(message.starts_with(&format!("port {port} on 127.0.0.1 is already in use")), "{message}");
        assert!(message.contains("--device"), "{message}");
    }

    #[test]
    fn when_both_ports_are_busy_the_error_names_both() {
        let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let second = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let (a, b) = (first.local_addr().unwrap().port(), second.local_addr().unwrap().port());
        let err = bind_first(CallbackPorts { primary: a, fallback: Some(b) }).unwrap_err();
        assert!(matches!(&err, LoginError::PortBusy { ports } if *ports == [a, b]), "{err}");
        let message = err.to_string();
        assert!(message.starts_with(&format!("ports {a} and {b} on 127.0.0.1 are both already in use")), "{message}");
    }

    #[test]
    fn the_issuers_two_ports_unless_the_testing_knobs_move_them() {
        let some = |v: &str| Some(v.to_string());
        let table = [
            ((None, None), CallbackPorts { primary: 1455, fallback: Some(1457) }),
            ((some(""), some("  ")), CallbackPorts::ISSUER),
            // A moved first port gets no fallback of its own: tests never touch 1457.
            ((some("40001"), None), CallbackPorts { primary: 40001, fallback: None }),
            ((some(" 40001 "), some("40002")), CallbackPorts { primary: 40001, fallback: Some(40002) }),
            ((None, some("40002")), CallbackPorts { primary: 1455, fallback: Some(40002) }),
            ((some("40001"), some("40001")), CallbackPorts { primary: 40001, fallback: None }),
        ];
        for ((primary, fallback), expected) in table {
            assert_eq!(ports_from(primary.clone(), fallback.clone()).unwrap(), expected, "{primary:?} {fallback:?}");
        }
        for (primary, fallback, named) in
            [(some("x"), None, CALLBACK_PORT_ENV), (None, some("70000"), FALLBACK_PORT_ENV)]
        {
            let err = ports_from(primary, fallback).unwrap_err();
            assert!(matches!(&err, LoginError::Config(m) if m.contains(named)), "{err}");
        }
    }

    #[test]
    fn pages_escape_what_they_show() {
        assert_eq!(escape_html(r#"<b>"a" & 'b'</b>"#), "&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;");
    }
}
