//! `codexd login`: the PKCE browser flow. A short-lived callback server on
//! 127.0.0.1:1455 waits for the issuer's redirect, checks `state`, exchanges
//! the code, stores the login and tells the browser tab, in plain words, how
//! it went.
//!
//! The issuer only accepts `http://localhost:1455/auth/callback` for the Codex
//! client, so the port is fixed. `CODEXD_LOGIN_CALLBACK_PORT` overrides it —
//! a testing knob so parallel tests do not collide, useless against the real
//! issuer.

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
/// Testing knob: another callback port (the real issuer refuses any but 1455).
pub const CALLBACK_PORT_ENV: &str = "CODEXD_LOGIN_CALLBACK_PORT";
/// How long `codexd login` waits for the browser.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The callback port: 1455 unless the testing knob says otherwise.
pub fn callback_port() -> Result<u16, LoginError> {
    match std::env::var(CALLBACK_PORT_ENV) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| {
            LoginError::Config(format!(
                "{CALLBACK_PORT_ENV}={v:?} is not a port number (it is a testing knob; unset it)"
            ))
        }),
        _ => Ok(CALLBACK_PORT),
    }
}

/// Run the browser login: listen, hand the authorize URL to `show_url` (which
/// prints and/or opens it), wait up to `timeout` for the callback, store the
/// login. `port` 0 picks a free port (tests).
pub async fn sign_in(
    ctx: &LoginContext,
    port: u16,
    timeout: Duration,
    show_url: impl FnOnce(&str),
) -> Result<SavedLogin, LoginError> {
    let listeners = bind(port)?;
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
        .ok_or(LoginError::Listen { port, message: "no listening address".into() })?;
    let authorization =
        ctx.oauth.authorize(&format!("http://localhost:{port}/auth/callback")).map_err(LoginError::Config)?;

    let (tx, mut rx) = mpsc::channel(8);
    let server = callback_server(listeners, tx).map_err(|e| LoginError::Listen { port, message: e.to_string() })?;
    let handle = server.handle();
    actix_web::rt::spawn(server);

    show_url(&authorization.url);
    let outcome = actix_web::rt::time::timeout(timeout, complete(ctx, authorization, &mut rx)).await;
    // Graceful: the tab gets its page before the server goes away.
    handle.stop(true).await;
    outcome.unwrap_or(Err(LoginError::TimedOut { waited: timeout }))
}

/// Bind 127.0.0.1 (required) and [::1] (when available: `localhost` may resolve to it).
fn bind(port: u16) -> Result<Vec<TcpListener>, LoginError> {
    let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => LoginError::PortBusy { port },
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

    #[actix_web::test]
    async fn gives_up_after_the_timeout_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let mut shown = String::new();
        let err =
            sign_in(&context(&dir), 0, Duration::from_millis(200), |url| shown = url.to_string()).await.unwrap_err();
        assert!(matches!(err, LoginError::TimedOut { .. }), "{err}");
        assert!(err.to_string().contains("run `codexd login` again"), "{err}");
        assert!(shown.contains("/oauth/authorize?"), "{shown}");
        assert!(shown.contains("redirect_uri=http%3A%2F%2Flocalhost%3A"), "{shown}");
    }

    #[test]
    fn a_busy_port_is_named_in_the_error() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = bind(port).unwrap_err();
        assert!(matches!(err, LoginError::PortBusy { port: p } if p == port), "{err}");
        let message = err.to_string();
        assert!(message.contains(&port.to_string()) && message.contains("--device"), "{message}");
    }

    #[test]
    fn pages_escape_what_they_show() {
        assert_eq!(escape_html(r#"<b>"a" & 'b'</b>"#), "&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;");
    }
}
