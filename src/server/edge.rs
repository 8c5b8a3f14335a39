//! The server's edge: where what went wrong inside codexd — an upstream
//! [`Failure`], a login that cannot be used ([`AuthError`]) — becomes the
//! client's [`ApiError`], once, on its way out. `codex` and `auth` name
//! nothing of the Anthropic API; this module and `translate::failure` do.

use crate::anthropic::ApiError;
use crate::auth::AuthError;
use crate::codex::error::Failure;

/// Why a request failed, before it is told to the client.
#[derive(Debug)]
pub enum Fault {
    /// The upstream failed: judged for another try by the retry loop.
    Upstream(Failure),
    /// Anything else (the request itself, the login, codexd's limits):
    /// never retried.
    Client(ApiError),
}

impl From<Failure> for Fault {
    fn from(failure: Failure) -> Self {
        Fault::Upstream(failure)
    }
}

impl From<ApiError> for Fault {
    fn from(err: ApiError) -> Self {
        Fault::Client(err)
    }
}

impl From<AuthError> for Fault {
    fn from(err: AuthError) -> Self {
        Fault::Client(auth_error(&err))
    }
}

impl From<crate::codex::client::SendError> for Fault {
    fn from(err: crate::codex::client::SendError) -> Self {
        Fault::Upstream(err.into())
    }
}

/// What a login problem becomes for the client: a 401 when only
/// `codexd login` helps, a 503 with `retry-after` while a refresh is being
/// retried, else a 500.
pub fn auth_error(err: &AuthError) -> ApiError {
    let message = err.to_string();
    if err.needs_login() {
        return ApiError::authentication(message);
    }
    match err.retry_after() {
        Some(secs) => ApiError::api(message).with_status(503).with_retry_after(secs),
        None => ApiError::api(message),
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        auth_error(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anthropic::ErrorKind;
    use crate::auth::StoreError;
    use std::path::PathBuf;
    use std::time::Duration;

    #[test]
    fn each_login_problem_maps_to_the_right_client_error() {
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
            (AuthError::RefreshFailed { reason: "timeout".into() }, ErrorKind::ApiError, 503, "try again", Some(10)),
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
