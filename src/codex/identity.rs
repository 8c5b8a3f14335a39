//! Who codexd says it is to the Codex backend, in one place.
//!
//! The backend gates models on the Codex CLI version that asks for them: it
//! hides newer models from `/codex/models?client_version=` and refuses them
//! on `/codex/responses` ("Model not found", "requires a newer version of
//! Codex") unless the request carries a `version` header and a User-Agent
//! `codex_cli_rs/<version> (<os> <os version>; <arch>) <terminal>` whose
//! product is the `originator`. The Responses Lite lane only answers that
//! identity. So codexd presents itself exactly as the Codex CLI of
//! `client_version` does (README, "Why codexd says it is the Codex CLI").
//!
//! Headers of every request (the Codex CLI's, `codex-2026.md` §1a):
//! `authorization`, `chatgpt-account-id`, `originator`, `user-agent`,
//! `version`, `session-id` and `thread-id` (the conversation, from which the
//! backend derives prompt-cache affinity), `x-client-request-id`, `accept`.
//! No `OpenAI-Beta` (dropped by the CLI in 2025) and no `session_id` with an
//! underscore (dropped in 2026: some intermediaries refuse such names).

use crate::codex::error::Failure;

/// The `originator` header, and the User-Agent's product: the Codex CLI's.
pub const ORIGINATOR: &str = "codex_cli_rs";

/// The header that puts a request on the Responses Lite lane.
pub const LITE_HEADER: &str = "x-openai-internal-codex-responses-lite";

/// The client identity sent with every upstream request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The Codex CLI version, `x.y.z`.
    pub version: String,
    /// `codex_cli_rs/<version> (<os> <os version>; <arch>) <terminal>`.
    pub user_agent: String,
}

/// Per-request values that go into headers.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub access_token: &'a str,
    pub account_id: Option<&'a str>,
    /// The conversation: same value as the body's `prompt_cache_key`; empty
    /// for requests outside a conversation (the model catalogue).
    pub session_id: &'a str,
}

impl Identity {
    /// The identity for `client_version` (the setting) on this machine. The
    /// first call in a process reads the OS on a blocking thread (see
    /// [`platform`]), so no async thread waits for it.
    pub async fn new(client_version: &str) -> Self {
        let (os, os_version, arch) = platform_off_thread().await;
        Identity::with_platform(client_version, os, os_version, arch, &terminal(|name| std::env::var(name).ok()))
    }

    /// The identity with an explicit platform (tests).
    pub fn with_platform(version: &str, os: &str, os_version: &str, arch: &str, terminal: &str) -> Self {
        let user_agent = header_safe(&format!("{ORIGINATOR}/{version} ({os} {os_version}; {arch}) {terminal}"));
        Identity { version: version.to_owned(), user_agent }
    }

    /// The headers of a request for `caller`: identity, login and
    /// conversation. The lane adds its own (see `codex::lane`).
    pub fn headers<'a>(&'a self, caller: Caller<'a>) -> impl Iterator<Item = (&'static str, String)> + 'a {
        let fixed = [
            ("authorization", format!("Bearer {}", caller.access_token)),
            ("originator", ORIGINATOR.to_owned()),
            ("user-agent", self.user_agent.clone()),
            ("version", self.version.clone()),
        ];
        let session = ["session-id", "thread-id", "x-client-request-id"]
            .into_iter()
            .filter(move |_| !caller.session_id.is_empty())
            .map(move |name| (name, caller.session_id.to_owned()));
        let account = caller.account_id.map(|id| ("chatgpt-account-id", id.to_owned()));
        fixed.into_iter().chain(session).chain(account)
    }
}

impl Identity {
    /// Add what to do to a refusal caused by the client version: the
    /// backend hides models newer than the version codexd presents.
    pub fn explain_refusal(&self, mut error: Failure) -> Failure {
        let lower = error.message.to_ascii_lowercase();
        let hint = if lower.contains("newer version") {
            format!(
                " codexd presents itself as Codex CLI {}: raise `client_version` in the config file \
                 (or CODEXD_CLIENT_VERSION) to the newest Codex CLI release and restart codexd.",
                self.version
            )
        } else if lower.contains("model not found") || lower.contains("not supported when using codex") {
            " `codexd models` lists the models your account can use now; if the model is newer than \
             Codex CLI "
                .to_owned()
                + &self.version
                + ", raise `client_version` (or CODEXD_CLIENT_VERSION)."
        } else {
            return error;
        };
        error.message.push_str(&hint);
        error
    }
}

/// [`platform`] from async code: read on Tokio's blocking pool the first
/// time. Reading it took 16 ms at start-up, where it kept every server
/// worker (and so `/health`) waiting.
async fn platform_off_thread() -> &'static (String, String, String) {
    match PLATFORM.get() {
        Some(platform) => platform,
        // The blocking task fails only if it panicked or the runtime is
        // shutting down; then this thread reads it (or panics) itself.
        None => tokio::task::spawn_blocking(platform).await.unwrap_or_else(|_| platform()),
    }
}

static PLATFORM: std::sync::OnceLock<(String, String, String)> = std::sync::OnceLock::new();

/// This machine's OS name, version and architecture, read once per process:
/// on Linux `os_info` runs `lsb_release -a` (a shell script that runs seven
/// more programs) and `getconf`, ~16 ms in all.
fn platform() -> &'static (String, String, String) {
    PLATFORM.get_or_init(|| {
        let os = os_info::get();
        (
            os.os_type().to_string(),
            os.version().to_string(),
            os.architecture().unwrap_or(std::env::consts::ARCH).to_owned(),
        )
    })
}

/// The terminal part of the Codex CLI's User-Agent: `TERM_PROGRAM[/version]`,
/// else `TERM`, else `unknown` (a service has no terminal).
fn terminal(var: impl Fn(&str) -> Option<String>) -> String {
    let nonempty = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    match (nonempty("TERM_PROGRAM"), nonempty("TERM_PROGRAM_VERSION")) {
        (Some(program), Some(version)) => format!("{program}/{version}"),
        (Some(program), None) => program,
        (None, _) => nonempty("TERM").unwrap_or_else(|| "unknown".to_owned()),
    }
}

/// Header values must be visible ASCII: anything else becomes `_`.
fn header_safe(value: &str) -> String {
    value.chars().map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_agent_is_the_codex_clis_and_names_the_same_version() {
        let id = Identity::with_platform("0.157.1", "Debian", "12", "x86_64", "unknown");
        assert_eq!(id.user_agent, "codex_cli_rs/0.157.1 (Debian 12; x86_64) unknown");
        let product = id.user_agent.split('/').next();
        assert_eq!(product, Some(ORIGINATOR), "the product token matches the originator");
        let ua_version = id.user_agent.split([' ', '/']).nth(1);
        assert_eq!(ua_version, Some(id.version.as_str()));
    }

    #[tokio::test]
    async fn the_machine_identity_follows_the_setting() {
        let id = Identity::new("0.160.2").await;
        assert_eq!(id.version, "0.160.2");
        assert!(id.user_agent.starts_with("codex_cli_rs/0.160.2 ("), "{}", id.user_agent);
        assert!(id.user_agent.is_ascii());
    }

    #[test]
    fn headers_carry_identity_login_and_conversation_but_no_beta_or_underscore_names() {
        let id = Identity::with_platform("0.157.1", "Mac OS", "14.5.0", "arm64", "iTerm.app/3.5");
        let caller = Caller { access_token: "tok", account_id: Some("acct"), session_id: "sess-1" };
        let headers: Vec<(&str, String)> = id.headers(caller).collect();
        let get = |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
        assert_eq!(get("authorization"), Some("Bearer tok"));
        assert_eq!(get("chatgpt-account-id"), Some("acct"));
        assert_eq!(get("originator"), Some("codex_cli_rs"));
        assert_eq!(get("version"), Some("0.157.1"));
        assert_eq!(get("session-id"), Some("sess-1"));
        assert_eq!(get("thread-id"), Some("sess-1"));
        assert_eq!(get("x-client-request-id"), Some("sess-1"));
        assert!(headers.iter().all(|(k, _)| !k.contains('_') && *k != "openai-beta"), "{headers:?}");
        let without_account = Caller { account_id: None, ..caller };
        assert!(id.headers(without_account).all(|(k, _)| k != "chatgpt-account-id"));
        let outside_a_conversation = Caller { session_id: "", ..caller };
        assert!(id.headers(outside_a_conversation).all(|(k, _)| !k.ends_with("-id") || k == "chatgpt-account-id"));
    }

    #[test]
    fn version_refusals_say_which_setting_to_raise() {
        use crate::codex::error::Kind;
        let id = Identity::with_platform("0.150.0", "Linux", "6", "x86_64", "unknown");
        let gated = id.explain_refusal(Failure::new(
            Kind::InvalidRequest,
            "Codex backend rejected the request: The 'gpt-6-sol' model requires a newer version of Codex.",
        ));
        assert!(gated.message.contains("client_version") && gated.message.contains("CODEXD_CLIENT_VERSION"));
        assert!(gated.message.contains("0.150.0"), "{}", gated.message);
        let missing = id.explain_refusal(Failure::new(Kind::NotFound, "Codex backend: Model not found gpt-9"));
        assert!(missing.message.contains("codexd models"), "{}", missing.message);
        let other = Failure::new(Kind::InvalidRequest, "Codex backend rejected the request: Invalid schema");
        assert_eq!(id.explain_refusal(other.clone()), other);
    }

    #[test]
    fn terminal_part() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(terminal(env(&[("TERM_PROGRAM", "WezTerm"), ("TERM_PROGRAM_VERSION", "2024")])), "WezTerm/2024");
        assert_eq!(terminal(env(&[("TERM", "xterm-256color")])), "xterm-256color");
        assert_eq!(terminal(env(&[])), "unknown");
        assert_eq!(header_safe("a\u{e9}b\n"), "a_b_");
    }
}
