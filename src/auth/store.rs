//! The token file `tokens.json` on disk: reading it, writing it atomically
//! with owner-only permissions, and the advisory lock that serialises every
//! read-modify-write across processes.
//!
//! Invariants:
//! - Writes go to a temp file in the same folder, are fsynced, then renamed
//!   over `tokens.json` (and the folder is fsynced), so a reader sees the old
//!   file or the new one, never half of one. Reads therefore need no lock.
//! - The lock lives on a separate, never-renamed `tokens.json.lock`: a lock on
//!   `tokens.json` itself would be lost with every rename.
//! - A `tokens.json` that is a symlink (two homes sharing one login) is
//!   resolved before locking and writing: the lock sits beside the real file
//!   and the new version replaces the real file, so every home that shares it
//!   takes the same lock, refreshes once, and keeps its link.
//! - Writing and removing take a [`StoreLock`], so the type system keeps every
//!   write under the lock.
//! - A file that does not parse is reported as corrupt and never overwritten
//!   behind the user's back.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::tokens::{StoredTokens, FORMAT_VERSION};

/// How long a writer waits for another process to release the lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting writer retries the lock.
const LOCK_POLL: Duration = Duration::from_millis(25);

/// The token file and its lock.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
}

/// Proof that this process holds the store's lock; released on drop. It
/// remembers the real file it was taken for, which writes then replace.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    target: PathBuf,
}

/// What identifies one version of the file, to notice when another process
/// replaced it. Every save renames a new file in place, so the inode changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

/// A token file that cannot be used, with what to do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: Arc<io::Error> },
    #[error(
        "the token file {} is damaged ({detail}); codexd left it untouched. Run `codexd login` to sign in again and replace it",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "the token file {} was written by a newer codexd (format {found}, this one reads {FORMAT_VERSION}); update codexd or run `codexd login`",
        path.display()
    )]
    NewerFormat { path: PathBuf, found: u32 },
    #[error(
        "waited {}s for the lock on {} in vain; another codexd seems stuck — stop it and try again",
        waited.as_secs(),
        path.display()
    )]
    LockTimeout { path: PathBuf, waited: Duration },
}

impl StoreError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        StoreError::Io { action, path: path.to_path_buf(), source: Arc::new(source) }
    }

    /// True when the file exists but its content cannot be used.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. } | StoreError::NewerFormat { .. })
    }
}

impl TokenStore {
    /// The store at `path` (usually `Settings::tokens_path()`); touches nothing yet.
    pub fn new(path: PathBuf) -> Self {
        TokenStore { path }
    }

    /// Where the tokens live.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self) -> &Path {
        dir_of(&self.path)
    }

    fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "tokens.json".into())
    }

    #[cfg(test)]
    fn lock_path(&self) -> PathBuf {
        lock_path_of(&self.resolved())
    }

    /// The real file behind `path`: symlinks followed, even to a file that
    /// does not exist yet; `path` itself when it is no symlink.
    pub fn resolved(&self) -> PathBuf {
        if let Ok(real) = fs::canonicalize(&self.path) {
            return real;
        }
        let mut path = self.path.clone();
        // A dangling link (the shared login not written yet): follow by hand.
        for _ in 0..16 {
            match fs::read_link(&path) {
                Ok(target) => {
                    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    path = base.join(target);
                }
                Err(_) => break,
            }
        }
        match (path.parent().and_then(|dir| fs::canonicalize(dir).ok()), path.file_name()) {
            (Some(dir), Some(name)) => dir.join(name),
            _ => path,
        }
    }

    /// The stored login; `None` when there is no file.
    pub fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("read", &self.path, e)),
        };
        self.parse(&bytes).map(Some)
    }

    fn parse(&self, bytes: &[u8]) -> Result<StoredTokens, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt { path: self.path.clone(), detail };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(corrupt("the file is empty".into()));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let tokens: StoredTokens = serde_path_to_error::deserialize(&mut de).map_err(|e| corrupt(describe(&e)))?;
        match tokens.version {
            FORMAT_VERSION => Ok(tokens),
            found if found > FORMAT_VERSION => Err(StoreError::NewerFormat { path: self.path.clone(), found }),
            found => Err(corrupt(format!("unknown format version {found}"))),
        }
    }

    /// The current version of the file, `None` when there is none.
    pub fn stamp(&self) -> Result<Option<FileStamp>, StoreError> {
        match fs::metadata(&self.path) {
            Ok(meta) => Ok(Some(FileStamp { len: meta.len(), modified: meta.modified().ok(), inode: inode(&meta) })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("look at", &self.path, e)),
        }
    }

    /// Take the cross-process lock, waiting up to `wait` without blocking the thread.
    /// The lock is on the real file's lock ([`TokenStore::resolved`]).
    pub async fn lock(&self, wait: Duration) -> Result<StoreLock, StoreError> {
        self.ensure_dir()?;
        let target = self.resolved();
        let dir = dir_of(&target);
        create_private_dir(dir).map_err(|e| StoreError::io("create the folder", dir, e))?;
        let path = lock_path_of(&target);
        let file = open_private(&path).map_err(|e| StoreError::io("open the lock file", &path, e))?;
        let started = Instant::now();
        loop {
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(StoreLock { _file: file, target }),
                Err(fs4::TryLockError::WouldBlock) if started.elapsed() < wait => {
                    actix_web::rt::time::sleep(LOCK_POLL).await;
                }
                Err(fs4::TryLockError::WouldBlock) => {
                    return Err(StoreError::LockTimeout { path, waited: started.elapsed() });
                }
                Err(fs4::TryLockError::Error(e)) => return Err(StoreError::io("lock", &path, e)),
            }
        }
    }

    /// Write `tokens` atomically with mode 0600 in a 0700 folder, in place of
    /// the real file the lock was taken for (a symlink to it stays a symlink).
    pub fn save(&self, lock: &StoreLock, tokens: &StoredTokens) -> Result<(), StoreError> {
        let target = &lock.target;
        let dir = dir_of(target);
        create_private_dir(dir).map_err(|e| StoreError::io("create the folder", dir, e))?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| self.file_name());
        let mut temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| StoreError::io("create a temporary file in", dir, e))?;
        restrict(temp.path(), 0o600).map_err(|e| StoreError::io("set permissions on", temp.path(), e))?;
        let write = |file: &mut File| -> io::Result<()> {
            serde_json::to_writer_pretty(&mut *file, tokens)?;
            file.write_all(b"\n")?;
            file.sync_all()
        };
        write(temp.as_file_mut()).map_err(|e| StoreError::io("write", temp.path(), e))?;
        temp.persist(target).map_err(|e| StoreError::io("replace", target, e.error))?;
        sync_dir(dir).map_err(|e| StoreError::io("sync", dir, e))
    }

    /// Delete the token file; `false` when there was none.
    pub fn remove(&self, _lock: &StoreLock) -> Result<bool, StoreError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io("remove", &self.path, e)),
        }
    }

    /// Move an unusable token file out of the way (to `tokens.json.corrupt-<time>`)
    /// so a new login can be written without losing it.
    pub fn set_aside(&self, _lock: &StoreLock) -> Result<PathBuf, StoreError> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
        let target = self.dir().join(format!("{}.corrupt-{stamp}", self.file_name()));
        fs::rename(&self.path, &target).map_err(|e| StoreError::io("move aside", &self.path, e))?;
        Ok(target)
    }

    /// Create the folder with mode 0700, or tighten an existing one to it.
    fn ensure_dir(&self) -> Result<(), StoreError> {
        let dir = self.dir();
        create_private_dir(dir).map_err(|e| StoreError::io("create the folder", dir, e))
    }
}

fn dir_of(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

fn lock_path_of(file: &Path) -> PathBuf {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "tokens.json".into());
    dir_of(file).join(format!("{name}.lock"))
}

/// Name the kind and place of a parse failure without quoting the content,
/// which may contain tokens.
fn describe(err: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = err.inner();
    let at = match err.path().to_string() {
        path if path == "." => String::new(),
        path => format!(" at `{path}`"),
    };
    let what = match inner.classify() {
        serde_json::error::Category::Eof => "the file ends early, as if cut off",
        serde_json::error::Category::Syntax => "it is not valid JSON",
        serde_json::error::Category::Data if inner.to_string().starts_with("missing field") => {
            return format!("a required field is missing: {}", missing_field(&inner.to_string()));
        }
        serde_json::error::Category::Data => "a value has the wrong type",
        serde_json::error::Category::Io => "it could not be read",
    };
    format!("{what}{at}, line {} column {}", inner.line(), inner.column())
}

/// The field name out of serde's "missing field `x` at line …" (no content is quoted there).
fn missing_field(message: &str) -> &str {
    message.split('`').nth(1).unwrap_or("?")
}

#[cfg(unix)]
fn inode(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &fs::Metadata) -> u64 {
    0
}

/// Open (creating if needed) a file that only the owner may read.
fn open_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mode = fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Make a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tokens::IssuedTokens;

    fn sample() -> StoredTokens {
        let issued = IssuedTokens {
            access_token: "access-secret".into(),
            refresh_token: Some("refresh-secret".into()),
            expires_in: Some(Duration::from_secs(3600)),
            ..IssuedTokens::default()
        };
        StoredTokens::from_login(issued, chrono::Utc::now()).unwrap()
    }

    fn store() -> (tempfile::TempDir, TokenStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path().join("home").join("tokens.json"));
        (dir, store)
    }

    #[actix_web::test]
    async fn saves_and_loads_with_private_permissions() {
        let (_dir, store) = store();
        assert_eq!(store.load().unwrap(), None);
        let lock = store.lock(LOCK_WAIT).await.unwrap();
        let saved = sample();
        store.save(&lock, &saved).unwrap();
        assert_eq!(store.load().unwrap(), Some(saved));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(store.path()), 0o600);
            assert_eq!(mode(store.dir()), 0o700);
            assert_eq!(mode(&store.lock_path()), 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(store.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 2, "only tokens.json and its lock remain: {leftovers:?}");
    }

    #[actix_web::test]
    async fn every_save_replaces_the_file_and_changes_the_stamp() {
        let (_dir, store) = store();
        let lock = store.lock(LOCK_WAIT).await.unwrap();
        store.save(&lock, &sample()).unwrap();
        let first = store.stamp().unwrap().unwrap();
        store.save(&lock, &sample()).unwrap();
        assert_ne!(store.stamp().unwrap().unwrap(), first);
        store.remove(&lock).unwrap();
        assert_eq!(store.stamp().unwrap(), None);
    }

    #[actix_web::test]
    async fn the_lock_excludes_a_second_holder_until_released() {
        let (_dir, store) = store();
        let held = store.lock(LOCK_WAIT).await.unwrap();
        let err = store.lock(Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(err, StoreError::LockTimeout { .. }), "{err}");
        drop(held);
        store.lock(Duration::from_millis(100)).await.unwrap();
    }

    #[test]
    fn damaged_files_are_reported_without_quoting_them() {
        let (_dir, store) = store();
        fs::create_dir_all(store.dir()).unwrap();
        let full = serde_json::to_string_pretty(&sample()).unwrap();
        let table: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            (full[..full.len() / 2].to_string(), "ends early"),
            ("{not json".into(), "not valid JSON"),
            (r#"{"version":1,"access_token":"access-secret"}"#.into(), "missing: refresh_token"),
            (
                r#"{"version":1,"access_token":"access-secret","refresh_token":7}"#.into(),
                "wrong type at `refresh_token`",
            ),
            (r#"{"version":0,"access_token":"access-secret","refresh_token":"refresh-secret"}"#.into(), "version 0"),
        ];
        for (content, expected) in table {
            fs::write(store.path(), &content).unwrap();
            let err = store.load().unwrap_err();
            let msg = err.to_string();
            assert!(err.is_corrupt(), "{msg}");
            assert!(msg.contains(expected), "{expected:?} not in {msg}");
            assert!(msg.contains("codexd login"), "{msg}");
            assert!(!msg.contains("secret"), "{msg}");
            assert_eq!(fs::read_to_string(store.path()).unwrap(), content, "never replaced");
        }
    }

    #[test]
    fn a_newer_format_is_not_mistaken_for_damage() {
        let (_dir, store) = store();
        fs::create_dir_all(store.dir()).unwrap();
        fs::write(store.path(), r#"{"version":2,"access_token":"a","refresh_token":"r"}"#).unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, StoreError::NewerFormat { found: 2, .. }), "{err}");
    }

    #[test]
    fn unknown_fields_are_tolerated() {
        let (_dir, store) = store();
        fs::create_dir_all(store.dir()).unwrap();
        fs::write(store.path(), r#"{"version":1,"access_token":"a","refresh_token":"r","future":{"x":1}}"#).unwrap();
        assert_eq!(store.load().unwrap().unwrap().refresh_token, "r");
    }

    #[cfg(unix)]
    #[actix_web::test]
    async fn a_symlinked_file_is_locked_and_written_where_it_really_is() {
        let dir = tempfile::tempdir().unwrap();
        let real = TokenStore::new(dir.path().join("a").join("tokens.json"));
        let linked = TokenStore::new(dir.path().join("b").join("tokens.json"));
        fs::create_dir_all(dir.path().join("b")).unwrap();
        // Dangling at first: the shared login is not written yet.
        std::os::unix::fs::symlink(dir.path().join("a").join("tokens.json"), linked.path()).unwrap();
        let lock = linked.lock(LOCK_WAIT).await.unwrap();
        let err = real.lock(Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(err, StoreError::LockTimeout { .. }), "one lock for both homes: {err}");
        linked.save(&lock, &sample()).unwrap();
        drop(lock);
        assert!(fs::symlink_metadata(linked.path()).unwrap().file_type().is_symlink(), "the link is kept");
        assert!(fs::symlink_metadata(real.path()).unwrap().file_type().is_file());
        assert!(real.load().unwrap().is_some());
        assert_eq!(linked.load().unwrap(), real.load().unwrap());
        assert_eq!(linked.lock_path(), real.lock_path());
    }

    #[actix_web::test]
    async fn remove_and_set_aside() {
        let (_dir, store) = store();
        let lock = store.lock(LOCK_WAIT).await.unwrap();
        assert!(!store.remove(&lock).unwrap());
        store.save(&lock, &sample()).unwrap();
        let aside = store.set_aside(&lock).unwrap();
        assert!(aside.file_name().unwrap().to_string_lossy().starts_with("tokens.json.corrupt-"));
        assert_eq!(store.load().unwrap(), None);
        store.save(&lock, &sample()).unwrap();
        assert!(store.remove(&lock).unwrap());
        assert_eq!(store.load().unwrap(), None);
    }
}
