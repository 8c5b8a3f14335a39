//! One daemon at a time: every running `codexd serve` (foreground, detached
//! or under a service manager) holds an exclusive `flock` on
//! `{home}/codexd.pid`, which holds its pid on the first line, how it was
//! started on the second and the port it serves on on the third (so
//! `status` and `doctor` find a daemon started with another `PORT`). The
//! kernel drops the lock when the process dies, so a pid file nobody holds
//! is stale, never a reason to refuse a start.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{flock, FlockOperation};
use serde::Serialize;

use super::unit::{ManagerKind, SUPERVISOR_ENV};

/// The pid file's name inside `settings.home`.
pub const PID_FILE: &str = "codexd.pid";

/// How a running daemon was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    /// `codexd serve` in a terminal.
    Foreground,
    /// `codexd start --detach`.
    Detached,
    /// The systemd user unit.
    Systemd,
    /// The launchd user agent.
    Launchd,
}

impl RunMode {
    /// The word written to the pid file.
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Foreground => "foreground",
            RunMode::Detached => "detached",
            RunMode::Systemd => "systemd",
            RunMode::Launchd => "launchd",
        }
    }

    fn parse(word: &str) -> Option<RunMode> {
        [RunMode::Foreground, RunMode::Detached, RunMode::Systemd, RunMode::Launchd]
            .into_iter()
            .find(|mode| mode.as_str() == word.trim())
    }

    /// How `codexd serve` was started, from `CODEXD_SUPERVISOR` (set by the
    /// installed service definitions): a service, else the foreground.
    pub fn of_serve() -> RunMode {
        match std::env::var(SUPERVISOR_ENV).as_deref() {
            Ok("systemd") => RunMode::Systemd,
            Ok("launchd") => RunMode::Launchd,
            _ => RunMode::Foreground,
        }
    }

    /// The service manager behind this mode, if any.
    pub fn manager(self) -> Option<ManagerKind> {
        match self {
            RunMode::Systemd => Some(ManagerKind::Systemd),
            RunMode::Launchd => Some(ManagerKind::Launchd),
            RunMode::Foreground | RunMode::Detached => None,
        }
    }
}

impl From<ManagerKind> for RunMode {
    fn from(kind: ManagerKind) -> RunMode {
        match kind {
            ManagerKind::Systemd => RunMode::Systemd,
            ManagerKind::Launchd => RunMode::Launchd,
        }
    }
}

impl std::fmt::Display for RunMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The daemon that holds the lock, as its pid file describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub pid: u32,
    pub mode: RunMode,
}

/// A start refused because another daemon holds the lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "codexd is already running as pid {} ({}; pid file {}); stop it with `codexd stop` first",
        holder.pid, holder.mode, path.display()
    )]
    AlreadyRunning { holder: Holder, path: PathBuf },
    #[error("codexd is already running (pid file {} is locked but unreadable); stop it with `codexd stop` first", path.display())]
    LockedUnreadable { path: PathBuf },
    #[error("cannot use the pid file {}: {source}; check that the folder is yours and writable", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// The lock of the running daemon; released (and the pid file removed) on drop.
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
    path: PathBuf,
    mode: RunMode,
}

/// `{home}/codexd.pid`.
pub fn pid_path(home: &Path) -> PathBuf {
    home.join(PID_FILE)
}

impl InstanceLock {
    /// Take the lock for this process and record `mode`, or say who holds it.
    pub fn acquire(home: &Path, mode: RunMode) -> Result<InstanceLock, LockError> {
        let path = pid_path(home);
        let io_error = |source| LockError::Io { path: path.clone(), source };
        ensure_private_dir(home).map_err(io_error)?;
        loop {
            let mut file =
                OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io_error)?;
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(err) if err == rustix::io::Errno::WOULDBLOCK => return Err(refusal(&path)),
                Err(err) => return Err(io_error(err.into())),
            }
            // A holder that was just exiting may have removed the file we
            // opened: then the lock is on an orphan and the path is free again.
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0).map_err(io_error)?;
            file.rewind().map_err(io_error)?;
            writeln!(file, "{}\n{}", std::process::id(), mode.as_str()).map_err(io_error)?;
            file.flush().map_err(io_error)?;
            return Ok(InstanceLock { file, path, mode });
        }
    }

    /// Where the pid file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record the port this daemon serves on, as the pid file's third line.
    pub fn record_port(&mut self, port: u16) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        writeln!(self.file, "{}\n{}\n{port}", std::process::id(), self.mode.as_str())?;
        self.file.flush()
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        // Remove while still locked, so no other process finds a pid file
        // naming a process that is gone.
        if same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The daemon holding the lock in `home`, if one runs.
pub fn probe(home: &Path) -> Result<Option<Holder>, LockError> {
    let path = pid_path(home);
    let io_error = |source| LockError::Io { path: path.clone(), source };
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(io_error(err)),
    };
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        // Nobody holds it: a stale file. Our shared lock goes with `file`.
        Ok(()) => Ok(None),
        Err(err) if err == rustix::io::Errno::WOULDBLOCK => match refusal(&path) {
            LockError::AlreadyRunning { holder, .. } => Ok(Some(holder)),
            other => Err(other),
        },
        Err(err) => Err(io_error(err.into())),
    }
}

/// The port the daemon holding the lock in `home` recorded, if one runs and
/// said (a daemon of an older version did not).
pub fn running_port(home: &Path) -> Option<u16> {
    probe(home).ok().flatten()?;
    let text = std::fs::read_to_string(pid_path(home)).ok()?;
    text.lines().nth(2)?.trim().parse::<u16>().ok().filter(|port| *port > 0)
}

/// Wait until `holder` no longer holds the lock in `home`, at most `timeout`.
/// `false` when it still does.
pub fn wait_until_released(home: &Path, holder: Holder, timeout: Duration) -> Result<bool, LockError> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if probe(home)?.is_none_or(|h| h.pid != holder.pid) {
            return Ok(true);
        }
        if std::time::Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The error for a held lock, naming the holder when the file says who.
fn refusal(path: &Path) -> LockError {
    // The holder writes its pid right after locking; give it a moment.
    for _ in 0..20 {
        if let Some(holder) = read_holder(path) {
            return LockError::AlreadyRunning { holder, path: path.to_path_buf() };
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    LockError::LockedUnreadable { path: path.to_path_buf() }
}

fn read_holder(path: &Path) -> Option<Holder> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    parse_pid_file(&text)
}

/// `PID\nMODE\n`; a file with only a pid (an older or hand-written one) is a foreground daemon.
fn parse_pid_file(text: &str) -> Option<Holder> {
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse::<u32>().ok().filter(|pid| *pid > 0)?;
    let mode = lines.next().and_then(RunMode::parse).unwrap_or(RunMode::Foreground);
    Some(Holder { pid, mode })
}

fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// Create `dir` (mode 0700) when missing.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_text_is_parsed_strictly() {
        let cases = [
            ("123\ndetached\n", Some(Holder { pid: 123, mode: RunMode::Detached })),
            ("123\nsystemd", Some(Holder { pid: 123, mode: RunMode::Systemd })),
            ("77\n", Some(Holder { pid: 77, mode: RunMode::Foreground })),
            ("77\nsomething-new\n", Some(Holder { pid: 77, mode: RunMode::Foreground })),
            ("", None),
            ("0\n", None),
            ("abc\ndetached\n", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_pid_file(text), expected, "{text:?}");
        }
    }

    #[test]
    fn the_lock_is_exclusive_names_its_holder_and_cleans_up() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path().join("home");
        assert_eq!(probe(&home).unwrap(), None);

        let lock = InstanceLock::acquire(&home, RunMode::Detached).unwrap();
        let me = Holder { pid: std::process::id(), mode: RunMode::Detached };
        assert_eq!(probe(&home).unwrap(), Some(me));
        match InstanceLock::acquire(&home, RunMode::Foreground) {
            Err(LockError::AlreadyRunning { holder, .. }) => assert_eq!(holder, me),
            other => panic!("second lock: {other:?}"),
        }
        let err = InstanceLock::acquire(&home, RunMode::Foreground).unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", me.pid)) && err.contains("codexd stop"), "{err}");

        drop(lock);
        assert!(!pid_path(&home).exists(), "pid file left behind");
        assert_eq!(probe(&home).unwrap(), None);
        drop(InstanceLock::acquire(&home, RunMode::Foreground).unwrap());
    }

    #[test]
    fn a_stale_pid_file_is_not_a_running_daemon() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(pid_path(home.path()), "999999\ndetached\n").unwrap();
        assert_eq!(probe(home.path()).unwrap(), None);
        let lock = InstanceLock::acquire(home.path(), RunMode::Foreground).unwrap();
        let text = std::fs::read_to_string(lock.path()).unwrap();
        assert_eq!(text, format!("{}\nforeground\n", std::process::id()));
    }

    #[test]
    fn the_port_is_recorded_and_read_back_only_while_the_lock_is_held() {
        let home = tempfile::tempdir().unwrap();
        let mut lock = InstanceLock::acquire(home.path(), RunMode::Detached).unwrap();
        assert_eq!(running_port(home.path()), None, "not recorded yet");
        lock.record_port(19091).unwrap();
        assert_eq!(running_port(home.path()), Some(19091));
        let me = Holder { pid: std::process::id(), mode: RunMode::Detached };
        assert_eq!(probe(home.path()).unwrap(), Some(me), "the first two lines are unchanged");
        drop(lock);
        std::fs::write(pid_path(home.path()), "999999\ndetached\n19091\n").unwrap();
        assert_eq!(running_port(home.path()), None, "a stale file names no port");
    }

    #[test]
    fn the_home_folder_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let home = base.path().join("a").join("b");
        drop(InstanceLock::acquire(&home, RunMode::Foreground).unwrap());
        assert_eq!(std::fs::metadata(&home).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
