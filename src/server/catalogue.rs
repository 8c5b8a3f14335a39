//! Keeps the daemon's model catalogue fresh: read at start-up, then every
//! `catalogue_refresh` (hourly). A failed read (offline, not signed in yet,
//! the backend refusing) keeps the catalogue in force and is tried again
//! after `catalogue_retry`, doubling up to the hourly interval. Each good
//! read is also written to disk, for the next start.

use std::time::Duration;

use actix_web::web;

use super::AppState;
use crate::codex::client::CodexClient;
use crate::codex::identity::Caller;

pub(super) async fn keep_fresh(state: web::Data<AppState>) {
    // Its own client: the workers' clients live on their own threads.
    let client = CodexClient::new(&state.settings());
    // Read the OS for the User-Agent now, on the blocking pool, so that the
    // workers' clients find it read when the first request comes, whether
    // or not a login lets the catalogue be read.
    client.identity().await;
    let mut retry = state.settings().catalogue_retry;
    loop {
        let settings = state.settings();
        let wait = match refresh(&state, &client).await {
            Ok(models) => {
                tracing::info!(models, client_version = %settings.client_version, "model catalogue read");
                retry = settings.catalogue_retry;
                settings.catalogue_refresh
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?retry, "cannot read the model catalogue; keeping {}", state.catalogue.current().source.describe());
                state.catalogue.record_error(error);
                let wait = retry;
                retry = (retry * 2).min(settings.catalogue_refresh.max(Duration::from_secs(1)));
                wait
            }
        };
        actix_web::rt::time::sleep(wait).await;
    }
}

/// Read the catalogue once and put it in force; the number of models.
async fn refresh(state: &AppState, client: &CodexClient) -> Result<usize, String> {
    let credentials = state.auth.credentials().await.map_err(|e| e.to_string())?;
    let caller = Caller {
        access_token: &credentials.access_token,
        account_id: credentials.account_id.as_deref(),
        session_id: "",
    };
    let catalogue = client.fetch_catalogue(caller).await.map_err(|e| e.to_string())?;
    let settings = state.settings();
    if let Err(error) = catalogue.write_disk(&settings.catalogue_path(), &settings.client_version) {
        tracing::warn!(%error, path = %settings.catalogue_path().display(), "cannot keep the model catalogue on disk");
    }
    let models = catalogue.models.len();
    state.catalogue.replace(catalogue);
    Ok(models)
}
