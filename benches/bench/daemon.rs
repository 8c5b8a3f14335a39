//! The real `codexd serve` release binary as a child process: started with
//! its settings in a temporary folder and a long-lived login, against the
//! mock upstream, and watched through `/proc/<pid>/status`.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long codexd may take to answer `/health` before the bench gives up.
const STARTUP_LIMIT: Duration = Duration::from_secs(20);

/// A running codexd; killed when dropped.
pub struct Daemon {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// From spawn to the first `200` from `/health`.
    pub startup: Duration,
    home: tempfile::TempDir,
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `RssAnon`: the part of `rss_kib` that is the process's own memory
    /// (the rest is mapped files, mostly the binary's code, shared and
    /// reclaimable).
    pub anon_kib: u64,
    /// `VmHWM`: the peak resident size (since start or the last reset).
    pub peak_kib: u64,
}

impl Daemon {
    /// Spawn codexd against `upstream_base_url` and wait until `/health` answers.
    pub async fn start(upstream_base_url: &str) -> Result<Daemon, String> {
        let home = tempfile::tempdir().map_err(|err| format!("tempdir: {err}"))?;
        write_login(home.path())?;
        let config = home.path().join("config.toml");
        std::fs::write(&config, "# empty: defaults, then the environment below\n").map_err(|err| err.to_string())?;
        let port = free_port()?;
        let stderr = std::fs::File::create(home.path().join("stderr.log")).map_err(|err| err.to_string())?;
        let started = Instant::now();
        let binary = binary();
        let child = Command::new(&binary)
            .arg("serve")
            .env("PORT", port.to_string())
            .env("CODEX_BASE_URL", upstream_base_url)
            .env("CODEXD_HOME", home.path())
            .env("CODEXD_CONFIG", &config)
            .env("CODEXD_LOG_FILE", home.path().join("codexd.log"))
            .env("CODEXD_AUTH_ISSUER", "http://127.0.0.1:9")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|err| format!("cannot start {binary}: {err}"))?;
        let mut daemon = Daemon { child, url: format!("http://127.0.0.1:{port}"), startup: Duration::ZERO, home };
        daemon.startup = daemon.wait_ready(started).await?;
        Ok(daemon)
    }

    /// Poll `/health` every millisecond until it answers 200.
    async fn wait_ready(&mut self, started: Instant) -> Result<Duration, String> {
        let client = awc::Client::builder().timeout(Duration::from_secs(2)).finish();
        let health = format!("{}/health", self.url);
        while started.elapsed() < STARTUP_LIMIT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("codexd exited with {status} before it was ready: {}", self.stderr()));
            }
            if let Ok(response) = client.get(&health).send().await {
                if response.status().is_success() {
                    return Ok(started.elapsed());
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(1)).await;
        }
        Err(format!("codexd did not answer {health} within {STARTUP_LIMIT:?}: {}", self.stderr()))
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.home.path().join("stderr.log")).unwrap_or_default()
    }

    /// The child's memory now, from `/proc/<pid>/status`.
    pub fn memory(&self) -> Result<Memory, String> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).map_err(|err| format!("{path}: {err}"))?;
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Ok(Memory { rss_kib: field("VmRSS:"), anon_kib: field("RssAnon:"), peak_kib: field("VmHWM:") })
    }

    /// Reset the child's peak RSS to its current RSS (Linux `clear_refs` 5),
    /// so that the next [`Memory::peak_kib`] is the peak of what follows.
    pub fn reset_peak(&self) -> Result<(), String> {
        let path = format!("/proc/{}/clear_refs", self.child.id());
        std::fs::write(&path, "5").map_err(|err| format!("{path}: {err}"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The codexd binary to measure: `$CODEXD_BENCH_BIN` (to compare another
/// build), else the release binary cargo built for this bench.
pub fn binary() -> String {
    std::env::var("CODEXD_BENCH_BIN")
        .ok()
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_codexd").to_owned())
}

/// A port nothing listens on right now.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|err| format!("no free port: {err}"))?;
    listener.local_addr().map(|addr| addr.port()).map_err(|err| err.to_string())
}

/// A valid login that needs no refresh for days (the format codexd stores).
fn write_login(home: &Path) -> Result<(), String> {
    let now = chrono::Utc::now();
    let tokens = serde_json::json!({
        "version": 1,
        "access_token": "bench-access-token",
        "refresh_token": "bench-refresh-token",
        "id_token": "",
        "account_id": "acct-bench",
        "email": "bench@example.com",
        "plan": "plus",
        "expires_at": (now + chrono::Duration::days(5)).to_rfc3339(),
        "last_refresh": now.to_rfc3339(),
    });
    let path = home.join("tokens.json");
    std::fs::write(&path, tokens.to_string()).map_err(|err| format!("{}: {err}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700)).map_err(|err| err.to_string())?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(|err| err.to_string())?;
    }
    Ok(())
}
