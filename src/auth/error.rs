//! [`AuthError`]: why no usable token could be had, and how each reason
//! reaches an API client as an [`ApiError`].

use crate::anthropic::ApiError;

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
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        let message = err.to_string();
        if err.needs_login() {
            return ApiError::authentication(message);
        }
        match err {
            AuthError::RefreshFailed { .. } => {
                ApiError::api(message).with_status(503).with_retry_after(RETRY_AFTER_SECS)
            }
            _ => ApiError::api(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anthropic::ErrorKind;
    use std::path::PathBuf;
    use std::time::Duration;

    #[test]
    fn each_reason_maps_to_the_right_client_error() {
        let table = [
            (AuthError::NotLoggedIn, ErrorKind::AuthenticationError, 401, "codexd login", None),
            (
                AuthError::NeedsLogin { reason: "refresh_token_expired".into() },
                ErrorKind::AuthenticationError,
                401,
                "codexd login",
                None,
            ),
            (
                AuthError::Store(StoreError::Corrupt { path: PathBuf::from("/t/tokens.json"), detail: "x".into() }),
                ErrorKind::AuthenticationError,
                401,
                "codexd login",
                None,
            ),
            (
                AuthError::RefreshFailed { reason: "timeout".into() },
                ErrorKind::ApiError,
                503,
                "try again",
                Some(RETRY_AFTER_SECS),
            ),
            (
                AuthError::Store(StoreError::LockTimeout {
                    path: PathBuf::from("/t/tokens.json.lock"),
                    waited: Duration::from_secs(60),
                }),
                ErrorKind::ApiError,
                500,
                "stuck",
                None,
            ),
        ];
        for (err, kind, status, says, retry_after) in table {
            let api = ApiError::from(err.clone());
            assert_eq!((api.kind, api.status, api.retry_after), (kind, status, retry_after), "{err}");
            assert!(api.message.contains(says), "{:?} lacks {says:?}", api.message);
        }
    }
}
