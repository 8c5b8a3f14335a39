//! `codexd doctor` on a healthy and on a broken setup, through the real
//! binary: one line per check, a fix under each failure, exit 1 on failure.
//! The upstream check talks to a tiny HTTP server on loopback.

mod service_support;

use std::io::{Read, Write};
use std::net::TcpListener;

use service_support::{free_port, stdout, Sandbox};

/// Answers every connection with `404 Not Found`, like a backend root would.
fn fake_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    port
}

/// Write the sandbox's default config file.
fn write_config(sandbox: &Sandbox, text: &str) {
    let folder = sandbox.config_home().join("codexd");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("config.toml"), text).unwrap();
}

fn line<'a>(report: &'a str, check: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.get(6..).and_then(|rest| rest.split_whitespace().next()) == Some(check))
        .unwrap_or_else(|| panic!("no {check} line in:\n{report}"))
}

#[test]
fn healthy_setup_passes() {
    let sandbox = Sandbox::new();
    write_config(&sandbox, "log_level = \"info\"\n[models]\nsonnet = \"gpt-5.2-codex\"\n");
    std::fs::create_dir_all(sandbox.home()).unwrap();
    std::fs::write(
        sandbox.home().join("tokens.json"),
        r#"{"version":1,"access_token":"at-SECRET","refresh_token":"rt-SECRET","email":"ann@example.com","plan":"pro","expires_at":"2099-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    // As codexd writes it: 0600 (doctor fails a token file others can read).
    #[cfg(unix)]
    std::fs::set_permissions(sandbox.home().join("tokens.json"), std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .unwrap();
    let upstream = format!("http://127.0.0.1:{}/backend-api", fake_upstream());

    let output = sandbox.command(&["doctor"]).env("CODEX_BASE_URL", &upstream).output().unwrap();
    let report = stdout(&output);
    assert!(output.status.success(), "doctor failed:\n{report}");
    assert!(
        line(&report, "config").starts_with("ok    config    ")
            && line(&report, "config").ends_with("config.toml is valid"),
        "{report}"
    );
    assert_eq!(
        line(&report, "login"),
        "ok    login     signed in as ann@example.com (pro); token valid until 2099-01-01 00:00:00 UTC"
    );
    assert_eq!(line(&report, "port"), format!("ok    port      127.0.0.1:{} is free", sandbox.port));
    assert!(line(&report, "service").starts_with("warn  service   not "), "{report}");
    assert_eq!(line(&report, "log"), format!("ok    log       {} is writable", sandbox.log().display()));
    assert_eq!(line(&report, "upstream"), "ok    upstream  127.0.0.1 answers over plain HTTP (HTTP 404)");
    assert!(report.ends_with("no problems found\n"), "{report}");
    assert!(!report.contains("SECRET"));
}

#[test]
fn broken_setup_fails_with_a_fix_for_each_problem() {
    let sandbox = Sandbox::new();
    write_config(&sandbox, "prot = 1\n");
    let squatter = TcpListener::bind(("127.0.0.1", sandbox.port)).unwrap();
    let not_a_folder = sandbox.dir.path().join("file");
    std::fs::write(&not_a_folder, "").unwrap();
    let closed = format!("http://127.0.0.1:{}", free_port());

    let output = sandbox
        .command(&["doctor"])
        .env("CODEXD_LOG_FILE", not_a_folder.join("codexd.log"))
        .env("CODEX_BASE_URL", &closed)
        .output()
        .unwrap();
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    for check in ["config", "login", "port", "log", "upstream"] {
        assert!(line(&report, check).starts_with("FAIL "), "{check} did not fail:\n{report}");
        let after = report.lines().skip_while(|l| *l != line(&report, check)).nth(1).unwrap_or_default();
        assert!(after.trim_start().starts_with("fix: "), "no fix under {check}:\n{report}");
    }
    assert!(line(&report, "config").contains("prot"), "{report}");
    assert!(line(&report, "port").contains(&format!("127.0.0.1:{} is held by", sandbox.port)), "{report}");
    assert!(report.ends_with("5 problems found\n"), "{report}");
    drop(squatter);
}

#[test]
fn offline_skips_the_upstream_check() {
    let sandbox = Sandbox::new();
    let report = stdout(&sandbox.run(&["doctor", "--offline"]));
    assert_eq!(line(&report, "upstream"), "skip  upstream  skipped (--offline)");
}
