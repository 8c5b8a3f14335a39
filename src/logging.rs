//! Logging: the tracing subscriber of the daemon, the size-rotated log file
//! (`/tmp/chatgpt-codex-proxy.log` by default, the `log_file` setting), secret
//! redaction on every line, the one-line-per-request summary, and reading the
//! log back for `codexd logs`.
//!
//! The filter is `RUST_LOG` when set, else the `log_level` setting (which
//! `--log-level` and `--verbose` override). It can be swapped while running
//! ([`reload_level`]) so a config reload changes the level without a restart.
//!
//! Tokens and keys are kept out of log events by construction (their types
//! redact themselves in `Debug`); the writer scrubs anything that still looks
//! like one ([`redact`]) before a line reaches a file or a terminal.
//!
//! A log line is one event: the writer escapes every control character in it
//! (a client's model name with a newline cannot forge or inject a line), and
//! the summary line quotes a client string that is not a plain name. The log
//! file lives in a shared `/tmp` by default, so it is opened without following
//! a symlink, refused when another user owns it or it has other hard links
//! (the daemon then logs to stderr only), and made 0600 ([`open_rotating`]).

mod redact;
pub mod tail;

use std::io;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

use crate::config::Settings;

pub use redact::{redact, Redacting};

/// How large the live log file grows before it is rotated.
pub const MAX_LOG_BYTES: usize = 10 * 1024 * 1024;
/// How many rotated files (`path.1` newest … `path.N` oldest) are kept.
pub const KEPT_LOG_FILES: usize = 3;

/// When the log file is rotated and how many old files survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate once the live file has passed this many bytes (whole lines are never split).
    pub max_bytes: usize,
    /// Old files kept as `path.1` … `path.{keep}`; older ones are deleted.
    pub keep: usize,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation { max_bytes: MAX_LOG_BYTES, keep: KEPT_LOG_FILES }
    }
}

/// Where log lines go besides the log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// Also write to stderr (foreground runs, and services whose manager keeps stderr).
    Stderr,
    /// The log file only (a detached daemon has no terminal).
    Off,
}

/// Lines queued for the log-writer thread. The queue is allocated whole up
/// front (32 bytes a line): tracing-appender's default of 128 000 lines cost
/// 4 MiB of resident memory in an idle daemon that logs a line or two per
/// request. When the queue is full (the disk stalls) a line waits rather than
/// being dropped.
const LOG_QUEUE_LINES: usize = 4096;

static FILTER_HANDLE: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Install the global subscriber writing to the rotated log file and, as
/// `console` says, to stderr. Keep the guard alive for the life of the
/// process: dropping it flushes the file writer. A log file that cannot be
/// written is reported on stderr and the daemon goes on without it.
pub fn init_with(settings: &Settings, console: Console) -> anyhow::Result<Option<WorkerGuard>> {
    let (filter, handle) = reload::Layer::new(filter_for(&settings.log_level)?);
    let stderr = (console == Console::Stderr)
        .then(|| fmt::layer().with_writer(Redacting::console(io::stderr)).with_target(false));

    let (file_layer, guard) = match open_rotating(&settings.log_file, Rotation::default()) {
        Ok(file) => {
            let (writer, guard) = NonBlockingBuilder::default()
                .buffered_lines_limit(LOG_QUEUE_LINES)
                .lossy(false)
                .thread_name("codexd-log")
                .finish(file);
            let layer = fmt::layer().with_writer(Redacting::new(writer)).with_ansi(false);
            (Some(layer), Some(guard))
        }
        Err(err) => {
            eprintln!(
                "codexd: cannot write the log file {}: {err}; logging to stderr only \
                 (set `log_file` in the config file or CODEXD_LOG_FILE to a path of your own, \
                 e.g. $HOME/.local/state/codexd/codexd.log)",
                settings.log_file.display()
            );
            (None, None)
        }
    };

    tracing_subscriber::registry().with(filter).with(stderr).with(file_layer).try_init()?;
    // A second `init` fails in `try_init` above, so the handle is set once.
    let _ = FILTER_HANDLE.set(handle);
    Ok(guard)
}

/// Install a stderr-only subscriber for a short command run with `--verbose`.
pub fn init_cli(log_level: &str) -> anyhow::Result<()> {
    let layer = fmt::layer().with_writer(Redacting::console(io::stderr)).with_target(false);
    tracing_subscriber::registry().with(filter_for(log_level)?).with(layer).try_init()?;
    Ok(())
}

/// Switch the running daemon to a new `log_level` (after a config reload).
/// `RUST_LOG`, when set, still wins. Does nothing before [`init_with`].
pub fn reload_level(log_level: &str) -> anyhow::Result<()> {
    let filter = filter_for(log_level)?;
    if let Some(handle) = FILTER_HANDLE.get() {
        handle.reload(filter)?;
    }
    Ok(())
}

/// `RUST_LOG` when set and non-empty, else `log_level`.
fn filter_for(log_level: &str) -> anyhow::Result<EnvFilter> {
    let directives = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    let (source, directives) = match directives {
        Some(env) => ("RUST_LOG", env),
        None => ("log_level", log_level.to_string()),
    };
    EnvFilter::try_new(&directives)
        .map_err(|e| anyhow::anyhow!("{source}={directives:?} is not a log filter (try `info` or `codexd=debug`): {e}"))
}

/// Open `path` for appending through a size-rotating writer: past
/// `rotation.max_bytes` the file becomes `path.1` (older ones shift up, the
/// oldest beyond `rotation.keep` is deleted) and a fresh `path` is started.
///
/// The default path is in a shared `/tmp`, where another local user may have
/// put something first. So the file is opened without following a symlink
/// (every open, the reopen after a rotation too), refused when it belongs to
/// someone else or has other hard links (it could be someone's `.bashrc`), and
/// created 0600 or narrowed to 0600 when codexd owns it.
pub fn open_rotating(path: &Path, rotation: Rotation) -> io::Result<FileRotate<AppendCount>> {
    if rotation.max_bytes == 0 || rotation.keep == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "log rotation needs a size and a count above zero"));
    }
    // Fail here, with an error, on a path that cannot be written: `FileRotate`
    // would panic on some of those.
    check_log_file(path)?;
    Ok(FileRotate::new(
        path,
        AppendCount::new(rotation.keep),
        ContentLimit::BytesSurpassed(rotation.max_bytes),
        Compression::None,
        Some(append_options()),
    ))
}

/// Open (creating it and its folder if needed) the log file as the daemon
/// would, and drop it: `Ok` when the daemon could log there. Refuses a
/// symlink, another user's file and a file with other hard links; narrows
/// codexd's own file to 0600. `codexd doctor` uses it too.
pub fn check_log_file(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let file = append_options().open(path).map_err(|err| explain_open_error(path, err))?;
    check_ours(path, &file)
}

fn append_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options
}

/// `O_NOFOLLOW` fails with `ELOOP` on a symlink: say so in words.
fn explain_open_error(path: &Path, err: io::Error) -> io::Error {
    #[cfg(unix)]
    if err.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
        && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
    {
        return io::Error::new(
            io::ErrorKind::PermissionDenied,
            "it is a symlink, which codexd does not follow (someone may be aiming the log at another file)",
        );
    }
    let _ = path;
    err
}

/// Refuse a log file that belongs to another user or has other names, and
/// make ours private.
#[cfg(unix)]
fn check_ours(path: &Path, file: &std::fs::File) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = file.metadata()?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("it belongs to another user (uid {}), so codexd will not write to it", meta.uid()),
        ));
    }
    if meta.nlink() > 1 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "it has {} hard links, so it may be another file of yours; remove {}",
                meta.nlink(),
                path.display()
            ),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_ours(_path: &Path, _file: &std::fs::File) -> io::Result<()> {
    Ok(())
}

/// The one log line written for every answered `/v1/messages` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSummary<'a> {
    pub request_id: &'a str,
    /// The model name the client asked for.
    pub client_model: &'a str,
    /// The Codex model the request went to (with the effort, when one was set).
    pub upstream_model: &'a str,
    pub stream: bool,
    /// The HTTP status the client got.
    pub status: u16,
    pub latency: Duration,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
}

impl RequestSummary<'_> {
    /// Emit the summary as one `info` event on the `codexd::request` target.
    pub fn log(&self) {
        tracing::info!(target: "codexd::request", "{self}");
    }
}

impl std::fmt::Display for RequestSummary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tokens = |n: Option<u64>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
        write!(
            f,
            "request {} {} -> {} {} status={} latency_ms={} input_tokens={} output_tokens={}",
            Plain(self.request_id),
            Plain(self.client_model),
            Escaped(self.upstream_model),
            if self.stream { "stream" } else { "json" },
            self.status,
            self.latency.as_millis(),
            tokens(self.input_tokens),
            tokens(self.output_tokens),
        )
    }
}

/// A client string in a log line: as it is when it is a plain name
/// (letters, digits, `-._:/@+[]`), else quoted with its special characters
/// escaped, so a model name cannot add fields or lines to the summary.
struct Plain<'a>(&'a str);

impl std::fmt::Display for Plain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plain = |c: char| c.is_alphanumeric() || "-._:/@+[]".contains(c);
        if !self.0.is_empty() && self.0.chars().all(plain) {
            f.write_str(self.0)
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

/// A string of codexd's making that may hold a client's text (the upstream
/// model in passthrough mode): control characters escaped, the rest as is.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact::escape_controls(self.0, false))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn request_summary_is_one_line_with_every_field() {
        let summary = RequestSummary {
            request_id: "req_01",
            client_model: "claude-sonnet-4-5",
            upstream_model: "gpt-5.2-codex",
            stream: true,
            status: 200,
            latency: Duration::from_millis(1234),
            input_tokens: Some(812),
            output_tokens: None,
        };
        assert_eq!(
            summary.to_string(),
            "request req_01 claude-sonnet-4-5 -> gpt-5.2-codex stream status=200 latency_ms=1234 \
             input_tokens=812 output_tokens=-"
        );
    }

    #[test]
    fn client_strings_in_the_summary_cannot_add_lines_or_fields() {
        let summary = RequestSummary {
            request_id: "req_01",
            client_model: "claude-x\ntouch /tmp/PWNED # status=200",
            upstream_model: "claude-x\r\nforged (high)",
            stream: false,
            status: 404,
            latency: Duration::from_millis(3),
            input_tokens: None,
            output_tokens: None,
        };
        let line = summary.to_string();
        assert!(!line.contains(['\n', '\r']), "{line}");
        assert_eq!(
            line,
            r#"request req_01 "claude-x\ntouch /tmp/PWNED # status=200" -> claude-x\r\nforged (high) json status=404 latency_ms=3 input_tokens=- output_tokens=-"#
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_log_path_is_refused_and_nothing_reaches_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("bashrc");
        std::fs::write(&target, "# mine\n").unwrap();
        let path = dir.path().join("codexd.log");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = open_rotating(&path, Rotation::default()).err().expect("a symlinked log is refused");
        assert!(err.to_string().contains("symlink"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "# mine\n");
        // A dangling one is not created through either.
        let dangling = dir.path().join("dangling.log");
        std::os::unix::fs::symlink(dir.path().join("created"), &dangling).unwrap();
        assert!(open_rotating(&dangling, Rotation::default()).is_err());
        assert!(!dir.path().join("created").exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_log_file_with_another_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("bashrc");
        std::fs::write(&target, "# mine\n").unwrap();
        let path = dir.path().join("codexd.log");
        std::fs::hard_link(&target, &path).unwrap();
        let err = open_rotating(&path, Rotation::default()).err().expect("a hard-linked log is refused");
        assert!(err.to_string().contains("hard links"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_log_file_of_ours_is_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codexd.log");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        open_rotating(&path, Rotation::default()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn rotation_keeps_the_live_file_small_and_a_bounded_number_of_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codexd.log");
        let rotation = Rotation { max_bytes: 1000, keep: 2 };
        let mut writer = open_rotating(&path, rotation).unwrap();
        let line = format!("{}\n", "x".repeat(99));
        for _ in 0..100 {
            writer.write_all(line.as_bytes()).unwrap();
        }
        writer.flush().unwrap();

        let live = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(live <= rotation.max_bytes + line.len(), "live file has {live} bytes");
        for n in 1..=2 {
            let old = std::fs::read_to_string(dir.path().join(format!("codexd.log.{n}"))).unwrap();
            assert!(old.len() > rotation.max_bytes, "codexd.log.{n} was rotated early");
            assert!(old.lines().all(|l| l.len() == 99), "a line was split across files");
        }
        assert!(!dir.path().join("codexd.log.3").exists(), "more old files than `keep`");
    }

    #[test]
    fn an_unwritable_log_path_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, "").unwrap();
        assert!(open_rotating(&not_a_dir.join("codexd.log"), Rotation::default()).is_err());
        assert!(open_rotating(dir.path(), Rotation::default()).is_err());
        assert!(open_rotating(&dir.path().join("x.log"), Rotation { max_bytes: 0, keep: 1 }).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_log_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codexd.log");
        open_rotating(&path, Rotation::default()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_bad_level_names_where_it_came_from() {
        if std::env::var_os("RUST_LOG").is_none() {
            let err = filter_for("codexd=loud").unwrap_err().to_string();
            assert!(err.contains("log_level"), "{err}");
        }
    }
}
