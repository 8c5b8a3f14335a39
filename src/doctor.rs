//! `codexd doctor`: check the setup one piece at a time (config, login, port,
//! service, log file, models, upstream reachability) and print one line per check,
//! with the fix for each problem. Exit 1 when a check fails.
//!
//! Each check gathers its facts and returns a [`Check`]; [`render`] is pure.

use std::fmt;
use std::io::Write;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::auth::{StoreError, TokenStore};
use chrono::{DateTime, Utc};

use crate::config::{self, ConfigError, Overrides, Settings};
use crate::service::probe::{self, PortState};
use crate::service::{self, ServiceStatus};

/// How long the upstream check waits for DNS, TCP, TLS and an HTTP answer.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Works, but something is worth knowing or doing.
    Warn,
    Fail,
    Skip,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        })
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do about a warning or failure.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, verdict: Verdict::Ok, detail: detail.into(), fix: None }
    }
    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, verdict: Verdict::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, verdict: Verdict::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
    fn skip(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, verdict: Verdict::Skip, detail: detail.into(), fix: None }
    }
}

/// `codexd doctor`: load the settings, run every check, print the report,
/// exit 1 on any failure. Settings that do not load are a failed check, not
/// the end of the report.
pub fn run(overrides: &Overrides, offline: bool, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let checks = checks(&config::load(overrides), &fallback_settings(overrides), offline);
    write!(out, "{}", render(&checks))?;
    let failed = checks.iter().any(|c| c.verdict == Verdict::Fail);
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// What the other checks run on when the settings do not load: the
/// environment and flags without the config file, else the built-in defaults.
fn fallback_settings(overrides: &Overrides) -> Settings {
    config::load_without_file(overrides).unwrap_or_else(|_| Settings::defaults())
}

/// Every check, in report order. When `loaded` failed, the others run on `fallback`.
pub fn checks(loaded: &Result<Settings, ConfigError>, fallback: &Settings, offline: bool) -> Vec<Check> {
    let settings = loaded.as_ref().unwrap_or(fallback);
    let status = service::status(settings);
    // The running daemon's port, when it was started on another one.
    let daemon = service::daemon_settings(settings);
    vec![
        check_config(loaded),
        check_login(&settings.tokens_path(), Utc::now()),
        check_port(&daemon, probe::port_state(&daemon), status.pid),
        check_service(&status),
        check_log_file(&settings.log_file),
        check_models(settings, &crate::models::offline_catalogue(settings), Utc::now()),
        check_proxy(proxy_in_use(settings, |name| std::env::var(name).ok())),
        if offline {
            Check::skip("upstream", "skipped (--offline)")
        } else {
            check_upstream(&settings.codex_base_url, proxy_in_use(settings, |name| std::env::var(name).ok()))
        },
    ]
}

/// The report: one line per check, its fix indented below.
pub fn render(checks: &[Check]) -> String {
    let mut text = format!("codexd {} doctor\n", env!("CARGO_PKG_VERSION"));
    for check in checks {
        text.push_str(&format!("{:<5} {:<9} {}\n", check.verdict.to_string(), check.name, check.detail));
        if let Some(fix) = &check.fix {
            text.push_str(&format!("{:16}fix: {fix}\n", ""));
        }
    }
    let failures = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    text.push_str(&match failures {
        0 => "no problems found\n".to_string(),
        1 => "1 problem found\n".to_string(),
        n => format!("{n} problems found\n"),
    });
    text
}

fn check_config(loaded: &Result<Settings, ConfigError>) -> Check {
    match loaded {
        Ok(settings) => match &settings.config_file {
            Some(path) => Check::ok("config", format!("{} is valid", path.display())),
            None => Check::ok(
                "config",
                format!("no config file, built-in defaults (looked for {})", config::default_config_path().display()),
            ),
        },
        Err(err) => {
            let fix = match err {
                ConfigError::File { path, .. } => {
                    format!("correct {} (the other checks ran without it)", path.display())
                }
                ConfigError::Env { var, .. } => format!("correct or unset {var}"),
                ConfigError::Invalid { origin, key, .. } => format!("correct `{key}` in the {origin}"),
            };
            Check::fail("config", err.to_string(), fix)
        }
    }
}

/// The model catalogue the daemon uses, and any tier whose model is gone.
fn check_models(settings: &Settings, catalogue: &crate::codex::catalogue::Catalogue, now: DateTime<Utc>) -> Check {
    let replaced = crate::models::replaced_tiers(settings, catalogue, now);
    let source = catalogue.source.describe();
    if !replaced.is_empty() {
        return Check::warn(
            "models",
            format!("{}; catalogue: {source}", replaced.join("; ")),
            "set a current model in the [models] map (`codexd models` lists them)",
        );
    }
    if !catalogue.is_authoritative() {
        return Check::warn(
            "models",
            format!("using {source}"),
            "start the daemon (or run `codexd models`) while signed in and online to read it",
        );
    }
    Check::ok("models", format!("every tier's model is available ({source})"))
}

fn check_login(tokens: &Path, now: DateTime<Utc>) -> Check {
    let login = match TokenStore::new(tokens.to_path_buf()).load() {
        Ok(Some(login)) => login,
        Ok(None) => {
            return Check::fail("login", "not signed in", "run `codexd login` (or `codexd login --device` over SSH)")
        }
        Err(err @ StoreError::Io { .. }) => {
            return Check::fail("login", err.to_string(), "check the file's owner and mode (0600)")
        }
        Err(err) => return Check::fail("login", err.to_string(), "run `codexd login` to sign in again"),
    };
    if let Some(mode) = readable_by_others(tokens) {
        return Check::fail(
            "login",
            format!("{} is readable by other users (mode {mode:04o}): your ChatGPT login is exposed", tokens.display()),
            format!("run `chmod 600 {}` (codexd writes it 0600; a copy or a restore changed that)", tokens.display()),
        );
    }
    if let Some(mark) = login.needs_login {
        return Check::fail("login", format!("login expired: {}", mark.reason), "run `codexd login`");
    }
    if login.access_token.is_empty() {
        return Check::fail("login", format!("{} holds no access token", tokens.display()), "run `codexd login`");
    }
    let who = match (login.email, login.plan) {
        (Some(email), Some(plan)) => format!("signed in as {email} ({plan})"),
        (Some(email), None) => format!("signed in as {email}"),
        _ => "signed in".to_string(),
    };
    let can_refresh = !login.refresh_token.is_empty();
    match (login.expires_at, can_refresh) {
        (Some(at), true) if at <= now => {
            Check::ok("login", format!("{who}; token expired {at}, renewed on the next request"))
        }
        (Some(at), false) if at <= now => {
            Check::fail("login", format!("{who}; token expired {at} and cannot be renewed"), "run `codexd login`")
        }
        (_, false) => Check::warn(
            "login",
            format!("{who}; no refresh token, so the login ends when the token expires"),
            "run `codexd login` for a renewable login",
        ),
        (Some(at), true) => Check::ok("login", format!("{who}; token valid until {at}")),
        (None, true) => Check::ok("login", who),
    }
}

/// The mode of `path` (the real file behind a symlink) when group or others
/// may read or write it.
#[cfg(unix)]
fn readable_by_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> Option<u32> {
    None
}

/// The port codexd serves on; `running` is the pid of a daemon holding the
/// lock, which must then be the one answering there, not a free port.
fn check_port(settings: &Settings, state: PortState, running: Option<u32>) -> Check {
    let address = format!("{}:{}", settings.host, settings.port);
    let fix_port = "stop that program, or choose another port (`port` in the config file, or PORT)";
    match state {
        PortState::Free if running.is_some() => Check::fail(
            "port",
            format!("{address} is free, but codexd runs as pid {} and does not listen there", running.unwrap_or(0)),
            "see `codexd logs`, then `codexd restart`",
        ),
        PortState::Free => Check::ok("port", format!("{address} is free")),
        PortState::Codexd(health) => Check::ok(
            "port",
            format!("{address} answers as codexd {}", health.version.as_deref().unwrap_or("(unknown version)")),
        ),
        PortState::Other(Some(owner)) => Check::fail("port", format!("{address} is held by {owner}"), fix_port),
        PortState::Other(None) => Check::fail("port", format!("{address} is held by another program"), fix_port),
        PortState::Unusable(reason) => Check::fail(
            "port",
            format!("cannot listen on {address}: {reason}"),
            "check `host` and `port` in the config file",
        ),
    }
}

fn check_service(status: &ServiceStatus) -> Check {
    if let (true, Some(pid), Some(mode)) = (status.running, status.pid, status.mode) {
        return Check::ok("service", format!("running as pid {pid} ({mode})"));
    }
    if status.installed {
        return Check::fail(
            "service",
            "installed but not running",
            "run `codexd start`, and see `codexd logs` if it stops again",
        );
    }
    match &status.manager_unavailable {
        Some(why) => Check::warn(
            "service",
            format!("not running; no service manager here ({why})"),
            "run `codexd start --detach` to run it in the background",
        ),
        None if status.service_manager.is_some() => Check::warn(
            "service",
            "not installed and not running",
            "run `codexd install` to start it now and at every login",
        ),
        None => Check::warn("service", "not running", "run `codexd start --detach` to run it in the background"),
    }
}

fn check_log_file(path: &Path) -> Check {
    let fix =
        "set `log_file` in the config file (or CODEXD_LOG_FILE) to a writable path, or fix the folder's permissions";
    // As the daemon opens it: no symlink, no other user's file.
    match crate::logging::check_log_file(path) {
        Ok(_) => Check::ok("log", format!("{} is writable", path.display())),
        Err(err) => Check::fail("log", format!("cannot write {}: {err}", path.display()), fix),
    }
}

/// The proxy codexd's upstream and login calls go through, and where that
/// comes from: the `proxy` setting, else `HTTPS_PROXY`/`ALL_PROXY` (either
/// case) unless `NO_PROXY` names the backend's host — the rules reqwest
/// applies in the daemon.
pub fn proxy_in_use(settings: &Settings, var: impl Fn(&str) -> Option<String>) -> Option<(String, String)> {
    if let Some(proxy) = &settings.proxy {
        return Some((proxy.clone(), "the `proxy` setting".to_owned()));
    }
    let var = |name: &str| var(name).or_else(|| var(&name.to_ascii_lowercase())).filter(|v| !v.trim().is_empty());
    let (proxy, from) = ["HTTPS_PROXY", "ALL_PROXY"].into_iter().find_map(|name| var(name).map(|v| (v, name)))?;
    let host = settings.codex_base_url.split("://").nth(1)?.split(['/', ':']).next()?.to_ascii_lowercase();
    let bypassed = var("NO_PROXY").is_some_and(|list| {
        list.split(',')
            .map(|entry| entry.trim().trim_start_matches('.').to_ascii_lowercase())
            .any(|entry| entry == "*" || (!entry.is_empty() && (host == entry || host.ends_with(&format!(".{entry}")))))
    });
    (!bypassed).then(|| (proxy, from.to_owned()))
}

/// A proxy URL for a report: credentials in it are hidden.
fn shown_proxy(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) if at > scheme.len() + 3 => {
            format!("{scheme}://[credentials]@{}", &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn check_proxy(proxy: Option<(String, String)>) -> Check {
    match proxy {
        None => Check::ok("proxy", "none: codexd connects to the backend directly"),
        Some((url, from)) => {
            Check::ok("proxy", format!("{} (from {from}) for the upstream and the login", shown_proxy(&url)))
        }
    }
}

fn check_upstream(base_url: &str, proxy: Option<(String, String)>) -> Check {
    if let Some((url, from)) = proxy {
        return check_upstream_via(base_url, &url, &from);
    }
    let uri = match base_url.parse::<ureq::http::Uri>() {
        Ok(uri) => uri,
        Err(err) => {
            return Check::fail("upstream", format!("{base_url} is not a URL: {err}"), "correct `codex_base_url`")
        }
    };
    let Some(host) = uri.host() else {
        return Check::fail("upstream", format!("{base_url} names no host"), "correct `codex_base_url`");
    };
    let tls = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let offline_fix = "check the network and DNS, or run `codexd doctor --offline` when offline on purpose";
    if let Err(err) = (host, port).to_socket_addrs() {
        return Check::fail("upstream", format!("cannot resolve {host}: {err}"), offline_fix);
    }
    match probe::http_agent(UPSTREAM_TIMEOUT).get(base_url).call() {
        Ok(answer) => {
            let how = if tls { "over TLS" } else { "over plain HTTP" };
            Check::ok("upstream", format!("{host} answers {how} (HTTP {})", answer.status().as_u16()))
        }
        Err(err) => Check::fail(
            "upstream",
            format!("cannot reach {base_url}: {err}"),
            "codexd connects directly (no proxy); check firewalls and the clock (TLS), set `proxy` or HTTPS_PROXY if \
             the network needs one, or run `codexd doctor --offline`",
        ),
    }
}

/// The upstream check through the proxy the daemon would use.
fn check_upstream_via(base_url: &str, proxy_url: &str, from: &str) -> Check {
    let shown = shown_proxy(proxy_url);
    let proxy = match ureq::Proxy::new(proxy_url) {
        Ok(proxy) => proxy,
        Err(err) => {
            return Check::fail(
                "upstream",
                format!("the proxy {shown} is not usable: {err}"),
                format!("correct {from}"),
            )
        }
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(UPSTREAM_TIMEOUT))
        .proxy(Some(proxy))
        .http_status_as_error(false)
        .build()
        .into();
    match agent.get(base_url).call() {
        Ok(answer) => {
            Check::ok("upstream", format!("{base_url} answers through {shown} (HTTP {})", answer.status().as_u16()))
        }
        Err(err) => Check::fail(
            "upstream",
            format!("cannot reach {base_url} through {shown}: {err}"),
            format!("check the proxy ({from}), or run `codexd doctor --offline`"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{ManagerKind, RunMode};

    fn now() -> DateTime<Utc> {
        "2026-11-24T10:00:00Z".parse().unwrap()
    }

    fn login_check(contents: Option<&str>) -> Check {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        if let Some(text) = contents {
            std::fs::write(&path, text).unwrap();
            #[cfg(unix)]
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        }
        let mut check = check_login(&path, now());
        check.detail = check.detail.replace(&path.display().to_string(), "TOKENS");
        check
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_others_can_read_is_flagged() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let valid = r#"{"version":1,"access_token":"a","refresh_token":"r","expires_at":"2026-11-24T12:00:00Z"}"#;
        std::fs::write(&path, valid).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let check = check_login(&path, now());
        assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
        assert!(check.detail.contains("readable by other users (mode 0644)"), "{}", check.detail);
        assert!(check.fix.as_deref().unwrap().contains("chmod 600"), "{check:?}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(check_login(&path, now()).verdict, Verdict::Ok);
    }

    #[test]
    fn login_states() {
        let valid = r#"{"version":1,"access_token":"a","refresh_token":"r","email":"ann@example.com","plan":"plus","expires_at":"2026-11-24T12:00:00Z"}"#;
        let expired = r#"{"version":1,"access_token":"a","refresh_token":"r","expires_at":"2026-11-24T09:00:00Z"}"#;
        let stuck = r#"{"version":1,"access_token":"a","refresh_token":"","expires_at":"2026-11-24T09:00:00Z"}"#;
        let no_refresh = r#"{"version":1,"access_token":"a","expires_at":"2026-11-24T09:00:00Z"}"#;
        let marked = r#"{"version":1,"access_token":"a","refresh_token":"r","needs_login":{"reason":"the refresh token has expired","since":"2026-11-24T09:00:00Z"}}"#;
        let cases = [
            (None, Verdict::Fail, "not signed in"),
            (
                Some(valid),
                Verdict::Ok,
                "signed in as ann@example.com (plus); token valid until 2026-11-24 12:00:00 UTC",
            ),
            (
                Some(expired),
                Verdict::Ok,
                "signed in; token expired 2026-11-24 09:00:00 UTC, renewed on the next request",
            ),
            (Some(stuck), Verdict::Fail, "signed in; token expired 2026-11-24 09:00:00 UTC and cannot be renewed"),
            (Some(marked), Verdict::Fail, "login expired: the refresh token has expired"),
            (
                Some(no_refresh),
                Verdict::Fail,
                "the token file TOKENS is damaged (a required field is missing: refresh_token)",
            ),
            (Some(r#"{"access_token": "#), Verdict::Fail, "the token file TOKENS is damaged"),
            (
                Some(r#"{"version":1,"access_token":"","refresh_token":"r"}"#),
                Verdict::Fail,
                "TOKENS holds no access token",
            ),
        ];
        for (contents, verdict, detail) in cases {
            let check = login_check(contents);
            assert_eq!(check.verdict, verdict, "{contents:?}: {check:?}");
            assert!(check.detail.starts_with(detail), "{contents:?}: {}", check.detail);
            assert_eq!(check.fix.is_some(), verdict != Verdict::Ok, "{contents:?}");
        }
    }

    #[test]
    fn no_token_text_reaches_the_report() {
        let check = login_check(Some(
            r#"{"access_token":"SECRET-A","refresh_token":"SECRET-R","expires_at":"2027-01-01T00:00:00Z"}"#,
        ));
        assert!(!format!("{check:?}").contains("SECRET"));
    }

    fn status(running: bool, installed: bool, unavailable: Option<&str>) -> ServiceStatus {
        ServiceStatus {
            version: "0.1.0".into(),
            service_manager: Some(ManagerKind::Systemd),
            installed,
            definition: Some("/u/codexd.service".into()),
            manager_state: None,
            manager_unavailable: unavailable.map(str::to_string),
            mode: running.then_some(RunMode::Detached),
            running,
            pid: running.then_some(7),
            pid_file: "/h/codexd.pid".into(),
            listen_url: "http://127.0.0.1:19080".into(),
            answering: running,
            daemon_version: None,
            uptime_s: None,
            rate_limits: None,
            models: String::new(),
            log_file: "/tmp/x.log".into(),
        }
    }

    #[test]
    fn service_states() {
        let cases = [
            (status(true, false, None), Verdict::Ok, "running as pid 7 (detached)"),
            (status(false, true, None), Verdict::Fail, "installed but not running"),
            (status(false, false, None), Verdict::Warn, "not installed and not running"),
            (
                status(false, false, Some("systemd is not running")),
                Verdict::Warn,
                "not running; no service manager here",
            ),
        ];
        for (status, verdict, detail) in cases {
            let check = check_service(&status);
            assert_eq!((check.verdict, check.detail.starts_with(detail)), (verdict, true), "{check:?}");
        }
    }

    #[test]
    fn port_states() {
        let settings = Settings::defaults();
        let owner = probe::PortOwner { pid: 12, name: "python3".into() };
        let health = probe::Health {
            status: "ok".into(),
            version: Some("0.1.0".into()),
            uptime_s: None,
            rate_limits: None,
            catalogue: None,
        };
        let cases = [
            (PortState::Free, Verdict::Ok, "127.0.0.1:19080 is free"),
            (PortState::Codexd(health), Verdict::Ok, "127.0.0.1:19080 answers as codexd 0.1.0"),
            (PortState::Other(Some(owner)), Verdict::Fail, "127.0.0.1:19080 is held by python3 (pid 12)"),
            (PortState::Unusable("bad".into()), Verdict::Fail, "cannot listen on 127.0.0.1:19080: bad"),
        ];
        for (state, verdict, detail) in cases {
            let check = check_port(&settings, state, None);
            assert_eq!((check.verdict, check.detail.as_str()), (verdict, detail));
        }
        // Never "running" and "port free" at once.
        let check = check_port(&settings, PortState::Free, Some(4242));
        assert_eq!(check.verdict, Verdict::Fail);
        assert_eq!(check.detail, "127.0.0.1:19080 is free, but codexd runs as pid 4242 and does not listen there");
    }

    #[test]
    fn config_errors_name_the_fix() {
        let err = ConfigError::Env { var: "PORT", value: "x".into(), expected: "a port".into() };
        let check = check_config(&Err(err));
        assert_eq!(check.verdict, Verdict::Fail);
        assert_eq!(check.fix.as_deref(), Some("correct or unset PORT"));
    }

    #[test]
    fn an_unwritable_log_path_fails() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert_eq!(check_log_file(&file.join("x.log")).verdict, Verdict::Fail);
        #[cfg(unix)]
        {
            let link = dir.path().join("link.log");
            std::os::unix::fs::symlink(dir.path().join("target"), &link).unwrap();
            let check = check_log_file(&link);
            assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
            assert!(check.detail.contains("symlink"), "{}", check.detail);
            assert!(!dir.path().join("target").exists(), "nothing created through the link");
        }
        assert_eq!(check_log_file(&dir.path().join("x.log")).verdict, Verdict::Ok);
    }

    #[test]
    fn an_unreachable_upstream_fails_and_a_bad_url_says_so() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let check = check_upstream(&format!("http://127.0.0.1:{port}/backend-api"), None);
        assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
        assert_eq!(check_upstream("http://", None).verdict, Verdict::Fail);
        let via = check_upstream(
            &format!("http://127.0.0.1:{port}/backend-api"),
            Some((format!("http://127.0.0.1:{port}"), "HTTPS_PROXY".into())),
        );
        assert_eq!(via.verdict, Verdict::Fail, "{via:?}");
        assert!(via.detail.contains("through http://127.0.0.1"), "{via:?}");
    }

    #[test]
    fn the_proxy_in_use_follows_the_setting_then_the_environment_and_no_proxy() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        let mut settings = Settings::defaults();
        assert_eq!(proxy_in_use(&settings, env(&[])), None);
        let from_env = proxy_in_use(&settings, env(&[("https_proxy", "http://corp:3128")]));
        assert_eq!(from_env, Some(("http://corp:3128".into(), "HTTPS_PROXY".into())));
        assert_eq!(proxy_in_use(&settings, env(&[("ALL_PROXY", "socks5://s:1080")])).unwrap().1, "ALL_PROXY");
        for no_proxy in ["chatgpt.com", ".chatgpt.com", "*", "example.org, chatgpt.com"] {
            let pairs: &'static [(&str, &str)] =
                Box::leak(Box::new([("HTTPS_PROXY", "http://corp:3128"), ("NO_PROXY", no_proxy)]));
            assert_eq!(proxy_in_use(&settings, env(pairs)), None, "{no_proxy}");
        }
        settings.proxy = Some("http://user:secret@corp:8080".into());
        let (url, from) = proxy_in_use(&settings, env(&[("HTTPS_PROXY", "http://other:1")])).unwrap();
        assert_eq!(from, "the `proxy` setting");
        let check = check_proxy(Some((url, from)));
        assert_eq!(
            check.detail,
            "http://[credentials]@corp:8080 (from the `proxy` setting) for the upstream and the login"
        );
    }

    #[test]
    fn models_warn_about_a_gone_tier_model_and_a_catalogue_never_read() {
        use crate::codex::catalogue::Catalogue;
        let now = DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z").unwrap().with_timezone(&Utc);
        let defaults = Settings::defaults();
        let built_in = check_models(&defaults, &Catalogue::built_in(), now);
        assert_eq!(built_in.verdict, Verdict::Warn, "{built_in:?}");
        assert!(built_in.detail.contains("built-in list"), "{built_in:?}");
        let live =
            Catalogue { source: crate::codex::catalogue::Source::Live { fetched_at: now }, ..Catalogue::built_in() };
        assert_eq!(check_models(&defaults, &live, now).verdict, Verdict::Ok);
        let mut retired = Settings::defaults();
        retired.models.opus = "gpt-5.3-codex-xhigh".into();
        let check = check_models(&retired, &live, now);
        assert_eq!(check.verdict, Verdict::Warn);
        assert!(check.detail.starts_with("opus: gpt-5.3-codex → gpt-5.6-sol"), "{check:?}");
    }

    #[test]
    fn report_layout() {
        let checks = vec![
            Check::ok("config", "/home/ann/.config/codexd/config.toml is valid"),
            Check::fail("login", "not signed in", "run `codexd login`"),
            Check::warn("service", "not installed and not running", "run `codexd install`"),
            Check::skip("upstream", "skipped (--offline)"),
        ];
        insta::assert_snapshot!(render(&checks).replace(env!("CARGO_PKG_VERSION"), "VERSION"));
    }
}
