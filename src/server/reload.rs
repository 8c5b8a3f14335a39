//! Reloading settings while serving, without dropping a connection: on
//! SIGHUP, and when the config file changes (its modification time and
//! size are polled).
//!
//! The new settings are loaded through every layer exactly as at start-up.
//! An invalid file is logged and the settings in force are kept. Keys that
//! only a restart can change (listening address, upstream URL, timeouts of
//! the client, paths) keep their old values and a warning says so;
//! everything else — model routing, passthrough, log level, local guards,
//! limits — applies to the next request. Requests and streams in flight
//! finish with the settings they started with.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use actix_web::web;

use super::AppState;
use crate::config::{self, Overrides};

/// Sets the log filter of the running process.
pub type LogLevelHook = Box<dyn Fn(&str) -> anyhow::Result<()> + Send + Sync>;

/// What a reload needs: the command-line layer, and how to apply a log level.
pub struct Reloader {
    pub overrides: Overrides,
    pub set_log_level: Option<LogLevelHook>,
    /// How often the config file is checked for changes.
    pub poll_every: Duration,
}

impl Reloader {
    pub fn new(overrides: Overrides, set_log_level: Option<LogLevelHook>) -> Self {
        Reloader { overrides, set_log_level, poll_every: Duration::from_secs(2) }
    }

    /// Load every layer again and put the result in force.
    pub fn reload(&self, state: &AppState, why: &str) {
        match config::load(&self.overrides) {
            Err(err) => tracing::error!(%err, "{why}: the new settings are invalid; keeping the ones in force"),
            Ok(new) => {
                let level = new.log_level.clone();
                let restart = state.reload(new);
                if let Some(set) = &self.set_log_level {
                    if let Err(err) = set(&level) {
                        tracing::error!(%err, "{why}: cannot apply log_level {level:?}");
                    }
                }
                if restart.is_empty() {
                    tracing::info!("{why}: settings reloaded");
                } else {
                    tracing::warn!(keys = ?restart, "{why}: settings reloaded; these keys need a restart to change");
                }
            }
        }
    }
}

/// Watch for SIGHUP and config-file changes for as long as the server runs.
pub fn spawn(state: web::Data<AppState>, reloader: Reloader) {
    let path = config::config_path(&reloader.overrides);
    actix_web::rt::spawn(async move {
        let mut hangup = hangup_signal();
        let mut last = fingerprint(&path);
        let mut poll = tokio::time::interval(reloader.poll_every);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                Some(()) = next_hangup(&mut hangup) => {
                    last = fingerprint(&path);
                    reloader.reload(&state, "SIGHUP");
                }
                _ = poll.tick() => {
                    let now = fingerprint(&path);
                    if now != last {
                        last = now;
                        reloader.reload(&state, &format!("{} changed", path.display()));
                    }
                }
            }
        }
    });
}

/// What tells a file changed: modification time and size (`None`: absent).
fn fingerprint(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    use tokio::signal::unix::{signal, SignalKind};
    signal(SignalKind::hangup())
        .map_err(|err| tracing::warn!(%err, "cannot listen for SIGHUP; reload by editing the config file"))
        .ok()
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {
    None
}

/// The next SIGHUP; never resolves where there is no signal to wait for.
async fn next_hangup(hangup: &mut Hangup) -> Option<()> {
    #[cfg(unix)]
    if let Some(signal) = hangup {
        return signal.recv().await;
    }
    let _ = hangup;
    std::future::pending().await
}
