//! Running without a service manager (containers, WSL without systemd, CI):
//! `codexd start --detach` forks into the background with `daemonize`
//! (before any async runtime exists), and `codexd stop` signals the daemon
//! named by the pid file and waits for it to let go of its lock.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use daemonize::{Daemonize, Outcome};
use rustix::process::{kill_process, Pid, Signal};

use super::instance::{self, ensure_private_dir, Holder};
use super::probe::{self, PortState};
use crate::config::Settings;

/// How long `start --detach` waits for the new daemon to answer `/health`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `stop` waits after SIGTERM: streams in flight get this long to finish.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(45);

/// The file the detached daemon's stderr goes to (panics and early errors;
/// log lines go to the log file).
pub fn stderr_path(home: &Path) -> PathBuf {
    home.join("codexd.stderr")
}

/// What the process that called [`start`] is, once it returns.
pub enum Started {
    /// The caller's process: the daemon answers (or the report says why not).
    Parent,
    /// The daemon's process: run [`super::serve`] and exit with its result.
    Daemon(Box<Settings>),
}

/// Check that nothing runs yet, then fork. The parent waits until the
/// daemon answers `/health` and reports to `out`; the child comes back as
/// [`Started::Daemon`] to serve.
///
/// Must be called before any async runtime or thread is started.
pub fn start(mut settings: Settings, out: &mut dyn Write) -> anyhow::Result<Started> {
    refuse_if_taken(&settings)?;
    ensure_private_dir(&settings.home)
        .with_context(|| format!("cannot create the codexd folder {}", settings.home.display()))?;
    // The daemon works from `home`: every path it uses must not depend on where `start` ran.
    settings.log_file = std::path::absolute(&settings.log_file).unwrap_or(settings.log_file);
    settings.config_file = settings.config_file.map(|f| std::path::absolute(&f).unwrap_or(f));

    let stderr_file = stderr_path(&settings.home);
    let stderr = File::create(&stderr_file).with_context(|| format!("cannot write {}", stderr_file.display()))?;
    let daemon = Daemonize::new().working_directory(&settings.home).umask(0o077).stderr(stderr);
    match daemon.execute() {
        Outcome::Parent(Ok(_)) => {
            report_start(&settings, out)?;
            Ok(Started::Parent)
        }
        Outcome::Parent(Err(err)) => bail!("cannot start codexd in the background: {err}"),
        Outcome::Child(Ok(_)) => Ok(Started::Daemon(Box::new(settings))),
        Outcome::Child(Err(err)) => bail!("codexd could not detach: {err}"),
    }
}

/// Refuse a start while a daemon holds the lock or something holds the port.
pub fn refuse_if_taken(settings: &Settings) -> anyhow::Result<()> {
    if let Some(holder) = instance::probe(&settings.home)? {
        bail!(
            "codexd is already running as pid {} ({}); see `codexd status`, or stop it with `codexd stop`",
            holder.pid,
            holder.mode
        );
    }
    refuse_if_port_taken(settings)
}

/// Refuse a start while something holds the port, naming it.
pub fn refuse_if_port_taken(settings: &Settings) -> anyhow::Result<()> {
    let address = format!("{}:{}", settings.host, settings.port);
    match probe::port_state(settings) {
        PortState::Free => Ok(()),
        PortState::Codexd(health) => bail!(
            "port {address} already answers as codexd {} started with another home folder than {}; \
             stop that one, or choose another port (`port` in the config file, or PORT)",
            health.version.as_deref().unwrap_or("(unknown version)"),
            settings.home.display()
        ),
        PortState::Other(owner) => bail!(
            "port {address} is in use by {}; stop it, or choose another port (`port` in the config file, or PORT)",
            owner.map_or_else(|| "another program".to_string(), |o| o.to_string())
        ),
        PortState::Unusable(reason) => {
            bail!("cannot listen on {address}: {reason}; check `host` and `port` in the config file")
        }
    }
}

/// Wait for the daemon to answer, then say where it runs, or why it did not start.
fn report_start(settings: &Settings, out: &mut dyn Write) -> anyhow::Result<()> {
    if probe::wait_for_health(settings, READY_TIMEOUT).is_some() {
        if let Some(holder) = instance::probe(&settings.home)? {
            writeln!(
                out,
                "codexd started in the background (pid {}), listening on {}",
                holder.pid,
                settings.listen_url()
            )?;
            writeln!(out, "log: {}   stop it with `codexd stop`", settings.log_file.display())?;
            return Ok(());
        }
    }
    let stderr = std::fs::read_to_string(stderr_path(&settings.home)).unwrap_or_default();
    let reason = stderr.trim();
    bail!(
        "codexd did not answer on {} within {} s{}\nsee `codexd logs` ({})",
        settings.listen_url(),
        READY_TIMEOUT.as_secs(),
        if reason.is_empty() { String::new() } else { format!(":\n{reason}") },
        settings.log_file.display()
    )
}

/// Send SIGTERM to `holder` and wait until it has let go of the lock in
/// `home` (it finishes streams in flight first), at most `timeout`.
pub fn stop(holder: Holder, home: &Path, timeout: Duration) -> anyhow::Result<()> {
    let pid = i32::try_from(holder.pid).ok().and_then(Pid::from_raw).context("the pid file names no valid process")?;
    match kill_process(pid, Signal::TERM) {
        Ok(()) => {}
        Err(rustix::io::Errno::SRCH) => return Ok(()),
        Err(rustix::io::Errno::PERM) => {
            bail!("not allowed to stop pid {} (another user's process?); stop it as that user", holder.pid)
        }
        Err(err) => bail!("cannot signal pid {}: {err}", holder.pid),
    }
    if instance::wait_until_released(home, holder, timeout)? {
        return Ok(());
    }
    bail!(
        "codexd (pid {}) is still running {} s after SIGTERM; force it with `kill -KILL {}`",
        holder.pid,
        timeout.as_secs(),
        holder.pid
    )
}

#[cfg(test)]
mod tests {
    use super::super::RunMode;
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_start_and_names_the_pid() {
        let home = tempfile::tempdir().unwrap();
        let settings = Settings { home: home.path().to_path_buf(), port: 1, ..Settings::defaults() };
        let _lock = instance::InstanceLock::acquire(home.path(), RunMode::Detached).unwrap();
        let err = refuse_if_taken(&settings).unwrap_err().to_string();
        assert!(err.contains(&format!("pid {} (detached)", std::process::id())), "{err}");
    }

    #[test]
    fn a_held_port_refuses_a_start_and_names_the_holder() {
        let home = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let settings = Settings { home: home.path().to_path_buf(), port, ..Settings::defaults() };
        let err = refuse_if_taken(&settings).unwrap_err().to_string();
        assert!(err.contains(&format!("port 127.0.0.1:{port} is in use by")), "{err}");
    }

    #[test]
    fn stopping_a_gone_process_is_done() {
        let home = tempfile::tempdir().unwrap();
        let gone = Holder { pid: i32::MAX as u32, mode: RunMode::Detached };
        stop(gone, home.path(), Duration::from_millis(10)).unwrap();
    }
}
