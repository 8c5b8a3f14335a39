//! `GET /health`: liveness, version, uptime, whether a login is stored, the
//! ChatGPT usage windows last reported upstream, and the model catalogue in
//! use (where it came from, models replaced). No secrets.

use actix_web::{web, HttpResponse};

use super::AppState;

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
        "logged_in": state.auth.logged_in(),
        "rate_limits": state.limits(),
        "in_flight": state.in_flight(),
        "pid": std::process::id(),
        "client_version": state.settings().client_version,
        "catalogue": state.catalogue.status(),
    }))
}
