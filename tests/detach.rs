//! `codexd start --detach` for real: the binary forks, the daemon answers
//! `/health`, a second start is refused naming the first, `stop` ends it and
//! frees the port and the pid file; `status` and `doctor` find a daemon that
//! was started on another port.

mod service_support;

use std::time::Duration;

use codexd::service::{self, RunMode};
use service_support::{eventually, stderr, stdout, Sandbox};

#[test]
fn detach_start_refuse_status_stop() {
    let sandbox = Sandbox::new();

    let started = sandbox.run(&["start", "--detach"]);
    assert!(started.status.success(), "start failed: {}{}", stdout(&started), stderr(&started));
    let out = stdout(&started);
    assert!(out.contains("codexd started in the background (pid "), "{out}");
    assert!(sandbox.answers(), "/health does not answer after start returned");

    let pid_file = std::fs::read_to_string(sandbox.home().join("codexd.pid")).unwrap();
    let pid: u32 = pid_file.lines().next().unwrap().parse().unwrap();
    assert_eq!(pid_file, format!("{pid}\ndetached\n{}\n", sandbox.port), "pid, mode and port");
    assert!(out.contains(&format!("(pid {pid})")), "{out}");

    let second = sandbox.run(&["start", "--detach"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(stderr(&second).contains(&format!("already running as pid {pid} (detached)")), "{}", stderr(&second));

    let foreground = sandbox.run(&["serve"]);
    assert_eq!(foreground.status.code(), Some(1));
    assert!(stderr(&foreground).contains(&format!("already running as pid {pid}")), "{}", stderr(&foreground));

    let status = service::status_with(&sandbox.settings(), None, Duration::from_secs(2));
    assert_eq!(
        (status.running, status.pid, status.mode, status.answering),
        (true, Some(pid), Some(RunMode::Detached), true)
    );

    let stopped = sandbox.run(&["stop"]);
    assert!(stopped.status.success(), "stop failed: {}", stderr(&stopped));
    assert_eq!(stdout(&stopped), format!("stopped codexd (pid {pid}, detached)\n"));
    assert!(sandbox.port_is_free(), "port still held after stop");
    assert!(!sandbox.home().join("codexd.pid").exists(), "pid file left behind");
    // The lock goes just before the process ends.
    assert!(eventually(Duration::from_secs(5), || !process_exists(pid)), "pid {pid} still exists");

    let again = sandbox.run(&["stop"]);
    assert_eq!((again.status.success(), stdout(&again).as_str()), (true, "codexd is not running\n"));

    let log = std::fs::read_to_string(sandbox.log()).unwrap();
    assert!(log.contains("codexd starting") && log.contains("mode=\"detached\""), "{log}");
}

#[test]
fn restart_of_a_detached_daemon_comes_back_detached_with_a_new_pid() {
    let sandbox = Sandbox::new();
    assert!(sandbox.run(&["start", "--detach"]).status.success());
    let first = sandbox.settings();
    let before = service::status_with(&first, None, Duration::from_secs(2)).pid.unwrap();

    let restarted = sandbox.run(&["ctl", "restart"]);
    assert!(restarted.status.success(), "{}", stderr(&restarted));
    let after = service::status_with(&first, None, Duration::from_secs(2));
    assert_eq!((after.running, after.mode, after.answering), (true, Some(RunMode::Detached), true));
    assert_ne!(after.pid, Some(before));
    assert!(sandbox.run(&["stop"]).status.success());
}

#[test]
fn a_port_held_by_another_program_is_named() {
    let sandbox = Sandbox::new();
    let listener = std::net::TcpListener::bind(("127.0.0.1", sandbox.port)).unwrap();
    let refused = sandbox.run(&["start", "--detach"]);
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(err.contains(&format!("port 127.0.0.1:{} is in use by", sandbox.port)), "{err}");
    drop(listener);
    assert!(!sandbox.home().join("codexd.pid").exists());
}

#[test]
fn an_unwritable_log_file_is_reported_on_the_daemon_stderr_and_it_still_serves() {
    let sandbox = Sandbox::new();
    let mut command = sandbox.command(&["start", "--detach"]);
    command.env("CODEXD_LOG_FILE", sandbox.dir.path()); // a folder: the log cannot be opened, the daemon still runs
    let started = command.output().unwrap();
    assert!(started.status.success(), "{}", stderr(&started));
    assert!(eventually(Duration::from_secs(5), || sandbox.answers()));
    assert!(sandbox.run(&["stop"]).status.success());
    let daemon_stderr = std::fs::read_to_string(sandbox.home().join("codexd.stderr")).unwrap();
    assert!(daemon_stderr.contains("cannot write the log file"), "{daemon_stderr}");
}

/// A daemon started with another `PORT` than the one `status` and `doctor`
/// are configured with is still found where it runs, and never reported as
/// running beside a free port.
#[test]
fn status_and_doctor_find_a_daemon_started_on_another_port() {
    let sandbox = Sandbox::new();
    let other = service_support::free_port();
    let started = sandbox.command(&["start", "--detach"]).env("PORT", other.to_string()).output().unwrap();
    assert!(started.status.success(), "{}", stderr(&started));

    let status = service::status_with(&sandbox.settings(), None, Duration::from_secs(2));
    assert!(status.running && status.answering, "{status:?}");
    assert_eq!(status.listen_url, format!("http://127.0.0.1:{other}"));
    let shown = stdout(&sandbox.run(&["status"]));
    assert!(shown.contains(&format!("http://127.0.0.1:{other} - /health answers")), "{shown}");

    let report = stdout(&sandbox.run(&["doctor", "--offline"]));
    let port_line = report.lines().find(|l| l.contains(" port ")).unwrap_or_default();
    assert!(port_line.contains(&format!("127.0.0.1:{other} answers as codexd")), "{report}");
    assert!(!report.contains(&format!("127.0.0.1:{} is free", sandbox.port)), "{report}");

    assert!(sandbox.run(&["stop"]).status.success());
}

fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

#[test]
fn serve_names_the_program_holding_the_port_not_itself() {
    let sandbox = Sandbox::new();
    let _listener = std::net::TcpListener::bind(("127.0.0.1", sandbox.port)).unwrap();
    let refused = sandbox.run(&["serve"]);
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(err.contains(&format!("port 127.0.0.1:{} is in use by", sandbox.port)), "{err}");
    assert!(!err.contains("already running"), "{err}");
    assert!(!sandbox.home().join("codexd.pid").exists(), "the refused daemon left its pid file");
}
