//! `POST /v1/messages`: parse, translate, call upstream (refreshing the login
//! once on a 401), then answer as a stream or as one message.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::stream::{self, Exchange};
use super::{AppState, RequestId, MAX_BODY_BYTES};
use crate::anthropic::request::parse_messages_request;
use crate::anthropic::{ApiError, ErrorKind};
use crate::auth::Credentials;
use crate::codex::client::{CallContext, CodexClient, UpstreamResponse};
use crate::translate::names::tool_name_map;
use crate::translate::request::{conversation_key, translate_request};

pub async fn create_message(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<CodexClient>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let request_id = RequestId::of(&req);
    let result = handle(request_id.clone(), started, payload, &state, &client).await;
    if let Err(err) = &result {
        tracing::warn!(request_id, status = err.status, error = %err.message, latency_ms = started.elapsed().as_millis() as u64, "request failed");
    }
    result
}

async fn handle(
    request_id: String,
    started: Instant,
    payload: web::Payload,
    state: &AppState,
    client: &CodexClient,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, MAX_BODY_BYTES).await?;
    let request = parse_messages_request(&body)?;
    let upstream_request = translate_request(&request, &state.settings)?;
    let session_id = upstream_request.prompt_cache_key.clone().unwrap_or_else(|| conversation_key(&request));
    let upstream_body = serde_json::to_vec(&upstream_request)
        .map(Bytes::from)
        .map_err(|e| ApiError::api(format!("cannot encode the upstream request: {e}")))?;

    let exchange = Exchange {
        request_id,
        started,
        client_model: request.model.clone(),
        upstream_model: upstream_request.model.clone(),
        tool_names: tool_name_map(&request),
    };
    let upstream = open_upstream(state, client, upstream_body, &session_id).await?;
    if request.stream.unwrap_or(false) {
        stream::respond_streaming(upstream, exchange).await
    } else {
        stream::respond_whole(upstream, exchange).await
    }
}

/// Send the request; on a 401, refresh the login once and send it again.
async fn open_upstream(
    state: &AppState,
    client: &CodexClient,
    body: Bytes,
    session_id: &str,
) -> Result<UpstreamResponse, ApiError> {
    let credentials = state.auth.credentials().await?;
    let first = client.send(body.clone(), call_context(&credentials, session_id)).await?;
    match first {
        Err(err) if err.kind == ErrorKind::AuthenticationError => {
            tracing::info!("upstream answered 401; refreshing the login and retrying once");
            let fresh = state.auth.refresh_after_unauthorized(&credentials).await?;
            client.send(body, call_context(&fresh, session_id)).await?
        }
        other => other,
    }
}

fn call_context<'a>(credentials: &'a Credentials, session_id: &'a str) -> CallContext<'a> {
    CallContext {
        access_token: &credentials.access_token,
        account_id: credentials.account_id.as_deref(),
        session_id,
    }
}

/// The request body, refusing more than `limit` bytes with a 413.
pub(super) async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Bytes, ApiError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid_request(format!("cannot read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                ErrorKind::RequestTooLarge,
                format!("request body is larger than the {} MiB limit", limit / (1024 * 1024)),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
