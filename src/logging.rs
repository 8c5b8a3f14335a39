//! Logging: a tracing subscriber that writes to stderr and appends to the log
//! file (`/tmp/chatgpt-codex-proxy.log` by default).
//!
//! The filter is `RUST_LOG` when set, else the `log_level` setting. Nothing
//! secret is ever passed to a log macro: tokens and keys stay out of every
//! event by construction (their types redact themselves in `Debug`).

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use crate::config::Settings;

/// Install the global subscriber. Keep the guard alive for the life of the
/// process: dropping it flushes the file writer.
pub fn init(settings: &Settings) -> anyhow::Result<Option<WorkerGuard>> {
    let filter = || {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log_level))
    };
    let stderr = fmt::layer().with_writer(std::io::stderr).with_target(false).with_filter(filter());

    let (file_layer, guard) = match open_log_file(&settings.log_file) {
        Ok(file) => {
            let (writer, guard) = tracing_appender::non_blocking(file);
            let layer = fmt::layer().with_writer(writer).with_ansi(false).with_filter(filter());
            (Some(layer), Some(guard))
        }
        Err(err) => {
            eprintln!("codexd: cannot write the log file {}: {err}; logging to stderr only", settings.log_file.display());
            (None, None)
        }
    };

    tracing_subscriber::registry().with(stderr).with(file_layer).try_init()?;
    Ok(guard)
}

fn open_log_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}
