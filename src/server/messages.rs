//! `POST /v1/messages`: parse, translate, call upstream (refreshing the login
//! once on a 401), then answer as a stream or as one message.
//!
//! All tries happen within one deadline per client request
//! (`request_timeout`, counted from its arrival). An upstream failure is a
//! [`Failure`]; the retry loop only reads whether it may pass on another try
//! ([`retry_delay`]): connect errors, overloads and 5xx, including an
//! overload reported inside a 200 stream, before the answer began; never
//! what would repeat or what already cost quota. After the first byte, a
//! failure becomes an Anthropic `error` event instead (see `stream`). The
//! failure becomes the client's error once, here, at the edge; when codexd
//! gave up on a failure that might have passed, the answer says
//! `x-should-retry: false`, so that the client's own retries do not
//! multiply codexd's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::context::{Context, CLIENT_CLOSED};
use super::edge::Fault;
use super::stream::{self, Exchange, Timing};
use super::{hangup, AppState, RequestId};
use crate::anthropic::request::parse_messages_request;
use crate::anthropic::{ApiError, ErrorKind};
use crate::auth::Credentials;
use crate::codex::catalogue::{Ask, CatalogueHandle};
use crate::codex::client::{CodexClient, UpstreamResponse};
use crate::codex::error::{Failure, Kind};
use crate::codex::identity::Caller;
use crate::codex::lane::{self, Lane};
use crate::config::Settings;
use crate::translate::model;
use crate::translate::names::tool_name_map;
use crate::translate::request::{conversation_key, translate_request};

/// Tries per request, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// Wait before the second try; doubled for each further try.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// A `retry-after` longer than this goes to the client instead of being waited out.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(8);

pub async fn create_message(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<CodexClient>,
) -> Result<HttpResponse, ApiError> {
    let context = Context::new(RequestId::of(&req));
    let body = BodyReader { payload, expected: content_length(&req) };
    let answer = async {
        let body = body.read(state.settings().max_body_bytes).await?;
        // From here on nothing is read from the client: its connection
        // closing means it left.
        tokio::select! {
            answer = handle(body, &context, &state, &client) => answer,
            () = hangup::hung_up(&req) => Err(ApiError::api("the client closed the connection").with_status(CLIENT_CLOSED)),
        }
    }
    .await;
    match &answer {
        Err(err) if err.status == CLIENT_CLOSED => {} // abandoned: the context says so
        Err(err) => context.failed(err.status, &err.message),
        Ok(_) => {}
    }
    answer
}

async fn handle(
    body: Bytes,
    context: &Arc<Context>,
    state: &AppState,
    client: &CodexClient,
) -> Result<HttpResponse, ApiError> {
    let settings = state.settings();
    // Only the serialized upstream body outlives this: the request in its
    // three other forms is dropped before the (possibly long) upstream call.
    let Prepared { upstream_body, session_id, tool_names, lane, streaming } =
        prepare(&body, &settings, &state.catalogue, context)?;
    drop(body);

    let permit = state.admit()?;
    let exchange = Exchange {
        context: context.clone(),
        timing: Timing::from(settings.as_ref()),
        _permit: Arc::new(permit),
        tool_names,
    };
    // One deadline for every try: until the stream commits, or until the
    // whole non-streaming answer is in.
    let deadline = context.started + settings.request_timeout;
    let mut attempt = 1;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let tried = async {
            let upstream = open_upstream(state, client, upstream_body.clone(), &session_id, lane, left).await?;
            if streaming {
                stream::respond_streaming(upstream, exchange.clone()).await.map_err(Fault::from)
            } else {
                stream::respond_whole(upstream, exchange.clone()).await.map_err(Fault::from)
            }
        };
        let failure = match actix_web::rt::time::timeout(left, tried).await {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(Fault::Client(err))) => return Err(err),
            Ok(Err(Fault::Upstream(failure))) => failure,
            Err(_) => Failure::new(
                Kind::TimedOut,
                format!(
                    "timed out: no answer from the Codex backend within request_timeout ({} s), over {attempt} tries",
                    settings.request_timeout.as_secs()
                ),
            ),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match retry_delay(&failure, attempt, left) {
            Some(delay) => {
                tracing::warn!(request_id = %context.request_id, attempt, error = %failure.message, ?delay, "upstream failed before the answer began; retrying");
                actix_web::rt::time::sleep(delay).await;
                attempt += 1;
            }
            None => return Err(gave_up(&failure)),
        }
    }
}

/// The client's error for the failure codexd stopped at. When another try
/// might have passed (codexd ran out of tries or time), or the failure came
/// midway through a generation (a retry would spend quota again), the
/// client is told not to retry on its own: `x-should-retry: false`.
fn gave_up(failure: &Failure) -> ApiError {
    let err = ApiError::from(failure.clone());
    let exhausted = failure.may_pass() || failure.midway || failure.kind == Kind::TimedOut;
    if exhausted {
        err.with_should_retry(false)
    } else {
        err
    }
}

/// Room for an upstream body longer than the client's (the fields codexd adds).
const UPSTREAM_BODY_SLACK: usize = 4096;

/// What a request becomes before it goes upstream.
struct Prepared {
    /// Whether the client asked for SSE.
    streaming: bool,
    upstream_body: Bytes,
    /// Same value as the body's `prompt_cache_key`.
    session_id: String,
    /// Shortened upstream tool name → the client's.
    tool_names: HashMap<String, String>,
    /// The shape `upstream_body` has.
    lane: Lane,
}

/// Parse and translate the client's body, check the model against the
/// catalogue (successor, lane, effort, verbosity), and encode it in its
/// lane's shape, noting in the request's context what it learns.
fn prepare(
    body: &[u8],
    settings: &Settings,
    catalogue: &CatalogueHandle,
    context: &Context,
) -> Result<Prepared, ApiError> {
    let request = parse_messages_request(body)?;
    let streaming = request.stream.unwrap_or(false);
    context.asked(&request.model, streaming);
    let mut upstream_request = translate_request(&request, settings)?;
    let mapped = !model::route(&request.model, settings).pinned;
    let plan = catalogue.plan(&Ask::of(&upstream_request, mapped, settings));
    plan.apply(&mut upstream_request);
    let lane_note = if plan.lane == Lane::Lite { ", lite" } else { "" };
    context.planned(match upstream_request.reasoning.as_ref().and_then(|r| r.effort) {
        Some(effort) => format!("{} ({}{lane_note})", upstream_request.model, effort.as_str()),
        None if lane_note.is_empty() => upstream_request.model.clone(),
        None => format!("{} (lite)", upstream_request.model),
    });
    // About as long as the client's body: room for it up front saves
    // growing (and copying) the buffer a dozen times on the way.
    let upstream_body = lane::encode(&upstream_request, plan.lane, body.len() + UPSTREAM_BODY_SLACK)
        .map_err(|e| ApiError::api(format!("cannot encode the upstream request: {e}")))?;
    Ok(Prepared {
        streaming,
        upstream_body: Bytes::from(upstream_body),
        session_id: upstream_request.prompt_cache_key.clone().unwrap_or_else(|| conversation_key(&request)),
        tool_names: tool_name_map(&request),
        lane: plan.lane,
    })
}

/// How long to wait before the try after `attempt` failed with `failure`,
/// or `None` when there is to be none: the failure would not pass (see
/// [`Failure::may_pass`]), the tries are used up, the backend asks for a
/// longer wait than [`MAX_RETRY_WAIT`], or the wait would not end `left`
/// before the request's deadline.
pub fn retry_delay(failure: &Failure, attempt: u32, left: Duration) -> Option<Duration> {
    if attempt >= MAX_ATTEMPTS || !failure.may_pass() {
        return None;
    }
    let backoff = FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
    let wait = match failure.retry_after() {
        Some(wait) if wait > MAX_RETRY_WAIT => return None,
        Some(wait) => wait.max(backoff),
        None => backoff,
    };
    (wait < left).then_some(wait)
}

/// Send the request; on a 401, refresh the login once and send it again.
/// Every answer's usage windows are recorded for `/health` and `status`.
async fn open_upstream(
    state: &AppState,
    client: &CodexClient,
    body: Bytes,
    session_id: &str,
    lane: Lane,
    wait: Duration,
) -> Result<UpstreamResponse, Fault> {
    let credentials = state.auth.credentials().await?;
    let started = Instant::now();
    let answer = client.send(body.clone(), caller(&credentials, session_id), lane, wait).await?;
    state.record_limits(answer.limits);
    match answer.result {
        Err(failure) if failure.kind == Kind::Unauthorized => {
            tracing::info!("upstream answered 401; refreshing the login and retrying once");
            let fresh = state.auth.refresh_after_unauthorized(&credentials).await?;
            let wait = wait.saturating_sub(started.elapsed());
            let answer = client.send(body, caller(&fresh, session_id), lane, wait).await?;
            state.record_limits(answer.limits);
            Ok(answer.result?)
        }
        other => Ok(other?),
    }
}

pub(super) fn caller<'a>(credentials: &'a Credentials, session_id: &'a str) -> Caller<'a> {
    Caller { access_token: &credentials.access_token, account_id: credentials.account_id.as_deref(), session_id }
}

/// Room reserved up front for a body of announced length; larger bodies
/// grow as they arrive, so a false `Content-Length` cannot reserve much.
const MAX_RESERVE: usize = 1024 * 1024;

/// A request body still to be read, with the length its `Content-Length`
/// announced.
pub(super) struct BodyReader {
    pub payload: web::Payload,
    pub expected: Option<usize>,
}

impl BodyReader {
    /// The whole body, refusing more than `limit` bytes with a 413.
    pub async fn read(self, limit: usize) -> Result<Bytes, ApiError> {
        let reserve = self.expected.unwrap_or(0).min(limit).min(MAX_RESERVE);
        read_body(self.payload, BytesMut::with_capacity(reserve), limit).await
    }
}

/// The `Content-Length` header, when there is a valid one.
pub(super) fn content_length(req: &HttpRequest) -> Option<usize> {
    req.headers().get(actix_web::http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

async fn read_body(mut payload: web::Payload, mut body: BytesMut, limit: usize) -> Result<Bytes, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const PLENTY: Duration = Duration::from_secs(600);

    #[test]
    fn only_failures_that_may_pass_are_retried_with_growing_backoff() {
        let busy = || Failure::new(Kind::Overloaded, "busy");
        let table = [
            (busy(), 1, PLENTY, Some(FIRST_BACKOFF)),
            (busy(), 2, PLENTY, Some(FIRST_BACKOFF * 2)),
            (busy(), MAX_ATTEMPTS, PLENTY, None),
            (Failure::new(Kind::Server, "boom"), 1, PLENTY, Some(FIRST_BACKOFF)),
            (Failure::new(Kind::Server, "bad gateway").with_status(502), 1, PLENTY, Some(FIRST_BACKOFF)),
            (Failure::new(Kind::Unreachable, "refused"), 1, PLENTY, Some(FIRST_BACKOFF)),
            (busy().with_retry_after(2), 1, PLENTY, Some(Duration::from_secs(2))),
            (busy().with_retry_after(600), 1, PLENTY, None),
            // Not past the deadline.
            (busy().with_retry_after(2), 1, Duration::from_secs(1), None),
            (busy(), 1, FIRST_BACKOFF / 2, None),
            // What would repeat, or what already cost quota.
            (Failure { midway: true, ..Failure::new(Kind::Server, "cut midway") }, 1, PLENTY, None),
            (Failure::new(Kind::Malformed, "bad event"), 1, PLENTY, None),
            (Failure::new(Kind::TimedOut, "nothing"), 1, PLENTY, None),
            (Failure::new(Kind::InvalidRequest, "bad"), 1, PLENTY, None),
            (Failure::new(Kind::Unauthorized, "login"), 1, PLENTY, None),
            (Failure::new(Kind::RateLimited, "limit").with_retry_after(1), 1, PLENTY, None),
        ];
        for (failure, attempt, left, want) in table {
            assert_eq!(retry_delay(&failure, attempt, left), want, "{failure:?} attempt {attempt}");
        }
    }

    /// The client is told not to retry what codexd gave up on, and only that.
    #[test]
    fn giving_up_tells_the_client_not_to_multiply_the_tries() {
        let table = [
            (Failure::new(Kind::Overloaded, "busy"), Some(false)),
            (Failure::new(Kind::Server, "boom").with_status(503), Some(false)),
            (Failure { midway: true, ..Failure::new(Kind::Server, "cut") }, Some(false)),
            (Failure::new(Kind::TimedOut, "slow"), Some(false)),
            (Failure::new(Kind::InvalidRequest, "bad"), None),
            (Failure::new(Kind::UsageLimit, "limit").with_retry_after(60), None),
        ];
        for (failure, want) in table {
            assert_eq!(gave_up(&failure).should_retry, want, "{failure:?}");
        }
    }

    /// Of the backend's error codes, only overloads are retried, whether
    /// they come as an HTTP error (`code` or `type`) or inside a stream; a
    /// Cloudflare block page is not retried either.
    #[test]
    fn of_the_backend_codes_only_overloads_are_retried() {
        use crate::codex::error::{
            map_stream_error, map_upstream_error, BackendError, Kind, UpstreamFailure, BACKEND_CODES,
        };
        let now = chrono::Utc::now();
        for known in BACKEND_CODES {
            let (code, retried) = (known.code, known.kind == Kind::Overloaded);
            // A reset a second away must not make a usage limit worth waiting for.
            let error =
                BackendError { code: Some(code), message: "no", resets_in_seconds: Some(1), ..Default::default() };
            let in_stream = map_stream_error(&error, now);
            assert_eq!(retry_delay(&in_stream, 1, PLENTY).is_some(), retried, "{code} in a stream: {in_stream}");
            for status in [400, 403, 429, 500, 503] {
                for field in ["code", "type"] {
                    let body = serde_json::json!({"error": {field: code, "message": "no"}}).to_string();
                    let failure = UpstreamFailure { status, body: body.as_bytes(), ..Default::default() };
                    let http = map_upstream_error(&failure, now);
                    assert_eq!(
                        retry_delay(&http, 1, PLENTY).is_some(),
                        retried,
                        "{code} as {field} in a {status}: {http}"
                    );
                }
            }
        }
        let capture = include_str!("../../tests/fixtures/cloudflare-403.http");
        let page = capture.split_once("\n\n").map_or(capture, |(_, page)| page).as_bytes();
        let blocked = map_upstream_error(&UpstreamFailure { status: 403, body: page, ..Default::default() }, now);
        assert!(blocked.message.contains("blocked on its way"), "{blocked}");
        assert_eq!(retry_delay(&blocked, 1, PLENTY), None, "{blocked}");
    }

    /// A 503's `retry-after` is waited out, as an overload's is.
    #[test]
    fn a_503_retry_after_is_honoured() {
        use crate::codex::error::{map_upstream_error, UpstreamFailure};
        let headers = [("Retry-After".to_owned(), "3".to_owned())];
        let failure =
            map_upstream_error(&UpstreamFailure { status: 503, headers: &headers, body: b"busy" }, chrono::Utc::now());
        assert_eq!(failure.retry_after, Some(3));
        assert_eq!(retry_delay(&failure, 1, PLENTY), Some(Duration::from_secs(3)));
        assert_eq!(ApiError::from(failure).retry_after, Some(3));
    }
}
