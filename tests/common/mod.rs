//! Shared test harness: the mock upstream (and mock OAuth server), and a
//! codexd started in-process on an ephemeral port against them.

#![allow(dead_code)]

pub mod mock_codex;
pub mod mock_oauth;

use std::path::Path;

use codexd::config::Settings;
use mock_codex::{MockCodex, MOCK_ACCOUNT, MOCK_TOKEN};

/// A codexd server running inside the test's actix system.
pub struct Daemon {
    pub url: String,
    pub home: tempfile::TempDir,
    pub settings: Settings,
}

impl Daemon {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

/// Settings that point at `upstream`, with a fresh home folder and no file logging.
pub fn test_settings(upstream: &MockCodex, home: &Path) -> Settings {
    let mut settings = Settings::defaults();
    settings.port = 1; // replaced: we bind to port 0 below
    settings.codex_base_url = upstream.base_url.clone();
    settings.home = home.to_path_buf();
    settings.log_file = home.join("codexd.log");
    settings.auth_issuer = "http://127.0.0.1:9".into(); // nothing listens: refresh must not be needed
                                                        // A failed catalogue read is tried again soon, not after a minute.
    settings.catalogue_retry = std::time::Duration::from_millis(200);
    settings
}

/// Write a valid, long-lived login into `home/tokens.json` (format of codex.md §6).
pub fn write_tokens(home: &Path, access_token: &str) {
    let expires = chrono::Utc::now() + chrono::Duration::days(5);
    let tokens = serde_json::json!({
        "version": 1,
        "access_token": access_token,
        "refresh_token": "mock-refresh-token",
        "id_token": "",
        "account_id": MOCK_ACCOUNT,
        "email": "user@example.com",
        "plan": "plus",
        "expires_at": expires.to_rfc3339(),
        "last_refresh": chrono::Utc::now().to_rfc3339(),
    });
    std::fs::create_dir_all(home).unwrap();
    std::fs::write(home.join("tokens.json"), serde_json::to_vec_pretty(&tokens).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(home.join("tokens.json"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// Start codexd against `upstream`, logged in with the mock's token.
pub fn start_daemon(upstream: &MockCodex) -> Daemon {
    let home = tempfile::tempdir().unwrap();
    write_tokens(home.path(), MOCK_TOKEN);
    start_daemon_with(test_settings(upstream, home.path()), home)
}

/// Start codexd with explicit settings (host/port are forced to 127.0.0.1:0).
pub fn start_daemon_with(mut settings: Settings, home: tempfile::TempDir) -> Daemon {
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    let bound = codexd::server::bind(settings.clone(), Some(2)).expect("bind codexd");
    let url = format!("http://{}", bound.addrs[0]);
    actix_web::rt::spawn(bound.server);
    Daemon { url, home, settings }
}

/// Wait (up to 10 s) until the daemon has read the mock's model catalogue;
/// its `/health` then.
pub async fn wait_for_catalogue(daemon: &Daemon) -> serde_json::Value {
    for _ in 0..200 {
        let mut res = client().get(daemon.url("/health")).send().await.unwrap();
        let health: serde_json::Value = res.json().await.unwrap();
        if health["catalogue"]["source"]["kind"] == "live" {
            return health;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the daemon never read the model catalogue");
}

/// `codexd serve` as a user starts it, on a free loopback port, against
/// `upstream`, with everything (tokens, log, config lookups) in `home`;
/// add arguments before spawning. The port is returned with it.
pub fn codexd_serve(home: &Path, upstream: &MockCodex) -> (std::process::Command, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_codexd"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("CODEXD_HOME", home)
        .env("CODEXD_LOG_FILE", home.join("codexd.log"))
        .env("PORT", port.to_string())
        .env("CODEX_BASE_URL", &upstream.base_url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    (command, port)
}

/// An HTTP client for talking to the daemon (generous timeout for slow CI).
pub fn client() -> awc::Client {
    awc::Client::builder().timeout(std::time::Duration::from_secs(60)).finish()
}

/// Parse an SSE body into `(event, data)` pairs, checking that each data's
/// `type` equals its event name.
pub fn parse_sse(body: &[u8]) -> Vec<(String, serde_json::Value)> {
    let text = std::str::from_utf8(body).expect("SSE is UTF-8");
    let mut out = Vec::new();
    for frame in text.split("\n\n").filter(|f| !f.trim().is_empty()) {
        let mut event = None;
        let mut data = String::new();
        for line in frame.lines() {
            if let Some(v) = line.strip_prefix("event: ") {
                event = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("data: ") {
                data.push_str(v);
            } else {
                panic!("unexpected SSE line {line:?}");
            }
        }
        let event = event.expect("every frame names its event");
        let data: serde_json::Value = serde_json::from_str(&data).expect("data is JSON");
        assert_eq!(data["type"], event.as_str(), "data type matches event name");
        out.push((event, data));
    }
    out
}
