//! [`AuthError`]: why no usable token could be had. What each reason
//! becomes for an API client is the server's business (`server::edge`).

use super::store::StoreError;

/// Seconds a client is asked to wait after a transient refresh failure.
const RETRY_AFTER_SECS: u64 = 10;

/// Why [`Auth`](super::Auth) has no usable credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// No token file (never signed in, or signed out).
    #[error("codexd is not signed in to ChatGPT: run `codexd login` on the machine where codexd runs")]
    NotLoggedIn,
    /// A refresh failed for good (expired, reused or revoked refresh token).
    #[error("the ChatGPT login can no longer be refreshed ({reason}): run `codexd login` to sign in again")]
    NeedsLogin { reason: String },
    /// The token file cannot be read, written or locked.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The token endpoint could not be reached or answered oddly; worth retrying.
    #[error("could not refresh the ChatGPT login ({reason}); codexd keeps retrying, try again shortly")]
    RefreshFailed { reason: String },
    /// The configured issuer is not a usable URL.
    #[error("the auth issuer setting is unusable: {0}")]
    Config(String),
}

impl AuthError {
    /// True when only a new `codexd login` can fix this.
    pub fn needs_login(&self) -> bool {
        match self {
            AuthError::NotLoggedIn | AuthError::NeedsLogin { .. } => true,
            AuthError::Store(e) => e.is_corrupt(),
            AuthError::RefreshFailed { .. } | AuthError::Config(_) => false,
        }
    }

    /// Seconds after which asking again may work: a refresh that failed on
    /// the way is retried by the refresh timer.
    pub fn retry_after(&self) -> Option<u64> {
        matches!(self, AuthError::RefreshFailed { .. }).then_some(RETRY_AFTER_SECS)
    }
}
