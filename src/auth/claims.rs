//! Reading the claims codexd needs out of the OAuth JWTs: who is signed in
//! (email, ChatGPT account id, plan) from the id_token, and when the access
//! token expires from its `exp`.
//!
//! Only the payload is decoded; signatures are not checked. The tokens come
//! straight from the issuer over TLS and are only used to label the local
//! login, never to make a trust decision — the upstream checks every token it
//! receives. Decoding by hand with `base64` + serde keeps a second crypto
//! stack (which `jsonwebtoken` would need even to skip verification) out of
//! the build.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// What a token says about the signed-in ChatGPT user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub email: Option<String>,
    pub account_id: Option<String>,
    pub plan: Option<String>,
}

impl Identity {
    /// Fill the gaps of `self` with what `other` knows.
    pub fn or(self, other: Identity) -> Identity {
        Identity {
            email: self.email.or(other.email),
            account_id: self.account_id.or(other.account_id),
            plan: self.plan.or(other.plan),
        }
    }
}

/// A token that is not a JWT with a JSON payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("the token is not a JWT (expected three dot-separated parts)")]
    NotAJwt,
    #[error("the token payload is not base64url")]
    BadEncoding,
    #[error("the token payload is not the expected JSON: {0}")]
    BadJson(String),
}

#[derive(Debug, Default, Deserialize)]
struct Payload {
    exp: Option<i64>,
    email: Option<String>,
    /// ChatGPT account details (account id, plan).
    #[serde(rename = "https://api.openai.com/auth", default)]
    auth: AuthClaim,
    /// The profile (email) as access tokens carry it.
    #[serde(rename = "https://api.openai.com/profile", default)]
    profile: ProfileClaim,
}

#[derive(Debug, Default, Deserialize)]
struct AuthClaim {
    chatgpt_account_id: Option<String>,
    chatgpt_plan_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ProfileClaim {
    email: Option<String>,
}

/// The identity claims of a token (id_token or access token).
pub fn identity(jwt: &str) -> Result<Identity, ClaimsError> {
    let payload: Payload = decode_payload(jwt)?;
    Ok(Identity {
        email: payload.email.or(payload.profile.email),
        account_id: payload.auth.chatgpt_account_id,
        plan: payload.auth.chatgpt_plan_type,
    })
}

/// The `exp` claim of a token, if it has a valid one.
pub fn expiry(jwt: &str) -> Option<DateTime<Utc>> {
    let payload: Payload = decode_payload(jwt).ok()?;
    DateTime::from_timestamp(payload.exp?, 0)
}

/// Decode the middle part of a JWT as JSON.
fn decode_payload<T: DeserializeOwned>(jwt: &str) -> Result<T, ClaimsError> {
    let mut parts = jwt.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ClaimsError::NotAJwt);
    };
    // Some encoders pad; base64url in JWTs is unpadded by spec.
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).map_err(|_| ClaimsError::BadEncoding)?;
    // Report the kind of problem only: serde messages can quote values.
    serde_json::from_slice(&bytes).map_err(|e| ClaimsError::BadJson(format!("{:?} error", e.classify())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwt(payload: serde_json::Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(payload.to_string());
        format!("{header}.{body}.c2lnbmF0dXJl")
    }

    #[test]
    fn reads_identity_from_an_id_token() {
        let token = jwt(json!({
            "email": "alice@example.com",
            "https://api.openai.com/auth": {"chatgpt_account_id": "acc-123", "chatgpt_plan_type": "plus", "chatgpt_user_id": "u-1"},
            "unknown": [1, 2, 3],
        }));
        assert_eq!(
            identity(&token).unwrap(),
            Identity {
                email: Some("alice@example.com".into()),
                account_id: Some("acc-123".into()),
                plan: Some("plus".into())
            }
        );
    }

    #[test]
    fn access_tokens_carry_email_in_the_profile_claim() {
        let token = jwt(
            json!({ "https://api.openai.com/profile": {"email": "bob@example.com"}, "https://api.openai.com/auth": {"chatgpt_account_id": "acc-9"} }),
        );
        let id = identity(&token).unwrap();
        assert_eq!(id.email.as_deref(), Some("bob@example.com"));
        assert_eq!(id.account_id.as_deref(), Some("acc-9"));
        assert_eq!(id.plan, None);
    }

    #[test]
    fn reads_expiry() {
        let token = jwt(json!({"exp": 1_764_000_000}));
        assert_eq!(expiry(&token), DateTime::from_timestamp(1_764_000_000, 0));
        assert_eq!(expiry(&jwt(json!({}))), None);
        assert_eq!(expiry("opaque-token"), None);
    }

    #[test]
    fn padded_payloads_are_accepted() {
        let header = URL_SAFE_NO_PAD.encode(b"{}");
        let body = base64::engine::general_purpose::URL_SAFE.encode(br#"{"exp":1}"#);
        assert_eq!(expiry(&format!("{header}.{body}.x")), DateTime::from_timestamp(1, 0));
    }

    #[test]
    fn bad_tokens_are_errors_that_do_not_quote_the_token() {
        let cases = [
            ("not-a-jwt", ClaimsError::NotAJwt),
            ("a.b.c.d", ClaimsError::NotAJwt),
            ("a.!!!.c", ClaimsError::BadEncoding),
        ];
        for (token, expected) in cases {
            assert_eq!(identity(token).unwrap_err(), expected, "{token}");
        }
        let secret_payload = format!("x.{}.y", URL_SAFE_NO_PAD.encode(r#"{"email": 42, "secret": "s3cr3t"}"#));
        let err = identity(&secret_payload).unwrap_err().to_string();
        assert!(err.contains("Data"), "{err}");
        assert!(!err.contains("42") && !err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn or_fills_gaps_only() {
        let a = Identity { email: Some("a".into()), account_id: None, plan: None };
        let b = Identity { email: Some("b".into()), account_id: Some("acc".into()), plan: Some("pro".into()) };
        assert_eq!(
            a.or(b),
            Identity { email: Some("a".into()), account_id: Some("acc".into()), plan: Some("pro".into()) }
        );
    }
}
