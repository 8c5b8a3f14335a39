//! `POST /v1/messages/count_tokens`: the Messages body (without needing
//! `max_tokens`), translated as `/v1/messages` would translate it, and the
//! upstream request's input tokens counted by [`crate::tokens`]. Nothing is
//! sent upstream and no login is needed.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::messages::{content_length, BodyReader};
use super::{AppState, RequestId};
use crate::anthropic::request::parse_count_tokens_request;
use crate::anthropic::ApiError;
use crate::tokens::count_request;
use crate::translate::request::translate_request;

/// The answer: `{"input_tokens": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TokenCount {
    pub input_tokens: u64,
}

/// Count the input tokens of a Messages request. Bad bodies get the same
/// 400s as `POST /v1/messages`.
pub async fn count_tokens(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let request_id = RequestId::of(&req);
    let result = count(BodyReader { payload, expected: content_length(&req) }, &state).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(count) => tracing::debug!(request_id, input_tokens = count.input_tokens, latency_ms, "tokens counted"),
        Err(err) => {
            tracing::warn!(request_id, status = err.status, error = %err.message, latency_ms, "count_tokens failed")
        }
    }
    result.map(|count| HttpResponse::Ok().json(count))
}

async fn count(body: BodyReader, state: &AppState) -> Result<TokenCount, ApiError> {
    let settings = state.settings();
    let body = body.read(settings.max_body_bytes).await?;
    let request = parse_count_tokens_request(&body)?;
    let upstream_request = translate_request(&request, &settings)?;
    // Tokenising a long conversation takes a while: keep it off the event loop.
    let input_tokens = web::block(move || count_request(&upstream_request))
        .await
        .map_err(|e| ApiError::api(format!("token counting stopped unexpectedly: {e}")))?;
    Ok(TokenCount { input_tokens })
}
