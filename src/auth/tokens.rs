//! The login record codexd keeps ([`StoredTokens`], the content of
//! `tokens.json`) and the rules about it: when it is due for a refresh, how a
//! token answer updates it, and what a request may see of it
//! ([`Credentials`]).
//!
//! Pure data and arithmetic; reading and writing the file is `store.rs`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::claims::{self, Identity};

/// The `version` written into `tokens.json`.
pub const FORMAT_VERSION: u32 = 1;

/// A token is refreshed once it is this close to its expiry.
pub const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(5);

/// Proactive refreshes are at least this far apart, so a clock running ahead
/// (every token then looks due) cannot turn each request into a refresh.
pub const MIN_REFRESH_SPACING: TimeDelta = TimeDelta::seconds(60);

/// What a request needs to call the Codex backend. `Debug` redacts the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Sent as `Authorization: Bearer …`.
    pub access_token: String,
    /// Sent as `chatgpt-account-id` when known.
    pub account_id: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_token", &"<redacted>")
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// The content of `tokens.json` (see codex.md §6). `Debug` redacts the tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTokens {
    pub version: u32,
    pub access_token: String,
    pub refresh_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// When the access token stops working; unknown for opaque tokens
    /// without `expires_in`, which are then only refreshed after a 401.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refresh: Option<DateTime<Utc>>,
    /// Set when a refresh failed for good: only `codexd login` helps then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_login: Option<NeedsLogin>,
}

/// Why and since when the stored login cannot be refreshed any more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedsLogin {
    /// Plain words, e.g. "the refresh token has expired (refresh_token_expired)".
    pub reason: String,
    pub since: DateTime<Utc>,
}

/// Tokens as the token endpoint (or another program's store) hands them over.
#[derive(Clone, Default)]
pub struct IssuedTokens {
    pub access_token: String,
    /// Absent when a refresh does not rotate the refresh token.
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub expires_in: Option<Duration>,
    /// An account id given next to the tokens (the Codex CLI stores one).
    pub account_id: Option<String>,
}

/// A login answer without a refresh token cannot be kept alive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sign-in answer has no refresh token, so codexd could not keep the login alive; try `codexd login` again")]
pub struct MissingRefreshToken;

impl StoredTokens {
    /// The record for a fresh login.
    pub fn from_login(issued: IssuedTokens, now: DateTime<Utc>) -> Result<Self, MissingRefreshToken> {
        let refresh_token = issued.refresh_token.clone().filter(|t| !t.is_empty()).ok_or(MissingRefreshToken)?;
        let mut tokens = StoredTokens {
            version: FORMAT_VERSION,
            access_token: String::new(),
            refresh_token,
            id_token: None,
            account_id: None,
            email: None,
            plan: None,
            expires_at: None,
            last_refresh: Some(now),
            needs_login: None,
        };
        tokens.apply(issued, now);
        Ok(tokens)
    }

    /// This record after a successful refresh answered with `issued`.
    pub fn refreshed(&self, issued: IssuedTokens, now: DateTime<Utc>) -> Self {
        let mut tokens = self.clone();
        if let Some(rotated) = issued.refresh_token.clone().filter(|t| !t.is_empty()) {
            tokens.refresh_token = rotated;
        }
        tokens.last_refresh = Some(now);
        tokens.needs_login = None;
        tokens.apply(issued, now);
        tokens
    }

    /// Take the access token, its expiry and the identity from `issued`,
    /// keeping what is known when the answer is silent about it.
    fn apply(&mut self, issued: IssuedTokens, now: DateTime<Utc>) {
        let from_id_token = issued.id_token.as_deref().and_then(|t| claims::identity(t).ok()).unwrap_or_default();
        let from_access_token = claims::identity(&issued.access_token).unwrap_or_default();
        let given = Identity { account_id: issued.account_id.clone(), ..Identity::default() };
        let identity = given.or(from_id_token).or(from_access_token);

        self.expires_at = claims::expiry(&issued.access_token)
            .or_else(|| issued.expires_in.and_then(|d| TimeDelta::from_std(d).ok()).map(|d| now + d));
        self.access_token = issued.access_token;
        if issued.id_token.is_some() {
            self.id_token = issued.id_token;
        }
        self.email = identity.email.or(self.email.take());
        self.account_id = identity.account_id.or(self.account_id.take());
        self.plan = identity.plan.or(self.plan.take());
    }

    /// When the access token should be refreshed, if its expiry is known.
    pub fn refresh_due_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at.map(|at| at - REFRESH_MARGIN)
    }

    /// True once `now` is within `REFRESH_MARGIN` (5 min) of the expiry, unless the
    /// last refresh was less than `MIN_REFRESH_SPACING` ago.
    pub fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        let due = self.refresh_due_at().is_some_and(|due| now >= due);
        let spaced = self.last_refresh.is_none_or(|last| now - last >= MIN_REFRESH_SPACING);
        due && spaced
    }

    /// True while the access token itself still works (or its expiry is unknown).
    pub fn is_unexpired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }

    /// What a request sends upstream.
    pub fn credentials(&self) -> Credentials {
        Credentials { access_token: self.access_token.clone(), account_id: self.account_id.clone() }
    }
}

impl fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTokens")
            .field("version", &self.version)
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .field("account_id", &self.account_id)
            .field("email", &self.email)
            .field("plan", &self.plan)
            .field("expires_at", &self.expires_at)
            .field("last_refresh", &self.last_refresh)
            .field("needs_login", &self.needs_login)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    fn jwt(payload: serde_json::Value) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(payload.to_string()))
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn login() -> StoredTokens {
        let issued = IssuedTokens {
            access_token: jwt(json!({"exp": at("2026-11-24T10:00:00Z").timestamp()})),
            refresh_token: Some("rt-1".into()),
            id_token: Some(jwt(json!({
                "email": "alice@example.com",
                "https://api.openai.com/auth": {"chatgpt_account_id": "acc-1", "chatgpt_plan_type": "plus"}
            }))),
            expires_in: Some(Duration::from_secs(60)),
            account_id: None,
        };
        StoredTokens::from_login(issued, at("2026-11-23T10:00:00Z")).unwrap()
    }

    #[test]
    fn a_login_takes_identity_from_the_id_token_and_expiry_from_the_access_token() {
        let t = login();
        assert_eq!(t.email.as_deref(), Some("alice@example.com"));
        assert_eq!(t.account_id.as_deref(), Some("acc-1"));
        assert_eq!(t.plan.as_deref(), Some("plus"));
        assert_eq!(t.expires_at, Some(at("2026-11-24T10:00:00Z")), "the JWT exp wins over expires_in");
        assert_eq!(t.last_refresh, Some(at("2026-11-23T10:00:00Z")));
        assert_eq!(t.refresh_token, "rt-1");
    }

    #[test]
    fn a_login_without_refresh_token_is_refused() {
        let issued = IssuedTokens { access_token: "opaque".into(), ..IssuedTokens::default() };
        assert_eq!(StoredTokens::from_login(issued, Utc::now()), Err(MissingRefreshToken));
    }

    #[test]
    fn opaque_tokens_take_expiry_from_expires_in() {
        let now = at("2026-11-23T10:00:00Z");
        let issued = IssuedTokens {
            access_token: "opaque".into(),
            refresh_token: Some("rt".into()),
            expires_in: Some(Duration::from_secs(3600)),
            ..IssuedTokens::default()
        };
        let t = StoredTokens::from_login(issued, now).unwrap();
        assert_eq!(t.expires_at, Some(at("2026-11-23T11:00:00Z")));
    }

    #[test]
    fn a_refresh_rotates_what_it_is_given_and_keeps_the_rest() {
        let old = login();
        let mut marked = old.clone();
        marked.needs_login = Some(NeedsLogin { reason: "x".into(), since: Utc::now() });
        let now = at("2026-11-24T09:56:00Z");
        let issued = IssuedTokens {
            access_token: "opaque-2".into(),
            expires_in: Some(Duration::from_secs(600)),
            ..IssuedTokens::default()
        };
        let new = marked.refreshed(issued, now);
        assert_eq!(new.access_token, "opaque-2");
        assert_eq!(new.refresh_token, "rt-1", "not rotated: keep the old refresh token");
        assert_eq!(new.id_token, old.id_token);
        assert_eq!(new.email, old.email);
        assert_eq!(new.plan, old.plan);
        assert_eq!(new.expires_at, Some(at("2026-11-24T10:06:00Z")));
        assert_eq!(new.last_refresh, Some(now));
        assert_eq!(new.needs_login, None);

        let rotated = old.refreshed(
            IssuedTokens { access_token: "a".into(), refresh_token: Some("rt-2".into()), ..IssuedTokens::default() },
            now,
        );
        assert_eq!(rotated.refresh_token, "rt-2");
    }

    #[test]
    fn refresh_is_due_five_minutes_before_expiry() {
        let t = login(); // expires 2026-11-24T10:00:00Z
        let table = [
            ("2026-11-24T09:54:59Z", false, true),
            ("2026-11-24T09:55:00Z", true, true),
            ("2026-11-24T09:59:59Z", true, true),
            ("2026-11-24T10:00:00Z", true, false),
        ];
        for (now, due, unexpired) in table {
            assert_eq!(t.needs_refresh(at(now)), due, "{now}");
            assert_eq!(t.is_unexpired(at(now)), unexpired, "{now}");
        }
        let just_refreshed = StoredTokens { last_refresh: Some(at("2026-11-24T09:59:30Z")), ..t.clone() };
        assert!(
            !just_refreshed.needs_refresh(at("2026-11-24T10:00:00Z")),
            "a clock running ahead must not cause a refresh storm"
        );
        assert!(just_refreshed.needs_refresh(at("2026-11-24T10:00:30Z")));
        let unknown = StoredTokens { expires_at: None, ..t };
        assert!(!unknown.needs_refresh(at("2100-01-01T00:00:00Z")));
        assert!(unknown.is_unexpired(at("2100-01-01T00:00:00Z")));
    }

    #[test]
    fn debug_never_shows_tokens() {
        let t = login();
        let shown = format!("{t:?} {:?}", t.credentials());
        for secret in [&t.access_token, &t.refresh_token, t.id_token.as_ref().unwrap()] {
            assert!(!shown.contains(secret.as_str()), "{shown}");
        }
        assert!(shown.contains("alice@example.com"));
    }

    #[test]
    fn serialises_to_the_documented_shape() {
        let value = serde_json::to_value(login()).unwrap();
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "version",
                "access_token",
                "refresh_token",
                "id_token",
                "account_id",
                "email",
                "plan",
                "expires_at",
                "last_refresh"
            ]
        );
        assert_eq!(value["expires_at"], "2026-11-24T10:00:00Z");
    }
}
