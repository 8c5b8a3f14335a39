//! `codexd login`, `codexd logout` and `codexd status`: flags, the flows
//! they start, and everything they print. No command ever prints a token.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::browser;
use super::codex_import;
use super::device;
use super::error::AuthError;
use super::login::{save_login, LoginContext, SavedLogin};
use super::manager::Auth;
use super::store::{TokenStore, LOCK_WAIT};
use super::tokens::StoredTokens;
use crate::config::Settings;

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Only print the sign-in URL; do not try to open a browser.
    #[arg(long)]
    pub no_browser: bool,

    /// Sign in with a one-time code typed on another device (for SSH sessions
    /// and machines without a browser).
    #[arg(long, conflicts_with = "no_browser")]
    pub device: bool,

    /// Import the Codex CLI's login once, from PATH or ~/.codex/auth.json
    /// ($CODEX_HOME/auth.json). codexd then refreshes its own copy and never
    /// writes the Codex CLI's file.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["no_browser", "device"])]
    #[allow(clippy::option_option)]
    pub from_codex: Option<Option<PathBuf>>,
}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print the status as JSON, for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `codexd login`: sign in one of three ways and store the tokens.
pub async fn login(settings: &Settings, args: LoginArgs) -> anyhow::Result<ExitCode> {
    let ctx = LoginContext::new(settings)?;
    let (saved, notice) = match args.from_codex {
        Some(path) => {
            let path = path.unwrap_or_else(codex_import::default_path);
            let saved = save_login(&ctx.store, codex_import::read(&path)?).await?;
            (saved, Some(import_notice(&path)))
        }
        None if args.device => (login_with_device_code(&ctx).await?, None),
        None => (login_in_browser(&ctx, !args.no_browser).await?, None),
    };
    print_signed_in(&saved, ctx.store.path());
    if let Some(notice) = notice {
        println!("{notice}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn login_in_browser(ctx: &LoginContext, open_browser: bool) -> anyhow::Result<SavedLogin> {
    let ports = browser::callback_ports()?;
    let saved = browser::sign_in(ctx, ports, browser::LOGIN_TIMEOUT, |waiting| {
        let url = waiting.url;
        println!("Sign in to ChatGPT with this link:\n\n    {url}\n");
        if let Some(busy) = waiting.busy {
            println!(
                "Port {busy} is in use (another sign-in may be waiting there), so the sign-in comes back to port {} instead.",
                waiting.port
            );
        }
        if open_browser {
            match try_open_browser(url) {
                Ok(()) => println!("Your browser should open it now. If it did not, open the link yourself."),
                Err(why) => println!(
                    "Could not open a browser ({why}): open the link yourself, or use `codexd login --device`."
                ),
            }
        }
        println!(
            "Waiting for the sign-in to come back on port {} (up to {} minutes)…",
            waiting.port,
            browser::LOGIN_TIMEOUT.as_secs() / 60
        );
    })
    .await?;
    Ok(saved)
}

/// Open `url` in the default browser, unless there is clearly no display.
fn try_open_browser(url: &str) -> Result<(), String> {
    let has_display = cfg!(any(target_os = "macos", windows))
        || ["DISPLAY", "WAYLAND_DISPLAY", "BROWSER", "WSL_DISTRO_NAME"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    if !has_display {
        return Err("no graphical display".into());
    }
    webbrowser::open(url).map_err(|e| e.to_string())
}

async fn login_with_device_code(ctx: &LoginContext) -> anyhow::Result<SavedLogin> {
    let code = device::request_code(ctx).await?;
    println!(
        "To sign in, open this page in a browser on any device:\n\n    {}\n\nand enter this one-time code (valid for {} minutes):\n\n    {}\n\n\
         Never share this code with anyone. Waiting for you to finish…",
        code.verification_url,
        device::CODE_LIFETIME.as_secs() / 60,
        code.user_code
    );
    Ok(device::complete(ctx, &code).await?)
}

fn print_signed_in(saved: &SavedLogin, path: &std::path::Path) {
    println!("Signed in to ChatGPT as {}.", describe_identity(&saved.tokens));
    if let Some(aside) = &saved.set_aside {
        println!("The previous token file could not be read; it was kept as {}.", aside.display());
    }
    println!("Tokens saved to {}; codexd refreshes them by itself.", path.display());
}

fn import_notice(codex_file: &std::path::Path) -> String {
    format!(
        "Imported once from {}: codexd keeps and refreshes its own copy and never writes that file.\n\
         Both programs now hold the same refresh token, and every refresh replaces it, so the one that\n\
         refreshes second will be signed out (for the Codex CLI: run `codex login` again). For two\n\
         independent sessions, sign codexd in with `codexd login` instead.",
        codex_file.display()
    )
}

fn describe_identity(tokens: &StoredTokens) -> String {
    let email = tokens.email.as_deref().unwrap_or("an unknown account");
    match &tokens.plan {
        Some(plan) => format!("{email} (plan: {plan})"),
        None => email.to_string(),
    }
}

/// `codexd logout`: remove the stored tokens.
pub async fn logout(settings: &Settings, _args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let store = TokenStore::new(settings.tokens_path());
    // Nothing to lock (or create) where codexd never stored anything.
    let removed = if store.path().parent().is_some_and(|dir| dir.exists()) {
        store.remove(&store.lock(LOCK_WAIT).await?)?
    } else {
        false
    };
    if removed {
        println!("Signed out: removed the ChatGPT tokens from {}.", store.path().display());
        println!("A running codexd answers requests with an authentication error until you run `codexd login` again.");
    } else {
        println!("Not signed in: there were no stored tokens at {}.", store.path().display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `codexd status`: who is signed in, token times, whether the daemon answers.
/// Refreshes the token first when it is within five minutes of expiring.
/// Exits non-zero when not signed in.
pub async fn status(settings: &Settings, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let auth = Auth::new(settings);
    let check = auth.credentials_refreshed_if_due().await;
    let stored = auth.stored();
    // The service part probes /health with a blocking client: off the event loop.
    let service_settings = settings.clone();
    let service = actix_web::rt::task::spawn_blocking(move || crate::service::status(&service_settings)).await?;
    let daemon = DaemonStatus {
        url: service.listen_url.clone(),
        running: service.answering,
        version: service.daemon_version.clone(),
    };
    let report = StatusReport::new(stored, check.err(), settings.tokens_path(), daemon);
    if args.json {
        let mut json = serde_json::to_value(&report)?;
        json["service"] = serde_json::to_value(&service)?;
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}\n{}", report.render(Utc::now()), service.render());
    }
    Ok(if report.signed_in { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// What `status` reports; also its `--json` shape.
#[derive(Debug, Serialize)]
struct StatusReport {
    signed_in: bool,
    /// Why the login must be renewed with `codexd login`, when it must.
    needs_login: Option<String>,
    email: Option<String>,
    plan: Option<String>,
    /// Masked: only the ends are shown.
    account_id: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    last_refresh: Option<DateTime<Utc>>,
    token_file: PathBuf,
    /// A problem worth knowing (damaged file, failed refresh).
    problem: Option<String>,
    daemon: DaemonStatus,
}

#[derive(Debug, Serialize)]
struct DaemonStatus {
    url: String,
    running: bool,
    version: Option<String>,
}

impl StatusReport {
    fn new(
        stored: Result<Option<StoredTokens>, AuthError>,
        check: Option<AuthError>,
        token_file: PathBuf,
        daemon: DaemonStatus,
    ) -> Self {
        let (tokens, problem) = match stored {
            Ok(tokens) => (tokens, check.filter(|e| !e.needs_login()).map(|e| e.to_string())),
            Err(e) => (None, Some(e.to_string())),
        };
        let needs_login = tokens.as_ref().and_then(|t| t.needs_login.as_ref()).map(|m| m.reason.clone());
        StatusReport {
            signed_in: tokens.is_some() && needs_login.is_none(),
            needs_login,
            email: tokens.as_ref().and_then(|t| t.email.clone()),
            plan: tokens.as_ref().and_then(|t| t.plan.clone()),
            account_id: tokens.as_ref().and_then(|t| t.account_id.as_deref()).map(mask),
            expires_at: tokens.as_ref().and_then(|t| t.expires_at),
            last_refresh: tokens.as_ref().and_then(|t| t.last_refresh),
            token_file,
            problem,
            daemon,
        }
    }

    /// The human-readable report.
    fn render(&self, now: DateTime<Utc>) -> String {
        let mut out = String::new();
        let who = match (&self.email, &self.plan) {
            (Some(e), Some(p)) => format!("{e} (plan: {p})"),
            (Some(e), None) => e.clone(),
            (None, _) => "an unknown account".into(),
        };
        match (&self.needs_login, self.signed_in) {
            (Some(reason), _) => {
                out += &format!(
                    "The ChatGPT login of {who} must be renewed: {reason}.\nRun `codexd login` to sign in again.\n"
                )
            }
            (None, true) => out += &format!("Signed in to ChatGPT as {who}.\n"),
            (None, false) => {
                out += "Not signed in to ChatGPT. Run `codexd login` (or `codexd login --device` without a browser).\n"
            }
        }
        if let Some(problem) = &self.problem {
            out += &format!("Problem: {problem}\n");
        }
        let mut row = |label: &str, value: String| out += &format!("  {label:<14}{value}\n");
        if let Some(account) = &self.account_id {
            row("account", account.clone());
        }
        if let Some(at) = self.expires_at {
            let verb = if at > now { "expires" } else { "expired" };
            row("access token", format!("{verb} {}", when(at, now)));
        }
        if let Some(at) = self.last_refresh {
            row("last refresh", when(at, now));
        }
        let file_note =
            if self.signed_in || self.needs_login.is_some() || self.problem.is_some() { "" } else { " (none)" };
        row("token file", format!("{}{file_note}", self.token_file.display()));
        out
    }
}

/// `acc-7f3a9c2e5b1d4f60` → `acc-…4f60`: enough to tell accounts apart.
fn mask(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    match chars.len() {
        n if n > 12 => {
            format!("{}…{}", chars[..4].iter().collect::<String>(), chars[n - 4..].iter().collect::<String>())
        }
        n if n > 4 => format!("…{}", chars[n - 4..].iter().collect::<String>()),
        n => "*".repeat(n),
    }
}

/// `2026-11-24 10:00 UTC (in 3 h)`.
fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ({})", at.format("%Y-%m-%d %H:%M UTC"), relative(at - now))
}

fn relative(delta: chrono::TimeDelta) -> String {
    let secs = delta.num_seconds();
    let span = secs.unsigned_abs();
    let amount = match span {
        0..=59 => return "just now".into(),
        60..=3599 => format!("{} min", span / 60),
        3600..=172_799 => format!("{} h", (span + 1800) / 3600),
        _ => format!("{} days", (span + 43_200) / 86_400),
    };
    if secs > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::store::StoreError;
    use crate::auth::tokens::NeedsLogin;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn tokens() -> StoredTokens {
        StoredTokens {
            version: 1,
            access_token: "access-secret".into(),
            refresh_token: "refresh-secret".into(),
            id_token: Some("id-secret".into()),
            account_id: Some("acc-7f3a9c2e5b1d4f60".into()),
            email: Some("alice@example.com".into()),
            plan: Some("plus".into()),
            expires_at: Some(at("2026-11-24T14:00:00Z")),
            last_refresh: Some(at("2026-11-24T10:00:00Z")),
            needs_login: None,
        }
    }

    fn daemon(running: bool) -> DaemonStatus {
        DaemonStatus { url: "http://127.0.0.1:19080".into(), running, version: running.then(|| "0.1.0".into()) }
    }

    fn report(
        stored: Result<Option<StoredTokens>, AuthError>,
        check: Option<AuthError>,
        running: bool,
    ) -> StatusReport {
        StatusReport::new(stored, check, PathBuf::from("/home/u/.chatgpt-codex-proxy/tokens.json"), daemon(running))
    }

    const NOW: &str = "2026-11-24T11:00:00Z";

    #[test]
    fn signed_in() {
        let r = report(Ok(Some(tokens())), None, true);
        assert!(r.signed_in);
        assert_eq!(
            r.render(at(NOW)),
            "Signed in to ChatGPT as alice@example.com (plan: plus).\n\
             \x20 account       acc-…4f60\n\
             \x20 access token  expires 2026-11-24 14:00 UTC (in 3 h)\n\
             \x20 last refresh  2026-11-24 10:00 UTC (1 h ago)\n\
             \x20 token file    /home/u/.chatgpt-codex-proxy/tokens.json\n"
        );
    }

    #[test]
    fn not_signed_in() {
        let r = report(Ok(None), Some(AuthError::NotLoggedIn), false);
        assert!(!r.signed_in);
        assert_eq!(r.problem, None);
        assert_eq!(
            r.render(at(NOW)),
            "Not signed in to ChatGPT. Run `codexd login` (or `codexd login --device` without a browser).\n\
             \x20 token file    /home/u/.chatgpt-codex-proxy/tokens.json (none)\n"
        );
    }

    #[test]
    fn needs_login() {
        let mut t = tokens();
        t.needs_login = Some(NeedsLogin { reason: "Invalid refresh token (invalid_grant)".into(), since: at(NOW) });
        let r = report(Ok(Some(t)), Some(AuthError::NeedsLogin { reason: "x".into() }), false);
        assert!(!r.signed_in);
        let text = r.render(at(NOW));
        assert!(text.starts_with(
            "The ChatGPT login of alice@example.com (plan: plus) must be renewed: Invalid refresh token (invalid_grant).\n\
             Run `codexd login` to sign in again.\n"
        ), "{text}");
    }

    #[test]
    fn damaged_file() {
        let err = AuthError::Store(StoreError::Corrupt {
            path: "/t/tokens.json".into(),
            detail: "it is not valid JSON".into(),
        });
        let r = report(Err(err), None, false);
        assert!(!r.signed_in);
        let text = r.render(at(NOW));
        assert!(text.contains("Problem: the token file /t/tokens.json is damaged"), "{text}");
        assert!(!text.contains("(none)"), "{text}");
    }

    #[test]
    fn a_failed_refresh_is_shown_but_the_login_stands() {
        let mut t = tokens();
        t.expires_at = Some(at("2026-11-24T10:58:00Z"));
        let r = report(Ok(Some(t)), Some(AuthError::RefreshFailed { reason: "timeout".into() }), true);
        assert!(r.signed_in);
        let text = r.render(at(NOW));
        assert!(text.contains("Problem: could not refresh the ChatGPT login (timeout)"), "{text}");
        assert!(text.contains("expired 2026-11-24 10:58 UTC (2 min ago)"), "{text}");
    }

    #[test]
    fn the_json_report_has_no_secrets_and_masks_the_account() {
        let json = serde_json::to_string(&report(Ok(Some(tokens())), None, true)).unwrap();
        assert!(!json.contains("secret"), "{json}");
        assert!(!json.contains("acc-7f3a9c2e5b1d4f60"), "{json}");
        assert!(json.contains("\"account_id\":\"acc-…4f60\""), "{json}");
    }

    #[test]
    fn masks_account_ids_by_length() {
        let table = [("acc-7f3a9c2e5b1d4f60", "acc-…4f60"), ("12345678", "…5678"), ("abcd", "****"), ("", "")];
        for (id, masked) in table {
            assert_eq!(mask(id), masked, "{id}");
        }
    }

    #[test]
    fn relative_times() {
        let table = [
            (0, "just now"),
            (59, "just now"),
            (60, "in 1 min"),
            (-600, "10 min ago"),
            (5400, "in 2 h"),
            (-7200, "2 h ago"),
            (3 * 86_400, "in 3 days"),
        ];
        for (secs, text) in table {
            assert_eq!(relative(chrono::TimeDelta::seconds(secs)), text, "{secs}");
        }
    }
}
