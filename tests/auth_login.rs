//! `codexd login` end to end through the real binary against the mock issuer:
//! the browser flow (followed by an HTTP client, as a browser would), the
//! device-code flow, and the import of a Codex CLI login.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::mock_oauth::{free_port, MockOAuth, Ran};
use serde_json::Value;

fn tokens_file(home: &Path) -> PathBuf {
    home.join("codexd").join("tokens.json")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A `codexd login --no-browser` in progress, with its stdout read line by line.
struct BrowserLogin {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: String,
    port: u16,
}

impl BrowserLogin {
    fn start(mock: &MockOAuth, home: &Path) -> BrowserLogin {
        let port = free_port();
        BrowserLogin::start_on(mock, home, port, None, port)
    }

    /// With the callback knobs set to `primary` and `fallback`; `port` is the
    /// one the sign-in is expected to come back to.
    fn start_on(mock: &MockOAuth, home: &Path, primary: u16, fallback: Option<u16>, port: u16) -> BrowserLogin {
        let mut command = mock.codexd(home);
        command.env("CODEXD_LOGIN_CALLBACK_PORT", primary.to_string());
        if let Some(fallback) = fallback {
            command.env("CODEXD_LOGIN_CALLBACK_FALLBACK_PORT", fallback.to_string());
        }
        let mut child =
            command.args(["login", "--no-browser"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        BrowserLogin { child, lines, stdout: String::new(), port }
    }

    /// The sign-in URL, once printed.
    fn url(&mut self, issuer: &str) -> String {
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(30)).expect("codexd login printed no sign-in URL");
            self.stdout += &line;
            self.stdout += "\n";
            if let Some(url) = line.trim().strip_prefix(issuer) {
                return format!("{issuer}{url}");
            }
        }
    }

    /// Wait for the process to end (killing it after 30 s) and collect its output.
    fn finish(mut self) -> Ran {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                self.child.kill().unwrap();
                panic!("codexd login did not finish; printed so far:\n{}", self.stdout);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stdout += &line;
            self.stdout += "\n";
        }
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut self.child.stderr.take().unwrap(), &mut stderr).unwrap();
        Ran { code: status.code(), stdout: self.stdout, stderr }
    }
}

/// What a browser does: GET the authorize URL, follow its redirect to the callback.
/// Returns the callback page's status and body.
fn follow_in_browser(authorize_url: &str) -> (u16, String) {
    actix_web::rt::System::new().block_on(async {
        let client = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(20)).finish();
        let redirect = client.get(authorize_url).send().await.unwrap();
        assert_eq!(redirect.status().as_u16(), 302, "the mock refused the authorize URL");
        let location = redirect.headers().get("location").unwrap().to_str().unwrap().to_string();
        get(&client, &location).await
    })
}

async fn get(client: &awc::Client, url: &str) -> (u16, String) {
    let mut page = client.get(url).send().await.unwrap();
    let body = page.body().await.unwrap();
    (page.status().as_u16(), String::from_utf8_lossy(&body).into_owned())
}

fn visit(url: &str) -> (u16, String) {
    actix_web::rt::System::new().block_on(async {
        let client = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(20)).finish();
        get(&client, url).await
    })
}

#[test]
fn browser_login_stores_the_tokens_and_says_who_signed_in() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    let mut login = BrowserLogin::start(&mock, home.path());
    let url = login.url(&mock.url);

    let query: std::collections::BTreeMap<String, String> =
        oauth2::url::Url::parse(&url).unwrap().query_pairs().into_owned().collect();
    assert_eq!(query["redirect_uri"], format!("http://localhost:{}/auth/callback", login.port));

    // A callback from some other attempt is refused, and the login keeps waiting.
    let stray = format!("http://127.0.0.1:{}/auth/callback?code=stolen&state=not-ours", login.port);
    let (status, page) = visit(&stray);
    assert_eq!(status, 400);
    assert!(page.contains("does not match"), "{page}");

    let (status, page) = follow_in_browser(&url);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Signed in to ChatGPT as alice@example.com"), "{page}");

    let ran = login.finish();
    assert!(ran.success(), "{ran:?}");
    assert!(ran.stdout.contains("Signed in to ChatGPT as alice@example.com (plan: plus)."), "{}", ran.stdout);
    assert!(!ran.stdout.contains("browser should open"), "--no-browser only prints: {}", ran.stdout);
    ran.assert_no_secrets(&mock, &[]);
    assert!(mock.problems().is_empty(), "{:?}", mock.problems());
    assert_eq!(mock.code_exchanges(), 1);

    let stored = read_json(&tokens_file(home.path()));
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["email"], "alice@example.com");
    assert_eq!(stored["plan"], "plus");
    assert_eq!(stored["account_id"], "acc-7f3a9c2e5b1d4f60");
    let secrets = mock.issued_secrets();
    for key in ["access_token", "refresh_token", "id_token"] {
        assert!(secrets.iter().any(|s| stored[key] == *s.as_str()), "{key} is one the mock issued");
    }
    #[cfg(unix)]
    {
        assert_eq!(mode(&tokens_file(home.path())), 0o600);
        assert_eq!(mode(&home.path().join("codexd")), 0o700);
    }
}

#[test]
fn a_refused_sign_in_is_explained_in_the_tab_and_the_terminal() {
    let mock = MockOAuth::start();
    mock.deny_authorize();
    let home = tempfile::tempdir().unwrap();
    let mut login = BrowserLogin::start(&mock, home.path());
    let url = login.url(&mock.url);
    let (status, page) = follow_in_browser(&url);
    assert_eq!(status, 400);
    assert!(page.contains("The user cancelled the sign-in (access_denied)"), "{page}");
    let ran = login.finish();
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("the sign-in was not completed: The user cancelled the sign-in"), "{}", ran.stderr);
    assert!(!tokens_file(home.path()).exists());
}

#[test]
fn a_busy_callback_port_falls_back_to_the_second_one_and_says_so() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let primary = taken.local_addr().unwrap().port();
    let fallback = free_port();
    let mut login = BrowserLogin::start_on(&mock, home.path(), primary, Some(fallback), fallback);
    let url = login.url(&mock.url);

    let query: std::collections::BTreeMap<String, String> =
        oauth2::url::Url::parse(&url).unwrap().query_pairs().into_owned().collect();
    assert_eq!(query["redirect_uri"], format!("http://localhost:{fallback}/auth/callback"));
    let (status, page) = follow_in_browser(&url);
    assert_eq!(status, 200, "{page}");

    let ran = login.finish();
    assert!(ran.success(), "{ran:?}");
    let says = format!("Port {primary} is in use (another sign-in may be waiting there), so the sign-in comes back to port {fallback} instead.");
    assert!(ran.stdout.contains(&says), "{}", ran.stdout);
    assert!(ran.stdout.contains(&format!("Waiting for the sign-in to come back on port {fallback}")), "{}", ran.stdout);
    assert!(ran.stdout.contains("Signed in to ChatGPT as alice@example.com"), "{}", ran.stdout);
    assert!(mock.problems().is_empty(), "{:?}", mock.problems());
    assert_eq!(read_json(&tokens_file(home.path()))["email"], "alice@example.com");
}

#[test]
fn when_both_callback_ports_are_busy_both_are_named() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let second = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (a, b) = (first.local_addr().unwrap().port(), second.local_addr().unwrap().port());
    let ran = common::mock_oauth::run(
        mock.codexd(home.path())
            .env("CODEXD_LOGIN_CALLBACK_PORT", a.to_string())
            .env("CODEXD_LOGIN_CALLBACK_FALLBACK_PORT", b.to_string())
            .args(["login", "--no-browser"]),
    );
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(ran.stderr.contains(&format!("ports {a} and {b} on 127.0.0.1 are both already in use")), "{}", ran.stderr);
    assert!(ran.stderr.contains("codexd login --device"), "{}", ran.stderr);
}

#[test]
fn a_busy_callback_port_is_reported_clearly() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let ran = common::mock_oauth::run(
        mock.codexd(home.path()).env("CODEXD_LOGIN_CALLBACK_PORT", port.to_string()).args(["login", "--no-browser"]),
    );
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(ran.stderr.contains(&format!("port {port} on 127.0.0.1 is already in use")), "{}", ran.stderr);
    assert!(ran.stderr.contains("codexd login --device"), "{}", ran.stderr);
}

#[test]
fn device_login_polls_until_approved() {
    let mock = MockOAuth::start();
    mock.set_device_pending_polls(2);
    let home = tempfile::tempdir().unwrap();
    // A damaged old file is moved aside, not silently overwritten.
    std::fs::create_dir_all(home.path().join("codexd")).unwrap();
    std::fs::write(tokens_file(home.path()), "{\"version\":1,").unwrap();

    let ran = mock.run(home.path(), &["login", "--device"]);
    assert!(ran.success(), "{ran:?}");
    assert!(ran.stdout.contains(&format!("{}/codex/device", mock.url)), "{}", ran.stdout);
    assert!(ran.stdout.contains("WXYZ-2468"), "{}", ran.stdout);
    assert!(ran.stdout.contains("Signed in to ChatGPT as alice@example.com (plan: plus)."), "{}", ran.stdout);
    assert!(ran.stdout.contains("could not be read; it was kept as"), "{}", ran.stdout);
    ran.assert_no_secrets(&mock, &[]);
    assert_eq!(mock.device_polls(), 3, "two pending answers, then the grant");
    assert!(mock.problems().is_empty(), "{:?}", mock.problems());

    let exchange = mock.token_requests().pop().unwrap();
    assert_eq!(exchange["grant_type"], "authorization_code");
    assert_eq!(exchange["redirect_uri"], format!("{}/deviceauth/callback", mock.url));
    assert_eq!(read_json(&tokens_file(home.path()))["email"], "alice@example.com");

    let aside: Vec<_> = std::fs::read_dir(home.path().join("codexd"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("tokens.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(std::fs::read_to_string(&aside[0]).unwrap(), "{\"version\":1,");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/auth").join(name)
}

#[test]
fn importing_a_codex_cli_login_copies_it_and_never_touches_the_original() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    let source = home.path().join("elsewhere-auth.json");
    std::fs::copy(fixture("codex-auth.json"), &source).unwrap();
    let before = std::fs::read(&source).unwrap();

    let ran = mock.run(home.path(), &["login", "--from-codex", source.to_str().unwrap()]);
    assert!(ran.success(), "{ran:?}");
    assert!(ran.stdout.contains("Signed in to ChatGPT as carol@example.com (plan: pro)."), "{}", ran.stdout);
    assert!(ran.stdout.contains("never writes that file"), "{}", ran.stdout);
    assert!(ran.stdout.contains("codex login"), "{}", ran.stdout);
    let original: Value = serde_json::from_slice(&before).unwrap();
    let secrets: Vec<&str> =
        ["id_token", "access_token", "refresh_token"].iter().map(|k| original["tokens"][k].as_str().unwrap()).collect();
    ran.assert_no_secrets(&mock, &secrets);

    let stored = read_json(&tokens_file(home.path()));
    assert_eq!(stored["refresh_token"], original["tokens"]["refresh_token"]);
    assert_eq!(stored["account_id"], "acc-fixture-00c0ffee");
    assert_eq!(stored["expires_at"], "2100-01-01T00:00:00Z");
    assert_eq!(stored["last_refresh"], "2026-11-20T10:00:00Z");
    assert_eq!(std::fs::read(&source).unwrap(), before);
    assert_eq!(mock.refresh_calls(), 0, "importing does not refresh");
}

#[test]
fn after_an_import_codexd_refreshes_its_own_copy_only() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    // The default location: $CODEX_HOME/auth.json.
    let codex_file = home.path().join("codex").join("auth.json");
    std::fs::create_dir_all(codex_file.parent().unwrap()).unwrap();
    let expiring = mock.mint(Duration::from_secs(60));
    std::fs::write(&codex_file, serde_json::to_vec_pretty(&expiring.codex_auth_json()).unwrap()).unwrap();
    let before = std::fs::read(&codex_file).unwrap();

    assert!(mock.run(home.path(), &["login", "--from-codex"]).success());
    let ran = mock.run(home.path(), &["status"]);
    assert!(ran.success(), "{ran:?}");
    ran.assert_no_secrets(&mock, &[]);

    assert_eq!(mock.refresh_calls(), 1, "status refreshed the token inside the 5-minute buffer");
    assert_ne!(read_json(&tokens_file(home.path()))["refresh_token"], expiring.refresh_token);
    assert_eq!(std::fs::read(&codex_file).unwrap(), before, "the Codex CLI's file is never written");
}

#[test]
fn an_api_key_file_is_not_a_chatgpt_login() {
    let mock = MockOAuth::start();
    let home = tempfile::tempdir().unwrap();
    let ran = mock.run(home.path(), &["login", "--from-codex", fixture("codex-auth-api-key.json").to_str().unwrap()]);
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("it holds an API key, not a ChatGPT login"), "{}", ran.stderr);
    ran.assert_no_secrets(&mock, &["sk-fixture-not-a-real-key"]);
    assert!(!tokens_file(home.path()).exists());
}
