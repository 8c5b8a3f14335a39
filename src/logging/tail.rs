//! Reading the log back for `codexd logs`: the last N lines (reaching into
//! `path.1` when the live file was just rotated) and following the file like
//! `tail -F`, across rotations and truncations.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a followed file is checked for new lines and rotation.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// `codexd logs`: print the last `lines` lines of the log at `path`, oldest
/// first, and with `follow` keep printing what is appended (see [`follow`])
/// from exactly where the printed part ended. When the live file holds fewer
/// than `lines`, the rest comes from the newest rotated file (`path.1`). A
/// missing file counts as empty; bytes that are not UTF-8 are shown lossily.
pub fn show(path: &Path, lines: usize, follow: bool, out: &mut dyn Write) -> io::Result<()> {
    let mut current = Followed::open(path)?;
    let mut tail = match current.as_mut() {
        Some(file) => file.read_tail(lines)?,
        None => VecDeque::new(),
    };
    if tail.len() < lines {
        let mut older = tail_of_file(&rotated(path, 1), lines - tail.len())?;
        older.append(&mut tail);
        tail = older;
    }
    let printed = tail.iter().try_for_each(|line| writeln!(out, "{line}")).and_then(|()| out.flush());
    match printed {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        other => other?,
    }
    if follow {
        follow_from(path, current, out, &|| false)?;
    }
    Ok(())
}

/// `path.{n}`: the n-th newest rotated file.
pub fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

fn tail_of_file(path: &Path, n: usize) -> io::Result<VecDeque<String>> {
    match File::open(path) {
        Ok(file) => tail_of_reader(file, n).map(|(lines, _)| lines),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(VecDeque::new()),
        Err(err) => Err(err),
    }
}

/// The last `n` lines of `reader`, and how many bytes it held.
fn tail_of_reader(reader: impl Read, n: usize) -> io::Result<(VecDeque<String>, u64)> {
    let mut lines = VecDeque::with_capacity(n.min(4096));
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    let mut total = 0;
    loop {
        let read = reader.read_until(b'\n', &mut buf)?;
        if read == 0 {
            return Ok((lines, total));
        }
        total += read as u64;
        if n > 0 {
            if lines.len() == n {
                lines.pop_front();
            }
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            lines.push_back(String::from_utf8_lossy(line).into_owned());
        }
        buf.clear();
    }
}

/// Copy what is appended to `path` into `out` until `stop()` says so or
/// `out` is closed, starting at the current end of the file. When the file
/// is rotated (a new file appears at `path`) the rest of the old one is
/// copied, then the new one from its start; when it is truncated, reading
/// starts over. A file that does not exist yet is waited for.
pub fn follow(path: &Path, out: &mut dyn Write, stop: &dyn Fn() -> bool) -> io::Result<()> {
    follow_from(path, Followed::open_at_end(path)?, out, stop)
}

fn follow_from(
    path: &Path,
    mut current: Option<Followed>,
    out: &mut dyn Write,
    stop: &dyn Fn() -> bool,
) -> io::Result<()> {
    loop {
        if let Some(file) = current.as_mut() {
            if !file.copy_new(out)? {
                return Ok(());
            }
        }
        if stop() {
            return Ok(());
        }
        if let Some(replaced) = Followed::reopen_if_replaced(path, current.as_ref())? {
            if let Some(old) = current.as_mut() {
                if !old.copy_new(out)? {
                    return Ok(());
                }
            }
            current = Some(replaced);
            continue;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// An open log file and how far it has been copied.
struct Followed {
    file: File,
    identity: FileIdentity,
    position: u64,
}

impl Followed {
    fn open_at_end(path: &Path) -> io::Result<Option<Followed>> {
        let Some(mut followed) = Self::open(path)? else {
            return Ok(None);
        };
        followed.position = followed.file.seek(SeekFrom::End(0))?;
        Ok(Some(followed))
    }

    fn open(path: &Path) -> io::Result<Option<Followed>> {
        match File::open(path) {
            Ok(file) => {
                let identity = FileIdentity::of(&file.metadata()?);
                Ok(Some(Followed { file, identity, position: 0 }))
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Read the whole file, keeping its last `n` lines; following goes on from its end.
    fn read_tail(&mut self, n: usize) -> io::Result<VecDeque<String>> {
        self.file.seek(SeekFrom::Start(0))?;
        let (lines, read) = tail_of_reader(&mut self.file, n)?;
        self.position = read;
        Ok(lines)
    }

    /// A new file at `path` (rotation) or the followed one cut short
    /// (truncation): the file to read from now on, from its start.
    fn reopen_if_replaced(path: &Path, current: Option<&Followed>) -> io::Result<Option<Followed>> {
        let Some(fresh) = Self::open(path)? else {
            return Ok(None);
        };
        match current {
            None => Ok(Some(fresh)),
            Some(current) if current.identity != fresh.identity => Ok(Some(fresh)),
            Some(current) if fresh.file.metadata()?.len() < current.position => Ok(Some(fresh)),
            Some(_) => Ok(None),
        }
    }

    /// Copy everything appended since the last call. `false` when `out` is
    /// closed (e.g. `codexd logs -f | head`).
    fn copy_new(&mut self, out: &mut dyn Write) -> io::Result<bool> {
        self.file.seek(SeekFrom::Start(self.position))?;
        let mut chunk = Vec::new();
        let read = self.file.read_to_end(&mut chunk)?;
        if read == 0 {
            return Ok(true);
        }
        self.position += read as u64;
        match out.write_all(&chunk).and_then(|()| out.flush()) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(err) => Err(err),
        }
    }
}

/// What tells two files at the same path apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    #[cfg(unix)]
    device: u64,
    #[cfg(unix)]
    inode: u64,
    #[cfg(not(unix))]
    created: Option<std::time::SystemTime>,
}

impl FileIdentity {
    fn of(metadata: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileIdentity { device: metadata.dev(), inode: metadata.ino() }
        }
        #[cfg(not(unix))]
        {
            FileIdentity { created: metadata.created().ok() }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    fn write_lines(path: &Path, range: std::ops::Range<usize>) {
        let text: String = range.map(|i| format!("line {i}\n")).collect();
        std::fs::write(path, text).unwrap();
    }

    fn last_lines(path: &Path, n: usize) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        show(path, n, false, &mut out)?;
        Ok(String::from_utf8(out).unwrap().lines().map(str::to_string).collect())
    }

    #[test]
    fn last_lines_takes_the_end_and_reaches_into_the_rotated_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codexd.log");
        write_lines(&rotated(&path, 1), 0..10);
        write_lines(&path, 10..13);

        let cases = [
            (0, vec![]),
            (2, vec!["line 11", "line 12"]),
            (5, vec!["line 8", "line 9", "line 10", "line 11", "line 12"]),
        ];
        for (n, expected) in cases {
            assert_eq!(last_lines(&path, n).unwrap(), expected, "n = {n}");
        }
        assert_eq!(last_lines(&path, 100).unwrap().len(), 13);
        assert!(last_lines(&dir.path().join("none.log"), 10).unwrap().is_empty());
    }

    #[test]
    fn last_lines_keeps_a_final_line_without_newline_and_survives_bad_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codexd.log");
        std::fs::write(&path, b"one\ntw\xffo\nthree").unwrap();
        assert_eq!(last_lines(&path, 2).unwrap(), vec!["tw\u{fffd}o", "three"]);
    }

    /// A `Write` the test can read while `follow` runs on another thread.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn wait_for(&self, needle: &str) -> String {
            for _ in 0..100 {
                let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
                if text.contains(needle) {
                    return text;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            panic!("{needle:?} never arrived; got {:?}", String::from_utf8_lossy(&self.0.lock().unwrap()));
        }
    }

    /// [`follow`] on a thread, stopped by [`Follower::finish`].
    struct Follower {
        stop: Arc<AtomicBool>,
        thread: std::thread::JoinHandle<io::Result<()>>,
    }

    impl Follower {
        /// Start following `path` and give it time to reach the end of the file.
        fn start(path: &Path) -> (Shared, Follower) {
            let out = Shared::default();
            let stop = Arc::new(AtomicBool::new(false));
            let thread = {
                let (path, mut out, stop) = (path.to_path_buf(), out.clone(), stop.clone());
                std::thread::spawn(move || follow(&path, &mut out, &|| stop.load(Ordering::SeqCst)))
            };
            std::thread::sleep(POLL_INTERVAL * 2);
            (out, Follower { stop, thread })
        }

        fn finish(self) {
            self.stop.store(true, Ordering::SeqCst);
            self.thread.join().unwrap().unwrap();
        }
    }

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn follow_copies_new_lines_across_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codexd.log");
        append(&path, "old line\n");

        let (out, follower) = Follower::start(&path);

        append(&path, "first\n");
        out.wait_for("first\n");
        // Rotate: the tail of the old file is written just before the rename.
        append(&path, "last of old\n");
        std::fs::rename(&path, rotated(&path, 1)).unwrap();
        append(&path, "first of new\n");
        let text = out.wait_for("first of new\n");
        // Truncate in place (to less than was read: that is how it is noticed).
        std::fs::write(&path, "cut\n").unwrap();
        let text_after = out.wait_for("cut\n");

        follower.finish();
        assert!(!text.contains("old line"), "started before the end: {text:?}");
        assert_eq!(text, "first\nlast of old\nfirst of new\n");
        assert_eq!(text_after, "first\nlast of old\nfirst of new\ncut\n");
    }

    #[test]
    fn follow_waits_for_a_file_that_does_not_exist_yet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.log");
        let (out, follower) = Follower::start(&path);
        append(&path, "hello\n");
        assert_eq!(out.wait_for("hello\n"), "hello\n");
        follower.finish();
    }
}
