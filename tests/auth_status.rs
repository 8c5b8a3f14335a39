//! `codexd status` and `codexd logout` through the real binary: outputs,
//! exit codes, the refresh `status` performs inside the 5-minute buffer
//! (exactly one refresh when two processes do it at once), and how damaged or
//! half-written token files are reported.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::mock_oauth::{Minted, MockOAuth, RefreshBehavior};
use serde_json::Value;

const FRESH: Duration = Duration::from_secs(3600);
const EXPIRING: Duration = Duration::from_secs(90);

fn codexd_dir(home: &Path) -> PathBuf {
    home.join("codexd")
}

fn tokens_file(home: &Path) -> PathBuf {
    codexd_dir(home).join("tokens.json")
}

fn store(home: &Path, tokens: &Value) {
    std::fs::create_dir_all(codexd_dir(home)).unwrap();
    std::fs::write(tokens_file(home), serde_json::to_vec_pretty(tokens).unwrap()).unwrap();
}

fn login(mock: &MockOAuth, home: &Path, lifetime: Duration) -> Minted {
    let minted = mock.mint(lifetime);
    store(home, &minted.tokens_json());
    minted
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn status_when_not_signed_in_exits_non_zero() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    let ran = mock.run(home.path(), &["status"]);
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(ran.stdout.starts_with("Not signed in to ChatGPT. Run `codexd login`"), "{}", ran.stdout);
    assert!(ran.stdout.contains("(none)"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("\ncodexd ") && ran.stdout.contains(" service\n"),
        "the service part follows: {}",
        ran.stdout
    );
    assert!(ran.stdout.contains("/health does not answer"), "{}", ran.stdout);
    assert!(ran.stdout.contains("usage      unknown (the daemon is not answering)"), "{}", ran.stdout);

    let json = mock.run(home.path(), &["status", "--json"]);
    assert_eq!(json.code, Some(1));
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["signed_in"], false);
    assert_eq!(report["daemon"]["running"], false);
    assert_eq!(report["service"]["answering"], false);
}

#[test]
fn status_shows_who_is_signed_in_without_refreshing_a_fresh_token() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    login(&mock, home.path(), FRESH);
    let ran = mock.run(home.path(), &["status"]);
    assert!(ran.success(), "{ran:?}");
    let out = &ran.stdout;
    assert!(out.starts_with("Signed in to ChatGPT as alice@example.com (plan: plus).\n"), "{out}");
    assert!(out.contains("  account       acc-…4f60\n"), "{out}");
    assert!(out.contains("  access token  expires ") && out.contains(" UTC (in "), "{out}");
    assert!(out.contains(&format!("  token file    {}\n", tokens_file(home.path()).display())), "{out}");
    assert!(!out.contains("acc-7f3a9c2e5b1d4f60"), "the account id is masked: {out}");
    ran.assert_no_secrets(&mock, &[]);
    assert_eq!(mock.refresh_calls(), 0);
}

/// `status --json` with the values that change from run to run replaced.
fn normalized_json(stdout: &str, home: &Path, port: u16) -> Value {
    let mut report: Value = serde_json::from_str(stdout).unwrap();
    for key in ["expires_at", "last_refresh"] {
        if report[key].is_string() {
            report[key] = "[time]".into();
        }
    }
    let file = report["token_file"].as_str().unwrap().replace(&home.display().to_string(), "[home]");
    report["token_file"] = file.into();
    let url = report["daemon"]["url"].as_str().unwrap().replace(&port.to_string(), "[port]");
    report["daemon"]["url"] = url.into();
    // The service part depends on this machine's service manager; checked apart.
    let service = report.as_object_mut().unwrap().remove("service").expect("a service part");
    assert_eq!(service["answering"], report["daemon"]["running"]);
    report
}

#[test]
fn status_json_for_scripts_sees_a_running_daemon() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    login(&mock, home.path(), FRESH);
    // The mock answers GET /health like a daemon would.
    let ran =
        common::mock_oauth::run(mock.codexd(home.path()).env("PORT", mock.port.to_string()).args(["status", "--json"]));
    assert!(ran.success(), "{ran:?}");
    ran.assert_no_secrets(&mock, &[]);
    insta::assert_json_snapshot!("status_json_signed_in", normalized_json(&ran.stdout, home.path(), mock.port));
}

#[test]
fn status_refreshes_a_token_inside_the_buffer() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    let old = login(&mock, home.path(), EXPIRING);
    let ran = mock.run(home.path(), &["status"]);
    assert!(ran.success(), "{ran:?}");
    let new_expiry = read_json(&tokens_file(home.path()))["expires_at"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    let shown = new_expiry.format("expires %Y-%m-%d %H:%M UTC").to_string();
    assert!(ran.stdout.contains(&shown), "the new expiry ({shown}) is shown: {}", ran.stdout);
    ran.assert_no_secrets(&mock, &[]);
    assert_eq!(mock.refresh_calls(), 1);
    assert_ne!(read_json(&tokens_file(home.path()))["access_token"], old.access_token);
}

#[test]
fn two_processes_refreshing_at_once_make_exactly_one_refresh_call() {
    let mock = MockOAuth::start();
    mock.set_refresh_delay(Duration::from_millis(500));
    let home = tempfile::tempdir().unwrap();
    login(&mock, home.path(), EXPIRING);

    let spawn = || {
        mock.codexd(home.path())
            .args(["status", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());

    assert!(a.status.success() && b.status.success(), "{a:?} {b:?}");
    assert_eq!(mock.refresh_calls(), 1, "one refresh reached the token endpoint");
    let stored = read_json(&tokens_file(home.path()));
    for out in [&a, &b] {
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["expires_at"], stored["expires_at"], "both see the refreshed token");
        assert_eq!(report["problem"], Value::Null);
    }
}

#[test]
fn a_login_that_can_no_longer_be_refreshed_needs_a_new_login() {
    let mock = MockOAuth::start();
    mock.set_refresh_behavior(RefreshBehavior::ErrorCode("refresh_token_expired"));
    let home = tempfile::tempdir().unwrap();
    login(&mock, home.path(), EXPIRING);

    let ran = mock.run(home.path(), &["status"]);
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(
        ran.stdout.starts_with("The ChatGPT login of alice@example.com (plan: plus) must be renewed:"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("refresh_token_expired"), "{}", ran.stdout);
    assert!(ran.stdout.contains("Run `codexd login` to sign in again."), "{}", ran.stdout);
    assert!(read_json(&tokens_file(home.path()))["needs_login"].is_object(), "the mark is persisted");

    // The mark sticks: no further refresh attempts.
    assert_eq!(mock.run(home.path(), &["status"]).code, Some(1));
    assert_eq!(mock.refresh_calls(), 1);
}

#[test]
fn a_truncated_token_file_is_reported_as_damaged_and_left_alone() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    let full = serde_json::to_string_pretty(&mock.mint(FRESH).tokens_json()).unwrap();
    let half = &full[..full.len() / 2];
    std::fs::create_dir_all(codexd_dir(home.path())).unwrap();
    std::fs::write(tokens_file(home.path()), half).unwrap();

    let ran = mock.run(home.path(), &["status"]);
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(ran.stdout.contains("is damaged (the file ends early, as if cut off"), "{}", ran.stdout);
    assert!(ran.stdout.contains("codexd login"), "{}", ran.stdout);
    ran.assert_no_secrets(&mock, &[]);
    assert_eq!(std::fs::read_to_string(tokens_file(home.path())).unwrap(), half, "never replaced");
    assert_eq!(mock.refresh_calls(), 0);
}

#[test]
fn a_leftover_temp_file_from_an_interrupted_write_changes_nothing() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    let minted = login(&mock, home.path(), EXPIRING);
    // What a writer killed between creating and renaming its temp file leaves.
    let leftover = codexd_dir(home.path()).join(".tokens.json.Xy12ab.tmp");
    std::fs::write(&leftover, "{\"version\":1,\"access_tok").unwrap();

    let ran = mock.run(home.path(), &["status"]);
    assert!(ran.success(), "{ran:?}");
    assert!(ran.stdout.contains("alice@example.com"), "{}", ran.stdout);
    assert_eq!(mock.refresh_calls(), 1);
    let stored = read_json(&tokens_file(home.path()));
    assert_ne!(stored["access_token"], minted.access_token, "the real file was refreshed and replaced atomically");
    assert_eq!(
        std::fs::read_to_string(&leftover).unwrap(),
        "{\"version\":1,\"access_tok",
        "the stray temp file is not used"
    );

    let mut names: Vec<String> = std::fs::read_dir(codexd_dir(home.path()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [".tokens.json.Xy12ab.tmp", "tokens.json", "tokens.json.lock"],
        "the refresh left no temp file of its own"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(tokens_file(home.path())).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn logout_removes_the_tokens_and_says_so() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    login(&mock, home.path(), FRESH);

    let ran = mock.run(home.path(), &["logout"]);
    assert!(ran.success(), "{ran:?}");
    assert!(
        ran.stdout.starts_with(&format!(
            "Signed out: removed the ChatGPT tokens from {}.",
            tokens_file(home.path()).display()
        )),
        "{}",
        ran.stdout
    );
    assert!(!tokens_file(home.path()).exists());
    assert_eq!(mock.run(home.path(), &["status"]).code, Some(1));

    ran.assert_no_secrets(&mock, &[]);

    let again = mock.run(home.path(), &["logout"]);
    assert!(again.success());
    assert!(again.stdout.starts_with("Not signed in: there were no stored tokens"), "{}", again.stdout);
}

#[test]
fn logout_on_a_fresh_machine_creates_nothing() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    let ran = mock.run(home.path(), &["logout"]);
    assert!(ran.success(), "{ran:?}");
    assert!(ran.stdout.starts_with("Not signed in"), "{}", ran.stdout);
    assert!(!codexd_dir(home.path()).exists());
}

#[test]
fn logout_also_clears_a_damaged_file() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(codexd_dir(home.path())).unwrap();
    std::fs::write(tokens_file(home.path()), "garbage").unwrap();
    assert!(mock.run(home.path(), &["logout"]).success());
    assert!(!tokens_file(home.path()).exists());
}
