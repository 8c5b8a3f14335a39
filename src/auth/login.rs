//! What the three ways of signing in share: their context (endpoints, HTTP
//! client, token store), their error type, and the last step — writing the
//! new login into the store.

use std::path::PathBuf;
use std::time::Duration;

use super::http::HttpClient;
use super::oauth::{OAuth, TokenFailure};
use super::store::{StoreError, TokenStore, LOCK_WAIT};
use super::tokens::{MissingRefreshToken, StoredTokens};
use crate::config::Settings;

/// Upper bound on one call to the issuer during a login.
const LOGIN_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a login flow talks to.
pub struct LoginContext {
    pub oauth: OAuth,
    pub http: HttpClient,
    pub store: TokenStore,
}

impl LoginContext {
    /// The issuer and token store named by `settings`.
    pub fn new(settings: &Settings) -> Result<Self, LoginError> {
        Ok(LoginContext {
            oauth: OAuth::new(&settings.auth_issuer).map_err(LoginError::Config)?,
            http: HttpClient::with_proxy(LOGIN_CALL_TIMEOUT, settings.proxy.as_deref()),
            store: TokenStore::new(settings.tokens_path()),
        })
    }
}

/// A login that was written to the store.
#[derive(Debug)]
pub struct SavedLogin {
    pub tokens: StoredTokens,
    /// Where an unreadable previous token file was moved, if there was one.
    pub set_aside: Option<PathBuf>,
}

/// Why a login did not complete, with what to do next.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(
        "{}, so the sign-in callback cannot be received. \
         Another `codexd login` or `codex login` may be waiting: finish or stop it and try again, \
         or sign in with `codexd login --device`",
        busy_ports(.ports)
    )]
    PortBusy { ports: Vec<u16> },
    #[error("cannot listen for the sign-in callback on 127.0.0.1:{port}: {message}")]
    Listen { port: u16, message: String },
    #[error("no sign-in arrived within {} minutes; run `codexd login` again when you are ready", waited.as_secs() / 60)]
    TimedOut { waited: Duration },
    #[error("the sign-in was not completed: {0}")]
    Denied(String),
    #[error("the sign-in server did not hand out tokens: {0}")]
    Exchange(#[from] TokenFailure),
    #[error(transparent)]
    MissingRefreshToken(#[from] MissingRefreshToken),
    #[error("device-code sign-in is not enabled on {issuer}; sign in with `codexd login` (browser) instead")]
    DeviceUnavailable { issuer: String },
    #[error("the one-time code expired before the sign-in was completed; run `codexd login --device` again")]
    DeviceExpired,
    #[error("device-code sign-in failed: {0}")]
    Device(String),
    #[error("cannot import the Codex CLI login from {}: {reason}", path.display())]
    Import { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the auth issuer setting is unusable: {0}")]
    Config(String),
}

/// "port 1455 on 127.0.0.1 is already in use", or the same for two or more ports.
fn busy_ports(ports: &[u16]) -> String {
    match ports {
        [port] => format!("port {port} on 127.0.0.1 is already in use"),
        [first, second] => format!("ports {first} and {second} on 127.0.0.1 are both already in use"),
        _ => {
            let list: Vec<String> = ports.iter().map(u16::to_string).collect();
            format!("ports {} on 127.0.0.1 are all already in use", list.join(", "))
        }
    }
}

/// Write a new login, replacing whatever was stored. An unreadable old file
/// is moved aside rather than overwritten, and the caller says so.
pub async fn save_login(store: &TokenStore, tokens: StoredTokens) -> Result<SavedLogin, LoginError> {
    let lock = store.lock(LOCK_WAIT).await?;
    let set_aside = match store.load() {
        Ok(_) => None,
        Err(e) if e.is_corrupt() => Some(store.set_aside(&lock)?),
        Err(e) => return Err(e.into()),
    };
    store.save(&lock, &tokens)?;
    Ok(SavedLogin { tokens, set_aside })
}
