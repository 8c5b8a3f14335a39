//! A sandbox for running the real `codexd` binary: its home, config folder,
//! log file and port are private to one test, every upstream URL points at a
//! closed loopback port, and a daemon left running by a failed test is
//! stopped when the sandbox is dropped.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use codexd::config::Settings;
use codexd::service::probe;

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().unwrap(), port: free_port() }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn config_home(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("codexd.log")
    }

    /// The settings the sandboxed binary runs with, for in-process probes.
    pub fn settings(&self) -> Settings {
        Settings { port: self.port, home: self.home(), log_file: self.log(), ..Settings::defaults() }
    }

    /// `codexd ARGS…` with the sandbox environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_codexd"));
        command.args(args);
        self.apply_env(&mut command);
        command
    }

    /// Give `command` the sandbox environment.
    pub fn apply_env(&self, command: &mut Command) {
        for var in [
            "CODEXD_CONFIG",
            "RUST_LOG",
            "PASSTHROUGH_MODE",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL",
            "ANTHROPIC_DEFAULT_SONNET_MODEL",
            "ANTHROPIC_DEFAULT_OPUS_MODEL",
            "CODEXD_SUPERVISOR",
        ] {
            command.env_remove(var);
        }
        let closed = format!("http://127.0.0.1:{}", free_port());
        command
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.config_home())
            .env("CODEXD_HOME", self.home())
            .env("CODEXD_LOG_FILE", self.log())
            .env("PORT", self.port.to_string())
            .env("CODEX_BASE_URL", &closed)
            .env("CODEXD_AUTH_ISSUER", &closed);
    }

    /// Run `codexd ARGS…` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn answers(&self) -> bool {
        probe::health(&self.settings(), Duration::from_millis(500)).is_some()
    }

    pub fn port_is_free(&self) -> bool {
        TcpListener::bind(("127.0.0.1", self.port)).is_ok()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // A test that failed half-way may have left a daemon behind.
        if self.home().join("codexd.pid").exists() {
            let _ = self.run(&["stop"]);
        }
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Wait up to `timeout` for `condition`.
pub fn eventually(timeout: Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}
