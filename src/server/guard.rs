//! Who may talk to codexd: the local guards every request passes first.
//!
//! A web page in the user's browser can send requests to 127.0.0.1, so:
//! - the `Host` must be a loopback name or address, the configured `host`,
//!   or one of `allowed_hosts` (this defeats DNS rebinding);
//! - a request with a browser `Origin` is refused unless that origin is in
//!   `allowed_origins`; preflights are answered only for allowed origins,
//!   and CORS headers are only ever sent to them;
//! - when an `api_key` is configured, `x-api-key` or `Authorization: Bearer`
//!   must carry it (compared in constant time). `/health` stays open so
//!   `codexd status` works; it reveals no secrets.
//!
//! Refusals are Anthropic errors: 403 `permission_error` or 401
//! `authentication_error`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse, ResponseError};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::anthropic::{ApiError, ErrorKind};
use crate::config::{is_loopback_host, Settings};

/// Refuse what the guards refuse; let the rest through.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let settings = state.settings();
    let header = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    let origin = header(header::ORIGIN).map(str::to_owned);

    let verdict = check_host(&settings, header(header::HOST))
        .and_then(|()| check_origin(&settings, origin.as_deref()))
        .and_then(|()| {
            if req.path() == "/health" || req.method() == Method::OPTIONS {
                Ok(())
            } else {
                check_key(
                    &settings,
                    header(header::HeaderName::from_static("x-api-key")),
                    header(header::AUTHORIZATION),
                )
            }
        });
    if let Err(err) = verdict {
        tracing::warn!(path = req.path(), reason = %err.message, "request refused");
        return Ok(req.into_response(err.error_response()).map_into_right_body());
    }

    // Only allowed origins get this far with an Origin header.
    if req.method() == Method::OPTIONS {
        if let Some(origin) = origin {
            let requested = header(header::ACCESS_CONTROL_REQUEST_HEADERS).unwrap_or("*").to_owned();
            let res = HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
                .insert_header((header::VARY, "Origin"))
                .finish();
            return Ok(req.into_response(res).map_into_right_body());
        }
    }
    let mut res = next.call(req).await?;
    if let Some(value) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        res.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(res.map_into_left_body())
}

fn check_host(settings: &Settings, host: Option<&str>) -> Result<(), ApiError> {
    // No Host at all cannot come from a browser.
    let Some(host) = host else { return Ok(()) };
    let name = strip_port(host);
    let allowed = is_loopback_host(name)
        || name.eq_ignore_ascii_case(settings.host.trim_start_matches('[').trim_end_matches(']'))
        || settings.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(name));
    if allowed {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::PermissionError,
            format!("Host {host:?} is not allowed; codexd answers loopback names only (add it to allowed_hosts to permit it)"),
        ))
    }
}

/// `example.com:80` → `example.com`, `[::1]:19080` → `::1`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

fn check_origin(settings: &Settings, origin: Option<&str>) -> Result<(), ApiError> {
    match origin {
        None => Ok(()),
        Some(origin) if settings.allowed_origins.iter().any(|o| o.trim_end_matches('/') == origin) => Ok(()),
        Some(origin) => Err(ApiError::new(
            ErrorKind::PermissionError,
            format!("requests from web pages are refused (Origin {origin:?}); add it to allowed_origins to permit it"),
        )),
    }
}

fn check_key(settings: &Settings, x_api_key: Option<&str>, authorization: Option<&str>) -> Result<(), ApiError> {
    let Some(expected) = &settings.api_key else { return Ok(()) };
    let bearer = authorization.and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    let matches = |given: Option<&str>| {
        given.is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes())))
    };
    if matches(x_api_key) || matches(bearer) {
        Ok(())
    } else {
        Err(ApiError::authentication(
            "codexd requires its local API key: send it as x-api-key or Authorization: Bearer (see api_key in the config)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn hosts() {
        let mut settings = Settings::defaults();
        settings.allowed_hosts = vec!["codexd.internal".into()];
        let table = [
            (Some("127.0.0.1:19080"), true),
            (Some("localhost:19080"), true),
            (Some("LOCALHOST"), true),
            (Some("[::1]:19080"), true),
            (Some("codexd.internal:19080"), true),
            (None, true),
            (Some("evil.example:19080"), false),
            (Some("evil.example"), false),
            (Some("127.0.0.1.evil.example"), false),
            (Some("192.168.1.5:19080"), false),
        ];
        for (host, ok) in table {
            assert_eq!(check_host(&settings, host).is_ok(), ok, "{host:?}");
        }
        let err = check_host(&settings, Some("evil.example")).unwrap_err();
        assert_eq!((err.kind, err.status), (ErrorKind::PermissionError, 403));
    }

    #[test]
    fn origins() {
        let mut settings = Settings::defaults();
        assert!(check_origin(&settings, None).is_ok());
        assert!(check_origin(&settings, Some("https://evil.example")).is_err());
        assert!(check_origin(&settings, Some("null")).is_err());
        settings.allowed_origins = vec!["http://localhost:3000/".into()];
        assert!(check_origin(&settings, Some("http://localhost:3000")).is_ok());
        assert!(check_origin(&settings, Some("http://localhost:3001")).is_err());
    }

    #[test]
    fn api_key() {
        let mut settings = Settings::defaults();
        assert!(check_key(&settings, None, None).is_ok(), "no key configured: open");
        settings.api_key = Some(Secret::new("s3cret"));
        let table = [
            (Some("s3cret"), None, true),
            (None, Some("Bearer s3cret"), true),
            (Some("wrong"), Some("Bearer s3cret"), true),
            (Some("wrong"), None, false),
            (None, Some("Bearer s3cre"), false),
            (None, Some("s3cret"), false),
            (None, None, false),
        ];
        for (key, auth, ok) in table {
            assert_eq!(check_key(&settings, key, auth).is_ok(), ok, "{key:?} {auth:?}");
        }
    }
}
