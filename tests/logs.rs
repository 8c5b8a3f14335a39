//! `codexd logs` against real files: the last N lines (default 120, reaching
//! into the rotated file), and `-f` following a growing file across a
//! rotation; and a daemon that finds a symlink at its log path writes nothing
//! through it.

mod service_support;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use service_support::{eventually, stdout, Sandbox};

fn numbered(range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("line {i}\n")).collect()
}

#[test]
fn last_lines_default_and_n() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.dir.path().join("codexd.log.1"), numbered(0..100)).unwrap();
    std::fs::write(sandbox.log(), numbered(100..200)).unwrap();

    let default = stdout(&sandbox.run(&["logs"]));
    assert_eq!(default, numbered(80..200), "default is the last 120 lines, across the rotation");
    assert_eq!(stdout(&sandbox.run(&["logs", "-n", "3"])), numbered(197..200));
    assert_eq!(stdout(&sandbox.run(&["logs", "--lines", "0"])), "");
}

#[test]
fn a_missing_log_prints_nothing_and_succeeds() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["logs"]);
    assert!(output.status.success());
    assert_eq!(stdout(&output), "");
}

#[test]
fn follow_prints_new_lines_across_rotation() {
    let sandbox = Sandbox::new();
    let log = sandbox.log();
    std::fs::write(&log, numbered(0..5)).unwrap();

    let mut child = sandbox.command(&["logs", "-f", "-n", "2"]).stdout(Stdio::piped()).spawn().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let reader = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || lines.recv_timeout(Duration::from_secs(10)).expect("no line from `codexd logs -f`");

    assert_eq!((next(), next()), ("line 3".to_string(), "line 4".to_string()));
    let append = |text: &str| {
        std::fs::OpenOptions::new().append(true).create(true).open(&log).unwrap().write_all(text.as_bytes()).unwrap()
    };
    append("grown 1\n");
    assert_eq!(next(), "grown 1");
    append("last before rotation\n");
    std::fs::rename(&log, sandbox.dir.path().join("codexd.log.1")).unwrap();
    append("first after rotation\n");
    assert_eq!(next(), "last before rotation");
    assert_eq!(next(), "first after rotation");

    child.kill().unwrap();
    child.wait().unwrap();
}

/// Another local user plants `/tmp/chatgpt-codex-proxy.log -> ~victim/.bashrc`:
/// the daemon refuses the path, says why on stderr, serves anyway, and the
/// target is untouched.
#[cfg(unix)]
#[test]
fn a_symlink_at_the_log_path_is_not_written_through() {
    let sandbox = Sandbox::new();
    let target = sandbox.dir.path().join("bashrc");
    std::fs::write(&target, "# my shell\n").unwrap();
    std::os::unix::fs::symlink(&target, sandbox.log()).unwrap();

    let mut child = sandbox
        .command(&["serve", "--log-level", "debug"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let up = eventually(Duration::from_secs(20), || sandbox.answers());
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(up, "the daemon serves without its log file: {stderr}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "# my shell\n", "nothing written through the symlink");
    assert!(std::fs::symlink_metadata(sandbox.log()).unwrap().file_type().is_symlink());
    assert!(stderr.contains("symlink") && stderr.contains("logging to stderr only"), "{stderr}");
}
