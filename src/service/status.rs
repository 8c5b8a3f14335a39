//! The service part of `codexd status`: installed or not, which manager or
//! mode, running, pid, whether the port answers `/health`, versions, the
//! model catalogue and replaced models, files.
//! One screen a user can paste into a bug report, or JSON for scripts.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::instance::{self, RunMode};
use super::manager::{ManagerState, Service};
use super::probe::{self, Health};
use super::unit::ManagerKind;
use chrono::Utc;

use crate::codex::catalogue::CatalogueStatus;
use crate::codex::limits::RateLimits;
use crate::config::Settings;

/// Everything `codexd status` knows about the daemon and its service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceStatus {
    /// The version of this `codexd` binary.
    pub version: String,
    /// The service manager of this machine (`null` where codexd supports none).
    pub service_manager: Option<ManagerKind>,
    /// Whether the unit or plist is installed.
    pub installed: bool,
    /// The unit or plist file (where it is, or would be).
    pub definition: Option<PathBuf>,
    /// What the service manager says, when it runs here and codexd is installed.
    pub manager_state: Option<ManagerState>,
    /// Why the service manager cannot be used here, when it cannot.
    pub manager_unavailable: Option<String>,
    /// How the running daemon was started; else the installed manager; else `null`.
    pub mode: Option<RunMode>,
    /// Whether a daemon holds the lock.
    pub running: bool,
    pub pid: Option<u32>,
    pub pid_file: PathBuf,
    pub listen_url: String,
    /// Whether `GET /health` answers.
    pub answering: bool,
    /// The version the daemon reports (differs from `version` after an upgrade without restart).
    pub daemon_version: Option<String>,
    pub uptime_s: Option<u64>,
    /// The ChatGPT usage windows the daemon last saw upstream.
    pub rate_limits: Option<RateLimits>,
    /// Which model catalogue is in use and which models were replaced.
    pub models: String,
    pub log_file: PathBuf,
}

/// The status of this machine's daemon and service.
pub fn status(settings: &Settings) -> ServiceStatus {
    status_with(settings, Service::native().as_ref(), probe::HEALTH_TIMEOUT)
}

/// `settings` as the running daemon uses them: on the port it recorded in
/// its pid file when that differs (it was started with another `PORT`).
pub fn daemon_settings(settings: &Settings) -> Settings {
    match instance::running_port(&settings.home) {
        Some(port) if port != settings.port => Settings { port, ..settings.clone() },
        _ => settings.clone(),
    }
}

/// [`status`] with an explicit service (or none) and `/health` timeout.
pub fn status_with(settings: &Settings, service: Option<&Service>, health_timeout: Duration) -> ServiceStatus {
    let holder = instance::probe(&settings.home).ok().flatten();
    let daemon = daemon_settings(settings);
    let settings = &daemon;
    let health: Option<Health> = probe::health(settings, health_timeout);
    let installed = service.is_some_and(|s| s.target.installed());
    let manager_state = service.filter(|s| installed && s.unavailable_reason().is_none()).map(Service::state);
    let installed_mode = service.filter(|_| installed).map(|s| RunMode::from(s.target.kind));
    ServiceStatus {
        version: env!("CARGO_PKG_VERSION").to_string(),
        service_manager: service.map(|s| s.target.kind),
        installed,
        definition: service.map(|s| s.target.definition_path()),
        manager_state,
        manager_unavailable: service.and_then(|s| s.unavailable_reason()).map(str::to_string),
        mode: holder.map(|h| h.mode).or(installed_mode),
        running: holder.is_some(),
        pid: holder.map(|h| h.pid),
        pid_file: instance::pid_path(&settings.home),
        listen_url: settings.listen_url(),
        answering: health.is_some(),
        daemon_version: health.as_ref().and_then(|h| h.version.clone()),
        uptime_s: health.as_ref().and_then(|h| h.uptime_s),
        models: models_line(settings, health.as_ref().and_then(|h| h.catalogue.as_ref())),
        rate_limits: health.and_then(|h| h.rate_limits),
        log_file: settings.log_file.clone(),
    }
}

/// The running daemon's catalogue and replacements; else what a daemon
/// started now would use, judged from the copy on disk.
fn models_line(settings: &Settings, daemon: Option<&CatalogueStatus>) -> String {
    let (source, replaced, error) = match daemon {
        Some(status) => (
            status.source.describe(),
            status.replacements.iter().map(ToString::to_string).collect(),
            status.last_error.clone(),
        ),
        None => {
            let catalogue = crate::models::offline_catalogue(settings);
            (catalogue.source.describe(), crate::models::replaced_tiers(settings, &catalogue, Utc::now()), None)
        }
    };
    let mut line = format!("catalogue: {source}");
    if let Some(error) = error {
        line.push_str(&format!(" (last read failed: {error})"));
    }
    for replaced in replaced {
        line.push_str(&format!("; replaced {replaced}"));
    }
    line
}

impl ServiceStatus {
    /// The human screen (the same as `Display`).
    pub fn render(&self) -> String {
        self.to_string()
    }

    fn installed_line(&self) -> String {
        match (&self.service_manager, &self.definition) {
            (None, _) | (_, None) => "no (no supported service manager on this system)".into(),
            (Some(kind), Some(path)) if self.installed => format!("yes, {kind} user service {}", path.display()),
            (Some(_), Some(_)) => "no (`codexd install` sets it up to start at login)".into(),
        }
    }

    fn mode_line(&self) -> String {
        let mut line = self.mode.map_or_else(|| "none".to_string(), |m| m.to_string());
        match (&self.manager_state, &self.manager_unavailable) {
            (Some(ManagerState::Unknown(why)), _) => line.push_str(&format!(" (manager state unknown: {why})")),
            (Some(state), _) => line.push_str(&format!(" (manager says: {})", state_word(state))),
            (None, Some(why)) => line.push_str(&format!(" (no service manager here: {why})")),
            (None, None) => {}
        }
        line
    }

    fn running_line(&self) -> String {
        match self.pid {
            Some(pid) => format!("yes, pid {pid}"),
            None => "no".into(),
        }
    }

    fn usage_line(&self) -> String {
        match (&self.rate_limits, self.answering) {
            (Some(limits), _) => limits.describe(),
            (None, true) => "not reported yet (the daemon has made no upstream request)".into(),
            (None, false) => "unknown (the daemon is not answering)".into(),
        }
    }

    fn health_line(&self) -> String {
        if !self.answering {
            return format!("{} - /health does not answer", self.listen_url);
        }
        let version = self.daemon_version.as_deref().unwrap_or("unknown version");
        let uptime = self.uptime_s.map(|s| format!(", up {}", human_duration(s))).unwrap_or_default();
        let mismatch = match &self.daemon_version {
            Some(v) if *v != self.version => " - older than this binary, run `codexd restart`",
            _ => "",
        };
        format!("{} - /health answers (codexd {version}{uptime}){mismatch}", self.listen_url)
    }
}

fn state_word(state: &ManagerState) -> &'static str {
    match state {
        ManagerState::NotInstalled => "not installed",
        ManagerState::Running => "running",
        ManagerState::Stopped => "stopped",
        ManagerState::Unknown(_) => "unknown",
    }
}

impl fmt::Display for ServiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "codexd {} service", self.version)?;
        let rows = [
            ("installed", self.installed_line()),
            ("mode", self.mode_line()),
            ("running", self.running_line()),
            ("listening", self.health_line()),
            ("usage", self.usage_line()),
            ("models", self.models.clone()),
            ("log", self.log_file.display().to_string()),
            ("pid file", self.pid_file.display().to_string()),
        ];
        for (name, value) in rows {
            writeln!(f, "  {name:<10} {value}")?;
        }
        Ok(())
    }
}

/// `3d 4h`, `2h 5m`, `4m 10s`, `9s`.
fn human_duration(seconds: u64) -> String {
    let (d, h, m, s) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ServiceStatus {
        ServiceStatus {
            version: "0.1.0".into(),
            service_manager: Some(ManagerKind::Systemd),
            installed: true,
            definition: Some("/home/u/.config/systemd/user/codexd.service".into()),
            manager_state: Some(ManagerState::Running),
            manager_unavailable: None,
            mode: Some(RunMode::Systemd),
            running: true,
            pid: Some(4242),
            pid_file: "/home/u/.chatgpt-codex-proxy/codexd.pid".into(),
            listen_url: "http://127.0.0.1:19080".into(),
            answering: true,
            daemon_version: Some("0.1.0".into()),
            uptime_s: Some(3 * 3600 + 12 * 60 + 5),
            rate_limits: None,
            models: "catalogue: live, read 2026-12-06 12:00 UTC".into(),
            log_file: "/tmp/chatgpt-codex-proxy.log".into(),
        }
    }

    #[test]
    fn the_models_line_says_which_catalogue_and_what_was_replaced() {
        let home = tempfile::tempdir().unwrap();
        let mut settings = Settings { home: home.path().to_path_buf(), ..Settings::defaults() };
        settings.models.sonnet = "gpt-5.2-codex".into();
        let offline = models_line(&settings, None);
        assert!(offline.starts_with("catalogue: codexd's built-in list"), "{offline}");
        assert!(offline.contains("; replaced sonnet: gpt-5.2-codex → gpt-5.6-terra"), "{offline}");
        let daemon = CatalogueStatus {
            source: crate::codex::catalogue::Source::BuiltIn,
            models: 7,
            last_error: Some("not signed in".into()),
            replacements: vec![crate::codex::catalogue::Replacement {
                from: "gpt-5.5".into(),
                to: "gpt-5.6-sol".into(),
                why: "gpt-5.5 retired on 2026-10-14".into(),
            }],
        };
        let running = models_line(&settings, Some(&daemon));
        assert!(running.contains("(last read failed: not signed in)"), "{running}");
        assert!(running.ends_with("; replaced gpt-5.5 → gpt-5.6-sol (gpt-5.5 retired on 2026-10-14)"), "{running}");
    }

    #[test]
    fn screen_of_a_running_service() {
        insta::assert_snapshot!(sample().render());
    }

    #[test]
    fn screen_of_a_container_without_systemd_and_nothing_running() {
        let status = ServiceStatus {
            installed: false,
            manager_state: None,
            manager_unavailable: Some("systemd is not running on this machine".into()),
            mode: None,
            running: false,
            pid: None,
            answering: false,
            daemon_version: None,
            uptime_s: None,
            ..sample()
        };
        insta::assert_snapshot!(status.render());
    }

    #[test]
    fn screen_of_a_detached_daemon_older_than_the_binary() {
        let status = ServiceStatus {
            installed: false,
            service_manager: None,
            definition: None,
            manager_state: None,
            mode: Some(RunMode::Detached),
            daemon_version: Some("0.0.9".into()),
            uptime_s: Some(42),
            ..sample()
        };
        insta::assert_snapshot!(status.render());
    }

    #[test]
    fn json_names_every_field() {
        insta::assert_json_snapshot!(sample());
    }

    #[test]
    fn durations_read_naturally() {
        let cases = [(9, "9s"), (250, "4m 10s"), (7500, "2h 5m"), (3 * 86_400 + 4 * 3600 + 59, "3d 4h")];
        for (seconds, expected) in cases {
            assert_eq!(human_duration(seconds), expected);
        }
    }

    #[test]
    fn status_of_an_empty_home_is_not_running_and_not_answering() {
        let home = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let settings = Settings { home: home.path().to_path_buf(), port, ..Settings::defaults() };
        let status = status_with(&settings, None, Duration::from_millis(300));
        assert!(!status.running && !status.answering && !status.installed);
        assert_eq!(status.mode, None);
        assert_eq!(status.pid_file, home.path().join("codexd.pid"));
    }

    #[test]
    fn status_sees_a_daemon_holding_the_lock() {
        let home = tempfile::tempdir().unwrap();
        let _lock = instance::InstanceLock::acquire(home.path(), RunMode::Detached).unwrap();
        let settings = Settings { home: home.path().to_path_buf(), port: 1, ..Settings::defaults() };
        let status = status_with(&settings, None, Duration::from_millis(300));
        assert_eq!(
            (status.running, status.pid, status.mode),
            (true, Some(std::process::id()), Some(RunMode::Detached))
        );
    }
}
