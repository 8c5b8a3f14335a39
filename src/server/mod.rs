//! The actix-web app: shared state, routes, request ids, and the listening
//! server.
//!
//! Every answer — success or failure, matched route or not — is Anthropic
//! shaped and carries a `request-id` header, so a user can quote it and find
//! the matching log line.

mod catalogue;
mod context;
mod count_tokens;
mod edge;
mod guard;
mod hangup;
mod health;
mod messages;
mod models;
mod reload;
mod stream;

pub use messages::MAX_ATTEMPTS;
pub use reload::{LogLevelHook, Reloader};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, App, HttpMessage, HttpRequest, HttpResponse, HttpServer, ResponseError};

use crate::anthropic::ApiError;
use crate::auth::Auth;
use crate::codex::catalogue::CatalogueHandle;
use crate::codex::client::CodexClient;
use crate::codex::limits::RateLimits;
use crate::config::Settings;

/// What every request handler can see, shared by all workers.
pub struct AppState {
    /// Replaced whole on reload; read with [`AppState::settings`].
    settings: RwLock<Arc<Settings>>,
    pub auth: Auth,
    /// The account's model catalogue, kept fresh by `catalogue::keep_fresh`.
    pub catalogue: Arc<CatalogueHandle>,
    pub started: Instant,
    /// The usage windows of the latest upstream answer that reported them.
    limits: Mutex<Option<RateLimits>>,
    /// Upstream requests in flight now.
    in_flight: Arc<AtomicUsize>,
}

/// One upstream request's place among `max_concurrent_requests`; given
/// back when dropped, whichever way the request ends.
pub struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AppState {
    pub fn new(settings: Settings) -> Self {
        let auth = Auth::new(&settings);
        let catalogue = Arc::new(CatalogueHandle::load(&settings));
        AppState {
            settings: RwLock::new(Arc::new(settings)),
            auth,
            catalogue,
            started: Instant::now(),
            limits: Mutex::new(None),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The settings in force now.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Put reloaded settings in force. Keys that only a restart can change
    /// keep their old values; their names are returned (the rule is each
    /// key's `restart` in `config::KEYS`).
    pub fn reload(&self, mut new: Settings) -> Vec<&'static str> {
        let mut slot = self.settings.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let old = slot.as_ref();
        let needs_restart = crate::config::keep_restart_only(&mut new, old);
        *slot = Arc::new(new);
        needs_restart
    }

    /// A place for one more upstream request, or 529 when all are taken.
    pub fn admit(&self) -> Result<Permit, ApiError> {
        let max = self.settings().max_concurrent_requests;
        let admitted =
            self.in_flight.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1)).is_ok();
        if admitted {
            Ok(Permit(self.in_flight.clone()))
        } else {
            Err(ApiError::overloaded(format!(
                "codexd is already running {max} requests (max_concurrent_requests); try again shortly"
            )))
        }
    }

    /// Upstream requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Keep the newest usage windows (an answer without them changes nothing).
    pub fn record_limits(&self, limits: Option<RateLimits>) {
        if let Some(limits) = limits {
            *self.limits.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(limits);
        }
    }

    pub fn limits(&self) -> Option<RateLimits> {
        self.limits.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
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
    pub state: web::Data<AppState>,
}

/// Bind the listening socket and build the server.
pub fn bind(settings: Settings, workers: Option<usize>) -> anyhow::Result<Bound> {
    let addr = (settings.host.clone(), settings.port);
    let state = web::Data::new(AppState::new(settings));
    let factory_state = state.clone();
    let mut server = HttpServer::new(move || {
        let client = web::Data::new(CodexClient::new(&factory_state.settings()));
        App::new().app_data(factory_state.clone()).app_data(client).configure(configure)
    })
    .shutdown_timeout(30)
    // Lets a request notice a client that hung up before its answer began.
    .on_connect(hangup::remember_socket)
    // Small SSE frames must not wait for the client's delayed ACK (Nagle):
    // without this the end of every stream arrived about 40 ms late.
    .tcp_nodelay(true);
    if let Some(n) = workers {
        server = server.workers(n);
    }
    let server = server.bind(addr.clone()).map_err(|e| {
        anyhow::anyhow!("cannot listen on {}:{}: {e} (is another codexd running? try `codexd status`)", addr.0, addr.1)
    })?;
    let addrs = server.addrs();
    state.auth.spawn_refresh_timer();
    actix_web::rt::spawn(catalogue::keep_fresh(state.clone()));
    Ok(Bound { server: server.run(), addrs, state })
}

impl Bound {
    /// Reload settings on SIGHUP and config-file changes while this server runs.
    pub fn reload_on(&self, reloader: Reloader) {
        reload::spawn(self.state.clone(), reloader);
    }
}

/// Serve until SIGTERM or SIGINT, then let requests in flight finish (up to
/// 30 s). With a [`Reloader`], SIGHUP and config-file changes reload the
/// settings.
pub async fn run(settings: Settings, reloader: Option<Reloader>) -> anyhow::Result<()> {
    let bound = bind(settings, None)?;
    if let Some(reloader) = reloader {
        bound.reload_on(reloader);
    }
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
            .wrap(actix_web::middleware::from_fn(guard::guard))
            .wrap(actix_web::middleware::from_fn(request_id))
            .route("/", web::get().to(root))
            .route("/", web::head().to(root))
            .route("/health", web::get().to(health::health))
            .route("/v1/messages", web::post().to(messages::create_message))
            .route("/v1/messages/count_tokens", web::post().to(count_tokens::count_tokens))
            .route("/v1/models", web::get().to(models::list))
            .route("/v1/models/{id}", web::get().to(models::get))
            .default_service(web::to(not_found)),
    );
}

/// `GET /` and `HEAD /`: Claude Code 2.1.197 and older pre-warm the
/// connection with `HEAD /`; a 200 tells any probe codexd is here.
async fn root() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"name": "codexd", "version": env!("CARGO_PKG_VERSION")}))
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
        if !self.should_retry() {
            res.insert_header(("x-should-retry", "false"));
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
