//! Looking at a daemon from outside, without a runtime (these run before a
//! fork and inside `codexd status`): does `GET /health` answer, and who holds
//! the port.

use std::net::TcpListener;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Settings;

/// How long a `/health` probe waits for the daemon.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// What `GET /health` answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub uptime_s: Option<u64>,
    /// The ChatGPT usage windows the daemon last saw.
    #[serde(default)]
    pub rate_limits: Option<crate::codex::limits::RateLimits>,
    /// The model catalogue the daemon uses (absent from daemons before it had one).
    #[serde(default)]
    pub catalogue: Option<crate::codex::catalogue::CatalogueStatus>,
}

/// A blocking HTTP client that never goes through a proxy and never fails on
/// an HTTP status (the caller decides).
pub fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(timeout)).proxy(None).http_status_as_error(false).build().into()
}

/// `GET {listen_url}/health`, when it answers 200 with codexd's JSON.
pub fn health(settings: &Settings, timeout: Duration) -> Option<Health> {
    let url = format!("{}/health", settings.listen_url());
    let mut answer = http_agent(timeout).get(&url).call().ok()?;
    if answer.status() != 200 {
        return None;
    }
    answer.body_mut().read_json::<Health>().ok()
}

/// Poll `/health` until it answers or `timeout` has passed.
pub fn wait_for_health(settings: &Settings, timeout: Duration) -> Option<Health> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let answer = health(settings, Duration::from_millis(500));
        if answer.is_some() || std::time::Instant::now() >= deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Who, if anyone, listens on the daemon's port.
#[derive(Debug, Clone, PartialEq)]
pub enum PortState {
    /// Nothing listens; a daemon can bind it.
    Free,
    /// A codexd answers `/health` there.
    Codexd(Health),
    /// Something else holds it (named when the system tells).
    Other(Option<PortOwner>),
    /// It cannot be bound for another reason (e.g. an address not on this machine).
    Unusable(String),
}

/// A process listening on a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortOwner {
    pub pid: u32,
    pub name: String,
}

impl std::fmt::Display for PortOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (pid {})", self.name, self.pid)
    }
}

/// Try the port the way the daemon would, then ask who holds it.
pub fn port_state(settings: &Settings) -> PortState {
    match TcpListener::bind((settings.host.as_str(), settings.port)) {
        Ok(_listener) => PortState::Free,
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => match health(settings, HEALTH_TIMEOUT) {
            Some(health) => PortState::Codexd(health),
            None => PortState::Other(port_owner(settings.port)),
        },
        Err(err) => PortState::Unusable(err.to_string()),
    }
}

/// The process listening on TCP `port`, when the system tells (it may not
/// for another user's process).
pub fn port_owner(port: u16) -> Option<PortOwner> {
    let process = listeners::get_process_by_port(port, listeners::Protocol::TCP).ok()?;
    Some(PortOwner { pid: process.pid, name: process.name })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_on(port: u16) -> Settings {
        Settings { port, ..Settings::defaults() }
    }

    #[test]
    fn a_free_port_is_free_and_a_held_one_names_its_holder() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        match port_state(&settings_on(port)) {
            PortState::Other(Some(owner)) => assert_eq!(owner.pid, std::process::id()),
            // Some sandboxes hide /proc details; the port is still known to be taken.
            PortState::Other(None) => {}
            other => panic!("held port reported as {other:?}"),
        }
        drop(listener);
        assert_eq!(port_state(&settings_on(port)), PortState::Free);
    }

    #[test]
    fn no_answer_is_no_health() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert_eq!(health(&settings_on(port), Duration::from_millis(500)), None);
    }
}
