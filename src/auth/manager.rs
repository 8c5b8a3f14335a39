//! [`Auth`]: the daemon's handle on the login. It hands out credentials,
//! refreshes them before they expire, and makes sure that however many
//! requests, timers and processes notice an expiring token at once, exactly
//! one refresh call reaches the token endpoint.
//!
//! How the single refresh is guaranteed:
//! - Within a process, a dedicated async mutex (the *gate*) admits one
//!   refresh attempt at a time; callers that queued while an attempt ran take
//!   its outcome instead of starting their own.
//! - Across processes, the attempt holds the token file's lock and re-reads
//!   the file after taking it: if another process refreshed meanwhile, the
//!   fresh tokens are used and no call is made.
//! - The attempt runs as its own task, so a client that hangs up mid-refresh
//!   cannot drop a rotated refresh token on the floor.
//!
//! - Across homes: the file lock is taken on the real file behind a symlinked
//!   `tokens.json` (see [`super::store`]), so two homes sharing one file
//!   refresh once and the rotating refresh token is not burnt.
//!
//! Who refreshes when:
//! - A request never waits for a refresh while its token is still valid: it
//!   gets the current token at once, even in the last 5 minutes. The refresh
//!   timer refreshes at expiry minus 5 minutes and retries a failed or hanging
//!   refresh with backoff.
//! - Only a request whose token has expired (or was refused with a 401) waits
//!   for a refresh, because nothing else would work.
//! - The timer looks at the file every few seconds while it waits, so a token
//!   replaced under it (a `codexd login`, another process) is planned anew.
//!
//! The cached copy of the file sits behind a plain mutex that is never held
//! across an `.await`; it is re-read whenever the file changes on disk, so a
//! `codexd login` or `logout` in another terminal takes effect immediately.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Mutex as AsyncMutex;

use super::error::AuthError;
use super::http::HttpClient;
use super::oauth::OAuth;
use super::store::{FileStamp, TokenStore, LOCK_WAIT};
use super::tokens::{Credentials, NeedsLogin, StoredTokens};
use crate::config::Settings;

/// Upper bound on one call to the token endpoint.
const TOKEN_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The refresh timer plans again at least this often.
const MAX_NAP: Duration = Duration::from_secs(10 * 60);
/// While it waits, the timer checks this often whether the file changed (a
/// stat) and whether the wall clock passed its deadline (a suspend).
const FILE_POLL: Duration = Duration::from_secs(2);
/// Pause after a successful refresh, so a token that lives shorter than the
/// refresh margin cannot turn the timer into a busy loop.
const MIN_NAP: Duration = Duration::from_secs(30);
/// How often the timer looks again while there is no usable login.
const IDLE_RECHECK: Duration = Duration::from_secs(60);
/// First and longest wait between failed refresh attempts.
const BACKOFF_START: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);

/// Shared access to the ChatGPT login. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    store: TokenStore,
    oauth: Result<OAuth, String>,
    http: HttpClient,
    /// The last version of the file read, with its stamp.
    cache: Mutex<Option<(FileStamp, StoredTokens)>>,
    /// Admits one refresh attempt at a time and keeps the last outcome.
    gate: Arc<AsyncMutex<Option<Result<Credentials, AuthError>>>>,
    /// Counts finished attempts, so a waiter can tell one happened while it queued.
    attempts: AtomicU64,
}

/// What makes a refresh necessary, checked again after taking the file lock.
#[derive(Debug, Clone)]
enum Trigger {
    /// The access token is within the refresh margin of its expiry.
    Due,
    /// The upstream answered 401 to this access token.
    Rejected(String),
}

impl Trigger {
    fn applies(&self, tokens: &StoredTokens) -> bool {
        match self {
            Trigger::Due => tokens.needs_refresh(Utc::now()),
            Trigger::Rejected(token) => tokens.access_token == *token,
        }
    }
}

impl Auth {
    /// Reads the token store lazily; never panics when no file exists.
    pub fn new(settings: &Settings) -> Self {
        Auth {
            inner: Arc::new(Inner {
                store: TokenStore::new(settings.tokens_path()),
                oauth: OAuth::new(&settings.auth_issuer),
                http: HttpClient::with_proxy(TOKEN_CALL_TIMEOUT, settings.proxy.as_deref()),
                cache: Mutex::new(None),
                gate: Arc::new(AsyncMutex::new(None)),
                attempts: AtomicU64::new(0),
            }),
        }
    }

    /// A usable access token. While the stored token has not expired it is
    /// returned at once, even when it is due for a refresh: that refresh is
    /// the timer's job ([`Auth::spawn_refresh_timer`]), so a slow or hanging
    /// issuer never holds up a request that has a working token.
    ///
    /// An expired token is refreshed first; concurrent callers wait on one
    /// refresh.
    pub async fn credentials(&self) -> Result<Credentials, AuthError> {
        let tokens = self.usable()?;
        let now = Utc::now();
        if !tokens.needs_refresh(now) || tokens.is_unexpired(now) {
            return Ok(tokens.credentials());
        }
        self.refresh_once(Trigger::Due).await
    }

    /// A usable access token, refreshed first when it is within 5 minutes of
    /// its expiry: for a one-shot command such as `codexd status`, which has
    /// no timer to do it. If that refresh fails only for now while the
    /// current token still works, the current token is returned.
    pub async fn credentials_refreshed_if_due(&self) -> Result<Credentials, AuthError> {
        let tokens = self.usable()?;
        if !tokens.needs_refresh(Utc::now()) {
            return Ok(tokens.credentials());
        }
        match self.refresh_once(Trigger::Due).await {
            Err(AuthError::RefreshFailed { .. }) if tokens.is_unexpired(Utc::now()) => Ok(tokens.credentials()),
            outcome => outcome,
        }
    }

    /// The upstream answered 401 to `rejected`: refresh once (unless another
    /// caller already replaced that token, then return the newer one) and
    /// return fresh credentials for one retry.
    pub async fn refresh_after_unauthorized(&self, rejected: &Credentials) -> Result<Credentials, AuthError> {
        let tokens = self.usable()?;
        if tokens.access_token != rejected.access_token {
            return Ok(tokens.credentials());
        }
        tracing::info!("the Codex backend refused the access token; refreshing it");
        self.refresh_once(Trigger::Rejected(rejected.access_token.clone())).await
    }

    /// Cheap check for /health: a token file with tokens exists and isn't
    /// marked as needing login.
    pub fn logged_in(&self) -> bool {
        matches!(self.stored(), Ok(Some(tokens)) if tokens.needs_login.is_none())
    }

    /// Spawn (on the current actix runtime) the timer that refreshes at expiry
    /// minus 5 minutes, backing off on transient failures. Call once.
    pub fn spawn_refresh_timer(&self) {
        let inner = Arc::downgrade(&self.inner);
        actix_web::rt::spawn(refresh_timer(inner));
    }

    /// The stored login as it is on disk now (cached while the file is unchanged).
    pub(crate) fn stored(&self) -> Result<Option<StoredTokens>, AuthError> {
        let store = &self.inner.store;
        let Some(stamp) = store.stamp()? else {
            *self.cache() = None;
            return Ok(None);
        };
        if let Some((cached_stamp, tokens)) = self.cache().as_ref() {
            if *cached_stamp == stamp {
                return Ok(Some(tokens.clone()));
            }
        }
        let tokens = store.load()?;
        // Stamped before reading: a file replaced in between only costs a re-read.
        *self.cache() = tokens.clone().map(|t| (stamp, t));
        Ok(tokens)
    }

    /// The stored login, or why there is no usable one.
    fn usable(&self) -> Result<StoredTokens, AuthError> {
        let tokens = self.stored()?.ok_or(AuthError::NotLoggedIn)?;
        match &tokens.needs_login {
            Some(mark) => Err(AuthError::NeedsLogin { reason: mark.reason.clone() }),
            None => Ok(tokens),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Option<(FileStamp, StoredTokens)>> {
        self.inner.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remember(&self, tokens: &StoredTokens) {
        let stamp = self.inner.store.stamp().ok().flatten();
        *self.cache() = stamp.map(|s| (s, tokens.clone()));
    }

    /// Run one refresh attempt, or share the outcome of the one that finished
    /// while this caller waited for the gate.
    async fn refresh_once(&self, trigger: Trigger) -> Result<Credentials, AuthError> {
        let seen = self.inner.attempts.load(Ordering::SeqCst);
        let mut gate = Arc::clone(&self.inner.gate).lock_owned().await;
        if self.inner.attempts.load(Ordering::SeqCst) != seen {
            if let Some(outcome) = gate.as_ref() {
                return outcome.clone();
            }
        }
        // The attempt owns the gate and runs to the end even if this caller
        // goes away: a refresh whose answer is dropped loses the rotated token.
        let auth = self.clone();
        let attempt = actix_web::rt::spawn(async move {
            let outcome = auth.refresh_locked(&trigger).await;
            *gate = Some(outcome.clone());
            auth.inner.attempts.fetch_add(1, Ordering::SeqCst);
            outcome
        });
        attempt
            .await
            .unwrap_or_else(|e| Err(AuthError::RefreshFailed { reason: format!("the refresh task stopped: {e}") }))
    }

    /// Under the file lock: re-read, and call the token endpoint only if the
    /// trigger still applies to what is on disk.
    async fn refresh_locked(&self, trigger: &Trigger) -> Result<Credentials, AuthError> {
        let store = &self.inner.store;
        let lock = store.lock(LOCK_WAIT).await?;
        let tokens = store.load()?.ok_or(AuthError::NotLoggedIn)?;
        self.remember(&tokens);
        if let Some(mark) = &tokens.needs_login {
            return Err(AuthError::NeedsLogin { reason: mark.reason.clone() });
        }
        if !trigger.applies(&tokens) {
            return Ok(tokens.credentials());
        }
        let oauth = self.inner.oauth.as_ref().map_err(|e| AuthError::Config(e.clone()))?;

        tracing::info!("refreshing the ChatGPT access token");
        match oauth.refresh(&self.inner.http, &tokens.refresh_token).await {
            Ok(issued) => {
                let updated = tokens.refreshed(issued, Utc::now());
                store.save(&lock, &updated)?;
                self.remember(&updated);
                tracing::info!(expires_at = ?updated.expires_at, "ChatGPT access token refreshed");
                Ok(updated.credentials())
            }
            Err(failure) if failure.is_permanent() => {
                let reason = failure.to_string();
                let marked = StoredTokens {
                    needs_login: Some(NeedsLogin { reason: reason.clone(), since: Utc::now() }),
                    ..tokens
                };
                store.save(&lock, &marked)?;
                self.remember(&marked);
                tracing::warn!(%reason, "the ChatGPT login can no longer be refreshed; run `codexd login`");
                Err(AuthError::NeedsLogin { reason })
            }
            Err(failure) => {
                tracing::warn!(error = %failure, "refreshing the ChatGPT access token failed; will retry");
                Err(AuthError::RefreshFailed { reason: failure.to_string() })
            }
        }
    }

    /// One round of the refresh timer: refresh if due, and say how long to sleep.
    async fn timer_round(&self, backoff: &mut Backoff) -> Duration {
        let due = match self.stored() {
            Ok(Some(tokens)) if tokens.needs_login.is_none() => tokens.refresh_due_at(),
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(error = %err, "the refresh timer cannot read the token file");
                None
            }
        };
        let Some(due) = due else {
            return IDLE_RECHECK;
        };
        if let Ok(wait) = (due - Utc::now()).to_std() {
            if !wait.is_zero() {
                return wait.min(MAX_NAP);
            }
        }
        match self.refresh_once(Trigger::Due).await {
            Ok(_) => {
                backoff.reset();
                MIN_NAP
            }
            Err(err) if err.needs_login() => IDLE_RECHECK,
            Err(_) => backoff.next_wait(),
        }
    }
}

/// Wake at each token's refresh time until the last [`Auth`] is dropped.
///
/// The nap ends early when the token file changes (a new login or another
/// process's refresh must be planned anew, not after up to [`MAX_NAP`]), and
/// is measured on the wall clock, which keeps running through a suspend.
async fn refresh_timer(inner: Weak<Inner>) {
    let mut backoff = Backoff::default();
    loop {
        let (nap, stamp) = match inner.upgrade() {
            Some(inner) => {
                let auth = Auth { inner };
                let nap = auth.timer_round(&mut backoff).await;
                (nap, auth.inner.store.stamp().ok().flatten())
            }
            None => return,
        };
        let wake_at = Utc::now() + chrono::TimeDelta::from_std(nap).unwrap_or(chrono::TimeDelta::MAX);
        loop {
            let left = (wake_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            if left.is_zero() {
                break;
            }
            actix_web::rt::time::sleep(left.min(FILE_POLL)).await;
            match inner.upgrade() {
                Some(inner) if inner.store.stamp().ok().flatten() != stamp => break,
                Some(_) => {}
                None => return,
            }
        }
    }
}

/// Doubling waits between failed attempts, capped.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: BACKOFF_START }
    }
}

impl Backoff {
    fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        wait
    }

    fn reset(&mut self) {
        *self = Backoff::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn auth_can_be_shared_by_worker_threads() {
        assert_send_sync::<Auth>();
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..8).map(|_| b.next_wait().as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
        b.reset();
        assert_eq!(b.next_wait(), BACKOFF_START);
    }

    #[test]
    fn new_does_not_touch_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::defaults();
        settings.home = dir.path().join("absent");
        let auth = Auth::new(&settings);
        assert!(!auth.logged_in());
        assert!(matches!(auth.stored(), Ok(None)));
        assert!(!settings.home.exists());
    }
}
