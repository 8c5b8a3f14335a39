//! The actix-web app: routes, shared state, and the listening server.

mod health;

use std::time::Instant;

use actix_web::{web, App, HttpServer};

use crate::config::Settings;

/// What every request handler can see.
pub struct AppState {
    pub settings: Settings,
    pub started: Instant,
}

/// Register every route on an app; shared by [`run`] and the tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health));
}

/// Serve until interrupted.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let addr = (settings.host.clone(), settings.port);
    let state = web::Data::new(AppState { settings, started: Instant::now() });
    let server = HttpServer::new(move || App::new().app_data(state.clone()).configure(configure))
        .bind(addr.clone())
        .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", addr.0, addr.1))?;
    tracing::info!(host = %addr.0, port = addr.1, "codexd listening");
    server.run().await?;
    Ok(())
}
