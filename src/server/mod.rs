//! The actix-web app: shared state, routes, request ids, and the listening
//! server.
//!
//! Every answer — success or failure, matched route or not — is Anthropic
//! shaped and carries a `request-id` header, so a user can quote it and find
//! the matching log line.

mod count_tokens;
mod health;
mod messages;
mod models;
mod stream;

use std::net::SocketAddr;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, App, HttpMessage, HttpRequest, HttpResponse, HttpServer, ResponseError};

use crate::anthropic::ApiError;
use crate::auth::Auth;
use crate::codex::client::CodexClient;
use crate::config::Settings;

/// Largest request body accepted (Claude Code sends images inline).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// What every request handler can see, shared by all workers.
pub struct AppState {
    pub settings: Settings,
    pub auth: Auth,
    pub started: Instant,
}

/// The id of one request, as sent in the `request-id` header and logged.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

impl RequestId {
    fn of(req: &HttpRequest) -> String {
        req.extensions().get::<RequestId>().map(|id| id.0.clone()).unwrap_or_default()
    }
}

/// A bound server, not yet running: lets callers learn the port first.
pub struct Bound {
    pub server: Server,
    pub addrs: Vec<SocketAddr>,
}

/// Bind the listening socket and build the server.
pub fn bind(settings: Settings, workers: Option<usize>) -> anyhow::Result<Bound> {
    let addr = (settings.host.clone(), settings.port);
    let auth = Auth::new(&settings);
    let state = web::Data::new(AppState { settings, auth, started: Instant::now() });
    let factory_state = state.clone();
    let mut server = HttpServer::new(move || {
        let client = web::Data::new(CodexClient::new(&factory_state.settings));
        App::new().app_data(factory_state.clone()).app_data(client).configure(configure)
    })
    .shutdown_timeout(30);
    if let Some(n) = workers {
        server = server.workers(n);
    }
    let server = server
        .bind(addr.clone())
        .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e} (is another codexd running? try `codexd status`)", addr.0, addr.1))?;
    let addrs = server.addrs();
    state.auth.spawn_refresh_timer();
    Ok(Bound { server: server.run(), addrs })
}

/// Serve until interrupted.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let bound = bind(settings, None)?;
    for addr in &bound.addrs {
        tracing::info!(%addr, version = env!("CARGO_PKG_VERSION"), "codexd listening");
    }
    bound.server.await?;
    tracing::info!("codexd stopped");
    Ok(())
}

/// Register every route; shared by [`bind`] and the tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(actix_web::middleware::from_fn(request_id))
            .route("/health", web::get().to(health::health))
            .route("/v1/messages", web::post().to(messages::create_message))
            .route("/v1/messages/count_tokens", web::post().to(count_tokens::count_tokens))
            .route("/v1/models", web::get().to(models::list))
            .route("/v1/models/{id}", web::get().to(models::get))
            .default_service(web::to(not_found)),
    );
}

async fn not_found(req: HttpRequest) -> ApiError {
    ApiError::not_found(format!("no route for {} {}", req.method(), req.path()))
}

/// Give every request an id, and every answer its `request-id` header.
async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = format!("req_{}", uuid::Uuid::new_v4().simple());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static("request-id"), value);
    }
    Ok(res)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after {
            res.insert_header(("retry-after", secs.to_string()));
        }
        res.json(self.body())
    }
}

impl actix_web::Responder for ApiError {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        self.error_response()
    }
}
